"""2-process torchrun (gloo, CPU; DDP and FSDP2) follows the 1-process loss curve at the same global batch."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from slmscale.train import run_training

# 8 sequences per step: 1 process x 8, or 2 ranks x 2 micro-batches of 2 (gradient accumulation).
OVER = {"budget.tokens": 256 * 20, "train.batch_tokens": 256, "log.interval_steps": 1,
        "eval.interval_steps": 10}


def curve(run):
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in recs if "train_loss" in r]


@pytest.fixture(scope="module")
def one_process(shards_dir, tmp_path_factory, train_config):
    out = tmp_path_factory.mktemp("dist") / "one"
    return out, run_training(train_config(shards_dir, out, **OVER))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_torchrun_two_processes_match_one(one_process, shards_dir, tmp_path, make_config, mode):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun, "torchrun not found next to the Python interpreter"
    one_dir, one = one_process
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(make_config(shards_dir, tmp_path / "two", **OVER, **{
        "train.micro_batch": 2, "train.distributed": mode})))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([torchrun, "--standalone", "--nproc-per-node=2", "-m", "slmscale.cli.main",
                          "train", str(cfg)], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert two["world_size"] == 2 and two["tokens"] == one["tokens"] and two["status"] == "finished"
    c1, c2 = curve(one_dir), curve(tmp_path / "two")
    assert [s for s, _ in c1] == [s for s, _ in c2] == list(range(1, 21))
    for (_, a), (_, b) in zip(c1, c2):
        assert abs(a - b) <= 1e-4 * abs(a)
    assert abs(two["loss"] - one["loss"]) <= 1e-4 * one["loss"]
    assert c1[-1][1] < c1[0][1]  # it did learn
