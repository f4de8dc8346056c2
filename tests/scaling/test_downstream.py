"""downstream.analyze: at least 3 envelope points per arm, flops_full as compute, law warnings."""

from __future__ import annotations

import pandas as pd
import pytest

from slmscale.errors import UserError
from slmscale.scaling import downstream, table
from support import scaling_tables as synthetic


def test_downstream_needs_three_envelope_points_per_arm_and_keeps_the_others():
    good = synthetic.downstream_table(0.03, 0.2, arm="speech", seed=1)
    two = good.iloc[[0, 47]].assign(arm="tiny")  # two runs: at most 2 envelope points
    df = table.prepare(pd.concat([good, two]).assign(flops_full=lambda d: 1.5 * d["flops"]), target="sblimp")
    rec = downstream.analyze(df, "sblimp", n_boot=20, show_progress=False, compute="flops_full")
    assert set(rec["arms"]) == {"speech"} and "at least 3" in rec["skipped"]["tiny"]
    law = rec["arms"]["speech"]
    assert rec["compute"] == law["compute"] == "flops_full" and law["n_envelope"] >= 3
    assert law["gamma"] == pytest.approx(0.03, abs=0.004)  # C x 1.5 leaves the exponent
    assert law["ci"]["gamma"][0] <= law["gamma"] <= law["ci"]["gamma"][1] and not law["degenerate"]
    with pytest.raises(UserError, match="at least 3"):
        downstream.analyze(table.prepare(two, target="sblimp"), "sblimp", show_progress=False)


def test_law_warnings_flag_flat_and_unconstrained_exponents():
    assert downstream.law_warnings({"gamma": -0.01})[0].startswith("gamma = -0.01")
    notes = downstream.law_warnings({"gamma": 0.02, "ci": {"gamma": [0.001, 0.05]}})
    assert "spans 50x" in notes[0]
    assert "includes 0" in downstream.law_warnings({"gamma": 0.02, "ci": {"gamma": [-0.01, 0.05]}})[0]
    assert downstream.law_warnings({"gamma": 0.02, "ci": {"gamma": [0.015, 0.025]}}) == []
