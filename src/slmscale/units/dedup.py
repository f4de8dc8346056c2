"""Collapse runs of a repeated unit into one token, keeping how many frames each run lasted.

The durations let later stages map word times (seconds) onto deduplicated unit positions.
"""

from __future__ import annotations

import numpy as np


def dedup(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(units without consecutive repeats, frames per kept unit); durations sum to len(units)."""
    units = np.asarray(units, dtype=np.int64)
    if units.size == 0:
        return units.copy(), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], units[1:] != units[:-1])))
    durations = np.diff(np.append(starts, units.size))
    return units[starts], durations.astype(np.int64)


def expand(units: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Inverse of `dedup`: repeat each unit for its duration."""
    return np.repeat(np.asarray(units, dtype=np.int64), np.asarray(durations, dtype=np.int64))


def unit_frame_starts(durations: np.ndarray) -> np.ndarray:
    """Frame index at which each deduplicated unit begins (for time → token lookups)."""
    d = np.asarray(durations, dtype=np.int64)
    return np.concatenate(([0], np.cumsum(d)[:-1])) if d.size else d.copy()
