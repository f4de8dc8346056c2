"""kill -9 a real training process at a random step, resume it, and get the same weights."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from safetensors.torch import load_file

from slmscale.config import validate
from slmscale.train import run_training
from slmscale.train.config import TrainConfig

STEPS = 240


def last_step(metrics):
    if not metrics.is_file():
        return 0
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines() if line.endswith("}")]
    return max(steps, default=0)


@pytest.mark.slow
def test_kill9_then_resume_matches_uninterrupted(shards_dir, tmp_path, make_config):
    over = {"budget.tokens": 128 * STEPS, "log.interval_steps": 1, "checkpoint.interval_steps": 7,
            "eval.interval_steps": 50}
    reference = run_training(validate(TrainConfig, make_config(shards_dir, tmp_path / "ref", **over)))
    assert reference["status"] == "finished"

    run = tmp_path / "killed"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(make_config(shards_dir, run, **over)))
    kill_at = random.Random(1234).randint(30, STEPS - 40)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "slmscale.cli.main", "train", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600  # generous: a loaded machine is slow, and the loop ends early
        while last_step(run / "metrics.jsonl") < kill_at and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "training finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = last_step(run / "metrics.jsonl")
    assert kill_at <= killed_at < STEPS
    assert not (run / "final").exists()

    resumed = run_training(validate(TrainConfig, make_config(shards_dir, run, **over)), resume=True)
    assert resumed["status"] == "finished" and resumed["steps_done"] == STEPS
    a = load_file(tmp_path / "ref" / "final" / "model.safetensors")
    b = load_file(run / "final" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["loss"] == reference["loss"]
    # metrics.jsonl reads as one run: each step logged once, in order
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()
             if "train_loss" in x]
    assert steps == list(range(1, STEPS + 1))
