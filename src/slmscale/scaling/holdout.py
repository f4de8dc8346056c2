"""Hold-out check: fit without the largest compute budget, predict it, report the error.

This is the question a scaling law is for (extrapolate to more compute), so it is reported
next to every fit instead of in-sample goodness alone.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from slmscale.scaling.table import budget_groups


def split_largest(df: pd.DataFrame, tol_dex: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, held_out): held_out = the runs of the largest FLOP budget (within tol_dex)."""
    groups = budget_groups(df["flops"].to_numpy(), tol_dex)
    top = groups == groups.max()
    train, held = df[~top], df[top]
    train.attrs.update(df.attrs)
    return train, held


def holdout(df: pd.DataFrame, fit_fn: Callable[[pd.DataFrame], object],
            predict: Callable[[object, pd.DataFrame], np.ndarray], target: str = "loss",
            min_train: int = 1) -> dict:
    """Fit on all but the largest budget, predict that budget; errors relative to the truth.

    Returns {"skipped": reason} when too few runs remain to fit.
    """
    train, held = split_largest(df)
    if len(train) < min_train:
        return {"skipped": f"only {len(train)} run(s) below the largest budget; need {min_train}"}
    try:
        model = fit_fn(train)
    except Exception as err:  # a failed hold-out fit is reported, not fatal
        return {"skipped": f"fit without the largest budget failed: {err}"}
    pred = np.asarray(predict(model, held), dtype=float)
    true = held[target].to_numpy(dtype=float)
    rel = pred / true - 1.0
    return {
        "heldout_flops": float(held["flops"].median()),
        "n_train": int(len(train)),
        "n_heldout": int(len(held)),
        "mean_abs_rel_err": float(np.mean(np.abs(rel))),
        "max_abs_rel_err": float(np.max(np.abs(rel))),
        "mean_rel_err": float(np.mean(rel)),
        "predicted": pred.tolist(),
        "actual": true.tolist(),
    }
