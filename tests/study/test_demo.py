from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slmscale.errors import UserError
from slmscale.study.demo import PRESETS, load_preset, preset_spec
from slmscale.study.expand import expand

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", PRESETS)
def test_presets_validate_and_match_their_yaml(name):
    spec = load_preset(name)
    assert {a.kind for a in spec.arms} >= {"units", "text"}
    assert yaml.safe_load((ROOT / "configs" / "demo" / f"{name}.yaml").read_text()) == preset_spec(name)


def test_ci_preset_is_small_enough_for_two_minutes():
    runs = expand(load_preset("ci"))
    assert len(runs) == 12
    assert max(r.params for r in runs) < 100_000
    assert sum(r.tokens for r in runs) < 2_000_000  # ~30 s of training at ~50k tokens/s x 2 workers


def test_unknown_preset_is_a_user_error():
    with pytest.raises(UserError, match="choose one of ci, tiny, small"):
        preset_spec("huge")


@pytest.mark.slow
def test_ci_demo_end_to_end(tmp_path):
    """The real pipeline: synth corpus, units, text shards, benchmarks, 12 trainings, evals, fits, report."""
    import json

    import pandas as pd

    from slmscale.study.demo import run_demo

    res = run_demo("ci", str(tmp_path))
    study = tmp_path / "ci"
    df = pd.read_csv(study / "results.csv")
    assert len(df) == 12 and set(df["status"]) == {"finished"}, df[["run_id", "status", "error"]]
    assert df["loss"].gt(0).all() and df[["swuggy", "sblimp"]].notna().all().all()
    fits = json.loads((study / "fits.json").read_text())
    assert set(fits["arms"]) == {"speech", "text"}
    assert "gamma" in fits["arms"]["speech"]["loss_envelope"]
    html = (study / "report.html").read_text()
    assert "data:image/png;base64" in html and "Text vs speech" in html
    # A second run reuses every stage and every finished run.
    again = run_demo("ci", str(tmp_path))
    assert again["ran"] == 0 and set(again["states"]) == set()
    assert all(v == "cached" for v in json.loads((study / "plan.json").read_text())["data"]["stages"].values())
