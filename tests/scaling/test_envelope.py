"""envelope.read_curves on the metrics.jsonl and summary.json the trainer really writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slmscale.config import validate
from slmscale.data.shards import ShardWriter
from slmscale.errors import UserError
from slmscale.scaling import envelope
from slmscale.train import run_training
from slmscale.train.config import TrainConfig


def _shards(out: Path) -> Path:
    rng = np.random.default_rng(1)
    w = ShardWriter(out, 18, {"bos": 16, "eos": 17}, "units",
                    {"kind": "units", "path": "/nonexistent", "k": 16, "dedup": True, "frame_rate": 25.0,
                     "fingerprint": "t"})
    for i in range(60):
        toks = (int(rng.integers(0, 16)) + np.arange(int(rng.integers(20, 60)))) % 16
        w.add(toks, f"d{i}", split="valid" if i < 6 else "train", voice="v", source=f"s{i}")
    w.close({})
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("curves")
    shards = _shards(root / "sh")
    out = []
    for name, d_model in (("small", 16), ("large", 32)):
        cfg = {"seed": 0, "out": str(root / name), "data": {"shards": str(shards)},
               "model": {"preset": None, "n_layers": 1, "d_model": d_model, "n_heads": 2, "ffn": 2 * d_model},
               "budget": {"tokens": 32 * 4 * 10},
               "train": {"seq_len": 32, "batch_tokens": 128, "lr": 3e-3, "threads": 1, "peak_flops": 1e10},
               "eval": {"interval_steps": 2, "max_tokens": 256}, "log": {"interval_steps": 1}}
        run_training(validate(TrainConfig, cfg))
        out.append(root / name)
    return out


def test_curves_are_the_valid_evaluations_of_each_run(runs):
    df = envelope.read_curves(runs)
    for run in runs:
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
        evals = [r for r in lines if "valid_loss" in r]
        assert any("train_loss" in r for r in lines)  # training rows exist but are not curve points
        summary = json.loads((run / "summary.json").read_text())
        mine = df[df["run_id"] == summary["run_id"]]
        assert len(mine) == len(evals) >= 3
        assert mine["loss"].tolist() == pytest.approx([r["valid_loss"] for r in evals])
        assert mine["flops"].tolist() == pytest.approx([r["flops"] for r in evals])
        assert (mine["params"] == summary["params"]).all()
        assert mine["tokens"].is_monotonic_increasing
    fit = envelope.fit(df)
    assert fit["n_points"] == len(df) and fit["gamma"] < 0  # loss falls with compute


def test_missing_files_and_bad_lines_are_named(runs, tmp_path):
    with pytest.raises(UserError, match="expected metrics.jsonl and summary.json"):
        envelope.read_curves([tmp_path])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text((runs[0] / "summary.json").read_text())
    (broken / "metrics.jsonl").write_text('{"step": 1}\n{not json\n')
    with pytest.raises(UserError, match=r"metrics.jsonl:2: not valid JSON"):
        envelope.read_curves([broken])


def test_envelope_bootstrap_resamples_runs_and_brackets_the_exponent():
    rng = np.random.default_rng(0)
    rows = []
    for i, n in enumerate(np.geomspace(1e5, 1e8, 8)):
        for frac in (0.25, 0.5, 1.0):  # three curve points per run
            c = 6 * n * 20 * n * frac
            rows.append((f"run{i}", n, c, 5.0 * c ** -0.05 * np.exp(rng.normal(0, 0.005))))
    df = pd.DataFrame(rows, columns=["run_id", "params", "flops", "loss"])
    rec = envelope.fit(df, n_boot=60, seed=1)
    lo, hi = rec["ci"]["gamma"]
    assert lo <= rec["gamma"] <= hi and lo > -0.06 and hi < -0.04
    assert rec["bootstrap"]["unit"] == "run" and rec["bootstrap"]["n"] == 60


def test_a_power_law_through_two_points_has_no_r2():
    assert envelope.loglog_fit([1, 10], [2, 3])["r2"] is None
