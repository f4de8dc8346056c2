"""Study test fixtures: tiny shards, a benchmark folder, and specs that use the fake trainer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

FAKE = str(Path(__file__).with_name("fake_trainer.py"))
SIZES = [20_000, 80_000, 300_000]


def fake_commands() -> dict:
    return {"trainer": [sys.executable, FAKE, "train"], "evaluator": [sys.executable, FAKE, "eval"]}


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    from slmscale.data.shards import ShardWriter

    w = ShardWriter(tmp_path / "shards", vocab_size=12, special_tokens={"bos": 10, "eos": 11},
                    modality="units")
    for i in range(4):
        w.add(np.arange(i, i + 5) % 10, doc_id=f"d{i}", split="train" if i else "valid")
    w.close({"k": 10})
    return tmp_path / "shards"


def make_spec(tmp_path: Path, shards: Path, arms=None, grid=None, execution=None, **extra) -> dict:
    (tmp_path / "bench").mkdir(exist_ok=True)
    spec = {
        "name": "test",
        "data": {"bench": {"path": str(tmp_path / "bench")}},
        "arms": arms or [{"name": "speech", "kind": "units", "shards": str(shards), "tasks": ["sblimp"]}],
        "grid": grid or {"sizes": [{"preset": f"fake-{n}", "params": n} for n in SIZES],
                         "tokens_per_param": [2, 8, 32]},
        "fits": {"bootstrap": 0},
        "execution": {**fake_commands(), "jobs": 2, **(execution or {})},
        **extra,
    }
    return spec


def write_spec(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
