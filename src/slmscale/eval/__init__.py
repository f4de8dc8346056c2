"""Evaluation: batched sequence log-likelihood, pair benchmarks (sWUGGY, sBLIMP, sStoryCloze,
tStoryCloze) in their official formats, and scoring of training runs."""

from __future__ import annotations

from typing import Any


def evaluate_run(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See slmscale.eval.run.evaluate_run (imported lazily: it pulls in torch)."""
    from slmscale.eval.run import evaluate_run as _evaluate_run

    return _evaluate_run(*args, **kwargs)


__all__ = ["evaluate_run"]
