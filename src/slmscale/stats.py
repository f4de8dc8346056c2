"""Intervals shared by scoring (eval) and the scaling analyses: percentile intervals of bootstrap
samples, the bootstrap interval of a mean, the interval of a difference over pairs and seeds, and
the binomial interval of an accuracy.

A foundation module (numpy, scipy's t quantiles and the standard library only), so that eval and
scaling, which must not import each other, compute the same interval the same way.
"""

from __future__ import annotations

import math
import warnings
from statistics import NormalDist
from typing import Iterator, NamedTuple

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


def _labels(labels) -> tuple[int, np.ndarray]:
    """(number of distinct labels, each item's index among them in sorted order)."""
    uniq, idx = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return len(uniq), idx.reshape(-1)


class _Design:
    """How the pairs are sampled: clusters of pairs (one word tested on several benches or by
    several voices) within groups (sBLIMP phenomena, macro-averaged). Gives a vector's statistic
    (the mean of its group means, NaN = not scored) and that statistic's variance over resampled
    clusters (the stratified, cluster-robust linearisation: with one pair per cluster and one
    group, the variance of the mean, var / n)."""

    def __init__(self, n_pairs: int, groups=None, clusters=None):
        self.group = np.zeros(n_pairs, dtype=int) if groups is None else _labels(groups)[1]
        self.n_groups = int(self.group.max()) + 1 if n_pairs else 0
        cluster = np.arange(n_pairs) if clusters is None else _labels(clusters)[1]
        units, self.unit = np.unique(np.c_[self.group, cluster], axis=0, return_inverse=True)
        self.unit = self.unit.reshape(-1)
        self.unit_group = units[:, 0]
        self.df = len(units) - self.n_groups  # clusters less one per group

    def mean_var(self, x: np.ndarray) -> tuple[float, float]:
        seen = np.isfinite(x)
        x0 = np.where(seen, x, 0.0)
        n = np.bincount(self.group, weights=seen, minlength=self.n_groups)
        means = np.bincount(self.group, weights=x0, minlength=self.n_groups) / np.maximum(n, 1)
        # each pair's share of its group mean's deviation, summed per cluster
        share = np.where(seen, (x0 - means[self.group]) / np.maximum(n, 1)[self.group], 0.0)
        u = np.bincount(self.unit, weights=share, minlength=len(self.unit_group))
        k = np.bincount(self.unit_group, weights=np.bincount(self.unit, weights=seen) > 0,
                        minlength=self.n_groups)
        ss = np.bincount(self.unit_group, weights=u * u, minlength=self.n_groups)
        var = np.where(k > 1, ss * k / np.maximum(k - 1, 1), 0.0)
        present = n > 0
        g = max(int(present.sum()), 1)
        return float(means[present].mean()) if present.any() else math.nan, float(var[present].sum()) / g ** 2


def _nanmean(x: np.ndarray, axis: int | None = None):
    """np.nanmean, quietly NaN where nothing is finite (a pair that no result scored)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _draw_means(rows: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """One row per draw: the mean over the draw's results on each pair (NaN where none scored it)."""
    return np.array([_nanmean(rows[idx == d], axis=0) for d in range(n)]).reshape(n, rows.shape[1])


def mean_over_draws(rows, draws=None) -> np.ndarray:
    """Each pair's outcome for a group: the mean over its draws (a label per row; None: one draw)
    of each draw's mean over its results (rows; NaN: not scored), so a draw counts once however
    many results it has, as the draws' variance component (draws_difference_interval) weighs it."""
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    n, idx = (1, np.zeros(len(rows), dtype=int)) if draws is None else _labels(draws)
    return _nanmean(_draw_means(rows, idx, n), axis=0)


def macro_mean(values, groups=None) -> float:
    """The mean of `values` (NaN: not scored, left out), or with `groups` the mean of the group
    means: the headline that the intervals here are intervals of."""
    values = np.asarray(values, dtype=float)
    return _Design(len(values), groups).mean_var(values)[0] if values.size else math.nan


def _draw_component(draws: np.ndarray, design: _Design) -> tuple[float, float]:
    """The variance the group's draws add to its mean over pairs, and its degrees of freedom
    (Satterthwaite). The spread of the draws' means holds the draws' own variance plus the noise of
    each draw on each pair; that noise is estimated from how each draw departs from the draws'
    mean pair by pair, and taken out (two-way random-effects ANOVA, draws crossed with pairs).
    (0, inf) with one draw, or when the spread is no more than that noise."""
    n = len(draws)
    if n < 2:
        return 0.0, math.inf
    centre = _nanmean(draws, axis=0)
    means = np.array([design.mean_var(d)[0] for d in draws])
    spread = float(np.var(means, ddof=1)) / n
    noise = float(np.mean([design.mean_var(d - centre)[1] for d in draws])) / (n - 1)
    share = spread - noise
    if not share > 0:
        return 0.0, math.inf
    df = share ** 2 / (spread ** 2 / (n - 1) + noise ** 2 / ((n - 1) * max(design.df, 1)))
    return share, df


class DrawsInterval(NamedTuple):
    lo: float
    hi: float
    df: float           # Satterthwaite's degrees of freedom of the t quantile
    draws_share: float  # the share of the variance that the groups' draws contribute (0..1)


def draws_difference_interval(a, a_draws, b, b_draws, *, paired: bool = False, clusters=None,
                              groups=None, level: float = LEVEL) -> DrawsInterval:
    """Interval of the mean over pairs of (group A's outcome - group B's) when both the pairs and
    each group's draws are random samples: seeds, say, crossed with the pairs of a benchmark,
    since every draw is scored on the same pairs.

    `a` and `b` hold one row per result and one column per pair (NaN: the result did not score
    the pair); `a_draws`/`b_draws` label each row with its draw (results of one draw, e.g. the
    LMs trained on one pretrained encoder, move together). A group's outcome on a pair is the mean
    over its draws of each draw's mean over its results (mean_over_draws). The variance is the
    pairs' share (whole `clusters` of pairs resampled within each of `groups`, the statistic then
    being the mean of the group means, a macro average) plus each group's draws' share
    (_draw_component; `paired`: the groups share their draws, so the share is that of the
    draw-by-draw differences, and what they share cancels). The interval is Student's t with
    Satterthwaite's degrees of freedom, so a share estimated from two or three draws widens it as
    much as such an estimate is uncertain."""
    from scipy.stats import t as student_t

    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    n_pairs = a.shape[1]
    if n_pairs == 0:
        return DrawsInterval(math.nan, math.nan, math.nan, math.nan)
    n_a, a_idx = _labels(a_draws)
    n_b, b_idx = _labels(b_draws)
    if paired:
        shared, both = _labels(np.r_[np.asarray(a_draws).astype(str), np.asarray(b_draws).astype(str)])
        if shared != n_a or shared != n_b:
            raise ValueError("paired groups must have the same draws")
        a_idx, b_idx = both[:len(a_idx)], both[len(a_idx):]
    design = _Design(n_pairs, groups, clusters)
    a_means, b_means = _draw_means(a, a_idx, n_a), _draw_means(b, b_idx, n_b)
    value, pairs_var = design.mean_var(_nanmean(a_means, axis=0) - _nanmean(b_means, axis=0))  # mean_over_draws
    parts = [_draw_component(a_means - b_means, design)] if paired else \
        [_draw_component(a_means, design), _draw_component(b_means, design)]
    draws_var = sum(share for share, _ in parts)
    var = pairs_var + draws_var
    if not var > 0:
        return DrawsInterval(value, value, math.inf, 0.0)
    df = var ** 2 / (pairs_var ** 2 / max(design.df, 1) + sum(share ** 2 / d for share, d in parts))
    half = float(student_t.ppf(0.5 + level / 2, df)) * math.sqrt(var)
    return DrawsInterval(value - half, value + half, float(df), draws_var / var)


def binomial_half_width(p: float, n: int, level: float = LEVEL) -> float:
    """Half-width of the normal-approximation interval of an accuracy p measured on n items."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return z * math.sqrt(max(p * (1 - p), 0.0) / n)
