"""The shared intervals (eval and scaling), on cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slmscale.stats import (binomial_half_width, draws_difference_interval, macro_mean, mean_interval,
                            mean_over_draws, percentile_interval)


def test_percentile_interval():
    assert percentile_interval(np.arange(1001.0)) == pytest.approx((25.0, 975.0))
    assert percentile_interval(np.arange(101.0), level=0.5) == pytest.approx((25.0, 75.0))
    # NaNs (failed refits) are ignored; none finite gives NaN, never an exception
    assert percentile_interval(np.r_[np.arange(1001.0), np.full(50, np.nan)]) == pytest.approx((25.0, 975.0))
    lo, hi = percentile_interval(np.full(10, np.nan))
    assert np.isnan(lo) and np.isnan(hi)


def test_mean_interval_by_hand():
    # two pairs scoring 0 and 1: a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4, so the
    # 2.5th and 97.5th percentiles are 0 and 1; a constant never moves
    assert mean_interval(np.array([0.0, 1.0])) == (0.0, 1.0)
    assert mean_interval(np.full(50, 0.75)) == (0.75, 0.75)
    assert all(math.isnan(v) for v in mean_interval(np.array([])))
    # seeded: the same values give the same interval; it holds the mean and narrows with more pairs
    rng = np.random.default_rng(1)
    small, large = rng.integers(0, 2, 100).astype(float), rng.integers(0, 2, 2500).astype(float)
    assert mean_interval(small) == mean_interval(small.copy())
    for v in (small, large):
        lo, hi = mean_interval(v)
        assert lo < v.mean() < hi
    w_small = np.subtract(*mean_interval(small)[::-1])
    w_large = np.subtract(*mean_interval(large)[::-1])
    assert 0.15 < w_small < 0.25 and 0.03 < w_large < 0.05  # 3.92 * sqrt(.25 / n): 0.196, 0.039
    # blocks of draws: a benchmark too big for one block gives the same kind of interval
    huge = rng.integers(0, 2, 30_000).astype(float)
    lo, hi = mean_interval(huge, n_boot=200)
    assert lo < huge.mean() < hi and hi - lo < 0.02


def test_mean_interval_within_groups_is_a_macro_average():
    # group a: all 1 (one item), group b: all 0 (nine items): every resample's macro mean is 0.5
    values = np.r_[1.0, np.zeros(9)]
    groups = np.array(["a"] + ["b"] * 9)
    assert mean_interval(values, groups) == (0.5, 0.5)
    # the draws do not depend on the order of the items
    order = np.random.default_rng(0).permutation(10)
    mixed = np.r_[np.ones(5), np.zeros(5)]
    g = np.array(list("aabbbaabab"))
    assert mean_interval(mixed, g) == mean_interval(mixed[order], g[order])


def test_mean_interval_over_clusters_resamples_whole_clusters():
    # every item tested twice (two folders drawn from one lexicon): resampling the 50 clusters is
    # resampling the 50 distinct items, draw for draw; resampling the 100 copies is too narrow
    rng = np.random.default_rng(2)
    once = rng.integers(0, 2, 50).astype(float)
    twice, labels = np.repeat(once, 2), np.repeat(np.arange(50), 2)
    assert mean_interval(twice, clusters=labels) == pytest.approx(mean_interval(once))
    naive = np.subtract(*mean_interval(twice)[::-1])
    assert naive < 0.8 * np.subtract(*mean_interval(twice, clusters=labels)[::-1])  # ~1/sqrt(2)
    # unequal clusters: the statistic is the mean over the items drawn; one value never moves
    assert mean_interval(np.full(7, 0.25), clusters=[0, 0, 0, 1, 2, 2, 3]) == (0.25, 0.25)
    # with groups: clusters are drawn within each group, the macro average as before
    values = np.r_[1.0, 1.0, np.zeros(8)]
    assert mean_interval(values, np.array(["a"] * 2 + ["b"] * 8), clusters=[0, 0, *range(1, 9)]) == (0.5, 0.5)

T1, T2 = 12.706204736, 4.302652730  # Student's t, 97.5 % point, 1 and 2 degrees of freedom


def test_draws_interval_by_hand():
    # Two draws (seeds) of A, every pair alike within a draw: 0.4 and 0.6 against B's 0.5. The
    # pairs alone never move the difference. The draws' means vary by var(0.4, 0.6)/2 = 0.01, with
    # no pair noise to take out, on one degree of freedom: 0 +- t(1) * 0.1.
    a = np.array([np.full(20, 0.4), np.full(20, 0.6)])
    b = np.full((1, 20), 0.5)
    got = draws_difference_interval(a, ["s0", "s1"], b, ["base"])
    assert got == pytest.approx((-T1 * 0.1, T1 * 0.1, 1.0, 1.0))
    assert mean_interval(a.mean(axis=0) - b[0]) == pytest.approx((0.0, 0.0))
    # Paired groups share their draws, and what they share cancels: B's seeds are A's less 0.1.
    assert draws_difference_interval(a, ["s0", "s1"], a - 0.1, ["s0", "s1"], paired=True)[:2] == pytest.approx((0.1, 0.1))
    # Independent draws: each group adds 0.01 on one degree of freedom; Satterthwaite gives 2.
    lo, hi, df, share = draws_difference_interval(a, ["s0", "s1"], a - 0.1, ["s2", "s3"])
    assert df == pytest.approx(2.0) and share == 1.0
    assert (lo, hi) == pytest.approx((0.1 - T2 * math.sqrt(0.02), 0.1 + T2 * math.sqrt(0.02)))
    with pytest.raises(ValueError, match="same draws"):
        draws_difference_interval(a, ["s0", "s1"], a, ["s0", "s9"], paired=True)
    # Results of one draw move together: two rows labelled s0 are one draw.
    assert draws_difference_interval(a, ["s0", "s0"], b, ["base"])[:2] == pytest.approx((0.0, 0.0))
    # A result that did not score a pair (NaN) leaves the pair to the others. s0 did not score the
    # x pairs: the difference is x +0.1, y 0, macro +0.05; s0's mean is its y pairs' 0.4.
    holes = a.copy()
    holes[0, :10] = np.nan
    got = draws_difference_interval(holes, ["s0", "s1"], b, ["base"], groups=np.repeat(["x", "y"], 10))
    assert got[:2] == pytest.approx((0.05 - T1 * 0.1, 0.05 + T1 * 0.1))
    assert all(math.isnan(v) for v in draws_difference_interval(np.zeros((2, 0)), ["a", "b"], np.zeros((1, 0)), ["c"]))


def test_a_draw_counts_once_however_many_results_it_has():
    # Draw s0 has three LMs at 0.7, draw s1 one at 0.5: the group's outcome is (0.7 + 0.5) / 2,
    # not the mean over its four results (0.65), as the draws' variance component weighs them.
    rows = np.array([np.full(6, 0.7)] * 3 + [np.full(6, 0.5)])
    labels = ["s0", "s0", "s0", "s1"]
    assert mean_over_draws(rows, labels) == pytest.approx(np.full(6, 0.6))
    assert mean_over_draws(rows) == pytest.approx(np.full(6, 0.65))  # one draw
    lo, hi, df, _ = draws_difference_interval(rows, labels, np.zeros((1, 6)), ["b"])
    assert (lo + hi) / 2 == pytest.approx(0.6) and df == pytest.approx(1.0)
    # A draw that did not score a pair leaves it to the others.
    rows[3, :2] = np.nan
    assert mean_over_draws(rows, labels) == pytest.approx([0.7, 0.7, 0.6, 0.6, 0.6, 0.6])


def test_macro_mean_is_the_mean_of_group_means_over_scored_pairs():
    x = np.array([1.0, 0.0, 0.0, np.nan, 1.0])
    assert macro_mean(x) == pytest.approx(0.5)
    assert macro_mean(x, ["a", "a", "a", "b", "b"]) == pytest.approx((1 / 3 + 1) / 2)
    assert math.isnan(macro_mean([]))


def test_draws_interval_takes_the_pairs_noise_out_of_the_draws_spread():
    # Each draw's mean carries its own noise on each pair. Three draws with no seed effect: the
    # draws' spread is that noise alone, so the draws add nothing; shift one draw by 0.2 and they do.
    rng = np.random.default_rng(4)
    rows = (rng.random((3, 2000)) < 0.6).astype(float)
    base = np.full((1, 2000), 0.5)
    lo, hi, df, share = draws_difference_interval(rows, ["s0", "s1", "s2"], base, ["b"])
    # here the spread is within that noise: the draws add nothing, and it is the pairs' t interval
    pairs_sd = np.std(rows.mean(axis=0), ddof=1) / math.sqrt(2000)
    assert share == 0 and df == pytest.approx(1999)
    assert (hi - lo) / 2 == pytest.approx(1.9612 * pairs_sd, rel=1e-3)
    shifted = rows.copy()
    shifted[0] = np.clip(shifted[0] - 0.2, 0, 1)  # every pair of s0 moves
    lo2, hi2, df2, share2 = draws_difference_interval(shifted, ["s0", "s1", "s2"], base, ["b"])
    assert share2 > 0.95 and df2 == pytest.approx(2, abs=0.05) and hi2 - lo2 > 10 * (hi - lo)


def test_draws_interval_over_clusters_and_groups():
    # One draw per group: the pairs' t interval, clusters resampled whole: a pair tested twice is
    # one cluster, so doubling every pair changes nothing; the variance of a mean is var / n.
    rng = np.random.default_rng(3)
    one = rng.integers(0, 2, (1, 300)).astype(float)
    twice = draws_difference_interval(np.repeat(one, 2, axis=1), ["s"], np.zeros((1, 600)), ["b"],
                                      clusters=np.repeat(np.arange(300), 2))
    single = draws_difference_interval(one, ["s"], np.zeros((1, 300)), ["b"])
    assert twice == pytest.approx(single)
    from scipy.stats import t

    half = t.ppf(0.975, 299) * one.std(ddof=1) / math.sqrt(300)
    assert single[:2] == pytest.approx((one.mean() - half, one.mean() + half))
    # Groups: the macro average of the group means, each group's variance over its own pairs.
    x, y = rng.integers(0, 2, 40).astype(float), rng.integers(0, 2, 160).astype(float)
    got = draws_difference_interval(np.r_[x, y][None], ["s"], np.zeros((1, 200)), ["b"],
                                    groups=np.repeat(["x", "y"], [40, 160]))
    var = (x.var(ddof=1) / 40 + y.var(ddof=1) / 160) / 4
    df = var ** 2 / (var ** 2 / 198)
    centre = (x.mean() + y.mean()) / 2
    assert got[:2] == pytest.approx((centre - t.ppf(0.975, df) * math.sqrt(var), centre + t.ppf(0.975, df) * math.sqrt(var)))


def _recipes(rng, draws: int, sd: float, pairs: int = 400):
    """A simulated recipe: pairs of random difficulty (the population margin over 0.5 is 0.05),
    each draw moving every pair's chance by its own offset, two LMs per draw."""
    chance = rng.uniform(0.3, 0.8, pairs)
    offsets = np.repeat(rng.normal(0, sd, draws), 2)
    rows = (rng.random((2 * draws, pairs)) < np.clip(chance + offsets[:, None], 0, 1)).astype(float)
    return rows, np.repeat(np.arange(draws), 2)


def test_draws_interval_covers_the_seed_spread():
    """Three draws whose offsets have sd 0.04 (as pretraining seeds move sWUGGY here), 150
    experiments: the pairs-only interval misses the true margin far more often than 5 %, the
    draws interval about 5-7 %. With no seed effect it is no wider than the pairs-only one."""
    rng = np.random.default_rng(0)
    hits = hits_pairs = 0
    for rep in range(150):
        rows, labels = _recipes(rng, 3, 0.04)
        lo, hi, _, _ = draws_difference_interval(rows, labels, np.full((1, 400), 0.5), [0])
        hits += lo <= 0.05 <= hi
        lo, hi = mean_interval(rows.mean(axis=0) - 0.5, n_boot=400, seed=rep)
        hits_pairs += lo <= 0.05 <= hi
    assert hits >= 133 and hits_pairs <= 110, (hits, hits_pairs)
    widths = []
    for rep in range(40):
        rows, labels = _recipes(rng, 3, 0.0)
        lo, hi, _, _ = draws_difference_interval(rows, labels, np.full((1, 400), 0.5), [0])
        plo, phi = mean_interval(rows.mean(axis=0) - 0.5, n_boot=400, seed=rep)
        widths.append((hi - lo) / (phi - plo))
    assert np.median(widths) < 1.1, np.median(widths)


def test_binomial_half_width():
    # z(0.975) = 1.95996...; p = 0.5 on 400 items: 1.96 * 0.025
    assert binomial_half_width(0.5, 400) == pytest.approx(1.959964 * 0.025, rel=1e-6)
    assert binomial_half_width(0.5, 400, level=0.9) == pytest.approx(1.644854 * 0.025, rel=1e-6)
    assert binomial_half_width(1.0, 10) == 0.0
