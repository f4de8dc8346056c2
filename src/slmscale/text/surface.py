"""Knowledge-free surface baselines for pair benchmarks, and a selector that balances them.

A baseline scores each member of a pair from its surface alone and "answers" like a model: higher
score wins, a tie counts 0.5. None of them knows grammar or meaning:
- `length_phones`: fewer phones wins (what a sum-normalised scorer with a flat per-unit cost does;
  under mean normalisation a length-only scorer ties every pair, so its mirror image is 1 - this);
- `word_unigram_{sum,mean}`: log unigram probability of the words in the training corpus;
- `phone_{n}gram_{sum,mean}` (n = 1..4): a phone n-gram model of the corpus words' pronunciations
  (each word scored on its own, with word-boundary symbols; n = 1 is the unit-frequency baseline);
- `overlap_{sum,mean}` (StoryCloze, given a context): words of the ending also in the context.
`SurfaceModel.outcomes(good, bad)` gives every baseline's outcome for one pair; `balanced_subset`
picks items from a larger pool so that every baseline's accuracy ends close to 0.5.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from slmscale.text.grammar import split_words
from slmscale.text.phonemes import base_phone, phonemize

NGRAM_ORDERS = (1, 2, 3, 4)
# A valid benchmark keeps every baseline's accuracy within this of 0.5 (or within one pair's worth,
# 1/n, for a group of n < 1/CHANCE_BOUND pairs); the audit checks it, the builders aim for it.
CHANCE_BOUND = 0.05
BOUNDARY = "#"


def compare(good: float, bad: float) -> float:
    return 1.0 if good > bad else 0.5 if good == bad else 0.0


class PhoneNgram:
    """Interpolated n-gram over phones (stress removed): P(x|h) = (c(h,x) + K·P(x|h')) / (c(h) + K),
    down to an add-one unigram, so unseen transitions keep a small, order-consistent probability."""

    K = 1.0

    def __init__(self, order: int, words: dict[tuple[str, ...], float]):
        self.order = order
        self.counts: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        for phones, weight in words.items():
            seq = [BOUNDARY] * (order - 1) + [base_phone(p) for p in phones] + [BOUNDARY]
            for i in range(order - 1, len(seq)):
                for k in range(order):  # every history length 0..order-1
                    self.counts[tuple(seq[i - k:i])][seq[i]] += weight
        self.totals = {h: sum(c.values()) for h, c in self.counts.items()}
        self.vocab = len(self.counts[()]) + 1
        # Builders score the same few thousand words hundreds of thousands of times.
        self._memo: dict[tuple[str, ...], tuple[float, int]] = {}

    def _prob(self, hist: tuple[str, ...], x: str, minus: "PhoneNgram | None" = None, vocab: int = 0) -> float:
        # `minus`: counts to take away (a word left out of the training words); `vocab` its vocabulary
        mc = minus.counts.get(hist) if minus is not None else None
        if not hist:
            seen = self.counts[()].get(x, 0.0) - (mc.get(x, 0.0) if mc else 0.0)
            total = self.totals.get((), 0.0) - (minus.totals.get((), 0.0) if minus is not None else 0.0)
            return (seen + 1.0) / (total + (vocab or self.vocab))
        lower = self._prob(hist[1:], x, minus, vocab)
        c = self.counts.get(hist)
        total = self.totals.get(hist, 0.0) - (minus.totals.get(hist, 0.0) if minus is not None else 0.0)
        if not c or total <= 0:
            return lower
        return (c.get(x, 0.0) - (mc.get(x, 0.0) if mc else 0.0) + self.K * lower) / (total + self.K)

    def word_logprob(self, phones: Sequence[str], minus: "PhoneNgram | None" = None) -> tuple[float, int]:
        """(log-probability, number of predicted symbols) of one word, boundaries included; with
        `minus` (a PhoneNgram of the same order), as if its training words had been left out."""
        if minus is None:
            key = tuple(phones)
            hit = self._memo.get(key)
            if hit is None:
                hit = self._memo[key] = self._word_logprob(phones, None)
            return hit
        return self._word_logprob(phones, minus)

    def _word_logprob(self, phones: Sequence[str], minus: "PhoneNgram | None") -> tuple[float, int]:
        vocab = 0
        if minus is not None:  # symbols seen only in the left-out words leave the vocabulary
            vocab = self.vocab - sum(self.counts[()].get(x, 0.0) == c for x, c in minus.counts[()].items())
        seq = [BOUNDARY] * (self.order - 1) + [base_phone(p) for p in phones] + [BOUNDARY]
        total = 0.0
        for i in range(self.order - 1, len(seq)):
            total += math.log(self._prob(tuple(seq[i - self.order + 1:i]), seq[i], minus, vocab))
        return total, len(seq) - self.order + 1


@dataclass
class SurfaceModel:
    """Word counts and phone n-grams of a training corpus (see `from_counts`)."""

    counts: Counter[str]
    ngrams: dict[int, PhoneNgram]
    excluded: frozenset[str] = frozenset()  # words left out of the phone n-grams
    total: float = field(init=False)

    def __post_init__(self) -> None:
        self.total = float(sum(self.counts.values()))

    @classmethod
    def from_counts(cls, counts: Counter[str], exclude: Iterable[str] = ()) -> "SurfaceModel":
        """Fit on corpus word counts; `exclude` leaves words out of the phone n-grams (the test
        words of sWUGGY, so the n-gram cannot have memorised them)."""
        drop = set(exclude)
        kept = {w: c for w, c in counts.items() if w not in drop}
        prons = phonemize(sorted(kept))
        weights: dict[tuple[str, ...], float] = defaultdict(float)
        for w, c in kept.items():
            weights[prons[w]] += c
        return cls(Counter(counts), {n: PhoneNgram(n, weights) for n in NGRAM_ORDERS}, frozenset(drop))

    def word_logprob(self, word: str) -> float:
        return math.log((self.counts.get(word, 0) + 1) / (self.total + len(self.counts) + 1))

    def features(self, text: str, phones: Sequence[Sequence[str]] | None = None,
                 context: str | None = None, words_known: bool = True, held_out: str | None = None
                 ) -> dict[str, float]:
        """Every baseline's score of one candidate (higher = the baseline prefers it). With
        `held_out` (a corpus word), the phone n-grams score as if that word had been excluded too:
        exact, and much cheaper than refitting, when a builder weighs adding one word to a test."""
        words = split_words(text)
        if phones is None:
            phones = [phonemize(words)[w] for w in words]
        n_phones = sum(len(p) for p in phones)
        out = {"length_phones": -float(n_phones)}
        if words_known:
            lp = [self.word_logprob(w) for w in words]
            out["word_unigram_sum"] = sum(lp)
            out["word_unigram_mean"] = sum(lp) / max(len(lp), 1)
        minus: dict[int, PhoneNgram] = {}
        if held_out is not None and held_out not in self.excluded and self.counts.get(held_out):
            left = {phonemize([held_out])[held_out]: float(self.counts[held_out])}
            minus = {n: PhoneNgram(n, left) for n in self.ngrams}
        for n, model in self.ngrams.items():
            scored = [model.word_logprob(p, minus.get(n)) for p in phones]
            total = sum(s for s, _ in scored)
            out[f"phone_{n}gram_sum"] = total
            out[f"phone_{n}gram_mean"] = total / max(sum(k for _, k in scored), 1)
        if context is not None:
            seen = set(split_words(context))
            shared = sum(w in seen for w in words)
            out["overlap_sum"] = float(shared)
            out["overlap_mean"] = shared / max(len(words), 1)
        return out


def warm(texts: Iterable[str]) -> None:
    """Phonemise every word of `texts` in one go (one child process instead of one per new word)."""
    phonemize(sorted({w for t in texts for w in split_words(t)}))


def outcomes(good: dict[str, float], bad: dict[str, float]) -> dict[str, float]:
    return {k: compare(good[k], bad[k]) for k in good if k in bad}


def improve(chosen: list[int], results: Sequence[dict[str, float]], groups_of: Sequence[str],
            cap: int | None = None, rounds: int = 8, tol: float | Mapping[str, float] | None = None
            ) -> list[int]:
    """Swap chosen items for unused ones while that lowers the largest imbalance over baselines (a
    local search after the greedy pass). Without `cap` a swap keeps the group; with it, any group
    may grow up to `cap` items. With `tol` (in items; one for all baselines, or per baseline),
    imbalances beyond it are driven out first.

    Each position tries every allowed unused item at once (numpy over candidates, the baselines
    summed one at a time in key order, so the arithmetic is that of a plain loop)."""
    chosen = list(chosen)
    keys = sorted({k for r in results for k in r})
    raw = np.array([[r.get(k, 0.5) for k in keys] for r in results], dtype=float).reshape(len(results), len(keys))
    sums = np.array([sum(results[i].get(k, 0.5) - 0.5 for i in chosen) for k in keys], dtype=float)
    limit = ({k: tol for k in keys} if isinstance(tol, (int, float)) else
             {k: tol.get(k, math.inf) for k in keys} if tol is not None else {})
    lim = np.array([limit.get(k, math.inf) for k in keys], dtype=float)
    group_ids = {g: n for n, g in enumerate(dict.fromkeys(groups_of))}
    gid = np.array([group_ids[g] for g in groups_of], dtype=np.int64)
    count = np.bincount(gid[chosen], minlength=len(group_ids)) if chosen else np.zeros(len(group_ids), np.int64)
    taken = set(chosen)
    unused = np.array([i for i in range(len(results)) if i not in taken], dtype=np.int64)

    def worst(trial: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # per row: the excess over `tol`, then the sum of squares (smooth, so the search keeps
        # moving), then the largest imbalance
        excess, square, most = (np.zeros(trial.shape[0]) for _ in range(3))
        for c in range(trial.shape[1]):
            v = trial[:, c]
            if limit:
                excess = excess + np.maximum(np.abs(v) - lim[c], 0.0) ** 2
            square = square + v * v
            most = np.maximum(most, np.abs(v))
        return excess, square, most

    for _ in range(rounds):
        changed = False
        for pos, i in enumerate(chosen):
            if not len(unused):
                break
            ok = gid[unused] == gid[i]
            if cap is not None:
                ok |= count[gid[unused]] < cap
            where = np.flatnonzero(ok)
            if not len(where):
                continue
            trial = (sums - raw[i]) + raw[unused[where]]
            cur = tuple(float(a[0]) for a in worst(sums[None, :]))
            excess, square, most = worst(trial)
            better = ((excess < cur[0]) | ((excess == cur[0]) & ((square < cur[1]) |
                      ((square == cur[1]) & (most < cur[2])))))
            if not better.any():
                continue
            # the best candidate, the first in `unused` order among equals
            order = np.lexsort((where, most, square, excess))
            pick = where[order[0]]
            best = int(unused[pick])
            sums = (sums - raw[i]) + raw[best]
            count[gid[i]] -= 1
            count[gid[best]] += 1
            unused[pick] = i
            chosen[pos] = best
            changed = True
        if not changed:
            break
    return chosen


class Balancer:
    """Running sums of (outcome - 0.5) per baseline; `cost` of adding one more item's outcomes is
    the largest absolute running imbalance it would leave (ties: the smaller total imbalance)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)

    def cost(self, result: dict[str, float]) -> float:
        keys = set(self.sums) | set(result)
        after = [abs(self.sums[k] + result.get(k, 0.5) - 0.5) for k in keys]
        return max(after, default=0.0) + 1e-3 * sum(a * a for a in after)

    def add(self, result: dict[str, float]) -> None:
        for k, v in result.items():
            self.sums[k] += v - 0.5

    def best(self, results: Sequence[dict[str, float]]) -> int:
        """Index of the result that costs least (the first of equals)."""
        return min(range(len(results)), key=lambda i: (self.cost(results[i]), i))


def balanced_subset(pool: Sequence[Any], results: Sequence[dict[str, float]], n: int,
                    group: Callable[[Any], str] | None = None, groups: Sequence[str] = (),
                    window: int = 400, share: float = 1.0, tol: float | None = None) -> list[int]:
    """Indices of `n` pool items whose baseline outcomes average close to 0.5, greedily.

    At each step the next item (of the next group in turn, when `groups` is given) is the one,
    among the first `window` unused candidates in pool order, that keeps the largest running
    imbalance |sum(outcome - 0.5)| over all baselines smallest; a local search then swaps items.
    With `share` > 1 a group may end with up to `share` times its even share (the search may trade
    between groups), so groups whose items all lean one way can be offset by others. With `tol`,
    the search first drives every imbalance within `tol` items (see `improve`).
    Deterministic given the pool order.
    """
    used = [False] * len(pool)
    bal = Balancer()
    chosen: list[int] = []
    for step in range(n):
        want = groups[step % len(groups)] if groups else None
        cands = [i for i, item in enumerate(pool)
                 if not used[i] and (want is None or group is None or group(item) == want)][:window]
        if not cands:
            break
        best = cands[bal.best([results[i] for i in cands])]
        used[best] = True
        chosen.append(best)
        bal.add(results[best])
    labels = [group(item) if group is not None else "" for item in pool]
    cap = math.ceil(share * n / len(groups)) if groups and share > 1 else None
    return improve(chosen, results, labels, cap=cap, tol=tol)


def accuracies(results: Iterable[dict[str, float]]) -> dict[str, float]:
    """Mean outcome per baseline."""
    tot: dict[str, float] = defaultdict(float)
    cnt: dict[str, int] = defaultdict(int)
    for r in results:
        for k, v in r.items():
            tot[k] += v
            cnt[k] += 1
    return {k: tot[k] / cnt[k] for k in sorted(tot)}
