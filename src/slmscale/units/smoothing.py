"""Absorb short runs of a unit into the longer runs around them (`units fit --min-run N`).

Frame-level k-means units flicker: a frame near a cluster boundary lands on one side, its
neighbour on the other, so one sound becomes a string of one-frame units whose pattern depends on
the voice. Every run shorter than `min_run` frames is given to one of the two nearest runs that
are long enough (a "stable" run on either side). A stretch of short runs between two stable runs is
cut once: the frames before the cut join the left run, those after it the right one, and the cut
is placed where the short runs' own centroids are, in total, nearest to the centroid they join.
So the result never alternates, keeps every stable run, and is the same for a file streamed in
blocks and read whole (it runs on the whole utterance's frame units, after assignment).
"""

from __future__ import annotations

import numpy as np

from slmscale.units.dedup import dedup

# Stands in for "no stable run on this side": large enough to decide, finite so sums stay ordered.
_ABSENT = 1e30


def absorb_short_runs(units: np.ndarray, min_run: int, centroids: np.ndarray) -> np.ndarray:
    """Frame units with every run shorter than `min_run` frames merged into a neighbouring stable
    run (see the module doc); unchanged when `min_run` <= 1 or no run is long enough."""
    units = np.asarray(units, dtype=np.int64)
    if min_run <= 1 or units.size == 0:
        return units
    labels, durations = dedup(units)
    stable = durations >= min_run
    if stable.all() or not stable.any():
        return units
    idx = np.arange(len(labels))
    # Nearest stable run to the left and to the right of every run (-1 / n: none).
    left = np.maximum.accumulate(np.where(stable, idx, -1))
    right = np.minimum.accumulate(np.where(stable, idx, len(labels))[::-1])[::-1]
    short = np.flatnonzero(~stable)
    has_l, has_r = left[short] >= 0, right[short] < len(labels)
    unit_l = labels[np.maximum(left[short], 0)]  # placeholders where a side has none (cost _ABSENT)
    unit_r = labels[np.minimum(right[short], len(labels) - 1)]
    c = np.asarray(centroids, dtype=np.float64)
    own = c[labels[short]]
    dist_l = np.where(has_l, ((own - c[unit_l]) ** 2).sum(1), _ABSENT)
    dist_r = np.where(has_r, ((own - c[unit_r]) ** 2).sum(1), _ABSENT)
    # Within each stretch (same left stable run), joining the first t short runs to the left and
    # the rest to the right costs const + prefix_t(dist_l - dist_r): take the t with the least
    # prefix, or t = 0 (all to the right) when no prefix is negative.
    gain = durations[short] * (dist_l - dist_r)
    stretch = left[short]
    starts = np.flatnonzero(np.r_[True, stretch[1:] != stretch[:-1]])
    to_left = np.zeros(len(short), dtype=bool)
    for a, b in zip(starts, np.r_[starts[1:], len(short)]):
        prefix = np.cumsum(gain[a:b])  # per stretch: an absent side's huge cost stays in its own sums
        t = int(np.argmin(prefix))
        if prefix[t] < 0:
            to_left[a:a + t + 1] = True
    new = labels.copy()
    new[short] = np.where(to_left, unit_l, unit_r)
    return np.repeat(new, durations)
