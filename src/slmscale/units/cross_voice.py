"""Cross-voice consensus targets for `units pretrain --cross-voice` (a parallel corpus).

Where several voices read the same text (manifest entries sharing a `group`), each reading's
target features are aligned to the group's first reading by dynamic time warping (cosine distance,
steps right, down and diagonal), averaged over the readings in that reading's time base, and
mapped back to every reading along its path. k-means of these consensus frames gives readings of
the same text the same cluster sequence up to timing, so the network has to predict the same
targets from different voices: speaker-invariant targets learned without any transcript. Only
the fact that two recordings read the same text is used, never what the text says.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from slmscale.config import StrictModel
from slmscale.progress import track


class CrossVoice(StrictModel):
    # Readings longer than this are left unaligned (their own features): DTW's cost and path
    # tables grow with the product of the two lengths (90 s against 90 s: 2 x 81 MB).
    max_seconds: float = Field(default=90.0, gt=0)


def dtw_path(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The minimum-cost monotone alignment of frames x (n, d) and y (m, d): (len, 2) index pairs
    from (0, 0) to (n - 1, m - 1), each step +1 in x, y or both. The cost is the cosine distance
    of frames centred on their reading's mean (a voice's constant offset does not count). Filled
    one anti-diagonal at a time (every cell on it depends only on the two before), so it runs at
    numpy speed; ties prefer the diagonal, then a step in x."""

    def unit(f: np.ndarray) -> np.ndarray:
        c = f - f.mean(axis=0)
        return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-8)

    cost = (1.0 - unit(x) @ unit(y).T).astype(np.float32)
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        acc[i, j] = cost[i - 1, j - 1] + np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
    path = []
    i, j = n, m
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.asarray(path[::-1], dtype=np.int64).reshape(-1, 2)


def _mean_along(path_src: np.ndarray, path_dst: np.ndarray, frames: np.ndarray, n_dst: int) -> np.ndarray:
    """For each destination frame, the mean of the source frames the path pairs it with."""
    total = np.zeros((n_dst, frames.shape[1]), dtype=np.float64)
    count = np.zeros(n_dst)
    np.add.at(total, path_dst, frames[path_src])
    np.add.at(count, path_dst, 1.0)
    return total / count[:, None]


def consensus_features(feats: list[np.ndarray], groups: list[str], max_frames: int
                       ) -> tuple[list[np.ndarray], list[tuple[int, int, np.ndarray]], dict[str, Any]]:
    """(features with each group's readings replaced by their consensus, the alignments
    (reference index, reading index, path) for checking the labels, stats). Readings without a
    group, alone in theirs, or longer than `max_frames` keep their own features."""
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        if g:
            members.setdefault(g, []).append(i)
    out = list(feats)
    paths: list[tuple[int, int, np.ndarray]] = []
    too_long = aligned = 0
    for g in track(sorted(members), "cross-voice alignment", unit="group"):
        idx = [i for i in members[g] if len(feats[i]) <= max_frames]
        too_long += len(members[g]) - len(idx)
        if len(idx) < 2:
            continue
        ref, others = idx[0], idx[1:]
        group_paths = [dtw_path(feats[ref], feats[o]) for o in others]
        # The consensus in the reference's time base: the mean over readings of each reading's
        # frames aligned to a reference frame (the reference counts once, like every reading).
        base = feats[ref].astype(np.float64)
        for o, p in zip(others, group_paths):
            base += _mean_along(p[:, 1], p[:, 0], feats[o], len(feats[ref]))
        base /= len(idx)
        out[ref] = base.astype(np.float32)
        for o, p in zip(others, group_paths):
            out[o] = _mean_along(p[:, 0], p[:, 1], base, len(feats[o])).astype(np.float32)
            paths.append((ref, o, p))
        aligned += len(idx)
    stats = {"groups": sum(len(v) >= 2 for v in members.values()), "readings_aligned": aligned,
             "readings_alone": len(feats) - aligned - too_long, "readings_too_long": too_long}
    return out, paths, stats


def label_agreement(labels: list[np.ndarray], paths: list[tuple[int, int, np.ndarray]]) -> float | None:
    """Share of aligned frame pairs whose two readings got the same cluster (1 = identical
    sequences up to timing); None without alignments."""
    if not paths:
        return None
    same = sum(int((labels[r][p[:, 0]] == labels[o][p[:, 1]]).sum()) for r, o, p in paths)
    return same / sum(len(p) for _, _, p in paths)
