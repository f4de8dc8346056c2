"""The unit-quality measures against hand computations (slmscale.units.measures)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slmscale.units.measures import (abx, dtw_distance, edit_distance, joint_counts, normalized_mi, phone_measures,
                                     word_edit_distances, word_edit_to_reference)


def test_purity_and_pnmi_by_hand():
    phones = np.array([0, 0, 1, 1, 1, 2])
    units = np.array([0, 0, 0, 1, 1, 1])
    counts = joint_counts(phones, units)
    assert counts.tolist() == [[2, 0], [1, 2], [0, 1]]
    got = phone_measures(counts)
    # p(y) = 1/3, 1/2, 1/6; p(z) = 1/2, 1/2.
    # phone purity = sum_z max_y p(y, z) = (2 + 2) / 6; cluster purity = sum_y max_z p(y, z) = (2 + 2 + 1) / 6
    assert got["phone_purity"] == pytest.approx(4 / 6)
    assert got["cluster_purity"] == pytest.approx(5 / 6)
    mi = (2 / 6) * math.log(2) + (1 / 6) * math.log(2 / 3) + (2 / 6) * math.log(4 / 3) + (1 / 6) * math.log(2)
    h_phone = (1 / 3) * math.log(3) + (1 / 2) * math.log(2) + (1 / 6) * math.log(6)
    assert got["pnmi"] == pytest.approx(mi / h_phone)
    assert got["pnmi"] == pytest.approx(0.370669, abs=1e-5)


def test_nmi_extremes_and_a_hand_value():
    voices = np.array([0, 0, 1, 1])
    assert normalized_mi(np.array([5, 5, 7, 7]), voices) == pytest.approx(1.0)  # units name the voice
    assert normalized_mi(np.array([5, 7, 5, 7]), voices) == pytest.approx(0.0)  # units ignore it
    # units 0,0,0,1 vs voices 0,0,1,1: I = 1/2 ln 4/3 + 1/4 ln 2/3 + 1/4 ln 2, H(voice) = ln 2
    want = (0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)) / math.log(2)
    assert normalized_mi(np.array([0, 0, 0, 1]), voices) == pytest.approx(want)


def test_distances():
    assert edit_distance(np.array([1, 2, 3]), np.array([1, 3])) == pytest.approx(1 / 3)
    assert edit_distance(np.array([]), np.array([1])) == 1.0
    assert dtw_distance(np.array([1, 1, 2, 2]), np.array([1, 2])) == 0.0  # a warp, no cost
    # [1, 2] vs [3, 3]: every aligned pair differs -> cost 1 per step of the path
    assert dtw_distance(np.array([1, 2]), np.array([3, 3])) == pytest.approx(1.0)


def test_abx_by_construction():
    w1, w2 = np.array([1, 1, 2, 2, 3]), np.array([7, 7, 8, 9, 9])
    # Voice "a" and voice "b" say both words; "b" says them with the same units: ABX must be 1.
    same = [("cat", "a", w1), ("cat", "a", w1), ("dog", "a", w2), ("cat", "b", w1), ("dog", "b", w2),
            ("dog", "b", w2), ("dog", "a", w2), ("cat", "b", w1)]
    for across in (False, True):
        score, n = abx(same, across, 200, seed=0)
        assert score == 1.0 and n == 200
    # Voice "b" uses units that match the *other* word of voice "a": across-voice ABX = 0, within = 1.
    swapped = [("cat", "a", w1), ("cat", "a", w1), ("dog", "a", w2), ("dog", "a", w2),
               ("cat", "b", w2), ("cat", "b", w2), ("dog", "b", w1), ("dog", "b", w1)]
    assert abx(swapped, True, 100, seed=0)[0] == 0.0
    assert abx(swapped, False, 100, seed=0)[0] == 1.0
    assert abx([("cat", "a", w1)], True, 10, seed=0) == (None, 0)


def test_word_edit_distances_by_hand():
    cat = np.array([1, 1, 2, 2, 3])  # 5 frames, deduplicated 1 2 3
    segments = [("cat", "a", cat), ("cat", "a", cat.copy()), ("cat", "b", np.array([1, 2, 2, 4])),
                ("dog", "a", np.array([7, 8, 8, 9]))]
    # Only the two "cat" tokens of voice a have a same-voice twin, another voice's "cat" and another
    # word by their voice. Every draw gives 0 edits (same spelling), 1 edit against 1 2 4 and 3
    # against 7 8 9; the other two tokens are 4 frames long, so the mean duration is 4.5 frames.
    got = word_edit_distances(segments, 50, seed=3, rate=50.0)
    assert got == {"within": 0.0, "across": pytest.approx(1 / (4.5 / 50)), "other": pytest.approx(3 / (4.5 / 50)),
                   "pairs": 50}
    # Without a rate: edits over the longer deduplicated string.
    assert word_edit_distances(segments, 50, seed=3) == {"within": 0.0, "across": pytest.approx(1 / 3),
                                                         "other": 1.0, "pairs": 50}
    # Without a same-voice twin there is no anchor: nothing is measured, and it says so.
    nothing = {"within": None, "across": None, "other": None, "pairs": 0}
    assert word_edit_distances(segments[1:], 50, seed=3) == nothing
    assert word_edit_distances([], 50, seed=3) == nothing
    # Against reference voices: each "cat" (1 2 3 twice, 1 2 4) to the reference's only "cat"
    # (1 2 3 3) is 0, 0 and 1 edit over 4 frames (both tokens 4 long); "dog" has no reference token.
    reference = [("cat", "r", np.array([1, 2, 3, 3])), ("bird", "r", np.array([5, 6]))]
    assert word_edit_to_reference(segments, reference, 50, seed=3, rate=1.0) == (pytest.approx((1 / 4) / 3), 3)
    assert word_edit_to_reference(segments, reference[1:], 50, seed=3) == (None, 0)
