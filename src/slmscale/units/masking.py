"""Span masks for masked prediction (HuBERT / wav2vec 2.0 style), drawn from a seeded generator.

Each row gets round(prob * frames) span starts, drawn without replacement, and every start masks
`length` frames (spans may overlap, so the masked share is a little under prob * length; with the
papers' prob = 0.08 and length = 10 about half the frames are masked). The draw uses only the
generator it is given, so a batch's masks are a pure function of its seed.
"""

from __future__ import annotations

import numpy as np


def span_mask(batch: int, frames: int, prob: float, length: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean (batch, frames) mask; at least one span per row when frames >= 1."""
    mask = np.zeros((batch, frames), dtype=bool)
    if frames == 0:
        return mask
    length = min(length, frames)
    starts_available = frames - length + 1
    n_spans = min(max(1, int(round(prob * frames))), starts_available)
    for row in range(batch):
        for start in rng.choice(starts_available, size=n_spans, replace=False):
            mask[row, start:start + length] = True
    return mask
