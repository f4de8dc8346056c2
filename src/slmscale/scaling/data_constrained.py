"""Data-constrained scaling (Muennighoff et al. 2023): repeated epochs are worth less.

Two stages, as in the paper: (1) fit E, A, B, alpha, beta on the single-epoch runs;
(2) holding those fixed, fit R*_N and R*_D on all runs with N, D replaced by
    D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D)),  R_D = D/U_D - 1,
    N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)),  U_N = min(N, N_opt(U_D)),  R_N = N/U_N - 1,
minimising the same Huber loss on log L. U_D (unique tokens) is `unique_tokens` when the
table has it, else tokens / epochs. R*_N is reported as null when no run is larger than the
compute-optimal size for its unique data (then it cannot be identified).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from slmscale.errors import UserError
from slmscale.scaling import chinchilla, forms

_STARTS = np.log([1.0, 5.0, 15.0, 50.0])
_BOUNDS = [(np.log(0.01), np.log(1e4))] * 2


def unique_tokens(df: pd.DataFrame) -> np.ndarray:
    if "unique_tokens" in df.columns:
        return df["unique_tokens"].to_numpy(dtype=float)
    if "epochs" not in df.columns:
        raise UserError(f"{df.attrs.get('source', 'results')}: the data-constrained form needs an "
                        "'epochs' or 'unique_tokens' column")
    ep = df["epochs"].to_numpy(dtype=float)
    if not np.all(np.isfinite(ep)) or (ep <= 0).any():
        raise UserError(f"{df.attrs.get('source', 'results')}: 'epochs' must be positive for every run")
    return df["tokens"].to_numpy(dtype=float) / ep


def _stage2_objective(log_r, base: chinchilla.LossFit, N, D, U, logl, delta, w, fit_n: bool):
    r_n = np.exp(log_r[0]) if fit_n else 1.0
    pred = forms.data_constrained_loss(N, D, U, **base.params, r_star_n=r_n,
                                       r_star_d=np.exp(log_r[1]))
    h, _ = chinchilla._huber(np.log(pred) - logl, delta)
    return float(np.sum(h * w)) / (len(N) * delta * delta)


def _fit_stage2(base, N, D, U, L, delta, w=None, starts=None):
    w = np.ones(len(N)) if w is None else w
    fit_n = bool(np.any(N > forms.unique_params(N, U, base.A, base.B, base.alpha, base.beta)
                        * (1 + 1e-9)))
    logl = np.log(L)
    best = None
    if starts is None:
        starts = [np.array([sn, sd]) for sn in (_STARTS if fit_n else [0.0]) for sd in _STARTS]
    for s in starts:
        res = minimize(_stage2_objective, s, args=(base, N, D, U, logl, delta, w, fit_n),
                       method="L-BFGS-B", bounds=_BOUNDS)
        if best is None or res.fun < best.fun:
            best = res
    return (float(np.exp(best.x[0])) if fit_n else None), float(np.exp(best.x[1])), best


def fit(df: pd.DataFrame, delta: float = chinchilla.DEFAULT_DELTA) -> chinchilla.LossFit:
    """Two-stage data-constrained fit; the result carries r_star_n / r_star_d in `extra`."""
    U = unique_tokens(df)
    D = df["tokens"].to_numpy(dtype=float)
    single = D <= U * (1 + 1e-6)
    if single.sum() < chinchilla.MIN_POINTS:
        raise UserError(f"{df.attrs.get('source', 'results')}: {int(single.sum())} single-epoch run(s); "
                        f"the data-constrained fit needs at least {chinchilla.MIN_POINTS} to fit the base law")
    if single.all():
        raise UserError(f"{df.attrs.get('source', 'results')}: no multi-epoch runs (epochs > 1); "
                        "R*_D cannot be fitted; use --form chinchilla")
    one = df[single]
    one.attrs.update(df.attrs)
    base = chinchilla.fit(one, delta=delta)
    N, L = df["params"].to_numpy(dtype=float), df["loss"].to_numpy(dtype=float)
    r_n, r_d, res = _fit_stage2(base, N, D, U, L, delta)
    base.form = "data-constrained"
    base.n_points = len(df)
    base.extra = {"r_star_n": r_n, "r_star_d": r_d, "n_single_epoch": int(single.sum()),
                  "n_multi_epoch": int((~single).sum()), "objective_stage2": float(res.fun)}
    return base


def predict(fit_: chinchilla.LossFit, df: pd.DataFrame) -> np.ndarray:
    r_n = fit_.extra.get("r_star_n")
    return forms.data_constrained_loss(
        df["params"].to_numpy(dtype=float), df["tokens"].to_numpy(dtype=float), unique_tokens(df),
        **fit_.params, r_star_n=1e-12 if r_n is None else r_n, r_star_d=fit_.extra["r_star_d"])


def refit_warm(fit_: chinchilla.LossFit, df: pd.DataFrame, idx: np.ndarray) -> dict:
    """Bootstrap refit of both stages on rows `idx`, warm-started from `fit_`."""
    sub = df.iloc[idx]
    U = unique_tokens(sub)
    N, D, L = (sub[c].to_numpy(dtype=float) for c in ("params", "tokens", "loss"))
    single = D <= U * (1 + 1e-6)
    if single.sum() < chinchilla.MIN_POINTS or single.all():
        raise ValueError("resample lacks single- or multi-epoch runs")
    res = chinchilla.refine(fit_.theta, np.log(N[single]), np.log(D[single]), np.log(L[single]),
                            fit_.huber_delta)
    base = chinchilla.LossFit.from_theta(res.x, huber_delta=fit_.huber_delta)
    r_n0 = fit_.extra.get("r_star_n") or 1.0
    start = [np.log([r_n0, fit_.extra["r_star_d"]])]
    r_n, r_d, _ = _fit_stage2(base, N, D, U, L, fit_.huber_delta, starts=start)
    out = {**base.params, "r_star_d": r_d}
    if r_n is not None:
        out["r_star_n"] = r_n
    return out
