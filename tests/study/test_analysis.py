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
