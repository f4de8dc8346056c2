"""Downstream metrics (accuracies) against compute and against loss.

vs compute (as in both papers): the envelope of the best metric per FLOP, fitted by
    power law   Q = k C^gamma                       (2 parameters, log-log least squares)
and, as an alternative that levels off, the
    saturating  Q = q_inf - k C^(-lam),  q_inf <= 1 for accuracies   (3 parameters)
compared by AICc (Gaussian residuals on Q) and by the error predicting the largest-compute
envelope point when it is left out. Extrapolations should use the preferred one.

vs loss: Q = slope * loss + intercept, Pearson r and R², on the points before saturation.
Saturation cut-off (documented, adjustable): runs whose metric is within `margin` (0.02) of
chance (0.5 for the paired-likelihood tasks) sit on the floor where the linear relation
breaks, and are left out; so are runs with loss above `max_loss` when given.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from slmscale.errors import UserError
from slmscale.scaling import bootstrap, forms
from slmscale.scaling.envelope import frontier, loglog_fit

CHANCE = 0.5
MARGIN = 0.02
MIN_ENVELOPE = 3  # a power law through 2 points always fits (R² = 1) and says nothing
COMPUTE_COLUMNS = ("flops", "flops_full")  # C = 6ND (non-embedding N), or the full count


def fit_power(C, Q) -> dict:
    law = loglog_fit(C, Q)
    return {"k": law["k"], "gamma": law["exponent"], "r2": law["r2"], "rmse_log": law["rmse_log"]}


def fit_saturating(C, Q, ceiling: float | None = 1.0) -> dict:
    """Q = q_inf - k C^-lam on the envelope; q_inf bounded by `ceiling` (None: unbounded)."""
    C, Q = np.asarray(C, dtype=float), np.asarray(Q, dtype=float)
    if len(C) < 4:
        raise ValueError("the saturating form has 3 parameters and needs 4+ envelope points")
    lc = np.log(C) - np.log(C).mean()  # centred so the log-k start is sane at any FLOP scale
    top = ceiling if ceiling is not None and Q.max() < ceiling else np.inf
    lo_q = Q.max() + 1e-9

    def model(lc_, q_inf, logk, lam):
        return q_inf - np.exp(logk - lam * lc_)

    best = None
    for lam0 in (0.05, 0.2, 1.0):
        q0 = min(Q.max() + 0.05, (Q.max() + top) / 2 if np.isfinite(top) else Q.max() + 0.05)
        p0 = [q0, np.log(max(q0 - Q.mean(), 1e-6)), lam0]
        try:
            p, _ = optimize.curve_fit(model, lc, Q, p0=p0, maxfev=20000,
                                      bounds=([lo_q, -50, 1e-6], [top, 50, 20]))
        except (RuntimeError, ValueError):
            continue
        rss = float(np.sum((model(lc, *p) - Q) ** 2))
        if best is None or rss < best[1]:
            best = (p, rss)
    if best is None:
        raise ValueError("saturating fit did not converge")
    q_inf, logk, lam = best[0]
    # Back to uncentred C: k C^-lam with k = exp(logk + lam * mean log C).
    return {"q_inf": float(q_inf), "k": float(np.exp(logk + lam * np.log(C).mean())),
            "lam": float(lam), "rss": best[1]}


def _aicc(rss: float, n: int, p: int) -> float:
    aic = n * np.log(max(rss, 1e-300) / n) + 2 * p
    return float(aic + (2 * p * (p + 1) / (n - p - 1) if n - p - 1 > 0 else np.inf))


def compare_forms(C, Q, ceiling: float | None = 1.0) -> dict:
    """Power law vs saturating: AICc on the envelope and leave-largest-out prediction error."""
    C, Q = np.asarray(C, dtype=float), np.asarray(Q, dtype=float)
    n = len(C)
    power = fit_power(C, Q)
    rss_p = float(np.sum((forms.power_law(C, power["k"], power["gamma"]) - Q) ** 2))
    out = {"power": {**power, "rss": rss_p, "aicc": _aicc(rss_p, n, 2)}}
    try:
        sat = fit_saturating(C, Q, ceiling)
    except ValueError as err:
        out["saturating"] = {"skipped": str(err)}
        out["preferred"] = "power"
        return out
    out["saturating"] = {**sat, "aicc": _aicc(sat["rss"], n, 3)}
    top = np.argmax(C)
    rest = np.arange(n) != top
    try:
        p_ho = fit_power(C[rest], Q[rest])
        out["power"]["holdout_abs_err"] = float(abs(forms.power_law(C[top], p_ho["k"], p_ho["gamma"]) - Q[top]))
        s_ho = fit_saturating(C[rest], Q[rest], ceiling)
        out["saturating"]["holdout_abs_err"] = float(
            abs(forms.saturating(C[top], s_ho["q_inf"], s_ho["k"], s_ho["lam"]) - Q[top]))
    except ValueError as err:
        out["holdout_skipped"] = str(err)
    out["preferred"] = "saturating" if out["saturating"]["aicc"] < out["power"]["aicc"] else "power"
    return out


def fit_vs_loss(loss, Q, chance: float = CHANCE, margin: float = MARGIN,
                max_loss: float | None = None) -> dict:
    """Linear metric-vs-loss fit on the unsaturated runs; Pearson r, R², slope, intercept."""
    loss, Q = np.asarray(loss, dtype=float), np.asarray(Q, dtype=float)
    keep = Q > chance + margin
    if max_loss is not None:
        keep &= loss <= max_loss
    if keep.sum() < 3 or np.ptp(loss[keep]) == 0:
        raise ValueError(f"{int(keep.sum())} run(s) above the saturation cut-off; need 3 with "
                         "different losses")
    res = stats.linregress(loss[keep], Q[keep])
    return {"slope": float(res.slope), "intercept": float(res.intercept),
            "pearson_r": float(res.rvalue), "r2": float(res.rvalue**2), "p_value": float(res.pvalue),
            "n_used": int(keep.sum()), "n_excluded": int((~keep).sum()),
            "cutoff": {"chance": chance, "margin": margin, "max_loss": max_loss}}


def law_warnings(law: dict) -> list[str]:
    """Reasons not to extrapolate a metric-vs-compute law (the planner refuses when there are any)."""
    notes = []
    g = law.get("gamma")
    if g is not None and g <= 0:
        notes.append(f"gamma = {g:.3g}: the metric does not improve with compute on this envelope")
    lo, hi = ((law.get("ci") or {}).get("gamma") or [None, None])[:2]
    if lo is not None and hi is not None and np.isfinite([lo, hi]).all():
        if lo <= 0 < hi:
            notes.append(f"gamma's {law.get('ci_level', 0.95):.0%} interval [{lo:.3g}, {hi:.3g}] includes 0")
        elif lo > 0 and hi / lo > 10:
            notes.append(f"gamma's {law.get('ci_level', 0.95):.0%} interval [{lo:.3g}, {hi:.3g}] spans "
                         f"{hi / lo:.0f}x: the data barely constrain it")
    return notes


def _arm(df: pd.DataFrame, metric: str, n_boot: int, seed: int, level: float, chance: float,
         margin: float, max_loss: float | None, ceiling: float | None, show_progress: bool,
         compute: str = "flops") -> dict:
    C, Q = df[compute].to_numpy(dtype=float), df[metric].to_numpy(dtype=float)
    env = frontier(C, Q, maximize=True)
    if len(env) < MIN_ENVELOPE:
        raise UserError(f"{df.attrs.get('source', 'results')}: metric '{metric}' has {len(env)} "
                        f"envelope point(s); a law vs compute needs at least {MIN_ENVELOPE} (more budgets)")
    out = {"n_points": int(len(df)), "n_envelope": int(len(env)), "compute": compute,
           "envelope": {"flops": C[env].tolist(), metric: Q[env].tolist()},
           "vs_compute": compare_forms(C[env], Q[env], ceiling)}
    out["gamma"] = out["vs_compute"]["power"]["gamma"]
    out["k"] = out["vs_compute"]["power"]["k"]
    has_loss = "loss" in df.columns and df["loss"].notna().all()
    if has_loss:
        try:
            out["vs_loss"] = fit_vs_loss(df["loss"], Q, chance, margin, max_loss)
        except ValueError as err:
            out["vs_loss"] = {"skipped": str(err)}
    if n_boot > 0:
        loss_arr = df["loss"].to_numpy(dtype=float) if has_loss else None

        def refit(idx):
            e = frontier(C[idx], Q[idx], maximize=True)
            if len(e) < MIN_ENVELOPE:
                raise ValueError("too few envelope points in the resample")
            p = fit_power(C[idx][e], Q[idx][e])
            row = {"gamma": p["gamma"], "k": p["k"]}
            if loss_arr is not None and "slope" in out.get("vs_loss", {}):
                lv = fit_vs_loss(loss_arr[idx], Q[idx], chance, margin, max_loss)
                row.update(slope=lv["slope"], intercept=lv["intercept"], pearson_r=lv["pearson_r"])
            return row

        cis, samples, failed = bootstrap.generic(len(df), refit, n_boot, seed, level, show_progress)
        out["ci"] = cis
        out["bootstrap"] = {"n": n_boot, "seed": seed, "failed": failed,
                            "samples": {k: v.tolist() for k, v in samples.items()}}
        out["ci_level"] = level
    out["warnings"] = law_warnings(out)
    out["degenerate"] = bool(out["warnings"])
    return out


def analyze(df: pd.DataFrame, metric: str, arm_col: str | None = "arm", n_boot: int = 0,
            seed: int = 0, level: float = 0.95, chance: float = CHANCE, margin: float = MARGIN,
            max_loss: float | None = None, ceiling: float | None = 1.0,
            show_progress: bool = True, compute: str = "flops") -> dict:
    """Per-arm downstream laws against `compute` (a column: flops = 6ND, or flops_full); with two
    or more arms, exponent ratios between every pair. An arm that cannot be fitted (too few
    envelope points) is kept with its reason under `skipped`; when no arm can be, a UserError."""
    from slmscale.scaling.compare import compare_arms

    source = df.attrs.get("source", "results")
    if compute not in COMPUTE_COLUMNS:
        raise UserError(f"--compute {compute!r}: choose one of {', '.join(COMPUTE_COLUMNS)}")
    if compute not in df.columns or df[compute].isna().any() or (df[compute] <= 0).any():
        raise UserError(f"{source}: compute column '{compute}' is missing or not positive for every run")
    if (df[metric] <= 0).any():
        raise UserError(f"{source}: metric '{metric}' must be positive")
    arms, skipped = {}, {}
    groups = (df.groupby(df[arm_col].astype(str), sort=True) if arm_col and arm_col in df.columns
              else [("all", df)])
    for name, sub in groups:
        sub = sub.reset_index(drop=True)
        sub.attrs.update(df.attrs)
        try:
            # Refits of resamples may overflow or leave a covariance undefined: counted, not printed.
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", optimize.OptimizeWarning)
                arms[name] = _arm(sub, metric, n_boot, seed, level, chance, margin, max_loss, ceiling,
                                  show_progress, compute)
        except UserError as err:
            skipped[name] = str(err)
    if not arms:
        raise UserError("; ".join(skipped.values()))
    out = {"form": "downstream", "metric": metric, "compute": compute,
           "arm_col": arm_col if len(arms) + len(skipped) > 1 else None,
           "arms": arms, "ci_level": level, "source": source}
    if skipped:
        out["skipped"] = skipped
    if len(arms) >= 2:
        out["comparisons"] = compare_arms(arms)
    return out
