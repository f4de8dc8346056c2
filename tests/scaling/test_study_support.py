"""The scaling functions a study composes: one arm at a time, single-epoch selection, equal-compute
pairing, intervals on envelopes, no law on fewer than 3 points, degenerate fits refused, a study's
fits.json read as a fit file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slmscale.errors import UserError
from slmscale.scaling import compare, downstream, envelope, fitfile, forms, loss, planner, table
from support import scaling_tables as synthetic


def test_select_arm_refuses_to_pool_and_picks_one():
    df = table.prepare(pd.DataFrame({"arm": ["a", "a", "b"], "params": [1, 2, 3], "tokens": [4, 5, 6],
                                     "loss": [3, 2, 1]}), source="r.csv")
    with pytest.raises(UserError, match=r"r.csv: the table has arms a, b; choose one with --arm NAME"):
        table.select_arm(df, None)
    one = table.select_arm(df, "b")
    assert one["params"].tolist() == [3.0] and one.attrs["source"] == "r.csv [arm b]"
    with pytest.raises(UserError, match="arm 'c' not in the table"):
        table.select_arm(df, "c")
    single = df[df["arm"] == "a"].copy()
    single.attrs.update(df.attrs)
    assert len(table.select_arm(single, None)) == 2  # one arm: nothing to choose


def test_split_repeated_counts_and_names_the_runs():
    df = pd.DataFrame({"run_id": ["r1", "r2", "r3", "r4"], "params": 1.0, "tokens": [10.0, 20, 30, 40],
                       "epochs": [1.0, 1.04, 1.2, None]})
    kept, left = loss.split_repeated(df)
    assert kept["run_id"].tolist() == ["r1", "r2", "r4"]  # within tolerance; unknown = not repeated
    assert left["n"] == 1 and left["runs"] == ["r3"] and "1.05 epochs" in left["reason"]
    kept, left = loss.split_repeated(df.drop(columns="epochs"))
    assert left is None and len(kept) == 4  # no epoch information: nothing to leave out


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


def test_match_equal_compute_pairs_within_tolerance_and_prefers_the_same_size():
    partners = [{"run_id": "t1", "preset": "s", "seed": 0, "flops_full": 100.0},
                {"run_id": "t2", "preset": "m", "seed": 0, "flops_full": 100.0},
                {"run_id": "t3", "preset": "m", "seed": 1, "flops_full": 101.0}]
    runs = [{"run_id": "i1", "preset": "m", "seed": 0, "flops_full": 101.5},
            {"run_id": "i2", "preset": "m", "seed": 0, "flops_full": 150.0},
            {"run_id": "i3", "preset": "m", "seed": 0, "flops_full": None}]
    m1, m2, m3 = compare.match_equal_compute(runs, partners)
    assert m1["partner"]["run_id"] == "t2" and m1["matched"] and m1["ratio"] == pytest.approx(1.015)
    assert m2["partner"]["run_id"] == "t2" and not m2["matched"] and m2["ratio"] == pytest.approx(1.5)
    assert m3["partner"] is None and not m3["matched"]


def _degenerate_record():
    return {"form": "chinchilla", "E": 0.0, "A": 10.0, "B": 20.0, "alpha": 2.6, "beta": 0.3,
            "warnings": ["alpha = 2.6 is outside the usual 0.05-2 range"]}


def test_planner_refuses_degenerate_fits_in_one_line():
    with pytest.raises(UserError) as err:
        planner.plan_flops({**_degenerate_record(), **forms.derived(_degenerate_record())}, 1e20)
    assert str(err.value) == ("not extrapolating from this loss fit: it is degenerate "
                              "(alpha = 2.6 is outside the usual 0.05-2 range)")
    ds = {"form": "downstream", "metric": "sblimp", "arms": {"s": {"gamma": 0.02, "k": 0.3, "warnings": ["x"]}}}
    with pytest.raises(UserError, match="not extrapolating from the sblimp law of arm 's'"):
        planner.target_via_compute(ds, "sblimp", 0.7)


def test_fitfile_reads_one_arm_of_a_study_fits_json(tmp_path):
    good = {**dict(E=1.7, A=40.0, B=60.0, alpha=0.3, beta=0.28), "form": "chinchilla", "warnings": []}
    doc = {"kind": "study-fits", "arms": {
        "speech": {"loss_fit": good, "downstream": {"sblimp": {"gamma": 0.02, "k": 0.3, "compute": "flops_full"}}},
        "text": {"loss_fit": _degenerate_record(), "downstream": {}},
        "il": {"loss_fit": {"error": "not fitted: mixed loss"}, "downstream": {}}}}
    path = tmp_path / "fits.json"
    path.write_text(json.dumps(doc))
    rec = fitfile.load(path, arm="speech")
    assert rec["E"] == 1.7 and rec["a"] == pytest.approx(0.28 / 0.58) and "[arm speech]" in rec["source"]
    assert planner.plan_flops(rec, 1e18)["n_opt"] > 0
    with pytest.raises(UserError, match="choose one with --arm"):
        fitfile.load(path)
    deg = fitfile.load(path, arm="text")  # E = 0 loads; the planner says why it will not use it
    with pytest.raises(UserError, match="degenerate"):
        planner.plan_flops(deg, 1e18)
    with pytest.raises(UserError, match="arm 'il' has no loss fit \\(not fitted: mixed loss\\)"):
        fitfile.load(path, arm="il")
    ds = fitfile.load(path, arm="speech", metric="sblimp")
    ans = planner.target_via_compute(ds, "sblimp", 0.6)
    assert ans["compute"] == "flops_full" and 0.3 * ans["flops"] ** 0.02 == pytest.approx(0.6)
    with pytest.raises(UserError, match="arm 'text' has no sblimp law"):
        fitfile.load(path, arm="text", metric="sblimp")
