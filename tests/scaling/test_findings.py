"""The findings on synthetic results tables whose answer is planted (tests/support/scaling_tables)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.scaling_tables import arm_runs, findings_table

from slmscale.errors import UserError
from slmscale.scaling import findings

SPEECH = {"sblimp": 0.021, "ssc": 0.017, "tsc": 0.025}  # C&M's speech exponents
TEXT = {"sblimp": 0.066, "ssc": 0.046, "tsc": 0.039}  # C&M's text exponents
N_BOOT = 60


def _no_loss(df):
    return df.assign(loss=np.nan)


def _get(records, fid, metric=None, statistic=""):
    hits = [r for r in records if r.id == fid and r.metric == metric and statistic in r.statistic]
    assert len(hits) == 1, [(r.id, r.metric, r.statistic) for r in records if r.id == fid]
    return hits[0]


@pytest.fixture(scope="module")
def planted():
    """Every claim planted true; the interleaved arm's loss is left out (SIMS 2 is tested apart)."""
    df = findings_table({
        "speech": {"gammas": SPEECH, "seed": 1},
        "text": {"gammas": TEXT, "seed": 2},
        "unigram": {"gammas": {k: v / 2 for k, v in SPEECH.items()}, "seed": 3,
                    "loss": {"E": 1.0, "A": 30.0, "B": 80.0, "alpha": 0.35, "beta": 0.35}},
        "interleaved": {"gammas": {k: 1.5 * v for k, v in SPEECH.items()}, "q0": 0.57, "seed": 4},
        "no_story": {"gammas": SPEECH, "q0": 0.53, "seed": 5},
    })
    df.loc[df["arm"] == "interleaved", "loss"] = np.nan
    return df, findings.assess(df, n_boot=N_BOOT, seed=0)


def test_planted_ratio_of_exponents_is_recovered(planted):
    _, recs = planted
    r = _get(recs, "C&M 3", "sblimp")
    assert r.verdict == "reproduced"
    assert r.ci[0] <= 0.066 / 0.021 <= r.ci[1]
    assert r.ci[0] > 1
    assert r.paper == pytest.approx(0.066 / 0.021)  # read from published/downstream_sblimp_cm2024.yaml
    assert r.details["paper_in_ci"] is True
    assert r.details["compute_factor_10x"] == pytest.approx(10 ** r.value)
    assert r.details["gamma_text"] == pytest.approx(0.066, abs=0.006)


def test_planted_claims_reproduced(planted):
    _, recs = planted
    for fid, metric in [("C&M 1", None), ("C&M 2", "tsc"), ("C&M 4", "sblimp"), ("C&M 5", "ssc"),
                        ("C&M 5", "tsc"), ("C&M 6", None)]:
        r = _get(recs, fid, metric)
        assert r.verdict == "reproduced", (fid, metric, r.reason)
    gap = _get(recs, "SIMS 1", "sblimp", "mean gap")
    growth = _get(recs, "SIMS 1", "sblimp", "growth")
    assert gap.verdict == growth.verdict == "reproduced"
    assert gap.details["compute"] == "flops_full"
    assert gap.details["mean_gap_at_equal_6nd"] == pytest.approx(gap.value, abs=0.01)
    assert _get(recs, "C&M 6", "ssc").verdict == "reproduced"  # unigram not better downstream
    assert _get(recs, "C&M 2", "sblimp").details["paper_in_ci"] is True
    sims2 = _get(recs, "SIMS 2")
    assert sims2.verdict == "not tested" and "no held-out loss" in sims2.reason


def test_every_record_is_complete_and_summarized(planted):
    _, recs = planted
    assert {r.id for r in recs} == set(findings.CLAIMS)
    for r in recs:
        assert r.verdict in findings.VERDICTS and r.reason
        if r.verdict in ("reproduced", "contradicted"):
            assert r.ci is not None and r.ci[0] <= r.value <= r.ci[1]
    summary = {s["id"]: s["verdict"] for s in findings.summarize(recs)}
    assert summary["C&M 3"] == "reproduced" and summary["SIMS 2"] == "not tested"


def test_null_effects_are_inconclusive():
    df = findings_table({"speech": {"gammas": SPEECH, "seed": 1},
                         "text": {"gammas": SPEECH, "seed": 2},
                         "no_story": {"gammas": SPEECH, "seed": 3}})
    recs = findings.assess(df, n_boot=N_BOOT)
    for fid, metric in [("C&M 3", "sblimp"), ("C&M 3", "tsc"), ("C&M 5", "ssc"), ("C&M 5", "tsc")]:
        r = _get(recs, fid, metric)
        assert r.verdict == "inconclusive", (fid, metric, r.value, r.ci)
        assert "interval too wide" in r.reason


def test_planted_contradictions():
    df = findings_table({"speech": {"gammas": TEXT, "seed": 1},  # speech faster than text
                         "text": {"gammas": SPEECH, "seed": 2},
                         "no_story": {"gammas": TEXT, "q0": 0.6, "seed": 3}})  # no-story better
    # Speech loss that grows slowly with compute.
    df.loc[df["arm"] == "speech", "loss"] = 1.0 + 1e-3 * np.log(df.loc[df["arm"] == "speech", "flops"])
    recs = findings.assess(df, n_boot=N_BOOT)
    r = _get(recs, "C&M 3", "sblimp")
    assert r.verdict == "contradicted" and r.ci[1] < 1
    assert _get(recs, "C&M 5", "ssc").verdict == "contradicted"
    c1 = _get(recs, "C&M 1")
    assert c1.verdict == "contradicted" and "does not fall" in c1.reason


def test_missing_arms_are_not_tested_and_named():
    df = _no_loss(arm_runs("speech", SPEECH, seed=1))
    recs = findings.assess(df, n_boot=10)
    assert "text LM arm" in _get(recs, "C&M 3", "sblimp").reason
    assert "no_story" in _get(recs, "C&M 5", "ssc").reason
    assert "unigram" in _get(recs, "C&M 6", "tsc").reason
    sims1 = [r for r in recs if r.id == "SIMS 1" and r.metric == "ssc"]
    assert len(sims1) == 1 and "growth" in sims1[0].statistic and "interleaved" in sims1[0].reason
    assert _get(recs, "C&M 1").reason == "arm 'speech' has no held-out loss"
    for fid in ("C&M 1", "C&M 3", "C&M 5", "C&M 6", "SIMS 1", "SIMS 2"):
        assert all(r.verdict == "not tested" for r in recs if r.id == fid), fid
    assert _get(recs, "C&M 2", "sblimp").verdict == "reproduced"


def test_metric_not_evaluated_is_not_tested():
    df = findings_table({"speech": {"gammas": {"sblimp": 0.02}}, "no_story": {"gammas": {"sblimp": 0.02}},
                         "text": {"gammas": {"sblimp": 0.05, "tsc": 0.04}}})
    df["ssc"] = np.nan  # a column nobody scored: no rows for it, except C&M 5 saying why
    recs = findings.assess(df, n_boot=10)
    r = _get(recs, "C&M 5", "ssc")
    assert r.verdict == "not tested" and "'ssc'" in r.reason
    assert not [r for r in recs if r.metric == "ssc" and r.id != "C&M 5"]
    r = _get(recs, "C&M 3", "tsc")
    assert r.verdict == "not tested" and r.reason == "arm 'speech' has no 'tsc' scores"


def test_too_few_points_is_inconclusive_with_that_reason():
    narrow = arm_runs("speech", SPEECH, sizes=[1e4, 2e4], ratios=(10,), seed=1)
    r = _get(findings.assess(narrow, n_boot=10), "C&M 2", "sblimp")
    assert r.verdict == "inconclusive" and r.reason.startswith("too few points") and "envelope" in r.reason
    short = arm_runs("speech", SPEECH, sizes=[1e4, 1.3e4, 1.6e4], ratios=(10, 12, 15), seed=1)
    r = _get(findings.assess(short, n_boot=10), "C&M 2", "sblimp")
    assert r.verdict == "inconclusive" and "need 10x" in r.reason


def test_metric_at_surface_baseline_is_inconclusive():
    df = findings_table({"speech": {"gammas": SPEECH, "seed": 1}, "text": {"gammas": TEXT, "seed": 2}})
    best = df.loc[df["arm"] == "speech", "sblimp"].max()
    base = {"sblimp": {"accuracy": best - 0.01, "ci": [best - 0.04, best + 0.02]}, "tsc": 0.3}
    recs = findings.assess(df, n_boot=N_BOOT, baselines=base)
    for fid in ("C&M 2", "C&M 3", "C&M 4"):
        r = _get(recs, fid, "sblimp")
        assert r.verdict == "inconclusive" and "surface baseline" in r.reason, (fid, r.reason)
    assert _get(recs, "C&M 2", "tsc").verdict == "reproduced"  # a baseline below chance changes nothing


def test_sims2_allocation_favouring_size_is_reproduced():
    wide = dict(sizes=np.geomspace(1e4, 3e5, 4), ratios=(2, 5, 10, 20, 50, 100), seed=1)
    df = findings_table({"speech": {"gammas": {}, **wide},
                         "interleaved": {"gammas": {}, **wide, "loss": {"alpha": 0.12, "beta": 0.4},
                                         "seed": 2}})
    r = _get(findings.assess(df, n_boot=20), "SIMS 2")
    assert r.verdict == "reproduced", r.reason
    assert r.details["method"] == "chinchilla"
    assert r.details["a_interleaved"] > r.details["a_textless"]
    assert r.value == pytest.approx(0.4 / 0.52 - 0.24 / 0.49, abs=0.1)


def test_sims2_degenerate_fit_is_inconclusive():
    narrow = dict(sizes=[1e4, 1.5e4, 2e4], ratios=(5, 10, 20), seed=1)
    df = findings_table({"speech": {"gammas": {}, **narrow}, "interleaved": {"gammas": {}, **narrow}})
    r = _get(findings.assess(df, n_boot=10), "SIMS 2")
    assert r.verdict == "inconclusive" and "degenerate fit" in r.reason


def test_a_degenerate_fit_never_makes_a_finding_reproduced(planted):
    """A study lists the fits that tripped their own warnings; the records resting on them (same
    arm, same metric; SIMS 2 on the loss law) lose "reproduced", the others keep their verdict."""
    import copy

    _, recs = planted
    recs = copy.deepcopy(recs)
    before = {(r.id, r.metric, r.statistic): r.verdict for r in recs}
    sblimp_law = {"arm": "speech", "metric": "sblimp", "fit": "sblimp vs compute",
                  "warnings": ["gamma's 95% interval [0.001, 0.05] spans 50x: the data barely constrain it"]}
    loss_law = {"arm": "speech", "metric": None, "fit": "loss law L(N, D)",
                "warnings": ["E = 8e-161 (irreducible loss ~0)"]}
    findings.veto_degenerate(recs, [sblimp_law, loss_law])
    for fid in ("C&M 2", "C&M 3", "C&M 6"):
        r = _get(recs, fid, "sblimp")
        assert before[(r.id, r.metric, r.statistic)] == "reproduced", fid  # the planted answer
        assert r.verdict == "inconclusive" and r.details["was"]["verdict"] == "reproduced"
        assert r.reason.startswith("degenerate fit: arm 'speech', sblimp vs compute: gamma's 95% interval")
    # Other metrics, and envelopes or correlations (which the fits' warnings do not cover), keep theirs.
    for fid, metric in [("C&M 2", "tsc"), ("C&M 3", "ssc"), ("C&M 1", None), ("C&M 4", "sblimp"),
                        ("C&M 6", None), ("C&M 5", "ssc")]:
        assert _get(recs, fid, metric).verdict == "reproduced", (fid, metric)
    # SIMS 2 rests on the loss laws of both arms; a contradicted record is not upgraded or hidden.
    sims = findings.Finding("SIMS 2", "a", arms=["interleaved", "speech"], verdict="reproduced", reason="x")
    no = findings.Finding("C&M 2", "g", metric="sblimp", arms=["speech"], verdict="contradicted", reason="y")
    findings.veto_degenerate([sims, no], [loss_law])
    assert sims.verdict == "inconclusive" and "loss law L(N, D): E = 8e-161" in sims.reason
    assert no.verdict == "contradicted"
    s = {x["id"]: x["verdict"] for x in findings.summarize(recs)}
    assert s["C&M 2"] == "reproduced" and s["C&M 1"] == "reproduced"  # tsc, ssc rows still reproduce


def test_same_seed_same_records_and_json_is_strict(tmp_path, planted):
    df, recs = planted
    again = findings.assess(df, n_boot=N_BOOT, seed=0)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in recs]
    path = tmp_path / "findings.json"
    doc = findings.write_findings(path, recs, source="results.csv", n_boot=N_BOOT)

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    loaded = json.loads(path.read_text(), parse_constant=no_constants)
    assert loaded == json.loads(json.dumps(doc))
    assert loaded["kind"] == "findings" and loaded["n_boot"] == N_BOOT
    assert len(loaded["findings"]) == len(recs) and loaded["findings"][0]["claim"]
    assert not list(tmp_path.glob(".findings.json.*"))  # no temp file left behind


def test_roles_from_kinds_and_explicit_roles():
    df = findings_table({"units_a": {"gammas": SPEECH, "seed": 1}, "lm": {"gammas": TEXT, "seed": 2}})
    by_kind = findings.assess(df, kinds={"units_a": "units", "lm": "text"}, n_boot=20)
    assert _get(by_kind, "C&M 3", "sblimp").arms == ["lm", "units_a"]
    from_column = findings.assess(df.assign(kind=df["arm"].map({"units_a": "units", "lm": "text"})), n_boot=20)
    assert _get(from_column, "C&M 3", "sblimp").arms == ["lm", "units_a"]
    explicit = findings.assess(df, roles={"speech": "units_a", "text": "lm"}, n_boot=20)
    assert _get(explicit, "C&M 3", "sblimp").verdict == "reproduced"
    with pytest.raises(UserError, match="unknown role"):
        findings.assess(df, roles={"speach": "units_a"})
    with pytest.raises(UserError, match="missing column"):
        findings.assess(df.drop(columns="arm"))


def test_unfinished_runs_are_left_out():
    df = arm_runs("speech", SPEECH, seed=1)
    df.loc[df.index[:20], "status"] = "failed"
    r = _get(findings.assess(df, n_boot=10), "C&M 2", "sblimp")
    assert r.n_points <= 8 and r.verdict in ("inconclusive", "reproduced")


def test_no_metric_columns_and_hint():
    df = arm_runs("speech", {}, seed=1)
    recs = findings.assess(df, n_boot=10, hint="run `slmscale demo --preset small`")
    assert [r.id for r in recs] == sorted((r.id for r in recs), key=list(findings.CLAIMS).index)
    c3 = [r for r in recs if r.id == "C&M 3"]
    assert len(c3) == 1 and c3[0].verdict == "not tested" and "no benchmark columns" in c3[0].reason
    assert c3[0].reason.endswith("(run `slmscale demo --preset small`)")
    assert _get(recs, "C&M 1").verdict == "reproduced"  # loss needs no benchmark
    assert "preset small" not in _get(recs, "C&M 1").reason


def test_loss_findings_use_single_epoch_runs_only():
    df = arm_runs("speech", SPEECH, seed=1).assign(epochs=3.0)
    r = _get(findings.assess(df, n_boot=10), "C&M 1")
    assert r.verdict == "inconclusive" and "only multi-epoch runs" in r.reason
    assert _get(findings.assess(df, n_boot=0), "C&M 2", "sblimp").reason == \
        "no bootstrap interval (bootstrap disabled)"
