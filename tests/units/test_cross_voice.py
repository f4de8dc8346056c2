"""Cross-voice consensus targets: DTW finds a known warping; readings of one text get one cluster
sequence; ungrouped, lone and over-long readings keep their own features."""

from __future__ import annotations

import numpy as np

from slmscale.units.cross_voice import consensus_features, dtw_path, label_agreement
from slmscale.units.kmeans import Assigner, fit_kmeans


def _content(rng: np.random.Generator, n_sounds: int = 6, length: int = 40, dim: int = 8):
    """A sequence of `length` segments, each one of `n_sounds` sound vectors held 2-5 frames."""
    sounds = rng.normal(size=(n_sounds, dim)) * 3
    ids = rng.integers(0, n_sounds, size=length)
    ids[1:][ids[1:] == ids[:-1]] = (ids[1:][ids[1:] == ids[:-1]] + 1) % n_sounds  # no repeats
    return sounds, ids


def _reading(sounds, ids, holds, voice, rng):
    frames = np.concatenate([np.repeat(sounds[i][None], h, axis=0) for i, h in zip(ids, holds)])
    return (frames + voice + rng.normal(scale=0.05, size=frames.shape)).astype(np.float32), np.repeat(ids, holds)


def test_dtw_recovers_a_known_time_warp():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5)).astype(np.float32)
    src = np.sort(np.concatenate([np.arange(30), rng.choice(30, size=12)]))  # some frames held longer
    y = x[src]
    path = dtw_path(x, y)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (29, len(y) - 1)
    steps = np.diff(path, axis=0)
    assert ((steps >= 0) & (steps <= 1)).all() and (steps.sum(axis=1) >= 1).all()  # monotone, no jumps
    assert (path[:, 0] == src[path[:, 1]]).all()  # every y frame is matched to the x frame it copies
    assert np.array_equal(dtw_path(x, x), np.stack([np.arange(30)] * 2, axis=1))


def test_readings_of_one_text_get_one_cluster_sequence():
    """Two voices (a large offset each) read the same sounds at different tempi. k-means of their
    own frames splits the clusters by voice; of the consensus frames, it follows the sounds."""
    rng = np.random.default_rng(1)
    sounds, ids = _content(rng)
    a, sa = _reading(sounds, ids, rng.integers(2, 6, size=len(ids)), np.full(8, 4.0), rng)
    b, sb = _reading(sounds, ids, rng.integers(2, 6, size=len(ids)), np.full(8, -4.0), rng)
    alone, _ = _reading(sounds, ids[:10], np.full(10, 3), np.zeros(8), rng)
    feats, groups = [a, b, alone], ["story-1", "story-1", ""]
    cons, paths, stats = consensus_features(feats, groups, max_frames=10_000)
    assert stats == {"groups": 1, "readings_aligned": 2, "readings_alone": 1, "readings_too_long": 0}
    assert cons[2] is alone  # no group: its own features
    assert [(r, o) for r, o, _ in paths] == [(0, 1)]
    # Along the path both readings are on the same sound, and their consensus frames coincide.
    p = paths[0][2]
    assert (sa[p[:, 0]] == sb[p[:, 1]]).mean() > 0.97
    assert np.abs(cons[0][p[:, 0]] - cons[1][p[:, 1]]).mean() < 0.5

    def labels(fs):
        centroids, _ = fit_kmeans(np.concatenate(fs[:2]), 6, seed=0)
        return [Assigner(centroids)(f) for f in fs[:2]]

    assert label_agreement(labels(feats), paths) < 0.2  # own frames: the clusters name the voice
    assert label_agreement(labels(cons), paths) > 0.95  # consensus: the clusters name the sound


def test_lone_and_over_long_readings_keep_their_features():
    rng = np.random.default_rng(2)
    short, long_ = rng.normal(size=(20, 4)).astype(np.float32), rng.normal(size=(50, 4)).astype(np.float32)
    other = rng.normal(size=(22, 4)).astype(np.float32)
    cons, paths, stats = consensus_features([short, long_, other], ["g", "g", "h"], max_frames=30)
    assert paths == [] and all(c is f for c, f in zip(cons, [short, long_, other]))
    assert stats == {"groups": 1, "readings_aligned": 0, "readings_alone": 2, "readings_too_long": 1}
    assert label_agreement([np.zeros(20)], []) is None


def test_three_readings_share_the_first_one_time_base():
    """Voices offset by -2, 0 and +2: the consensus of each reading sits on the clean sounds."""
    rng = np.random.default_rng(3)
    sounds, ids = _content(rng, length=15)
    reads = [_reading(sounds, ids, rng.integers(2, 5, size=len(ids)), np.full(8, v), rng) for v in (-2.0, 0.0, 2.0)]
    cons, paths, stats = consensus_features([f for f, _ in reads], ["g"] * 3, max_frames=1000)
    assert stats["readings_aligned"] == 3 and [(r, o) for r, o, _ in paths] == [(0, 1), (0, 2)]
    off = [float(np.abs(frames - sounds[sid]).mean()) for frames, sid in reads]
    assert off[0] > 1.9 and off[2] > 1.9  # each reading alone is 2 off the clean sounds
    assert all(np.abs(c - sounds[sid]).mean() < 0.5 for c, (_, sid) in zip(cons, reads))
