"""Surface baselines and the balancing selector."""

from __future__ import annotations

import random
from collections import Counter

from slmscale.text.surface import (NGRAM_ORDERS, Balancer, PhoneNgram, SurfaceModel, accuracies,
                                   balanced_subset, compare, improve, outcomes)


def test_ngram_prefers_seen_transitions():
    m = PhoneNgram(2, {("k", "a", "t"): 5.0, ("b", "a", "t"): 3.0})
    seen, _ = m.word_logprob(("k", "a", "t"))
    unseen, n = m.word_logprob(("t", "a", "k"))
    assert seen > unseen and n == 4  # three phones and the end boundary
    assert m.word_logprob(["k", "a", "t"]) == (seen, 4)  # memoised: a list scores as its tuple
    assert m._word_logprob(("t", "a", "k"), None) == (unseen, n)  # the memo returns what it computed


def test_features_and_outcomes():
    m = SurfaceModel.from_counts(Counter({"cat": 10, "cats": 2, "dog": 5, "the": 40}))
    good, bad = m.features("the cat", context="the cat sat"), m.features("the cats", context="the cat sat")
    assert good["length_phones"] > bad["length_phones"]  # fewer phones
    assert good["word_unigram_sum"] > bad["word_unigram_sum"]
    assert good["overlap_sum"] == 2 and bad["overlap_sum"] == 1
    assert {f"phone_{n}gram_mean" for n in NGRAM_ORDERS} <= set(good)
    r = outcomes(good, bad)
    assert r["length_phones"] == 1.0 and outcomes(good, good)["length_phones"] == 0.5
    assert compare(1, 2) == 0.0


def test_balanced_subset_brings_a_skewed_pool_to_chance():
    rng = random.Random(0)
    # 80% of the pool favours "good" on baseline a, 30% on baseline b
    pool = list(range(300))
    results = [{"a": float(rng.random() < 0.8), "b": float(rng.random() < 0.3)} for _ in pool]
    assert abs(accuracies(results)["a"] - 0.8) < 0.06
    idx = balanced_subset(pool, results, 60, group=lambda i: "xy"[i % 2], groups=("x", "y"))
    assert len(idx) == len(set(idx)) == 60
    acc = accuracies(results[i] for i in idx)
    assert abs(acc["a"] - 0.5) <= 1 / 60 and abs(acc["b"] - 0.5) <= 1 / 60
    assert sum(i % 2 for i in idx) == 30  # groups in turn
    bal = Balancer()
    bal.add({"a": 1.0})
    assert bal.best([{"a": 1.0}, {"a": 0.0}]) == 1


def test_improve_with_a_tolerance_keeps_every_imbalance_within_it():
    """Swapping C for D lowers the sum of squares, (1, 1, 1) -> (1.5, 0, 0), but pushes one baseline
    past the tolerance of one item: without `tol` the search takes it, with `tol=1` it does not."""
    keys = ("a", "b", "c")
    results = [dict(zip(keys, v)) for v in ((1, 1, .5), (1, .5, 1), (.5, 1, 1), (1, 0, 0))]
    groups = ["x", "x", "y", "y"]  # only C and D may trade places

    def sums(chosen):
        return tuple(sum(results[i][k] - 0.5 for i in chosen) for k in keys)

    assert sums([0, 1, 2]) == (1, 1, 1)
    assert sums(improve([0, 1, 2], results, groups)) == (1.5, 0, 0)
    assert sums(improve([0, 1, 2], results, groups, tol=1.0)) == (1, 1, 1)


def test_held_out_word_scores_as_a_refit_without_it():
    """`features(held_out=w)` is the n-gram of the corpus with w left out too, to the bit, for the
    word itself and for any other candidate (here one with a phone only w has, which also leaves
    the add-one vocabulary)."""
    counts = Counter({"cat": 10, "cab": 3, "dog": 5, "zoo": 2, "the": 40})
    full = SurfaceModel.from_counts(counts, exclude={"dog"})
    for word in ("cat", "zoo"):
        refit = SurfaceModel.from_counts(counts, exclude={"dog", word})
        for text in ("cat", "zoo", "dab"):
            assert full.features(text, held_out=word) == refit.features(text), (word, text)
    assert full.features("dog", held_out="dog") == full.features("dog")  # already left out: no-op
    assert full.features("cat", held_out="cat") != full.features("cat")


def test_improve_takes_the_first_of_equally_good_swaps():
    """Among unused items that would lower the imbalance equally, the earliest in pool order wins
    (the pick is a pure function of the pool order)."""
    results = [{"a": 1.0}, {"a": 1.0}, {"a": 0.0}, {"a": 0.0}]
    assert improve([0, 1], results, ["g"] * 4) == [2, 1]
