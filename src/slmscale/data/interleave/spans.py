"""One utterance into text and speech segments.

Per utterance (a manifest entry with word alignments, joined with its deduplicated units):
  * speech spans: lengths drawn from max(1, Poisson(span_lambda)) words until
    round(speech_ratio * n_words) words are speech (the last length is cut to hit that count), placed
    uniformly at random among the words with at least one text word between two spans;
  * a speech span's units are exactly those whose time falls in [start of its first word, end of its
    last word). A unit's time is its MIDPOINT by default (`time_rule="start"`: its first frame):
    unit i spans frames [a_i, a_i + d_i) with a_i = sum of earlier durations, frame j covering
    [j / frame_rate, (j + 1) / frame_rate), so its midpoint is (a_i + d_i / 2) / frame_rate. The
    interval is half-open so two adjacent spans never share a unit. Units in pauses between a text
    word and a speech word belong to no span and are left out. A speech span that gets no unit
    (words shorter than a frame) stays text (counted as `reverted_spans`);
  * a text span is its words joined by spaces, encoded on its own (no leading space) by the
    extended model's tokenizer; surface forms come from the entry's `text` when it splits into as
    many whitespace tokens as there are aligned words (keeps case and punctuation), else from the
    aligned words;
  * every segment starts with its switch token (`<speech>` or `<text>`), so a switch token stands at
    every modality change and at the start of each document.
(documents.py adds the switch tokens.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from slmscale.data.interleave.config import InterleaveConfig
from slmscale.data.manifest import ManifestEntry


def unit_times(durations: np.ndarray, frame_rate: float, rule: str = "midpoint") -> np.ndarray:
    """Time (s) of each unit: midpoint of its frames, or its first frame's start."""
    d = np.asarray(durations, dtype=np.float64)
    starts = np.concatenate([[0.0], np.cumsum(d)[:-1]]) if d.size else d
    return (starts + (d / 2 if rule == "midpoint" else 0.0)) / frame_rate


def span_unit_mask(times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Units of a span: time in [start, end)."""
    return (times >= start) & (times < end)


def utterance_seed(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "little")


def choose_speech_spans(n_words: int, rng: np.random.Generator, speech_ratio: float = 0.3,
                        span_lambda: float = 10.0) -> list[tuple[int, int]]:
    """Word ranges [i, j) to speak: Poisson(span_lambda) lengths (>= 1) summing to
    round(speech_ratio * n_words), placed at random, separated by at least one text word."""
    target = min(n_words, int(np.floor(speech_ratio * n_words + 0.5)))
    if target <= 0:
        return []
    lengths: list[int] = []
    while sum(lengths) < target:
        lengths.append(min(max(1, int(rng.poisson(span_lambda))), target - sum(lengths)))
    n_text = n_words - target
    while len(lengths) - 1 > n_text:          # too few text words to keep spans apart: merge
        lengths[-2] += lengths.pop()
    m = len(lengths)
    free = n_text - (m - 1)
    # Stars and bars: a uniform split of the free text words into m + 1 gaps.
    bars = np.sort(rng.choice(free + m, size=m, replace=False))
    gaps = np.diff(np.concatenate([[-1], bars, [free + m]])) - 1
    gaps[1:m] += 1
    spans, pos = [], int(gaps[0])
    for j, length in enumerate(lengths):
        spans.append((pos, pos + length))
        pos += length + int(gaps[j + 1])
    return spans


@dataclass
class Segment:
    modality: str            # "text" | "speech"
    text: str = ""
    units: np.ndarray | None = None


def surface_words(entry: ManifestEntry) -> list[str]:
    """Words as written: the transcript's whitespace tokens when they match the alignment one to
    one, else the aligned words."""
    toks = entry.text.split()
    return toks if len(toks) == len(entry.words) else [w for w, _, _ in entry.words]


def plan_segments(entry: ManifestEntry, units: np.ndarray, durations: np.ndarray, frame_rate: float,
                  cfg: InterleaveConfig) -> tuple[list[Segment], dict[str, int]]:
    """The text/speech segments of one utterance, and counts (speech words, spans, reverted spans)."""
    words = surface_words(entry)
    times = unit_times(durations, frame_rate, cfg.time_rule)
    rng = np.random.default_rng(utterance_seed(cfg.seed, entry.id))
    spans = choose_speech_spans(len(words), rng, cfg.speech_ratio, cfg.span_lambda)
    speech: dict[int, np.ndarray] = {}
    stats = {"words": len(words), "speech_words": 0, "spans": 0, "reverted_spans": 0}
    for i, j in spans:
        mask = span_unit_mask(times, entry.words[i][1], entry.words[j - 1][2])
        if not mask.any():
            stats["reverted_spans"] += 1
            continue
        speech[i] = units[mask]
        stats["spans"] += 1
        stats["speech_words"] += j - i
    ends = dict(spans)
    segments: list[Segment] = []
    text: list[str] = []
    i = 0
    while i < len(words):
        if i in speech:
            if text:
                segments.append(Segment("text", " ".join(text)))
                text = []
            segments.append(Segment("speech", units=speech[i]))
            i = ends[i]
        else:
            text.append(words[i])
            i += 1
    if text:
        segments.append(Segment("text", " ".join(text)))
    return segments, stats
