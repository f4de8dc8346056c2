"""The unit-quality measures themselves: pure functions of label arrays and unit strings (no audio,
no tokenizer); `quality` computes them for tokenizers over manifests.

Definitions (frame level; y = phone of a frame, z = its unit, v = its voice), as in the HuBERT
paper (Hsu et al. 2021, section IV-C):
  phone purity    E_z[max_y p(y|z)]: frame accuracy if every unit is read as its most common phone
  cluster purity  E_y[max_z p(z|y)]: how much of each phone falls into its most common unit
  PNMI            I(y; z) / H(y): the share of the phone uncertainty the units remove
  NMI(unit;voice) I(z; v) / H(v): 0 = units say nothing about who speaks
ABX on word tokens cut from the manifest's word timings (words of >= 4 letters): A and X are the
same word, B another word said by A's voice; the triplet is right when DTW(A, X) < DTW(B, X) over
frame units with 0/1 cost (a tie counts 1/2). Within voice: X by A's voice (another token);
across voices: X by another voice. Reported separately for triplets among the corpus's training
voices and among held-out voices (slmscale.audio.voices), so speaker generalisation shows.
Word edits per second, on the same word tokens (their interior frames): the Levenshtein distance
between the deduplicated unit strings (as an LM reads them) of an anchor token and (a) another
token of the same word by the same voice, (b) one by another voice, (c) another word by the same
voice; for held-out and other voices, also (d) a token of the same word by a training voice, when
the manifests hold some (the spellings an LM trained on those voices knows). Each is divided by the
two tokens' mean duration: per second of speech, not per unit, because a tokenizer that spends
more units on a word would otherwise look more consistent for the same number of edits. (c) is
the scale. ABX asks only whether the same word is nearer than another and saturates near 0.99 on
the built-in corpus; these count how many edits separate the spellings an LM must learn as one word.
Units per second: deduplicated units per second of audio.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import numpy as np


def joint_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Contingency table of two equally long integer label arrays: counts[a, b]."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"label arrays differ in length ({len(a)} vs {len(b)})")
    counts = np.zeros((int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1), dtype=np.int64)
    np.add.at(counts, (a, b), 1)
    return counts


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def mutual_information(counts: np.ndarray) -> float:
    """I(row; column) in nats from a contingency table."""
    p = counts / max(counts.sum(), 1)
    rows, cols = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (rows @ cols)[nz])).sum())


def phone_measures(counts: np.ndarray) -> dict[str, float]:
    """Phone purity, cluster purity and PNMI from counts[phone, unit]."""
    total = counts.sum()
    if total == 0:
        raise ValueError("no frames")
    p = counts / total
    h_phone = _entropy(p.sum(axis=1))
    return {"phone_purity": float(p.max(axis=0).sum()), "cluster_purity": float(p.max(axis=1).sum()),
            "pnmi": mutual_information(counts) / h_phone if h_phone > 0 else 0.0}


def normalized_mi(units: np.ndarray, labels: np.ndarray) -> float:
    """I(units; labels) / H(labels) (0 when the labels take one value)."""
    counts = joint_counts(units, labels)
    h = _entropy(counts.sum(axis=0) / counts.sum())
    return mutual_information(counts) / h if h > 0 else 0.0


def levenshtein(a: np.ndarray, b: np.ndarray) -> int:
    """Substitutions, insertions and deletions that turn `a` into `b`."""
    prev = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        sub = prev[:-1] + (b != x)
        for j in range(1, len(b) + 1):
            cur[j] = min(sub[j - 1], prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return int(prev[-1])


def edit_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Levenshtein distance / the longer length (1.0 when either is empty)."""
    if len(a) == 0 or len(b) == 0:
        return 1.0
    return levenshtein(a, b) / max(len(a), len(b))


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """DTW over frame units with 0/1 cost (steps right, down, diagonal), divided by the length of
    the optimal path (ties broken towards the diagonal)."""
    cost = (np.asarray(a)[:, None] != np.asarray(b)[None, :]).astype(np.float64)
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int64)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            moves = ((acc[i - 1, j - 1], steps[i - 1, j - 1]), (acc[i - 1, j], steps[i - 1, j]),
                     (acc[i, j - 1], steps[i, j - 1]))
            best, length = min(moves, key=lambda t: t[0])
            acc[i, j] = cost[i - 1, j - 1] + best
            steps[i, j] = length + 1
    return float(acc[n, m]) / int(steps[n, m])


def abx(segments: list[tuple[str, str, np.ndarray]], across: bool, n: int, seed: int) -> tuple[float | None, int]:
    """ABX accuracy over up to `n` sampled triplets of (word, voice, frame units); (score, triplets)."""
    by_word_voice: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_voice: dict[str, list[int]] = defaultdict(list)
    for i, (word, voice, _) in enumerate(segments):
        by_word_voice[word, voice].append(i)
        by_voice[voice].append(i)
    voices_of: dict[str, set[str]] = defaultdict(set)
    for word, voice in by_word_voice:
        voices_of[word].add(voice)
    rng = random.Random(seed)
    scores: list[float] = []
    for _ in range(n * 20):
        if len(scores) >= n:
            break
        a = rng.randrange(len(segments))
        word, voice, units_a = segments[a]
        if across:
            others = sorted(voices_of[word] - {voice})
            if not others:
                continue
            x = rng.choice(by_word_voice[word, rng.choice(others)])
        else:
            same = [i for i in by_word_voice[word, voice] if i != a]
            if not same:
                continue
            x = rng.choice(same)
        b = rng.choice(by_voice[voice])
        if segments[b][0] == word:
            continue
        d_ax = dtw_distance(units_a, segments[x][2])
        d_bx = dtw_distance(segments[b][2], segments[x][2])
        scores.append(1.0 if d_ax < d_bx else 0.5 if d_ax == d_bx else 0.0)
    return (float(np.mean(scores)) if scores else None), len(scores)


def _spellings(segments: list[tuple[str, str, np.ndarray]]) -> list[np.ndarray]:
    """Each word token's deduplicated unit string, as an LM reads it."""
    from slmscale.units.dedup import dedup

    return [dedup(np.asarray(units))[0] for _, _, units in segments]


def _spelling_distance(a: np.ndarray, b: np.ndarray, frames_a: int, frames_b: int, rate: float | None) -> float:
    """Distance between two spellings: with `rate` (frames per second), edits per second of speech
    (the mean of the two tokens' durations), which does not favour tokenizers that spend more units
    per word; without it, edits over the longer string."""
    if rate is None:
        return edit_distance(a, b)
    return levenshtein(a, b) / ((frames_a + frames_b) / 2 / rate)


def word_edit_distances(segments: list[tuple[str, str, np.ndarray]], n: int, seed: int,
                        rate: float | None = None) -> dict[str, Any]:
    """Mean distance (see _spelling_distance) between tokens of one word, over up to `n` sampled
    anchors that have the same word by the same voice, by another voice, and another word by the
    same voice: {"within", "across", "other": mean or None, "pairs": anchors used}."""
    strings = _spellings(segments)
    by_word: dict[str, list[int]] = defaultdict(list)
    by_voice: dict[str, list[int]] = defaultdict(list)
    for i, (word, voice, _) in enumerate(segments):
        by_word[word].append(i)
        by_voice[voice].append(i)
    rng = random.Random(f"{seed}:word-edit")  # not ABX's stream: its triplets stay as they were
    got: dict[str, list[float]] = {"within": [], "across": [], "other": []}
    for _ in range(n * 20 if segments else 0):
        if len(got["within"]) >= n:
            break
        a = rng.randrange(len(segments))
        word, voice, _ = segments[a]
        same_voice = [i for i in by_word[word] if i != a and segments[i][1] == voice]
        other_voice = [i for i in by_word[word] if segments[i][1] != voice]
        b = rng.choice(by_voice[voice])
        if not same_voice or not other_voice or segments[b][0] == word:
            continue
        for key, p in (("within", rng.choice(same_voice)), ("across", rng.choice(other_voice)), ("other", b)):
            got[key].append(_spelling_distance(strings[a], strings[p], len(segments[a][2]), len(segments[p][2]), rate))
    n_used = len(got["within"])
    return {**{k: (float(np.mean(v)) if n_used else None) for k, v in got.items()}, "pairs": n_used}


def word_edit_to_reference(segments: list[tuple[str, str, np.ndarray]],
                           reference: list[tuple[str, str, np.ndarray]], n: int, seed: int,
                           rate: float | None = None) -> tuple[float | None, int]:
    """Mean distance (see _spelling_distance) from up to `n` sampled tokens of `segments` to a token
    of the same word in `reference` (held-out voices against the training voices an LM learned the
    spellings from); (mean or None, anchors used)."""
    by_word: dict[str, list[int]] = defaultdict(list)
    for i, (word, _, _) in enumerate(reference):
        by_word[word].append(i)
    anchors = [i for i, (word, _, _) in enumerate(segments) if by_word.get(word)]
    rng = random.Random(f"{seed}:word-edit-reference")
    pairs = [(segments[a], reference[rng.choice(by_word[segments[a][0]])])
             for a in sorted(rng.sample(anchors, min(n, len(anchors))))]
    got = [_spelling_distance(*_spellings([x, y]), len(x[2]), len(y[2]), rate) for x, y in pairs]
    return (float(np.mean(got)) if got else None), len(got)
