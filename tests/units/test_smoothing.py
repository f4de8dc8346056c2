import itertools

import numpy as np
import pytest

from slmscale.units.bundle import SpeechTokenizer
from slmscale.units.dedup import dedup
from slmscale.units.smoothing import absorb_short_runs
from support.babble import babble

# Five units on a line: 0 and 1 are close, 2 and 3 are close, 4 is halfway.
LINE = np.array([[0.0], [1.0], [10.0], [9.0], [5.0]])


def test_flicker_joins_the_stable_run_whose_centroid_is_nearer():
    #                 A A A  1  3  1  3  B B B : 1 is near A (0), 3 near B (2)
    units = np.array([0, 0, 0, 1, 3, 1, 3, 2, 2, 2])
    out = absorb_short_runs(units, 2, LINE)
    # One cut, never alternating: the cheapest split gives the first 1 to A and the rest to B.
    assert out.tolist() == [0, 0, 0, 0, 2, 2, 2, 2, 2, 2]
    # A short run of the same unit as both neighbours simply bridges them.
    assert absorb_short_runs(np.array([2, 2, 3, 2, 2]), 2, LINE).tolist() == [2] * 5


def test_edges_join_their_only_stable_neighbour_and_stable_runs_stay():
    units = np.array([3, 1, 0, 0, 4, 4, 4, 2, 1])
    out = absorb_short_runs(units, 2, LINE)
    assert out.tolist() == [0, 0, 0, 0, 4, 4, 4, 4, 4]  # 3 is far from 0 but has no other side
    assert np.array_equal(absorb_short_runs(units, 1, LINE), units)  # 1 frame: off
    flicker = np.array([0, 1, 0, 1, 2])
    assert np.array_equal(absorb_short_runs(flicker, 2, LINE), flicker)  # nothing stable to join


def _cost(units, out, centroids):
    return float(((centroids[units] - centroids[out]) ** 2).sum())


@pytest.mark.parametrize("min_run", [2, 3, 4])
def test_random_sequences_keep_the_invariants_and_take_the_cheapest_cut(min_run):
    rng = np.random.default_rng(min_run)
    centroids = rng.normal(size=(6, 3))
    for _ in range(200):
        runs = rng.integers(0, 6, size=rng.integers(1, 12))
        lengths = rng.integers(1, min_run + 2, size=len(runs))
        units = np.repeat(runs, lengths)
        out = absorb_short_runs(units, min_run, centroids)
        assert out.shape == units.shape
        labels, durations = dedup(units)
        starts = np.r_[0, np.cumsum(durations)[:-1]]
        stable = durations >= min_run
        if not stable.any():
            assert np.array_equal(out, units)
            continue
        for s, d, ok in zip(starts, durations, stable):
            if ok:
                assert (out[s:s + d] == units[s]).all(), "a stable run changed"
        assert (dedup(out)[1] >= min_run).all(), "a short run survived"
        # Brute force: every stretch of short runs split at every cut between its two stable runs.
        best = _cost(units, out, centroids)
        for i in range(len(labels)):
            if stable[i] or (i > 0 and not stable[i - 1]):
                continue
            j = i
            while j < len(labels) and not stable[j]:
                j += 1
            left = labels[i - 1] if i > 0 else None
            right = labels[j] if j < len(labels) else None
            for t in range(j - i + 1):
                if (t > 0 and left is None) or (t < j - i and right is None):
                    continue
                trial = out.copy()
                for r, lab in zip(range(i, j), itertools.chain([left] * t, [right] * (j - i - t))):
                    trial[starts[r]:starts[r] + durations[r]] = lab
                assert _cost(units, trial, centroids) >= best - 1e-9


def test_tokenizer_smooths_before_dedup_and_lowers_the_rate(smooth_tokdir, tokdir):
    plain, smooth = SpeechTokenizer.load(tokdir), SpeechTokenizer.load(smooth_tokdir)
    assert smooth.config.min_run == 3 and plain.config.min_run is None
    assert np.array_equal(plain.centroids, smooth.centroids)  # the same k-means; only encoding differs
    assert plain.fingerprint() != smooth.fingerprint()
    wav = babble(3.0, seed=4)
    frames = smooth.frame_units(smooth.encoder.features(wav))
    raw, _ = smooth.encode(wav, dedup=False)
    assert np.array_equal(raw, absorb_short_runs(frames, 3, smooth.centroids))
    units, durations = smooth.encode(wav)
    assert (durations >= 3).all() and durations.sum() == len(frames)
    assert len(units) < 0.8 * len(plain.encode(wav)[0])
