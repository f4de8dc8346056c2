"""Training engine: exact-budget runs with checkpoints, resume and torchrun."""

from __future__ import annotations

import os
import sys
from typing import Any

# Idle OpenMP threads sleep instead of spinning unless the user chose otherwise: on a shared
# CPU, spinning workers made steps several times slower (docs/training.md). OpenMP reads this
# once, when torch loads, so it only helps processes that import this package before torch.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run_training(config: Any, resume: bool | None = None) -> dict[str, Any]:
    """Train one model as configured (see slmscale.train.run.run_training)."""
    from slmscale.train.run import run_training as _run

    return _run(config, resume)


__all__ = ["run_training"]
