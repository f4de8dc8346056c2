"""One call from a results table to a complete loss-fit record (the Fit JSON).

{"form", "E", "A", "B", "alpha", "beta", "a", "b", "G", "n_points", "huber_delta", "ci": {...},
 "goodness": {...}, "holdout": {...}, "bootstrap": {"n", "seed", "failed", "samples": {...}},
 "r_star_n", "r_star_d" (data-constrained only), "source"}
The bootstrap samples are kept so `plan` can put intervals on predictions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from slmscale.scaling import bootstrap, chinchilla, data_constrained
from slmscale.scaling.holdout import holdout

FORMS = ("chinchilla", "data-constrained")
# A run counts as single-epoch up to this many extra epochs (a partial last pass, rounding).
EPOCH_TOLERANCE = 0.05


def epochs_of(df: pd.DataFrame) -> np.ndarray | None:
    """Epochs per run from `epochs`, or tokens / `unique_tokens`; None when the table has neither."""
    if "epochs" in df.columns:
        ep = pd.to_numeric(df["epochs"], errors="coerce").to_numpy(dtype=float)
    elif "unique_tokens" in df.columns:
        ep = df["tokens"].to_numpy(dtype=float) / pd.to_numeric(df["unique_tokens"], errors="coerce").to_numpy(float)
    else:
        return None
    return np.where(np.isfinite(ep), ep, 1.0)  # unknown = not known to repeat


def split_repeated(df: pd.DataFrame, tol: float = EPOCH_TOLERANCE) -> tuple[pd.DataFrame, dict | None]:
    """(single-epoch runs, what was left out) for the Chinchilla form, which assumes every token
    is new: runs over more than 1 + tol epochs are left out, counted and named."""
    ep = epochs_of(df)
    if ep is None:
        return df, None
    rep = ep > 1.0 + tol
    kept = df[~rep].reset_index(drop=True)
    kept.attrs.update(df.attrs)
    ids = df["run_id"].astype(str) if "run_id" in df.columns else pd.Series(range(len(df))).astype(str)
    left = {"n": int(rep.sum()), "runs": ids[rep].tolist(), "max_epochs": float(ep.max()),
            "reason": f"the Chinchilla form assumes unique data; {int(rep.sum())} run(s) repeat their data "
                      f"more than {1 + tol:g} epochs (up to {ep.max():.3g}) and are left out "
                      "(fits.form: data-constrained fits them with Muennighoff's law)"}
    return kept, left


def _predict_chinchilla(model: chinchilla.LossFit, df: pd.DataFrame) -> np.ndarray:
    return model.predict(df["params"].to_numpy(), df["tokens"].to_numpy())


def analyze(df: pd.DataFrame, form: str = "chinchilla", delta: float = chinchilla.DEFAULT_DELTA,
            n_boot: int = 0, seed: int = 0, level: float = 0.95,
            show_progress: bool = True) -> dict:
    """Fit, goodness of fit, hold-out of the largest budget, and (n_boot > 0) bootstrap CIs.

    The Chinchilla form is fitted on single-epoch runs only (`split_repeated`); the record says how
    many runs it left out and why (`excluded_repeated`). numpy's overflow warnings from the start
    grid and from refits that wander off are expected and not printed (failed refits are counted).
    """
    excluded = None
    if form == "chinchilla":
        df, excluded = split_repeated(df)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = _analyze(df, form, delta, n_boot, seed, level, show_progress)
    if excluded is not None:
        out["excluded_repeated"] = excluded
    return out


def _analyze(df, form, delta, n_boot, seed, level, show_progress) -> dict:
    N, D, L = (df[c].to_numpy(dtype=float) for c in ("params", "tokens", "loss"))
    if form == "chinchilla":
        model = chinchilla.fit(df, delta=delta)
        pred = model.predict(N, D)
        ho = holdout(df, lambda d: chinchilla.fit(d, delta=delta), _predict_chinchilla,
                     min_train=chinchilla.MIN_POINTS)
    elif form == "data-constrained":
        model = data_constrained.fit(df, delta=delta)
        pred = data_constrained.predict(model, df)
        ho = holdout(df, lambda d: data_constrained.fit(d, delta=delta), data_constrained.predict,
                     min_train=chinchilla.MIN_POINTS)
    else:
        raise ValueError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    out = model.to_dict()
    out["goodness"] = _goodness(pred, L, df)
    out["holdout"] = ho
    out["ci_level"] = level
    out["ci"] = {}
    if n_boot > 0:
        if form == "chinchilla":
            samples = bootstrap.loss_samples(model, N, D, L, n_boot, seed, show_progress)
            ok = np.all(np.isfinite(samples), axis=1)
            out["ci"] = bootstrap.loss_ci(samples[ok], level)
            named = dict(zip(("E", "A", "B", "alpha", "beta"), samples[ok].T))
            failed = int((~ok).sum())
        else:
            cis, named, failed = bootstrap.generic(
                len(df), lambda idx: data_constrained.refit_warm(model, df, idx), n_boot, seed,
                level, show_progress)
            sam = (np.column_stack([named[k] for k in ("E", "A", "B", "alpha", "beta")]) if named
                   else np.full((0, 5), np.nan))  # every refit failed: intervals come out NaN
            out["ci"] = {**bootstrap.loss_ci(sam, level),
                         **{k: v for k, v in cis.items() if k.startswith("r_star")}}
        out["bootstrap"] = {"n": n_boot, "seed": seed, "failed": failed,
                            "samples": {k: np.asarray(v).tolist() for k, v in named.items()}}
    out["source"] = df.attrs.get("source")
    out["n_dropped_not_finished"] = int(df.attrs.get("dropped", 0))
    out["warnings"] = fit_warnings(out, N, D, L)
    out["degenerate"] = bool(out["warnings"])
    return out


# Exponents outside this range have not been reported for language models (text or speech);
# a fit landing there is being driven by the ladder's shape, not by a power law.
EXPONENT_RANGE = (0.05, 2.0)


def fit_warnings(record: dict, N: np.ndarray, D: np.ndarray, L: np.ndarray) -> list[str]:
    """Plain-language reasons not to trust a loss fit: parameters at their limits, intervals that
    span orders of magnitude, a ladder too narrow to separate the terms."""
    notes = []
    E = record.get("E")
    if E is not None and np.isfinite(E) and E < 1e-3 * float(np.min(L)):
        notes.append(f"E = {E:.3g} (irreducible loss ~0): the runs do not reach the flattening part of "
                     "the curve, so E is unconstrained and extrapolation is unreliable; add larger "
                     "budgets or compare exponents only")
    for name in ("alpha", "beta"):
        v = record.get(name)
        if v is not None and np.isfinite(v) and not EXPONENT_RANGE[0] <= v <= EXPONENT_RANGE[1]:
            notes.append(f"{name} = {v:.3g} is outside the usual {EXPONENT_RANGE[0]}-{EXPONENT_RANGE[1]} "
                         "range: the fit is driven by the ladder's shape, not a power law")
        lo, hi = ((record.get("ci") or {}).get(name) or [np.nan, np.nan])[:2]
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) and lo > 0 and hi / lo > 10:
            notes.append(f"{name}'s {record.get('ci_level', 0.95):.0%} interval [{lo:.3g}, {hi:.3g}] spans "
                         f"{hi / lo:.0f}x: the data barely constrain it")
    n_span, d_span = float(np.max(N) / np.min(N)), float(np.max(D) / np.min(D))
    if min(n_span, d_span) < 10:
        notes.append(f"the ladder spans {n_span:.1f}x in parameters and {d_span:.1f}x in tokens; "
                     "power-law terms are only separable over about a decade or more of each")
    return notes


def _goodness(pred: np.ndarray, L: np.ndarray, df: pd.DataFrame) -> dict:
    res = np.log(L) - np.log(pred)
    ss_tot = float(np.sum((L - L.mean()) ** 2))
    ids = df["run_id"].astype(str).tolist() if "run_id" in df.columns else list(range(len(L)))
    return {
        "rmse_log": float(np.sqrt(np.mean(res**2))),
        "mae_log": float(np.mean(np.abs(res))),
        "max_abs_rel_err": float(np.max(np.abs(pred / L - 1.0))),
        "r2": 1.0 - float(np.sum((L - pred) ** 2)) / ss_tot if ss_tot > 0 else None,
        "residuals": [{"run": i, "log_residual": float(r)} for i, r in zip(ids, res)],
    }
