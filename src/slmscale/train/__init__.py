"""Training engine: exact-budget runs with checkpoints, resume and torchrun."""

from __future__ import annotations

from typing import Any


def run_training(config: Any, resume: bool | None = None) -> dict[str, Any]:
    """Train one model as configured (see slmscale.train.run.run_training)."""
    from slmscale.train.run import run_training as _run

    return _run(config, resume)


__all__ = ["run_training"]
