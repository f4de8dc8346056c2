"""GPU readiness benchmark: the training stack on one H100/H200 in one short run (<= 8 minutes).

    python bench/gpu/run.py OUT [--budget-s 450]     # on a GPU (bench/gpu/run.sh installs the wheels first)
    python bench/gpu/run.py OUT --smoke              # same code paths on CPU, tiny sizes, 2 sections at a time

Writes OUT/gpu_bench.json and OUT/gpu_bench.md (rewritten after every section, so a run cut short
keeps what it measured). Sections, most important first, each in its own process with its own time
budget inside the global one; a failed, timed-out or skipped section is recorded with its error
line and the others go on:
  env                      package versions, GPU name, bf16 matmul peak (a large torch.matmul loop)
  train/SIZE/...           `slmscale train` at the paper sizes and context (configs/train/paper-*.yaml:
                           seq_len, micro_batch), bf16: eager, torch.compile, and DDP / FSDP2 under
                           `torchrun --nproc-per-node=1`; Hugging Face `Trainer` on the same model and data
  eval/85m                 utterances/s scored by slmscale.eval.loglik, fp32 and bf16
  pretrain                 `slmscale units pretrain`, when that command exists ("not_available" otherwise)
MFU = tokens/s x model_flops_per_token / peak, against the measured matmul peak and the datasheet's
dense bf16 peak. FLOPs per token are the project's own count (slmscale.model.flops), stated in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Datasheet dense bf16 tensor-core peaks (FLOP/s, without sparsity), matched in this order
# against torch.cuda.get_device_name().
DATASHEET_BF16 = (("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H200 NVL", 835e12), ("GH200", 989.4e12),
                  ("H100", 989.4e12), ("H200", 989.4e12), ("A100", 312e12))
FLOPS_RULE = ("slmscale.model.flops.model_flops_per_token: 3 x forward matmul FLOPs per token = QKV, "
              "output and SwiGLU projections (6N over the non-embedding weights) + attention logits and "
              "values over the full T x T square + the output head; the embedding gather and softmax are "
              "not counted")
K_UNITS = 500  # synthetic shards: 500 units + BOS/EOS, the papers' vocabulary of 502


@dataclass
class Section:
    name: str
    worker: str
    spec: dict[str, Any]
    budget_s: float
    torchrun: bool = False
    meta: dict[str, Any] = field(default_factory=dict)  # copied into the result as is


def datasheet_peak(gpu_name: str | None) -> float | None:
    for key, flops in DATASHEET_BF16:
        if gpu_name and key.lower() in gpu_name.lower():
            return flops
    return None


def paper_sizes(seq_len: int | None = None) -> list[dict[str, Any]]:
    """85m and 823m with the context and micro-batch of the shipped paper configs (or `seq_len`)."""
    import yaml

    sizes = []
    for preset in ("85m", "823m"):
        cfg = yaml.safe_load((ROOT / "configs" / "train" / f"paper-{preset}.yaml").read_text())
        micro = int(cfg["train"]["micro_batch"])
        sizes.append({"preset": preset, "seq_len": seq_len or int(cfg["train"]["seq_len"]), "micro": micro,
                      "batch": 2 * micro, "warmup": 3, "steps": 8 if preset == "85m" else 6})
    return sizes


def plan(smoke: bool, work: Path, shards: Path, seq_len: int | None = None) -> list[Section]:
    """The sections in the order they run (the most wanted figures first)."""
    if smoke:
        sizes = [{"preset": "cpu-50k", "seq_len": 64, "micro": 2, "batch": 4, "warmup": 2, "steps": 3,
                  "threads": 1, "compile_backend": "eager"}]
        # ~10 s each on an idle 2-core machine (mostly importing torch and transformers); the
        # budgets leave room for a crowded one.
        budgets = {"env": 60, "eager": 120, "hf": 120, "compile": 120, "dist": 120, "eval": 120, "pretrain": 120}
        env_spec = {"peak_size": 512, "peak_seconds": 0.5, "peak_inner": 2, "threads": 1}
        eval_spec = {"preset": "cpu-50k", "k": 100, "utterances": 48, "batches": [[16, 16384]], "threads": 1}
        # 30 steps, not the default 300: those took 90-120 s on the shared 2-core machine.
        pre_spec = {"utterances": 4, "seconds": [1.0, 2.0], "steps": 30}
    else:
        sizes = paper_sizes(seq_len)
        budgets = {"env": 60, "eager": 90, "hf": 100, "compile": 180, "dist": 100, "eval": 60, "pretrain": 120}
        env_spec = {"peak_size": 8192, "peak_seconds": 3.0, "peak_inner": 10}
        eval_spec = {"preset": "85m", "k": K_UNITS, "utterances": 4096,
                     "batches": [[64, 16384], [512, 131072]]}  # `slmscale eval`'s default, and larger
        pre_spec = {"utterances": 64, "seconds": [2.0, 8.0]}
        # Also HuBERT-base size: the GPU number that matters for real corpora (cpu-tiny is the demo's).
        pre_base = {"utterances": 64, "seconds": [2.0, 8.0], "preset": "base", "steps": 200}

    def train(size: dict, kind: str) -> Section:
        spec = {**size, "shards": str(shards), "compile": kind == "compile",
                "distributed": kind if kind in ("ddp", "fsdp") else "none"}
        name = f"train/{size['preset']}/" + ("hf-trainer" if kind == "hf" else f"slmscale-{kind}")
        spec["work"] = str(work / name.replace("/", "_"))
        budget = budgets["dist" if kind in ("ddp", "fsdp") else kind]
        return Section(name, "hf" if kind == "hf" else "train", spec, budget, kind in ("ddp", "fsdp"),
                       {"preset": size["preset"], "trainer": "hf-trainer" if kind == "hf" else "slmscale",
                        "compile": (size.get("compile_backend") or "inductor") if kind == "compile" else False,
                        "distributed": {"ddp": "ddp", "fsdp": "fsdp2"}.get(kind, "none"),
                        "seq_len": size["seq_len"], "micro_batch": size["micro"], "batch_seqs": size["batch"],
                        "tokens_per_step": size["batch"] * size["seq_len"]})

    out = [Section("env", "env", env_spec, budgets["env"])]
    out += [train(s, kind) for s in sizes for kind in ("eager", "hf")]
    out += [train(s, "compile") for s in sizes]
    out.append(Section(f"eval/{eval_spec['preset']}", "eval", eval_spec, budgets["eval"]))
    out.append(Section("pretrain", "pretrain", {**pre_spec, "work": str(work / "pretrain")}, budgets["pretrain"]))
    if not smoke:
        out.append(Section("pretrain/base", "pretrain", {**pre_base, "work": str(work / "pretrain_base")},
                           budgets["pretrain"]))
    out += [train(s, kind) for s in sizes for kind in ("ddp", "fsdp")]
    return out


def error_line(stderr: str) -> str:
    """The line that says what went wrong: the last exception line, else the last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^([\w.]+(Error|Exception|Interrupt|Exit)|error:|RuntimeError|AssertionError)", ln):
            return ln[:500]
    return lines[-1][:500] if lines else "no output"


def run_guarded(cmd: list[str], timeout_s: float, env: dict[str, str], result: Path) -> dict[str, Any]:
    """Run one section's process with a time limit; its own result, or status failed/timeout with the
    error line. The process gets a session of its own so a timeout ends its children too (torchrun)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                start_new_session=True)
        code, cpu = _wait(proc, timeout_s)
        err.seek(0)
        text = err.read()
    # CPU seconds next to wall seconds tell a crowded machine from a slow section.
    took = {"seconds": round(time.perf_counter() - t, 1), "cpu_s": round(cpu, 1)}
    if code is None:
        return {"status": "timeout", **took, "error": f"over its {timeout_s:.0f} s budget", "log_tail": text[-1500:]}
    if code != 0 or not result.is_file():
        return {"status": "failed", **took, "error": error_line(text), "log_tail": text[-1500:]}
    got = json.loads(result.read_text())
    return {"status": got.pop("status", "ok"), **took, **got}


def _wait(proc: subprocess.Popen, timeout_s: float) -> tuple[int | None, float]:
    """(exit code or None on timeout, CPU seconds of the process and the children it waited for),
    per process even when sections run side by side (os.wait4 reports that one child's usage)."""
    end = time.monotonic() + timeout_s
    while True:
        pid, status, use = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > end:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, use = os.wait4(proc.pid, 0)
            status = None
            break
        time.sleep(0.05)
    proc.returncode = -9 if status is None else os.waitstatus_to_exitcode(status)
    return (None if status is None else proc.returncode), use.ru_utime + use.ru_stime


def derive(rec: dict[str, Any], section: Section, peaks: dict[str, float | None]) -> None:
    """tokens/s from the median step, and MFU against both peaks."""
    from slmscale.model.build import llama_config
    from slmscale.model.flops import model_flops_per_token
    from slmscale.model.presets import resolve_preset

    m = section.meta
    shape = resolve_preset(m["preset"])
    cfg = llama_config(shape, K_UNITS + 2, {"bos": K_UNITS, "eos": K_UNITS + 1}, max(m["seq_len"], 2048))
    fpt = model_flops_per_token(cfg, m["seq_len"])
    rec.update(params_non_embedding=shape.non_embedding_params, flops_per_token=fpt,
               flops_per_token_6n=6.0 * shape.non_embedding_params)
    steps = sorted(rec.get("step_s") or [])
    if rec["status"] != "ok" or not steps:
        return
    tps = m["tokens_per_step"] / steps[len(steps) // 2]
    rec["tokens_per_s"] = round(tps, 1)
    for key, peak in (("mfu", peaks["measured"]), ("mfu_datasheet", peaks["datasheet"])):
        rec[key] = round(tps * fpt / peak, 4) if peak else None


def markdown(report: dict[str, Any]) -> str:
    env = report["sections"].get("env", {})
    peaks = report["peak_flops"]
    name = env.get("gpu_name") or f"CPU ({env.get('cpu', '?')}, {env.get('cpu_count', '?')} cores)"
    if env.get("gpu_driver"):
        name += f" (driver {env['gpu_driver']}, CUDA {env.get('cuda')})"
    fmt = (lambda v: f"{v / 1e12:.0f} TFLOP/s") if report["mode"] == "gpu" else (lambda v: f"{v / 1e9:.1f} GFLOP/s")
    lines = [f"# GPU benchmark ({report['mode']}), {report['started_utc']}", "",
             f"{name}; torch {env.get('packages', {}).get('torch')}, transformers "
             f"{env.get('packages', {}).get('transformers')}; matmul peak measured "
             f"{fmt(peaks['measured']) if peaks['measured'] else '-'}, datasheet "
             f"{fmt(peaks['datasheet']) if peaks['datasheet'] else '-'}; wall {report['wall_s']} s.", "",
             "| section | status | tokens/s | MFU (measured peak) | MFU (datasheet) | peak memory GiB | s |",
             "|---|---|---|---|---|---|---|"]
    pct = (lambda v: f"{v:.1%}" if isinstance(v, (int, float)) else "-")
    for sec, rec in report["sections"].items():
        if sec == "env":
            continue
        rate = rec.get("tokens_per_s")
        if sec.startswith("eval/") and rec.get("runs"):
            rate = "; ".join(f"{r['dtype']} b{r['batch_size']}: {r['utterances_per_s']:,.0f} utt/s"
                             for r in rec["runs"])
        elif sec.startswith("pretrain") and rec.get("x_real_time"):
            rate = f"{rec['x_real_time']}x real time"
        status = rec["status"] + (f": {rec['error']}" if rec.get("error") and rec["status"] != "ok" else "")
        lines.append(f"| {sec} | {status[:120]} | {rate if isinstance(rate, str) else f'{rate:,.0f}' if rate else '-'} "
                     f"| {pct(rec.get('mfu'))} | {pct(rec.get('mfu_datasheet'))} | {rec.get('peak_mem_gib', '-')} "
                     f"| {rec.get('seconds', '-')} |")
    lines.append("")
    for size, got in report.get("ratios", {}).items():
        lines.append(f"- {size} tokens/s: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}x" for k, v in got.items()))
    lines += ["", f"FLOPs per token: {FLOPS_RULE}.", ""]
    return "\n".join(lines)


def ratios(sections: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per size, tokens/s ratios of the pairs the issue asks about (where both were measured)."""
    pairs = {"slmscale_vs_hf_trainer": ("slmscale-eager", "hf-trainer"),
             "compile_vs_eager": ("slmscale-compile", "slmscale-eager"),
             "fsdp2_vs_ddp": ("slmscale-fsdp", "slmscale-ddp")}
    out: dict[str, dict[str, float]] = {}
    for name, rec in sections.items():
        if name.startswith("train/") and name.endswith("/slmscale-eager"):
            size = name.split("/")[1]
            for key, (a, b) in pairs.items():
                ta = sections.get(f"train/{size}/{a}", {}).get("tokens_per_s")
                tb = sections.get(f"train/{size}/{b}", {}).get("tokens_per_s")
                if ta and tb:
                    out.setdefault(size, {})[key] = round(ta / tb, 3)
    return out


def write_report(out: Path, report: dict[str, Any]) -> None:
    from slmscale.artifacts import atomic_write_text, write_json

    report["ratios"] = ratios(report["sections"])
    write_json(out / "gpu_bench.json", report)
    atomic_write_text(out / "gpu_bench.md", markdown(report))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", help="output folder (gpu_bench.json, gpu_bench.md)")
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes, same code paths (< 1 minute)")
    ap.add_argument("--budget-s", type=float, help="total time budget (default 450 on GPU, 600 smoke)")
    ap.add_argument("--only", help="comma-separated section-name prefixes (e.g. train/85m,eval); env always runs")
    ap.add_argument("--jobs", type=int, default=0, help="sections at a time (smoke only; default 2 there)")
    ap.add_argument("--seq-len", type=int, help="training context (default: configs/train/paper-*.yaml, 2048)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, json.loads(Path(args.spec).read_text()), Path(args.result))
    if not args.out:
        ap.error("the output folder is required")
    if args.jobs > 1 and not args.smoke:
        ap.error("--jobs > 1 is for the CPU smoke run only: GPU sections must not share the device")
    return orchestrate(Path(args.out), args.smoke, args.budget_s or (600.0 if args.smoke else 450.0), args.only,
                       args.seq_len, args.jobs or (2 if args.smoke else 1))


def worker(name: str, spec: dict[str, Any], result: Path) -> int:
    sys.path.insert(0, str(HERE))
    from sections import WORKERS

    got = WORKERS[name](spec)
    if int(os.environ.get("RANK", "0")) == 0:
        result.write_text(json.dumps(got))
    return 0


def orchestrate(out: Path, smoke: bool, budget_s: float, only: str | None, seq_len: int | None = None,
                jobs: int = 1) -> int:
    import torch

    t0 = time.perf_counter()
    deadline = t0 + budget_s
    if not smoke and not torch.cuda.is_available():
        print("error: no CUDA device visible; use --smoke for the CPU check", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if smoke:
        env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    report: dict[str, Any] = {"bench": "gpu", "mode": "smoke" if smoke else "gpu",
                              "started_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "budget_s": budget_s, "wall_s": 0.0, "flops_per_token_rule": FLOPS_RULE,
                              "peak_flops": {"measured": None, "datasheet": None}, "sections": {}}
    with tempfile.TemporaryDirectory(prefix="slmscale-gpu-bench-") as tmp:
        work = Path(tmp)
        sys.path.insert(0, str(ROOT / "bench"))
        from train_throughput import make_shards

        shards = make_shards(work / "shards", k=K_UNITS, n_docs=200 if smoke else 2000)
        sections = [s for s in plan(smoke, work, shards, seq_len)
                    if not only or s.name == "env" or any(s.name.startswith(p) for p in only.split(","))]
        lock = threading.Lock()

        def measure(section: Section) -> None:
            left = deadline - time.perf_counter()
            if left < (5 if smoke else 20):
                rec: dict[str, Any] = {"status": "skipped", "error": "out of the total time budget"}
            else:
                rec = run_section(section, min(section.budget_s, left), env, work)
            with lock:
                if section.meta:
                    rec = {**section.meta, **rec}
                    derive(rec, section, report["peak_flops"])
                if section.name == "env" and rec["status"] == "ok":
                    report["peak_flops"] = {"measured": rec["peak_flops_measured"],
                                            "datasheet": datasheet_peak(rec.get("gpu_name")),
                                            "measured_dtype": rec["peak_dtype"]}
                report["sections"][section.name] = rec
                report["wall_s"] = round(time.perf_counter() - t0, 1)
                print(f"[{report['wall_s']:6.1f} s] {section.name}: {rec['status']}"
                      + (f" ({rec['error']})" if rec.get("error") else ""), file=sys.stderr)
                write_report(out, report)

        measure(sections[0])  # env first: the peak every MFU needs
        # One at a time on a GPU (each run owns it); the CPU smoke run may overlap sections.
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(measure, sections[1:]))
        report["sections"] = {s.name: report["sections"][s.name] for s in sections}
        write_report(out, report)
    print(markdown(report))
    return 0


def run_section(section: Section, timeout_s: float, env: dict[str, str], work: Path) -> dict[str, Any]:
    slug = section.name.replace("/", "_")
    spec_path, result = work / f"{slug}.spec.json", work / f"{slug}.result.json"
    if "work" in section.spec:
        Path(section.spec["work"]).mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(section.spec))
    launch = [sys.executable]
    if section.torchrun:
        launch += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1"]
    cmd = launch + [str(Path(__file__).resolve()), "--worker", section.worker, "--spec", str(spec_path),
                    "--result", str(result)]
    try:
        return run_guarded(cmd, timeout_s, env, result)
    finally:  # an 823m run leaves 3.3 GB of weights behind; the disk of a lent machine is small
        if "work" in section.spec:
            shutil.rmtree(section.spec["work"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
