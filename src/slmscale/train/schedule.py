"""Learning-rate schedule: linear warmup, then cosine (or linear/constant) decay to min_lr.

The lr is a pure function of the step, so resuming needs nothing but the step number.
"""

from __future__ import annotations

import math


def default_warmup(total_steps: int) -> int:
    """max(100 steps, 1% of the run) as in the papers, capped at 10% of the run.

    The cap matters only for tiny runs (under 1000 steps), where 100 warmup steps would eat most
    of the budget.
    """
    if total_steps <= 1:
        return 0
    return min(max(100, math.ceil(0.01 * total_steps)), max(1, total_steps // 10))


def lr_at(step: int, total_steps: int, lr: float, min_lr: float, warmup: int, kind: str = "cosine") -> float:
    """Learning rate for optimizer step `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if kind == "constant":
        return lr
    decay_steps = max(1, total_steps - warmup)
    progress = min(1.0, (step - warmup) / decay_steps)
    if kind == "linear":
        return min_lr + (lr - min_lr) * (1.0 - progress)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))
