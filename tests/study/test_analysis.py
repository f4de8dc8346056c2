from __future__ import annotations

import numpy as np
import pytest

from slmscale.study.analysis import envelope, exponent_ratios, power_fit
from slmscale.study.spec import load_spec
from study_helpers import make_spec, write_spec


def test_power_fit_recovers_exponent_and_r2():
    x = np.geomspace(1e10, 1e14, 12)
    y = 3.0 * x ** -0.07
    fit = power_fit(x, y)
    assert fit["gamma"] == pytest.approx(-0.07, abs=1e-9) and fit["k"] == pytest.approx(3.0, rel=1e-6)
    assert fit["r2"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        power_fit(np.array([1.0, 1.0]), np.array([2.0, 3.0]))


def test_envelope_keeps_only_improving_points():
    x = np.array([5.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0.5, 3.0, 2.0, 2.5, 1.0])
    ex, ey = envelope(x, y, "min")
    assert ex.tolist() == [1.0, 2.0, 4.0, 5.0] and ey.tolist() == [3.0, 2.0, 1.0, 0.5]
    mx, my = envelope(x, -y, "max")
    assert mx.tolist() == ex.tolist()


def test_exponent_ratio_text_over_speech(tmp_path, shards):
    arms = [{"name": "speech", "kind": "units", "shards": str(shards)},
            {"name": "text", "kind": "text", "shards": str(shards)}]
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, arms=arms)))
    fits = {"speech": {"downstream": {"sblimp": {"gamma": 0.021}}},
            "text": {"downstream": {"sblimp": {"gamma": 0.066}, "tsc": {"gamma": 0.04}}}}
    (r,) = exponent_ratios(spec, fits)
    assert r["metric"] == "sblimp" and r["ratio"] == pytest.approx(0.066 / 0.021)
    assert "for speech" in r["note"]


def test_interleaved_comparison_matches_runs_at_equal_compute(tmp_path, shards):
    from slmscale.study.analysis import compare_interleaved
    from study_helpers import interleaved_spec

    spec = load_spec(write_spec(tmp_path, interleaved_spec(tmp_path, shards)))

    def row(arm, preset, n, budget, sblimp, total=None, t2s=None):
        return {"run_id": f"{arm}-{preset}-{budget}", "arm": arm, "preset": preset, "budget": budget, "seed": 0,
                "params": n, "tokens": 8 * n, "flops": 48.0 * n * n, "flops_total": total, "init_flops": None,
                "speech_token_share": 0.5 if arm == "il" else 1.0, "sblimp": sblimp, "swuggy": None,
                "ssc": None, "tsc": None, "sstorycloze_t2s": t2s}

    done = [row("speech", "a", 100, "tpp=8", 0.52), row("speech", "b", 1000, "tpp=8", 0.55),
            row("il", "a", 100, "tpp=8", 0.58, total=2e6, t2s=0.6),
            row("il", "b", 1000, "tpp=8", 0.53, total=1e9),
            row("il", "c", 10, "tpp=8", 0.51, total=1e4)]  # no textless twin
    arms = {"speech": {"downstream": {"sblimp": {"k": 0.4, "gamma": 0.02}}}}
    [comp] = compare_interleaved(spec, done, arms)
    assert (comp["arm"], comp["textless_arm"], comp["init_arm"], comp["n_pairs"]) == ("il", "speech", "text", 2)
    pairs = {p["preset"]: p for p in comp["pairs"]}
    assert pairs["a"]["delta"]["sblimp"] == pytest.approx(0.06) and pairs["a"]["delta"]["swuggy"] is None
    assert pairs["a"]["mixed"]["sstorycloze_t2s"] == 0.6 and pairs["b"]["mixed"]["sstorycloze_t2s"] is None
    assert pairs["c"]["textless_run_id"] is None and pairs["c"]["delta"]["sblimp"] is None
    # The textless law at the interleaved run's total compute, flagged beyond the textless runs.
    assert pairs["a"]["textless_law_at_total"]["sblimp"] == pytest.approx(0.4 * 2e6 ** 0.02)
    assert not pairs["a"]["extrapolated"] and pairs["b"]["extrapolated"]
    assert comp["summary"]["sblimp"] == {"n_pairs": 2, "mean_delta": pytest.approx(0.02),
                                         "interleaved_better": 1, "mean_interleaved": pytest.approx(0.555),
                                         "mean_textless": pytest.approx(0.535)}
    assert "swuggy" not in comp["summary"]
