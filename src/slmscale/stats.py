"""Intervals shared by scoring (eval) and the scaling analyses: percentile intervals of bootstrap
samples, the bootstrap interval of a mean, and the binomial interval of an accuracy.

A foundation module (numpy and the standard library only), so that eval and scaling, which must
not import each other, compute the same interval the same way.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Iterator

import numpy as np

LEVEL = 0.95
BOOT_SAMPLES = 2000
BOOT_SEED = 0


def percentile_interval(samples, level: float = LEVEL) -> tuple[float, float]:
    """Central percentile interval of bootstrap samples, NaNs ignored (failed refits); (nan, nan)
    when no sample is finite (reported, not raised)."""
    samples = np.asarray(samples, dtype=float)
    if not np.isfinite(samples).any():
        return math.nan, math.nan
    lo, hi = np.nanpercentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _draws(n: int, rng: np.random.Generator, n_boot: int) -> Iterator[np.ndarray]:
    """n_boot resamples (with replacement) of n indices, in blocks of ~2M indices so an
    official-size benchmark (tens of thousands of pairs) stays within a few tens of MB."""
    block = max(1, 2_000_000 // n)
    for i in range(0, n_boot, block):
        yield rng.integers(0, n, (min(block, n_boot - i), n))


def resampled_means(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Means of n_boot resamples (with replacement) of `values`."""
    return np.concatenate([values[draw].mean(axis=1) for draw in _draws(values.size, rng, n_boot)])


def resampled_cluster_means(values: np.ndarray, clusters: np.ndarray, rng: np.random.Generator,
                            n_boot: int) -> np.ndarray:
    """Means of n_boot resamples of whole clusters (with replacement): the mean over the items of
    the clusters drawn. Items of one cluster (one word tested twice) move together."""
    _, idx = np.unique(clusters, return_inverse=True)
    sums, counts = np.bincount(idx, weights=values), np.bincount(idx).astype(float)
    return np.concatenate([sums[draw].sum(axis=1) / counts[draw].sum(axis=1)
                           for draw in _draws(sums.size, rng, n_boot)])


def mean_interval(values, groups=None, n_boot: int = BOOT_SAMPLES, seed: int = BOOT_SEED,
                  level: float = LEVEL, clusters=None) -> tuple[float, float]:
    """Bootstrap percentile interval of the mean of `values` (one per item, items resampled); with
    `groups`, items are resampled within each group and the statistic is the mean of the group
    means (a macro average); with `clusters` (a label per item), whole clusters are resampled
    instead of items. (nan, nan) when there are no values."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    labels = None if clusters is None else np.asarray(clusters)

    def draws(mask: np.ndarray | None) -> np.ndarray:
        v = values if mask is None else values[mask]
        if labels is None:
            return resampled_means(v, rng, n_boot)
        return resampled_cluster_means(v, labels if mask is None else labels[mask], rng, n_boot)

    if groups is None:
        stats = draws(None)
    else:
        groups = np.asarray(groups)
        # groups in sorted order, so the draws do not depend on the order of the items
        members = [groups == g for g in sorted(set(groups.tolist()))]
        stats = sum(draws(m) for m in members) / len(members)
    return percentile_interval(stats, level)


def binomial_half_width(p: float, n: int, level: float = LEVEL) -> float:
    """Half-width of the normal-approximation interval of an accuracy p measured on n items."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return z * math.sqrt(max(p * (1 - p), 0.0) / n)
