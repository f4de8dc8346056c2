"""Scoring rules on hand-computed small cases."""

from __future__ import annotations

import math

import pytest

import numpy as np

from slmscale.eval.scoring import (Comparison, accuracy, breakdown, compare,
                                   headline_interval, macro_average, pair_outcomes, per_voice_accuracy,
                                   summarize, versus_baseline, voice_pair_accuracy)


def C(pid, voice, good, bad, **group):
    return Comparison(pid, voice, good, bad, group)


def test_compare_ties_and_nan():
    assert compare(-1.0, -2.0) == 1.0
    assert compare(-2.0, -1.0) == 0.0
    assert compare(-1.5, -1.5) == 0.5
    assert compare(float("nan"), -1.0) == 0.0


def test_accuracy_averages_voices_then_pairs():
    # pair a: 3 voices, outcomes 1, 0, 0.5 -> 0.5; pair b: 1 voice, outcome 1 -> 1.0
    # mean over pairs = 0.75 (a flat mean over the 4 comparisons would give 0.625)
    cs = [C("a", "v1", -1, -2), C("a", "v2", -3, -2), C("a", "v3", -2, -2), C("b", "v1", 0, -1)]
    assert accuracy(cs) == pytest.approx(0.75)


def test_several_incorrect_items_per_pair_voice_average_first():
    # pair a voice v1 has two non-words: outcomes 1 and 0 -> 0.5; voice v2 one non-word, 1 -> 1
    # pair a = (0.5 + 1) / 2 = 0.75
    cs = [C("a", "v1", -1, -2), C("a", "v1", -1, 0), C("a", "v2", -1, -5)]
    assert accuracy(cs) == pytest.approx(0.75)


def test_voice_pair_accuracy_needs_every_voice_strictly_right():
    cs = [C("a", "v1", -1, -2), C("a", "v2", -1, -2),      # all right
          C("b", "v1", -1, -2), C("b", "v2", -2, -2),      # tie in one voice
          C("c", "v1", -1, -2), C("c", "v2", -3, -2)]      # one wrong
    assert voice_pair_accuracy(cs) == pytest.approx(1 / 3)
    assert accuracy(cs) == pytest.approx((1 + 0.75 + 0.5) / 3)


def test_breakdown_and_macro_average():
    cs = [C("a", "v", -1, -2, type="agr"), C("b", "v", -3, -2, type="agr"),
          C("c", "v", -1, -2, type="neg"), C("d", "v", -1, -2, type="neg"),
          C("e", "v", -1, -2, type="neg"), C("f", "v", -1, -2, type="neg")]
    groups = breakdown(cs, "type")
    assert groups == {"agr": 0.5, "neg": 1.0}
    assert macro_average(groups) == pytest.approx(0.75)
    # micro (pair) average differs: 5/6
    assert accuracy(cs) == pytest.approx(5 / 6)


def test_per_voice_accuracy():
    cs = [C("a", "v1", -1, -2), C("a", "v2", -3, -2), C("b", "v1", -1, -2), C("b", "v2", -1, -2)]
    assert per_voice_accuracy(cs) == {"v1": 1.0, "v2": 0.5}


def test_summarize_sblimp_and_swuggy():
    cs = [C("a", "v1", -1, -2, type="agr", subtype="s1"), C("a", "v2", -1, -1, type="agr", subtype="s2"),
          C("b", "v1", -2, -1, type="neg", subtype="s1"), C("b", "v2", -2, -1, type="neg", subtype="s1")]
    s = summarize("sblimp", cs)
    assert s["by_type"] == {"agr": 0.75, "neg": 0.0}
    assert s["macro_accuracy"] == pytest.approx(0.375)
    assert s["accuracy"] == pytest.approx(0.375)
    assert s["ties"] == 1 and s["n_pairs"] == 2 and s["n_voices"] == 2 and s["n_comparisons"] == 4
    assert s["voice_pair_accuracy"] == 0.0
    assert set(s["by_subtype"]) == {"s1", "s2"}
    w = summarize("swuggy", [C("a", "v", -1, -2, frequency="high"), C("b", "v", -3, -2, frequency="low")])
    assert w["by_frequency"] == {"high": 1.0, "low": 0.0}
    assert "by_type" not in w


def test_empty_is_nan():
    assert math.isnan(accuracy([]))
    assert math.isnan(voice_pair_accuracy([]))
    assert math.isnan(macro_average({}))


def test_headline_interval_resamples_within_phenomena_for_a_macro_headline():
    # sBLIMP: one phenomenon all right (1 pair), one all wrong (9 pairs). The macro headline is 0.5
    # whatever the resample, so its interval is a point; the pair accuracy (0.1) varies.
    cs = [C("a0", "v", -1, -2, type="agr")] + [C(f"n{i}", "v", -3, -2, type="neg") for i in range(9)]
    assert headline_interval("sblimp", cs) == (0.5, 0.5)
    lo, hi = headline_interval("swuggy", cs)
    assert lo == 0.0 and hi > 0.1
    s = summarize("sblimp", cs)
    assert s["interval"] == [0.5, 0.5] and s["interval_level"] == 0.95 and "surface_baseline" not in s


def _pairs(outcomes):
    """One comparison per pair with the given outcomes (1 right, 0 wrong)."""
    return [C(f"p{i:03d}", "v", -1, -2) if o else C(f"p{i:03d}", "v", -2, -1) for i, o in enumerate(outcomes)]


def test_versus_baseline_paired_sees_what_unpaired_cannot():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, 200)
    model = base.copy()
    model[np.flatnonzero(base == 0)[:10]] = 1  # right on 10 pairs more than the baseline, same elsewhere
    cs = _pairs(model)
    by_pair = {f"p{i:03d}": float(b) for i, b in enumerate(base)}
    strongest = {"baseline": "phone_1gram_sum", "accuracy": float(base.mean()), "by_pair": by_pair,
                 "source": "bench/lexical/audit.json"}
    v = versus_baseline(cs, strongest)
    assert v["paired"] and v["n_pairs"] == 200 and v["audit"] == "bench/lexical/audit.json"
    assert v["difference"] == pytest.approx(10 / 200)
    assert v["model_accuracy"] == pytest.approx(accuracy(cs))
    assert v["interval"][0] > 0 and v["verdict"] == "above"
    # Without per-pair outcomes the same scores are within noise of the baseline's accuracy.
    u = versus_baseline(cs, {k: strongest[k] for k in ("baseline", "accuracy")})
    assert not u["paired"] and u["difference"] == pytest.approx(10 / 200)
    assert u["interval"][0] < 0 < u["interval"][1] and u["verdict"] == "not distinguishable"
    # The same outcomes as the baseline: no difference at all; never right: below.
    same = versus_baseline(_pairs(base), strongest)
    assert same["difference"] == 0 and same["interval"] == [0.0, 0.0]
    assert same["verdict"] == "not distinguishable"
    assert versus_baseline(_pairs(np.zeros(200)), strongest)["verdict"] == "below"


def test_versus_baseline_uses_the_pairs_both_have_and_voices_average_first():
    cs = [C("a", "v1", -1, -2), C("a", "v2", -2, -1), C("b", "v1", -1, -2), C("b", "v2", -1, -2),
          C("c", "v1", -1, -2)]
    assert pair_outcomes(cs) == {"a": 0.5, "b": 1.0, "c": 1.0}
    v = versus_baseline(cs, {"baseline": "x", "accuracy": 0.25, "by_pair": {"a": 0.5, "b": 0.0, "z": 1.0}})
    assert v["n_pairs"] == 2 and v["model_accuracy"] == 0.75 and v["baseline_accuracy"] == 0.25
    assert v["difference"] == pytest.approx(0.5)
    s = summarize("swuggy", cs, {"baseline": "x", "accuracy": 0.25, "by_pair": {"a": 0.5, "b": 0.0}})
    assert s["surface_baseline"]["difference"] == pytest.approx(0.5)


def test_each_voice_is_compared_with_the_baseline_on_its_own():
    """A voice the model fails on is hidden by the mean over voices; per_voice_surface shows it."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, 300)
    good = np.ones(300, dtype=int)  # voice "clear": right on every pair
    cs = [C(f"p{i:03d}", "clear", -1, -2) if o else C(f"p{i:03d}", "clear", -2, -1) for i, o in enumerate(good)]
    cs += [C(f"p{i:03d}", "lost", -1, -2) if o else C(f"p{i:03d}", "lost", -2, -1) for i, o in enumerate(base)]
    strongest = {"baseline": "phone_1gram_sum", "accuracy": float(base.mean()),
                 "by_pair": {f"p{i:03d}": float(b) for i, b in enumerate(base)}}
    s = summarize("swuggy", cs, strongest)
    assert s["surface_baseline"]["verdict"] == "above"
    per = s["per_voice_surface"]
    assert set(per) == {"clear", "lost"} and per["clear"]["verdict"] == "above"
    assert per["lost"]["difference"] == 0 and per["lost"]["verdict"] == "not distinguishable"
    assert per["clear"]["model_accuracy"] == s["per_voice"]["clear"] == 1.0
    one_voice = summarize("swuggy", [c for c in cs if c.voice == "clear"], strongest)
    assert "per_voice_surface" not in one_voice  # the headline comparison already is the voice's
