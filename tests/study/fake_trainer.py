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
        fh.write(json.dumps(event) + "\n")


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
                                 "loss": law(n, tokens)}) + "\n")
        _write(ckpt, {"step": step})
    rng = random.Random(n * 7919 + d + int(cfg["seed"]))
    loss = law(n, d) * math.exp(rng.gauss(0, 0.003))
    epochs = d / float(cfg.get("data", {}).get("max_tokens", 10**12))
    _write(out / "summary.json", {
        "status": "finished", "loss": loss, "params": n, "params_total": n + 4096, "tokens": d,
        "flops": 6.0 * n * d, "flops_full": 6.6 * n * d, "epochs": max(1.0, epochs),
        "wall_s": time.time() - t0, "run_id": out.parent.name, "shards": cfg["data"]["shards"]})
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
    summary[COLUMNS[task]] = acc
    _write(run / "summary.json", summary)
    return 0


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    sys.exit(train(rest[0]) if cmd == "train" else evaluate(rest))
