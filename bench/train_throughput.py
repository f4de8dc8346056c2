"""Training throughput: slmscale's trainer vs Hugging Face `Trainer`, side by side, plus MFU.

For each model size, both trainers train the same model (same init, same packed sequences,
same AdamW/cosine/clipping settings) for a few steps; warm-up steps are dropped. Each run is a
fresh process started as its users start it (`slmscale train` CLI; a script calling
`Trainer.train()` with the inherited environment). The runs
alternate A-B-B-A (`--rounds` times) so that load drift on a shared machine cancels out, and
tokens/s is taken from the median step time, which shrugs off steps slowed by other processes.
MFU = achieved model FLOP/s (matmul FLOPs: projections, attention, head; see
slmscale.model.flops.model_flops_per_token) / the large-matmul peak measured on the same
device in this run, right next to each measurement.

    python bench/train_throughput.py [--sizes cpu-250k,cpu-1m] [--seq-len 512]
        [--batch 8] [--steps 3] [--warmup 2] [--rounds 1] [--threads N] [--no-fused]
Prints one JSON object on stdout (`headline`: one line per size for bench/RESULTS.md; the load
average before and after, so an idle-machine figure can be told from a crowded one). Keep it short
on shared machines (~3 min for the default). The headline of bench/RESULTS.md comes from
    python bench/train_throughput.py --sizes cpu-1m,cpu-250k --rounds 2
on an otherwise idle machine. bench/gpu/run.py reuses make_shards, train_config, run_ours and
hf_step_times for its GPU measurements.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# The environment the user started us with; every worker gets exactly this.
BASE_ENV = dict(os.environ)


def make_shards(out: Path, k: int = 500, n_docs: int = 600, seed: int = 0) -> Path:
    from slmscale.data.shards import ShardWriter

    rng = np.random.default_rng(seed)
    w = ShardWriter(out, k + 2, {"bos": k, "eos": k + 1}, "units")
    for i in range(n_docs):
        n = int(rng.integers(200, 1200))
        toks = (int(rng.integers(0, k)) + int(rng.integers(1, 7)) * np.arange(n)) % k
        noise = rng.random(n) < 0.2
        toks[noise] = rng.integers(0, k, int(noise.sum()))
        w.add(toks, f"d{i}", split="valid" if i < 10 else "train")
    w.close({"bench": seed})
    return out


def peak(threads: int) -> float:
    import torch

    from slmscale.train.metrics import measure_matmul_peak

    torch.set_num_threads(threads)
    gpu = torch.cuda.is_available()
    return measure_matmul_peak(torch.device("cuda" if gpu else "cpu"), torch.bfloat16 if gpu else torch.float32,
                               size=8192 if gpu else 1024, seconds=1.0)


def train_config(shards: Path, out: Path, preset: str, *, seq_len: int, batch: int, steps: int,
                 micro: int | None = None, threads: int | None = None, fused: bool = True,
                 compile: bool = False, distributed: str = "ddp") -> dict:
    """A `slmscale train` config for a short timed run: `batch` sequences per optimizer step
    (`micro` per forward), one metrics record per step, no checkpoints, a one-window eval."""
    return {"out": str(out), "seed": 0, "data": {"shards": str(shards)},
            "model": {"preset": preset}, "budget": {"tokens": steps * batch * seq_len},
            "train": {"seq_len": seq_len, "batch_tokens": batch * seq_len, "micro_batch": micro or batch,
                      "lr": 1e-3, "warmup_steps": 1, "threads": threads, "peak_flops": 1.0,
                      "fused_kernels": fused, "compile": compile, "distributed": distributed},
            "eval": {"max_tokens": seq_len, "interval_steps": 10_000},
            "log": {"interval_steps": 1}, "checkpoint": {"interval_steps": 10_000}}


def run_ours(cfg: dict, cfg_path: Path, warmup: int) -> list[float]:
    """Run `slmscale train` in this process, as its users start it; seconds per step after the
    warm-up steps (from RUN/metrics.jsonl, one record per step)."""
    import yaml

    from slmscale.cli.main import main as cli

    cfg_path.write_text(yaml.safe_dump(cfg))
    try:
        cli(["train", str(cfg_path)])
    except SystemExit as ex:  # the CLI exits 0 on success
        if ex.code:
            raise
    tokens = cfg["train"]["batch_tokens"]
    recs = [json.loads(x) for x in (Path(cfg["out"]) / "metrics.jsonl").read_text().splitlines()]
    return [tokens / r["tokens_per_s"] for r in recs if "tokens_per_s" in r and r["step"] > warmup]


def ours(shards: Path, work: Path, preset: str, args, tag: str) -> list[float]:
    """Seconds per step of `slmscale train` after the warm-up steps."""
    cfg = train_config(shards, work / f"ours-{preset}-{tag}", preset, seq_len=args.seq_len, batch=args.batch,
                       steps=args.warmup + args.steps, threads=args.threads, fused=not args.no_fused)
    return run_ours(cfg, work / f"{tag}.yaml", args.warmup)


def hf_step_times(shards: Path, out: Path, preset: str, *, seq_len: int, batch: int, steps: int, warmup: int,
                  micro: int | None = None, threads: int | None = None) -> tuple[list[float], dict]:
    """Seconds per optimizer step of transformers.Trainer after the warm-up steps, with the same
    model, sequences and optimizer settings as `train_config`; also Trainer's own settings."""
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from slmscale.data.loader import PackedStream, TrainBatches
    from slmscale.data.shards import Shards
    from slmscale.model.build import build_model
    from slmscale.model.presets import resolve_preset

    sh = Shards(shards)
    micro = micro or batch
    batches = TrainBatches(PackedStream(sh, "train", seed=0), seq_len, batch)
    seqs = np.concatenate([batches.batch(s)[0] for s in range(warmup + steps)])
    # T inputs with labels = inputs (the model shifts): the same T-token forward as slmscale's.
    data = [{"input_ids": torch.from_numpy(s), "labels": torch.from_numpy(s)} for s in seqs]
    model = build_model(resolve_preset(preset), sh.vocab_size, sh.special_tokens, max(seq_len, 2048), seed=0)
    stamps: list[float] = []
    gpu = torch.cuda.is_available()

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k):
            if gpu:  # steps are asynchronous on a GPU: time finished work
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    targs = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=micro, gradient_accumulation_steps=batch // micro,
        max_steps=warmup + steps, learning_rate=1e-3, weight_decay=0.1, adam_beta2=0.95,
        lr_scheduler_type="cosine", warmup_steps=1, max_grad_norm=1.0, logging_steps=10_000,
        save_strategy="no", report_to=[], use_cpu=not gpu, bf16=gpu,  # as slmscale's "auto"
        dataloader_num_workers=0, disable_tqdm=True, seed=0)
    if threads:
        torch.set_num_threads(threads)
    trainer = Trainer(model=model, args=targs, train_dataset=data, callbacks=[Clock()])
    with contextlib.redirect_stdout(sys.stderr):  # Trainer prints its own summary; stdout is our JSON
        trainer.train()
    settings = {"optim": str(getattr(targs.optim, "value", targs.optim)), "bf16": targs.bf16,
                "torch_compile": targs.torch_compile}
    return [float(x) for x in np.diff(stamps[warmup - 1:])], settings


def hf(shards: Path, work: Path, preset: str, args, tag: str) -> list[float]:
    """Seconds per step of transformers.Trainer after the warm-up steps, same model and sequences."""
    return hf_step_times(shards, work / f"hf-{preset}-{tag}", preset, seq_len=args.seq_len, batch=args.batch,
                         steps=args.steps, warmup=args.warmup, threads=args.threads)[0]


def run_worker(who: str, shards: Path, work: Path, preset: str, args, tag: str) -> list[float]:
    """Each trainer run in a fresh process, started the way its users start it."""
    cmd = [sys.executable, __file__, "--worker", who, "--worker-dir", str(work), "--sizes", preset,
           "--tag", tag, "--seq-len", str(args.seq_len), "--batch", str(args.batch),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    if args.no_fused:
        cmd.append("--no-fused")
    res = subprocess.run(cmd, capture_output=True, text=True, env=BASE_ENV)
    if res.returncode != 0:
        raise SystemExit(f"{who} worker failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="cpu-250k,cpu-1m")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8, help="sequences per step")
    ap.add_argument("--steps", type=int, default=3, help="measured steps per trainer and round")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="A-B-B-A rounds per size")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-fused", action="store_true", help="slmscale without the fused RMSNorm kernel")
    ap.add_argument("--worker", choices=["ours", "hf"], help=argparse.SUPPRESS)
    ap.add_argument("--worker-dir", help=argparse.SUPPRESS)
    ap.add_argument("--tag", default="0", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        work = Path(args.worker_dir)
        fn = ours if args.worker == "ours" else hf
        with contextlib.redirect_stdout(sys.stderr):
            times = fn(work / "shards", work, args.sizes, args, args.tag)
        print(json.dumps(times))
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers.utils import logging as hf_logging

    from slmscale.model.build import build_model
    from slmscale.model.flops import model_flops_per_token
    from slmscale.model.presets import resolve_preset

    hf_logging.set_verbosity_error()
    t0 = time.perf_counter()
    load_before = list(os.getloadavg())  # an idle machine reads near 0; the ratio is only fair then
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shards = make_shards(work / "shards")
        for preset in args.sizes.split(","):
            model = build_model(resolve_preset(preset), 502, {"bos": 500, "eos": 501}, 2048, 0)
            fpt = model_flops_per_token(model.config, args.seq_len)
            from slmscale.model.counting import param_counts

            n, _ = param_counts(model)
            got = {"ours": [], "hf": []}
            peaks = [peak(args.threads)]
            for i, who in enumerate(("ours", "hf", "hf", "ours") * args.rounds):  # A-B-B-A
                got[who].extend(run_worker(who, shards, work, preset, args, f"{preset}-{i}"))
                peaks.append(peak(args.threads))
            pk = float(np.median(peaks))
            tokens = args.batch * args.seq_len
            o, h = tokens / float(np.median(got["ours"])), tokens / float(np.median(got["hf"]))
            results.append({"preset": preset, "params": n, "seq_len": args.seq_len,
                            "batch_tokens": args.batch * args.seq_len, "flops_per_token": fpt,
                            "ours_tokens_per_s": round(o, 1), "hf_tokens_per_s": round(h, 1),
                            "speedup_vs_hf": round(o / h, 3),
                            "speedup_vs_hf_best_steps": round(min(got["hf"]) / min(got["ours"]), 3),
                            "ours_mfu": round(o * fpt / pk, 4),
                            "ours_mfu_best_step": round(tokens / min(got["ours"]) * fpt / max(peaks), 4),
                            "hf_mfu": round(h * fpt / pk, 4), "peak_flops": pk,
                            "peak_flops_spread": [min(peaks), max(peaks)],
                            "step_s": {k: [round(v, 3) for v in vs] for k, vs in got.items()}})
            print(json.dumps(results[-1]), file=sys.stderr)
    print(json.dumps({"bench": "train_throughput", "device": "cuda" if torch.cuda.is_available() else "cpu",
                      "cpu": platform.processor() or platform.machine(), "threads": args.threads,
                      "torch": torch.__version__, "fused_kernels": not args.no_fused,
                      "rounds": args.rounds, "load_avg_before": load_before,
                      "load_avg_after": list(os.getloadavg()), "wall_s": round(time.perf_counter() - t0, 1),
                      "headline": [headline(r) for r in results], "results": results}, indent=2))


def headline(r: dict) -> str:
    """One line per size for bench/RESULTS.md: ours vs Trainer tokens/s, ratio and MFU."""
    return (f"{r['preset']}: {r['ours_tokens_per_s']:,.0f} vs {r['hf_tokens_per_s']:,.0f} tokens/s "
            f"({r['speedup_vs_hf']:.2f}x), MFU {r['ours_mfu']:.0%} vs {r['hf_mfu']:.0%}")


if __name__ == "__main__":
    main()
