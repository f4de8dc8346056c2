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


def _uniform_counts(n: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """How often each of n units is drawn in `size` resamples of n with replacement: (size, n)."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)


def _labels(labels) -> tuple[int, np.ndarray]:
    """(number of distinct labels, each item's index among them in sorted order)."""
    uniq, idx = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return len(uniq), idx.reshape(-1)


def crossed_difference_interval(a, a_draws, b, b_draws, *, paired: bool = False, clusters=None,
                                groups=None, n_boot: int = BOOT_SAMPLES, seed: int = BOOT_SEED,
                                level: float = LEVEL) -> tuple[float, float]:
    """Bootstrap percentile interval of the mean over pairs of (group A's outcome - group B's) when
    both the pairs and each group's draws are random samples: seeds, say, crossed with the pairs
    of a benchmark, since every draw is scored on the same pairs.

    `a` and `b` hold one row per result and one column per pair (NaN: the result did not score
    the pair); `a_draws`/`b_draws` label each row with its draw (results of one draw, e.g. the
    LMs trained on one pretrained encoder, move together). A group's outcome on a pair is the mean
    over its results. Each resample draws each group's draws with replacement (`paired`: the
    groups share their draws, which are drawn once for both, so what they share cancels) and,
    independently, the pairs, or whole `clusters` of pairs, within each of `groups` (then the
    statistic is the mean of the group means, a macro average). This is the pigeonhole bootstrap
    for crossed random effects (Owen 2007); with one draw per group it is the pair bootstrap.
    Pairs that a resample leaves without a result of either group are left out of it."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    n_pairs = a.shape[1]
    if n_pairs == 0:
        return math.nan, math.nan
    n_a, a_idx = _labels(a_draws)
    n_b, b_idx = _labels(b_draws)
    if paired:
        shared, both = _labels(np.r_[np.asarray(a_draws).astype(str), np.asarray(b_draws).astype(str)])
        if shared != n_a or shared != n_b:
            raise ValueError("paired groups must have the same draws")
        a_idx, b_idx = both[:len(a_idx)], both[len(a_idx):]
    group_lab = np.zeros(n_pairs, dtype=int) if groups is None else _labels(groups)[1]
    order = np.argsort(group_lab, kind="stable")  # pairs by group: group sums are slices (reduceat)
    a, b, group_lab = a[:, order], b[:, order], group_lab[order]
    cluster_lab = (np.arange(n_pairs).astype(str) if clusters is None else np.asarray(clusters).astype(str)[order])
    starts = np.flatnonzero(np.r_[True, group_lab[1:] != group_lab[:-1]])
    a_seen, b_seen = np.isfinite(a), np.isfinite(b)
    a_val, b_val = np.where(a_seen, a, 0.0), np.where(b_seen, b, 0.0)
    a_count, b_count = a_seen.astype(float), b_seen.astype(float)
    # The resampled units of pairs: a cluster within a group (as mean_interval draws them), numbered
    # group by group so that each group's units are one range.
    cluster_idx = _labels(cluster_lab)[1]
    units_of, unit_of = np.unique(np.c_[group_lab, cluster_idx], axis=0, return_inverse=True)
    unit_of = unit_of.reshape(-1)
    n_units = len(units_of)
    unit_group = units_of[:, 0]
    first = np.searchsorted(unit_group, unit_group)  # each unit's group's first unit
    size_of = np.bincount(unit_group)[unit_group]    # and its group's number of units
    rng = np.random.default_rng(seed)
    out = []
    block = max(1, 2_000_000 // (n_pairs + n_units))
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        counts_a = _uniform_counts(n_a, rng, size)
        counts_b = counts_a if paired else _uniform_counts(n_b, rng, size)  # paired: one draw for both
        wa, wb = counts_a[:, a_idx], counts_b[:, b_idx]
        # each group's units drawn with replacement within the group: n_g picks among its n_g
        picks = first + (rng.random((size, n_units)) * size_of).astype(int)
        units = np.bincount((picks + n_units * np.arange(size)[:, None]).ravel(),
                            minlength=size * n_units).reshape(size, n_units).astype(float)
        den_a, den_b = wa @ a_count, wb @ b_count
        ok = (den_a > 0) & (den_b > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.where(ok, (wa @ a_val) / den_a - (wb @ b_val) / den_b, 0.0)
            weight = units[:, unit_of] * ok
            per_group = np.add.reduceat(weight * diff, starts, axis=1) / np.add.reduceat(weight, starts, axis=1)
        out.append(per_group.mean(axis=1))
    return percentile_interval(np.concatenate(out), level)


def binomial_half_width(p: float, n: int, level: float = LEVEL) -> float:
    """Half-width of the normal-approximation interval of an accuracy p measured on n items."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return z * math.sqrt(max(p * (1 - p), 0.0) / n)
