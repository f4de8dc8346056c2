"""fitfile.load on a study's fits.json: one arm's loss fit or downstream law."""

from __future__ import annotations

import json

import pytest

from slmscale.errors import UserError
from slmscale.scaling import fitfile, planner


def test_fitfile_reads_one_arm_of_a_study_fits_json(tmp_path):
    good = {**dict(E=1.7, A=40.0, B=60.0, alpha=0.3, beta=0.28), "form": "chinchilla", "warnings": []}
    doc = {"kind": "study-fits", "arms": {
        "speech": {"loss_fit": good, "downstream": {"sblimp": {"gamma": 0.02, "k": 0.3, "compute": "flops_full"}}},
        "text": {"loss_fit": {"form": "chinchilla", "E": 0.0, "A": 10.0, "B": 20.0, "alpha": 2.6, "beta": 0.3,
                              "warnings": ["alpha = 2.6 is outside the usual 0.05-2 range"]}, "downstream": {}},
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
