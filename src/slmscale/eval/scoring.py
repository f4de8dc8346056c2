"""Scoring rules shared by every pair task (sWUGGY, sBLIMP, sStoryCloze, tStoryCloze).

A benchmark is a set of comparisons: for one pair id and one voice, the score (log-likelihood) of
the correct item against the score of an incorrect one. The rules:

- a comparison counts 1 when correct > incorrect, 0.5 on an exact tie, 0 otherwise;
- comparisons of the same (pair, voice) are averaged first (sWUGGY may pair one word with several
  non-words), then voices are averaged per pair, then pairs are averaged: every pair weighs the
  same whatever its number of voices;
- breakdowns (sBLIMP phenomenon, sWUGGY frequency band) apply the same rule inside each group,
  and the macro average is the plain mean over groups;
- voice-pair accuracy: the fraction of pairs for which every voice is strictly correct;
- the headline's 95 % interval: a percentile bootstrap over pairs (within each group for a macro
  headline), seeded, so the same scores always give the same interval;
- against a surface baseline (the benchmark audit's strongest, with its outcome on each pair):
  the paired difference in pair accuracy and its bootstrap interval; "above" or "below" only when
  the interval excludes 0, else "not distinguishable". The baseline's accuracy is itself measured
  on these pairs, so its noise is part of the interval; pairing removes the variance the two
  share, so it is tighter than combining two separate intervals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from slmscale.stats import LEVEL, binomial_half_width, mean_interval


@dataclass(frozen=True)
class Comparison:
    """One correct-vs-incorrect score comparison, spoken by one voice."""

    pair_id: str
    voice: str
    good: float
    bad: float
    group: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def outcome(self) -> float:
        return compare(self.good, self.bad)


def compare(good: float, bad: float) -> float:
    """1 if the correct item scores higher, 0.5 on a tie, else 0 (NaN scores count as wrong)."""
    if math.isnan(good) or math.isnan(bad):
        return 0.0
    if good > bad:
        return 1.0
    if good == bad:
        return 0.5
    return 0.0


def _per_pair(comparisons: Iterable[Comparison]) -> dict[str, dict[str, float]]:
    """pair_id -> voice -> mean outcome over that (pair, voice)'s comparisons."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for c in comparisons:
        sums[(c.pair_id, c.voice)].append(c.outcome)
    pairs: dict[str, dict[str, float]] = defaultdict(dict)
    for (pid, voice), outs in sums.items():
        pairs[pid][voice] = sum(outs) / len(outs)
    return pairs


def pair_outcomes(comparisons: Iterable[Comparison]) -> dict[str, float]:
    """pair_id -> the pair's outcome (mean over its voices), the unit every average is taken over."""
    return {pid: sum(v.values()) / len(v) for pid, v in _per_pair(comparisons).items()}


def headline_interval(task: str, comparisons: list[Comparison]) -> tuple[float, float]:
    """The 95 % interval of the task's headline (pair accuracy, or sBLIMP's macro average)."""
    outcomes = pair_outcomes(comparisons)
    pids = sorted(outcomes)
    values = np.array([outcomes[p] for p in pids])
    key = BREAKDOWNS.get(task) if task in MACRO_HEADLINE else None
    if key is None:
        return mean_interval(values)
    group_of = {c.pair_id: str(c.group.get(key, "")) for c in comparisons}
    return mean_interval(values, np.array([group_of[p] for p in pids]))


def versus_baseline(comparisons: list[Comparison], strongest: Mapping[str, Any]) -> dict[str, Any]:
    """The model's pair accuracy against the audit's strongest surface baseline.

    `strongest`: {"baseline": name, "accuracy": a, "by_pair": {pair_id: outcome}} (by_pair is
    optional: without it the comparison is unpaired, the model's bootstrap interval combined with
    the baseline's binomial one as independent, wider than the paired one, and says so)."""
    outcomes = pair_outcomes(comparisons)
    name, base_acc = str(strongest.get("baseline", "")), float(strongest["accuracy"])
    by_pair = strongest.get("by_pair") or {}
    common = sorted(set(outcomes) & set(by_pair))
    out: dict[str, Any] = {"baseline": name, "baseline_accuracy": base_acc}
    if strongest.get("source"):
        out["audit"] = str(strongest["source"])
    if common:
        diff = np.array([outcomes[p] - float(by_pair[p]) for p in common])
        lo, hi = mean_interval(diff)
        out.update(paired=True, n_pairs=len(common), model_accuracy=float(np.mean([outcomes[p] for p in common])),
                   baseline_accuracy=float(np.mean([float(by_pair[p]) for p in common])),
                   difference=float(diff.mean()))
    else:  # an audit without per-pair outcomes: the two taken as independent estimates
        model = np.array([outcomes[p] for p in sorted(outcomes)])
        m_lo, m_hi = mean_interval(model)
        n = int(strongest.get("n_pairs") or len(model))
        half_base = binomial_half_width(base_acc, n)  # the baseline's own interval
        diff = float(model.mean() - base_acc)
        lo = diff - math.hypot(model.mean() - m_lo, half_base)
        hi = diff + math.hypot(m_hi - model.mean(), half_base)
        out.update(paired=False, n_pairs=len(model), model_accuracy=float(model.mean()), difference=diff)
    out["interval"] = [lo, hi]
    out["verdict"] = verdict(lo, hi)
    return out


def verdict(lo: float, hi: float) -> str:
    """What an interval of a difference allows one to say: a direction only when it excludes 0."""
    return "above" if lo > 0 else "below" if hi < 0 else "not distinguishable"


def accuracy(comparisons: Iterable[Comparison]) -> float:
    """Mean over pairs of the mean over voices of the (pair, voice) outcome; NaN if empty."""
    outcomes = pair_outcomes(comparisons)
    return sum(outcomes.values()) / len(outcomes) if outcomes else float("nan")


def voice_pair_accuracy(comparisons: Iterable[Comparison]) -> float:
    """Fraction of pairs whose every voice is strictly correct (a tie is not correct)."""
    pairs = _per_pair(comparisons)
    if not pairs:
        return float("nan")
    return sum(all(o == 1.0 for o in v.values()) for v in pairs.values()) / len(pairs)


def by_voice(comparisons: Iterable[Comparison]) -> dict[str, list[Comparison]]:
    """voice -> its comparisons, voices in sorted order."""
    groups: dict[str, list[Comparison]] = defaultdict(list)
    for c in comparisons:
        groups[c.voice].append(c)
    return dict(sorted(groups.items()))


def per_voice_accuracy(comparisons: Iterable[Comparison]) -> dict[str, float]:
    """Accuracy restricted to each voice (speaker-mismatch analysis)."""
    return {v: accuracy(cs) for v, cs in by_voice(comparisons).items()}


def breakdown(comparisons: Iterable[Comparison], key: str) -> dict[str, float]:
    """Accuracy within each value of `group[key]` (pairs lacking the key go to "")."""
    groups: dict[str, list[Comparison]] = defaultdict(list)
    for c in comparisons:
        groups[str(c.group.get(key, ""))].append(c)
    return {g: accuracy(cs) for g, cs in sorted(groups.items())}


def macro_average(groups: dict[str, float]) -> float:
    values = [v for v in groups.values() if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


# Which breakdown each task reports, and which tasks' headline number is its macro average.
BREAKDOWNS: dict[str, str] = {"swuggy": "frequency", "sblimp": "type"}
MACRO_HEADLINE = {"sblimp"}


def summarize(task: str, comparisons: list[Comparison], surface: Mapping[str, Any] | None = None
              ) -> dict[str, Any]:
    """All numbers for one task: headline accuracy and its interval, breakdowns, voice statistics,
    counts, and with `surface` (the audit's strongest baseline) the comparison with it."""
    out: dict[str, Any] = {
        "task": task,
        "accuracy": accuracy(comparisons),
        "voice_pair_accuracy": voice_pair_accuracy(comparisons),
        "per_voice": per_voice_accuracy(comparisons),
        "n_pairs": len({c.pair_id for c in comparisons}),
        "n_voices": len({c.voice for c in comparisons}),
        "n_comparisons": len(comparisons),
        "ties": sum(c.good == c.bad for c in comparisons),
    }
    key = BREAKDOWNS.get(task)
    if key is not None:
        groups = breakdown(comparisons, key)
        out[f"by_{key}"] = groups
        out["macro_accuracy"] = macro_average(groups)
        if task == "sblimp":
            sub = breakdown(comparisons, "subtype")
            if len(sub) > 1:
                out["by_subtype"] = sub
    out["interval"] = list(headline_interval(task, comparisons))
    out["interval_level"] = LEVEL
    if surface is not None and comparisons:
        out["surface_baseline"] = versus_baseline(comparisons, surface)
        if out["n_voices"] > 1:  # one voice the model fails on hides in the mean over voices
            out["per_voice_surface"] = {v: versus_baseline(cs, surface) for v, cs in by_voice(comparisons).items()}
    return out


def summarize_pairs(task: str, source: Any, pairs: list[Any], scores: dict[str, float],
                    failed: list[str], surface: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Compare every pair whose two items were scored (`pairs`: .pair_id, .voice, .good, .bad,
    .group); pairs missing an item are listed in `skipped_pairs`. Raises when none is usable."""
    from slmscale.errors import UserError

    usable = [p for p in pairs if p.good in scores and p.bad in scores]
    skipped = sorted({f"{p.pair_id}/{p.voice}" for p in pairs if p.good not in scores or p.bad not in scores})
    if not usable:
        raise UserError(f"{source}: no pair could be scored ({len(failed)} unreadable item(s), "
                        f"e.g. {', '.join(sorted(failed)[:5])})")
    out = summarize(task, [Comparison(p.pair_id, p.voice, scores[p.good], scores[p.bad], p.group)
                           for p in usable], surface)
    out["skipped_pairs"] = skipped
    return out
