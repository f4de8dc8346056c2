"""Building blocks of the findings: roles, stratified bootstrap, ratio intervals, envelope gaps, floors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from slmscale.errors import UserError
from slmscale.scaling import findings_stats as fs


def test_ratio_directions():
    assert fs.ratio(0.06, 0.02) == pytest.approx(3.0)
    assert fs.ratio(0.06, -0.01) == math.inf  # only the denominator arm fails to improve
    assert fs.ratio(-0.01, 0.02) == 0.0
    assert math.isnan(fs.ratio(-0.01, -0.02))


def test_ratio_interval_keeps_an_unbounded_end():
    num = np.full(100, 0.06)
    den = np.concatenate([np.full(90, 0.02), np.full(10, -0.01)])  # 10% without a speech gain
    ci, undirected = fs.ratio_interval(num, den, 0.95)
    assert ci[0] == pytest.approx(3.0) and ci[1] == math.inf and undirected == 0
    ci, undirected = fs.ratio_interval(np.full(4, -1.0), np.full(4, -1.0), 0.95)
    assert ci is None and undirected == 4


def test_envelope_gap_interpolates_in_log_compute():
    cb = np.array([1e9, 1e10, 1e11])
    qb = np.array([0.5, 0.6, 0.7])
    ca = np.array([1e9, 10 ** 9.5, 1e11, 1e12])  # the last point is outside B's range
    qa = np.array([0.55, 0.66, 0.8, 0.9])
    c, gap = fs.envelope_gap(ca, qa, cb, qb)
    assert list(c) == [1e9, 10 ** 9.5, 1e11]
    assert gap == pytest.approx([0.05, 0.11, 0.1])
    stats = fs.gap_stats(c, gap)
    assert stats["mean_gap"] == pytest.approx(0.26 / 3) and stats["slope"] == pytest.approx(0.0383333 / 2.1666667, rel=1e-5)
    with pytest.raises(ValueError, match="share no compute"):
        fs.envelope_gap(np.array([1e13, 1e14]), np.array([0.6, 0.7]), cb, qb)


def test_floor_of_chance_and_baselines():
    assert fs.floor_of("sblimp", None) == (0.5, 0.02, "chance")
    assert fs.floor_of("sblimp", {"sblimp": 0.56})[:2] == (0.56, 0.02)
    assert fs.floor_of("sblimp", {"sblimp": {"accuracy": 0.6, "ci": [0.55, 0.65]}})[:2] == \
        pytest.approx((0.6, 0.05))
    level, half, _ = fs.floor_of("swuggy", {"swuggy": {"accuracy": 0.5, "n": 400}})
    assert level == 0.5 and half == pytest.approx(1.959964 * 0.025, rel=1e-6)  # z(0.975) / sqrt(.25 / 400)
    assert fs.at_floor(0.53, "swuggy", {"swuggy": {"accuracy": 0.5, "n": 400}})
    assert fs.at_floor(0.56, "swuggy", {"swuggy": {"accuracy": 0.5, "n": 400}}) is None
    assert fs.floor_of("ssc", {"sstorycloze": {"best": 0.58}})[0] == 0.58  # an audit's task name


def test_resolve_roles_precedence():
    arms = ["speech", "lm", "nostory", "units_b"]
    assert fs.resolve_roles(arms) == {"speech": "speech", "no_story": "nostory"}
    kinds = {"units_b": "units", "lm": "text"}
    assert fs.resolve_roles(arms, kinds=kinds) == {"speech": "units_b", "text": "lm", "no_story": "nostory"}
    assert fs.resolve_roles(arms, roles={"speech": "speech"}, kinds=kinds)["speech"] == "speech"
    with pytest.raises(UserError, match="unknown role"):
        fs.resolve_roles(arms, roles={"story": "speech"})


def test_stratified_bootstrap_is_seeded_and_counts_failures():
    def refit(idx):
        if idx["a"].sum() % 3 == 0:
            raise ValueError("degenerate")
        return {"m": float(idx["a"].mean() + idx["b"].mean())}

    s1, f1 = fs.stratified_bootstrap({"a": 5, "b": 7}, refit, 50, seed=3)
    s2, f2 = fs.stratified_bootstrap({"a": 5, "b": 7}, refit, 50, seed=3)
    assert np.array_equal(s1["m"], s2["m"]) and f1 == f2 and 0 < f1 < 50
    assert len(s1["m"]) + f1 == 50


def test_clean_table_keeps_finished_runs_and_derives_flops():
    df = pd.DataFrame({"arm": ["a", "a", "b"], "params": [1e4, 2e4, 1e4], "tokens": [1e5, 2e5, 3e5],
                       "loss": ["3.1", "2.9", "x"], "status": ["finished", "failed", "finished"]})
    out = fs.clean_table(df, ("sblimp",))
    assert list(out["arm"]) == ["a", "b"] and list(out["flops"]) == [6e9, 1.8e10]
    assert math.isnan(out["loss"].iloc[1])
    with pytest.raises(UserError, match="missing column"):
        fs.clean_table(df.drop(columns="tokens"), ())
