"""Chinchilla approach 1: the envelope (Pareto frontier) of minimal loss per FLOP.

Points come from training curves (every evaluation of every run: the envelope then follows
the best model at each compute, as in Cuervo & Marxer Fig. 1) or from final results only.
The frontier is fitted with a power law L = k C^gamma (log-log least squares), and, when the
frontier points carry model sizes, N_opt ∝ C^a and D_opt ∝ C^b.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from slmscale.artifacts import iter_jsonl
from slmscale.errors import UserError

LOSS_KEYS = ("valid_loss", "val_loss", "eval_loss", "loss")


def loglog_fit(x, y) -> dict:
    """y = k x^p by least squares in log-log space: k, exponent p, R², residuals."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("a power law needs at least two distinct x values")
    res = stats.linregress(lx, ly)
    resid = ly - (res.intercept + res.slope * lx)
    return {"k": float(np.exp(res.intercept)), "exponent": float(res.slope),
            "r2": float(res.rvalue**2) if len(lx) > 2 else None,  # two points: a line, no fit quality
            "rmse_log": float(np.sqrt(np.mean(resid**2))), "n": int(len(lx))}


def frontier(flops, values, maximize: bool = False) -> np.ndarray:
    """Indices of the Pareto frontier: points better than every point of less or equal compute."""
    flops = np.asarray(flops, dtype=float)
    v = np.asarray(values, dtype=float) * (-1.0 if maximize else 1.0)
    order = np.lexsort((v, flops))
    keep, best = [], np.inf
    for i in order:
        if v[i] < best:
            keep.append(i)
            best = v[i]
    return np.array(keep, dtype=int)


def read_curves(run_dirs: list[str | Path], loss_key: str | None = None) -> pd.DataFrame:
    """Training curves of runs: RUN/metrics.jsonl rows with a loss and flops (or tokens).

    N comes from RUN/summary.json `params`; flops = 6 N tokens when a row lacks `flops`.
    Returns columns run_id, params, tokens, flops, loss.
    """
    rows = []
    for run in map(Path, run_dirs):
        metrics, summary = run / "metrics.jsonl", run / "summary.json"
        if not metrics.is_file() or not summary.is_file():
            raise UserError(f"{run}: expected metrics.jsonl and summary.json (a finished run dir)")
        info = json.loads(summary.read_text())
        if "params" not in info:
            raise UserError(f"{summary}: no 'params' field")
        n = float(info["params"])
        for _, rec in iter_jsonl(metrics):
            keys = [loss_key] if loss_key else LOSS_KEYS
            key = next((k for k in keys if rec.get(k) is not None), None)
            if key is None or ("flops" not in rec and "tokens" not in rec):
                continue  # e.g. a throughput-only line
            tokens = float(rec.get("tokens", np.nan))
            flops = float(rec["flops"]) if rec.get("flops") else 6.0 * n * tokens
            rows.append((info.get("run_id", run.name), n, tokens, flops, float(rec[key])))
    if not rows:
        raise UserError("no loss evaluations with flops or tokens found in the runs' metrics.jsonl")
    df = pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops", "loss"])
    return df[(df["flops"] > 0) & (df["loss"] > 0)].reset_index(drop=True)


def fit(df: pd.DataFrame, min_points: int = 3, n_boot: int = 0, seed: int = 0,
        level: float = 0.95, show_progress: bool = False) -> dict:
    """Envelope of minimal loss per FLOP and its power law (+ N_opt, D_opt laws if sizes vary).

    With n_boot > 0, percentile intervals of gamma and k: whole runs are resampled (all of a run's
    curve points together, since they are not independent), the frontier rebuilt and refitted.
    """
    out = _fit(df, min_points)
    if n_boot > 0:
        from slmscale.scaling import bootstrap

        groups = df["run_id"].astype(str).to_numpy() if "run_id" in df.columns else np.arange(len(df)).astype(str)
        names = np.unique(groups)
        members = [np.flatnonzero(groups == g) for g in names]

        def refit(idx):
            rows = np.concatenate([members[i] for i in idx])
            e = frontier(df["flops"].to_numpy()[rows], df["loss"].to_numpy()[rows])
            if len(e) < min_points:
                raise ValueError("too few envelope points in the resample")
            law = loglog_fit(df["flops"].to_numpy()[rows][e], df["loss"].to_numpy()[rows][e])
            return {"gamma": law["exponent"], "k": law["k"]}

        cis, samples, failed = bootstrap.generic(len(names), refit, n_boot, seed, level, show_progress)
        out["ci"], out["ci_level"] = cis, level
        out["bootstrap"] = {"n": n_boot, "seed": seed, "failed": failed, "unit": "run",
                            "samples": {k: v.tolist() for k, v in samples.items()}}
    return out


def _fit(df: pd.DataFrame, min_points: int) -> dict:
    idx = frontier(df["flops"], df["loss"])
    if len(idx) < min_points:
        raise UserError(f"{df.attrs.get('source', 'results')}: the loss envelope has {len(idx)} "
                        f"point(s); a power-law fit needs at least {min_points}")
    env = df.iloc[idx]
    law = loglog_fit(env["flops"], env["loss"])
    out = {"form": "envelope", "k": law["k"], "gamma": law["exponent"], "r2": law["r2"],
           "rmse_log": law["rmse_log"], "n_points": int(len(df)), "n_envelope": int(len(idx)),
           "envelope": {c: env[c].tolist() for c in ("flops", "loss", "params") if c in env}}
    if "params" in env and env["params"].nunique() >= 2:
        n_law = loglog_fit(env["flops"], env["params"])
        out["a"] = n_law["exponent"]
        out["n_opt_k"] = n_law["k"]
        out["b"] = 1.0 - n_law["exponent"]  # D = C / (6N)
    return out


def predict(fit_: dict, flops) -> np.ndarray:
    return fit_["k"] * np.asarray(flops, dtype=float) ** fit_["gamma"]
