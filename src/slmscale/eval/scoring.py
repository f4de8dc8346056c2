"""Scoring rules shared by every pair task (sWUGGY, sBLIMP, sStoryCloze, tStoryCloze).

A benchmark is a set of comparisons: for one pair id and one voice, the score (log-likelihood) of
the correct item against the score of an incorrect one. The rules:

- a comparison counts 1 when correct > incorrect, 0.5 on an exact tie, 0 otherwise;
- comparisons of the same (pair, voice) are averaged first (sWUGGY may pair one word with several
  non-words), then voices are averaged per pair, then pairs are averaged: every pair weighs the
  same whatever its number of voices;
- breakdowns (sBLIMP phenomenon, sWUGGY frequency band) apply the same rule inside each group,
  and the macro average is the plain mean over groups;
- voice-pair accuracy: the fraction of pairs for which every voice is strictly correct.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable


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


def accuracy(comparisons: Iterable[Comparison]) -> float:
    """Mean over pairs of the mean over voices of the (pair, voice) outcome; NaN if empty."""
    pairs = _per_pair(comparisons)
    if not pairs:
        return float("nan")
    return sum(sum(v.values()) / len(v) for v in pairs.values()) / len(pairs)


def voice_pair_accuracy(comparisons: Iterable[Comparison]) -> float:
    """Fraction of pairs whose every voice is strictly correct (a tie is not correct)."""
    pairs = _per_pair(comparisons)
    if not pairs:
        return float("nan")
    return sum(all(o == 1.0 for o in v.values()) for v in pairs.values()) / len(pairs)


def per_voice_accuracy(comparisons: Iterable[Comparison]) -> dict[str, float]:
    """Accuracy restricted to each voice (speaker-mismatch analysis)."""
    by_voice: dict[str, list[Comparison]] = defaultdict(list)
    for c in comparisons:
        by_voice[c.voice].append(c)
    return {v: accuracy(cs) for v, cs in sorted(by_voice.items())}


def breakdown(comparisons: Iterable[Comparison], key: str) -> dict[str, float]:
    """Accuracy within each value of `group[key]` (pairs lacking the key go to "")."""
    groups: dict[str, list[Comparison]] = defaultdict(list)
    for c in comparisons:
        groups[str(c.group.get(key, ""))].append(c)
    return {g: accuracy(cs) for g, cs in sorted(groups.items())}


def macro_average(groups: dict[str, float]) -> float:
    values = [v for v in groups.values() if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


# Which breakdown each task reports, and whether its headline number is the macro average.
BREAKDOWNS: dict[str, str] = {"swuggy": "frequency", "sblimp": "type"}


def summarize(task: str, comparisons: list[Comparison]) -> dict[str, Any]:
    """All numbers for one task: headline accuracy, breakdowns, voice statistics, counts."""
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
    return out


def summarize_pairs(task: str, source: Any, pairs: list[Any], scores: dict[str, float],
                    failed: list[str]) -> dict[str, Any]:
    """Compare every pair whose two items were scored (`pairs`: .pair_id, .voice, .good, .bad,
    .group); pairs missing an item are listed in `skipped_pairs`. Raises when none is usable."""
    from slmscale.errors import UserError

    usable = [p for p in pairs if p.good in scores and p.bad in scores]
    skipped = sorted({f"{p.pair_id}/{p.voice}" for p in pairs if p.good not in scores or p.bad not in scores})
    if not usable:
        raise UserError(f"{source}: no pair could be scored ({len(failed)} unreadable item(s), "
                        f"e.g. {', '.join(sorted(failed)[:5])})")
    out = summarize(task, [Comparison(p.pair_id, p.voice, scores[p.good], scores[p.bad], p.group)
                           for p in usable])
    out["skipped_pairs"] = skipped
    return out
