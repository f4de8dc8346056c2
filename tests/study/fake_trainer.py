"""A stand-in for `slmscale train` / `slmscale eval` used by the study tests.

`python fake_trainer.py train CONFIG.yaml` writes a conforming RUN dir (meta.json, metrics.jsonl,
summary.json, checkpoints/) whose loss follows L = E + A/N^alpha + B/D^beta with seeded noise.
The preset name carries N: "fake-50000" has 50,000 non-embedding parameters.
It checkpoints after every step and resumes from the checkpoint, and appends every start/finish to
RUN/attempts.jsonl so tests can count how often a run was (re)done. Config knobs under `fake.`:
step_s (sleep per step), fail (exit 1), diverge (status "diverged", exit 3), and
fail_tokens / diverge_tokens (do so only for the run with that token budget).
`python fake_trainer.py eval --run RUN --task T --bench B` merges an accuracy that falls with the
loss into RUN/summary.json (fails for a bench path containing "missing").
`python fake_trainer.py extend --model RUN --tokenizer T --units K --out DIR --check-shards S` stands
for `slmscale model extend`: it refuses a RUN that has not finished, writes an "extended model"
(speech_vocab.json, meta.json naming RUN/final as its source) and logs each call to DIR/../extend.log.
A run with model.init_from reports init_flops/flops_total through slmscale.train.lineage, and its
loss follows the law with D + 20 N extra tokens (a head start, as a pre-trained model has).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

import yaml

E, A, B, ALPHA, BETA = 1.7, 40.0, 60.0, 0.3, 0.28
COLUMNS = {"swuggy": "swuggy", "sblimp": "sblimp", "sstorycloze": "ssc", "tstorycloze": "tsc"}


def _write(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _log(out: Path, event: dict) -> None:
    with open(out / "attempts.jsonl", "a") as fh:
        fh.write(json.dumps({**event, "t": time.time()}) + "\n")


def law(n: float, d: float) -> float:
    return E + A / n ** ALPHA + B / d ** BETA


def train(config_path: str) -> int:
    cfg = yaml.safe_load(Path(config_path).read_text())
    for key in ("data", "model", "budget", "seed", "out"):
        if key not in cfg:
            print(f"error: {config_path}: missing key {key}", file=sys.stderr)
            return 2
    fake = cfg.get("fake", {})
    out = Path(cfg["out"])
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    n = int(cfg["model"]["preset"].split("-")[1])
    d = int(cfg["budget"]["tokens"])
    init_from = cfg["model"].get("init_from")
    if init_from and not (Path(init_from) / "speech_vocab.json").is_file():
        print(f"error: model.init_from {init_from}: no extended model there", file=sys.stderr)
        return 2
    head_start = 20 * n if init_from else 0
    steps = 5
    ckpt = out / "checkpoints" / "state.json"
    start = json.loads(ckpt.read_text())["step"] if ckpt.is_file() else 0
    _log(out, {"event": "start", "from_step": start, "pid": os.getpid()})
    if fake.get("fail") or fake.get("fail_tokens") == d:
        print("error: fake failure requested by config", file=sys.stderr)
        return 1
    t0 = time.time()
    for step in range(start + 1, steps + 1):
        time.sleep(float(fake.get("step_s", 0.0)))
        tokens = d * step // steps
        if (fake.get("diverge") or fake.get("diverge_tokens") == d) and step == 3:
            _write(out / "summary.json", {"status": "diverged", "error": "loss is NaN at step 3",
                                          "run_id": out.parent.name})
            print("error: loss became NaN at step 3 (diverged)", file=sys.stderr)
            return 3
        with open(out / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps({"step": step, "tokens": tokens, "flops": 6.0 * n * tokens,
                                 "loss": law(n, tokens + head_start)}) + "\n")
        _write(ckpt, {"step": step})
    rng = random.Random(n * 7919 + d + int(cfg["seed"]))
    loss = law(n, d + head_start) * math.exp(rng.gauss(0, 0.003))
    epochs = d / float(cfg.get("data", {}).get("max_tokens", 10**12))
    extra = {}
    if init_from:
        from slmscale.train.lineage import init_compute

        extra = init_compute(init_from)
        extra["flops_total"] = 6.0 * n * d + extra["init_flops"]
        extra["speech_token_share"] = 0.5
    _write(out / "summary.json", {
        "status": "finished", "loss": loss, "params": n, "params_total": n + 4096, "tokens": d,
        "flops": 6.0 * n * d, "flops_full": 6.6 * n * d, "epochs": max(1.0, epochs),
        "wall_s": time.time() - t0, "run_id": out.parent.name, "shards": cfg["data"]["shards"], **extra})
    _write(out / "meta.json", {"kind": "run", "config": cfg})
    _log(out, {"event": "finish"})
    return 0


def evaluate(args: list[str]) -> int:
    opts = dict(zip(args[::2], args[1::2]))
    run, task = Path(opts["--run"]), opts["--task"]
    if "missing" in opts["--bench"]:
        print(f"error: {opts['--bench']}: benchmark folder not found", file=sys.stderr)
        return 2
    summary = json.loads((run / "summary.json").read_text())
    acc = min(1.0, max(0.5, 0.5 + 0.25 * (4.5 - summary["loss"])))
    (run / "eval" / task).mkdir(parents=True, exist_ok=True)
    _write(run / "eval" / task / "scores.json", {"accuracy": acc})
    summary[COLUMNS.get(task, task)] = acc
    _write(run / "summary.json", summary)
    return 0


def extend(args: list[str]) -> int:
    opts = dict(zip(args[::2], args[1::2]))
    run, out = Path(opts["--model"]), Path(opts["--out"])
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    if summary.get("status") != "finished":
        print(f"error: --model {run}: not a finished run", file=sys.stderr)
        return 2
    if not (Path(opts["--check-shards"]) / "meta.json").is_file():
        print(f"error: --check-shards {opts['--check-shards']}: no shards", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / "extend.log", "a") as fh:
        fh.write(json.dumps({"model": str(run), "k": int(opts["--units"]), "t": time.time()}) + "\n")
    _write(out / "speech_vocab.json", {"k": int(opts["--units"])})
    _write(out / "meta.json", {"kind": "extended-lm", "source": str(run / "final")})
    return 0


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    sys.exit({"train": lambda: train(rest[0]), "eval": lambda: evaluate(rest),
              "extend": lambda: extend(rest)}[cmd]())
