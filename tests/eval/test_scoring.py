"""Scoring rules on hand-computed small cases."""

from __future__ import annotations

import math

import pytest

from slmscale.eval.scoring import (Comparison, accuracy, breakdown, compare, macro_average,
                                   per_voice_accuracy, summarize, voice_pair_accuracy)


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
