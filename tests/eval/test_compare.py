"""compare_results: groups of eval results on small sBLIMP benchmarks, against hand computations."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from eval.conftest import tiny_llama
from eval.test_run import build_sblimp
from slmscale.errors import UserError
from slmscale.eval.compare import SURFACE, compare_results, format_comparison
from slmscale.eval.run import evaluate_run


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Three tiny LMs (seeds 0, 1, 2), each scored on two sBLIMP folders with --out; returns
    (root, {(model, bench): (result folder, summary)})."""
    from types import SimpleNamespace

    from eval.conftest import FakeEncoder, make_run, write_token_wav

    root = tmp_path_factory.mktemp("compare")
    for b, seed in (("b0", 0), ("b1", 1)):
        build_sblimp(SimpleNamespace(write_token_wav=write_token_wav), root / b, seed=seed, n_pairs=4)
    got = {}
    for m in range(3):
        run = make_run(root / f"m{m}", tiny_llama(seed=m))
        for b in ("b0", "b1"):
            out = root / f"m{m}" / f"on_{b}"
            s = evaluate_run(run, "sblimp", root / b, encoder=FakeEncoder(), out=out)
            got[m, b] = (out / "sblimp", s)
    return root, got


def test_two_results_differ_by_their_headlines(scored):
    _, got = scored
    (a, sa), (b, sb) = got[0, "b0"], got[1, "b0"]
    c = compare_results([a], [b])
    # sBLIMP's headline is the macro average over phenomena, and so is the paired difference.
    assert c["difference"] == pytest.approx(sa["headline"] - sb["headline"])
    assert c["accuracy_a"] == pytest.approx(sa["accuracy"]) and c["n_pairs"] == 8
    lo, hi = c["interval"]
    assert lo <= c["difference"] <= hi
    assert c["verdict"] == ("above" if lo > 0 else "below" if hi < 0 else "not distinguishable")
    assert [row["accuracy"] for row in c["a"]] == [pytest.approx(sa["accuracy"])]
    assert "covers the pairs drawn, not the seed" in format_comparison(c)


def test_a_result_against_its_copy_is_zero(scored, tmp_path):
    _, got = scored
    a = got[0, "b0"][0]
    shutil.copytree(a, tmp_path / "copy")
    c = compare_results([a], [tmp_path / "copy"])
    assert c["difference"] == 0 and c["interval"] == [0, 0] and c["verdict"] == "not distinguishable"


def test_a_group_averages_each_pair_over_its_results(scored, tmp_path):
    _, got = scored
    c = compare_results([got[0, "b0"][0], got[1, "b0"][0]], [got[2, "b0"][0]])
    h = {m: got[m, "b0"][1]["headline"] for m in range(3)}
    assert c["difference"] == pytest.approx((h[0] + h[1]) / 2 - h[2])  # linear in the outcomes
    assert len(c["a"]) == 2 and "not the seed" in format_comparison(c)  # B is one result
    shutil.copytree(got[2, "b0"][0], tmp_path / "m2_again")  # a second B result of the same LM
    two = compare_results([got[0, "b0"][0], got[1, "b0"][0]], [got[2, "b0"][0], tmp_path / "m2_again"])
    assert two["difference"] == pytest.approx(c["difference"]) and two["fewest_results"] == 2
    # ... is still one draw: B's seed is not covered
    assert two["draws"]["b"]["count"] == 1 and "B is one LM: the interval covers the pairs drawn, not the seed" in format_comparison(two)


def test_pooling_two_benchmark_folders_weighs_every_pair_once(scored):
    _, got = scored
    a = [got[0, "b0"][0], got[0, "b1"][0]]
    b = [got[1, "b0"][0], got[1, "b1"][0]]
    c = compare_results(a, b)
    d = {bench: got[0, bench][1]["headline"] - got[1, bench][1]["headline"] for bench in ("b0", "b1")}
    assert c["n_pairs"] == 16 and len(c["benches"]) == 2
    # Same number of pairs per phenomenon in each folder: the pooled macro difference is the mean.
    assert c["difference"] == pytest.approx((d["b0"] + d["b1"]) / 2)
    assert sorted(v["difference"] for v in c["benches"].values()) == pytest.approx(sorted(d.values()))
    text = format_comparison(c)
    assert "16 pairs (2 benchmark folder(s))" in text and text.count("b0/syntactic/dev") == 1
    assert "not the seed" in text  # one result per group on each folder: still one seed each


def test_against_the_surface_baseline_of_each_folder(scored):
    root, got = scored
    a, s = got[0, "b0"]
    pairs = sorted({f"{t}{i}" for t in ("agr", "neg") for i in range(4)})
    by_pair = {p: float(i % 2) for i, p in enumerate(pairs)}  # a baseline right on every other pair
    audit = {"tasks": {"sblimp": {"task": "sblimp", "n_pairs": 8, "strongest": {
        "baseline": "length", "accuracy": 0.5, "by_pair": by_pair}}}}
    (root / "b0" / "audit.json").write_text(json.dumps(audit))
    c = compare_results([a], SURFACE)
    base = np.mean([np.mean([by_pair[f"{t}{i}"] for i in range(4)]) for t in ("agr", "neg")])
    assert c["difference"] == pytest.approx(s["headline"] - base)
    assert c["b"] == SURFACE and "length (0.500)" in format_comparison(c)
    with pytest.raises(UserError, match=r"b1: no audit with per-pair outcomes for sblimp; run `slmscale bench audit"):
        compare_results([got[0, "b1"][0]], SURFACE)


def test_what_cannot_be_compared_is_one_line(scored, tmp_path):
    root, got = scored
    a, b = got[0, "b0"][0], got[1, "b0"][0]
    with pytest.raises(UserError, match="not an eval result.*a run folder: give RUN/eval/<key>"):
        compare_results([root / "m0" / "run"], [b])
    with pytest.raises(UserError, match="given more than once"):
        compare_results([a], [a])
    with pytest.raises(UserError, match="group A was scored on this benchmark folder and group B was not"):
        compare_results([a, got[0, "b1"][0]], [b])
    with pytest.raises(UserError, match="group B was scored on this benchmark folder and group A was not"):
        compare_results([a], [b, got[1, "b1"][0]])
    other = tmp_path / "sum"
    shutil.copytree(b, other)
    meta = json.loads((other / "meta.json").read_text())
    meta["config"]["normalize"] = "sum"
    (other / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=r"differ in scoring \(protocol, normalize, truncation\)"):
        compare_results([a], [other])
    cut = tmp_path / "cut"
    shutil.copytree(b, cut)
    scores = json.loads((cut / "scores.json").read_text())
    meta = json.loads((cut / "meta.json").read_text())
    assert meta["config"]["truncation"] == scores["truncation"] == "slide"
    del meta["config"]["truncation"]  # a result from before meta.json recorded it: scores.json says
    (cut / "meta.json").write_text(json.dumps(meta))
    scores["truncation"] = "cut"
    (cut / "scores.json").write_text(json.dumps(scores))
    with pytest.raises(UserError, match=r"differ in scoring.*'cut'"):
        compare_results([a], [cut])
    # Voice statistics: two voice-normalised results must have taken them the same way; a result
    # of a tokenizer without voice normalisation records none and compares with either.
    voiced = {}
    for label in ("all", "180 s"):
        voiced[label] = tmp_path / f"voice-{label}"
        shutil.copytree(b, voiced[label])
        meta = json.loads((voiced[label] / "meta.json").read_text())
        meta["config"]["voice_statistics"] = label
        (voiced[label] / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=r"differ in voice statistics \(eval --voice-seconds\): 180 s, all"):
        compare_results([voiced["all"]], [voiced["180 s"]])
    assert compare_results([a], [voiced["all"]])["difference"] == compare_results([a], [b])["difference"]


def test_folders_sharing_items_resample_items(tmp_path):
    """Two folders whose pairs test the same sentences (as two sWUGGY benches drawn from one
    lexicon share words): the pooled interval resamples the 8 items, not the 16 pairs."""
    import csv
    from types import SimpleNamespace

    from eval.conftest import FakeEncoder, make_run, write_token_wav

    results = {}
    for b, seed in (("b0", 0), ("b1", 1)):
        build_sblimp(SimpleNamespace(write_token_wav=write_token_wav), tmp_path / b, seed=seed, n_pairs=4)
        gold = tmp_path / b / "syntactic" / "dev" / "gold.csv"
        rows = list(csv.DictReader(gold.open()))
        for r in rows:
            r["transcription"] = f"sentence {r['id']}" if r["correct"] == "1" else f"not a sentence {r['id']}"
        with gold.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    for m in (0, 1):
        run = make_run(tmp_path / f"m{m}", tiny_llama(seed=m))
        for b in ("b0", "b1"):
            evaluate_run(run, "sblimp", tmp_path / b, encoder=FakeEncoder(), out=tmp_path / f"m{m}" / b)
            results[m, b] = tmp_path / f"m{m}" / b / "sblimp"
    c = compare_results([results[0, "b0"], results[0, "b1"]], [results[1, "b0"], results[1, "b1"]])
    assert c["n_pairs"] == 16 and c["n_items"] == 8
    assert all(v["n_items"] == v["n_pairs"] == 8 for v in c["benches"].values())
    text = format_comparison(c)
    assert "16 pairs, 8 distinct items (2 benchmark folder(s))" in text


def test_with_a_task_run_and_out_folders_stand_for_their_result(scored):
    root, got = scored
    # got[m, b][0] is <m>/on_<b>/sblimp: the --out folder <m>/on_<b> holds it under its key
    c = compare_results([root / "m0" / "on_b0"], [root / "m1" / "on_b0"], task="sblimp")
    assert c["difference"] == pytest.approx(compare_results([got[0, "b0"][0]], [got[1, "b0"][0]])["difference"])
    with pytest.raises(UserError, match="nor a run or `eval --out` folder holding a swuggy result"):
        compare_results([root / "m0" / "on_b0"], [root / "m1" / "on_b0"], task="swuggy")
    with pytest.raises(UserError, match="holds a sblimp result, not swuggy"):
        compare_results([got[0, "b0"][0]], [got[1, "b0"][0]], task="swuggy")


def _recorded(folder, tmp_path, name, tokens_from):
    """A copy of an eval result whose meta.json says its tokens come from `tokens_from`."""
    copy = tmp_path / name / "sblimp"
    shutil.copytree(folder, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta["config"]["tokens_from"] = tokens_from
    (copy / "meta.json").write_text(json.dumps(meta))
    return copy


def test_the_interval_resamples_each_groups_draws(scored):
    """Seeds are drawn as the pairs are: the default interval covers a group's LMs (or the
    encoder checkpoints they read) as well as the pairs, and equals
    stats.draws_difference_interval on the results' outcomes; `pairs` is the pair bootstrap."""
    from slmscale.stats import draws_difference_interval, mean_interval

    root, got = scored
    a = [got[m, "b0"][0] for m in range(3)]
    ids = sorted(_outcomes(a[0]))
    by_pair = {p: float(i % 3 == 0) for i, p in enumerate(ids)}
    audit = {"tasks": {"sblimp": {"task": "sblimp", "n_pairs": 8, "strongest": {
        "baseline": "length", "accuracy": 0.375, "by_pair": by_pair}}}}
    (root / "b0" / "audit.json").write_text(json.dumps(audit))
    c = compare_results(a, SURFACE)
    pairs = compare_results(a, SURFACE, resample="pairs")
    assert c["difference"] == pairs["difference"]
    assert c["draws"]["a"] == {"count": 3, "level": "LMs", "unrecorded": 3, "source": "",
                               "accuracy": {str(f.parent.parent / "run"): pytest.approx(np.mean(list(_outcomes(f).values())))
                                            for f in a}}  # an LM is known by its run
    rows = np.array([[_outcomes(f)[p] for p in ids] for f in a])
    base = np.array([[by_pair[p] for p in ids]])
    phenomena = np.array([p[:3] for p in ids])  # agr0.., neg0..
    lo, hi, df, share = draws_difference_interval(rows, ["0", "1", "2"], base, ["s"], groups=phenomena)
    assert c["interval"] == [lo, hi] and c["draws_share"] == share
    assert c["df"] == (df if np.isfinite(df) else None)
    assert pairs["interval"] == list(mean_interval(rows.mean(axis=0) - base[0], phenomena))
    text = format_comparison(c)
    assert "covers the pairs drawn and the draws: A 3 LMs" in text and "3 result(s) of A do not record" in text
    assert f"the draws make up {100 * share:.0f} % of the variance; t with " in text
    assert "estimate the seeds' variance poorly" not in text  # three draws
    assert "--resample pairs: the interval covers the pairs drawn, not the seeds" in format_comparison(pairs)
    with pytest.raises(UserError, match="--resample must be one of draws, pairs, got 'seeds'"):
        compare_results(a, SURFACE, resample="seeds")


def _outcomes(folder):
    """pair id -> the result's outcome on it."""
    from slmscale.eval.compare import _Benches, outcomes_of, read_result

    return outcomes_of(read_result(folder), _Benches())


def test_draws_are_the_encoder_checkpoints_and_shared_draws_pair_up(scored, tmp_path):
    _, got = scored
    m0, m1 = got[0, "b0"][0], got[1, "b0"][0]
    # Two LMs on one pretrained encoder: the LMs are the draws, and the output says pretraining is not covered.
    one = compare_results([_recorded(m0, tmp_path, "x0", "checkpoint:X"), _recorded(m1, tmp_path, "x1", "checkpoint:X")],
                          SURFACE)
    assert {k: one["draws"]["a"][k] for k in ("count", "level", "unrecorded", "source")} == {
        "count": 2, "level": "LMs", "unrecorded": 0, "source": "checkpoint:X"}
    assert "A's LMs read one pretrained encoder: its pretraining seed is not covered" in format_comparison(one)
    assert "A: 2 draws estimate the seeds' variance poorly" in format_comparison(one)
    # Two encoders: they are the draws. B holds the same two encoders' results with the same
    # outcomes, so compared draw by draw the difference is exactly 0; taken as independent
    # draws (other checkpoints) it is not.
    a = [_recorded(m0, tmp_path, "a0", "checkpoint:X"), _recorded(m1, tmp_path, "a1", "checkpoint:Y")]
    b = [_recorded(m0, tmp_path, "b0", "checkpoint:X"), _recorded(m1, tmp_path, "b1", "checkpoint:Y")]
    paired = compare_results(a, b)
    assert paired["draws"]["a"]["level"] == "encoder checkpoints" and paired["draws"]["paired"]
    assert paired["difference"] == 0 and paired["interval"] == [0, 0]
    assert "A 2 encoder checkpoints, B 2 encoder checkpoints (the same in both groups" in format_comparison(paired)
    acc = paired["draws"]["a"]["accuracy"]
    assert acc == {"checkpoint:X": pytest.approx(np.mean(list(_outcomes(m0).values()))),
                   "checkpoint:Y": pytest.approx(np.mean(list(_outcomes(m1).values())))}
    assert f"A's draws: checkpoint:X {acc['checkpoint:X']:.3f}, checkpoint:Y {acc['checkpoint:Y']:.3f}" in format_comparison(paired)
    # Other checkpoints are independent draws: each group's spread counts, and the interval is wider
    # than the one over pairs alone.
    m2 = got[2, "b0"][0]
    other = [_recorded(m1, tmp_path, "o0", "checkpoint:Z"), _recorded(m2, tmp_path, "o1", "checkpoint:W")]
    apart = compare_results(a, other)
    pairs = compare_results(a, other, resample="pairs")
    assert not apart["draws"]["paired"] and apart["difference"] == pairs["difference"] and apart["draws_share"] > 0
    assert apart["interval"][0] <= pairs["interval"][0] and apart["interval"][1] >= pairs["interval"][1]


def test_each_draw_weighs_the_same_and_accuracies_are_headlines(scored, tmp_path):
    """Two LMs on checkpoint X and one on Y: each pair's outcome for A is the mean of X's mean and
    Y's, as the draws' variance component weighs them, and every accuracy printed is the task's
    headline (sBLIMP: macro over phenomena), so A's minus B's is the difference."""
    _, got = scored
    m0, m1, m2 = (got[m, "b0"][0] for m in range(3))
    a = [_recorded(m0, tmp_path, "a0", "checkpoint:X"), _recorded(m1, tmp_path, "a1", "checkpoint:X"),
         _recorded(m2, tmp_path, "a2", "checkpoint:Y")]
    b = [_recorded(m1, tmp_path, "b0", "checkpoint:Z"), _recorded(m2, tmp_path, "b1", "checkpoint:W")]
    c = compare_results(a, b)
    ids = sorted(_outcomes(m0))
    o = [np.array([_outcomes(f)[p] for p in ids]) for f in (m0, m1, m2)]
    phenomena = np.array([p[:3] for p in ids])

    def macro(x):
        return np.mean([x[phenomena == g].mean() for g in sorted(set(phenomena))])

    assert c["accuracy_a"] == pytest.approx(macro(((o[0] + o[1]) / 2 + o[2]) / 2))
    assert c["accuracy_a"] != pytest.approx(macro((o[0] + o[1] + o[2]) / 3))  # not the mean over results
    assert c["accuracy_b"] == pytest.approx(macro((o[1] + o[2]) / 2))
    assert c["difference"] == pytest.approx(c["accuracy_a"] - c["accuracy_b"])
    assert [r["accuracy"] for r in c["a"]] == pytest.approx([macro(x) for x in o])
    assert c["draws"]["a"]["accuracy"] == {"checkpoint:X": pytest.approx(macro((o[0] + o[1]) / 2)),
                                           "checkpoint:Y": pytest.approx(macro(o[2]))}
    assert compare_results(a, b, resample="pairs")["difference"] == c["difference"]
