"""Chinchilla approach 2: IsoFLOP profiles.

Runs are grouped into compute budgets (log10 FLOPs within `tol_dex`). Per budget with at
least three model sizes, loss is fitted by a parabola in log N; its vertex is the optimal
N* (D* = C / 6N*). Power laws N_opt = k_N C^a and D_opt = k_D C^b are fitted over budgets.
A budget whose parabola opens downwards has no minimum and is skipped with its reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from slmscale.errors import UserError
from slmscale.scaling.envelope import loglog_fit
from slmscale.scaling.table import budget_groups


def profile(df: pd.DataFrame, tol_dex: float = 0.05) -> tuple[list[dict], list[dict]]:
    """(budgets with their parabola and optimum, skipped budgets with reasons)."""
    groups = budget_groups(df["flops"].to_numpy(), tol_dex)
    done, skipped = [], []
    for g in np.unique(groups):
        sub = df[groups == g]
        C = float(np.exp(np.mean(np.log(sub["flops"]))))
        if sub["params"].nunique() < 3:
            skipped.append({"flops": C, "reason": f"{sub['params'].nunique()} model size(s); need 3"})
            continue
        x = np.log(sub["params"].to_numpy())
        c2, c1, c0 = np.polyfit(x, sub["loss"].to_numpy(), 2)
        if c2 <= 0:
            skipped.append({"flops": C, "reason": "loss is not convex in log N (no minimum)"})
            continue
        x_star = -c1 / (2 * c2)
        n_star = float(np.exp(x_star))
        done.append({"flops": C, "n_opt": n_star, "d_opt": C / (6 * n_star),
                     "loss_opt": float(c0 + c1 * x_star + c2 * x_star**2),
                     "coef": [float(c2), float(c1), float(c0)], "n_runs": int(len(sub)),
                     "inside": bool(x.min() <= x_star <= x.max())})
    return done, skipped


def fit(df: pd.DataFrame, tol_dex: float = 0.05) -> dict:
    """IsoFLOP optima and the power laws N_opt(C), D_opt(C)."""
    done, skipped = profile(df, tol_dex)
    if len(done) < 2:
        reasons = "; ".join(f"{s['flops']:.3g} FLOPs: {s['reason']}" for s in skipped) or "none"
        raise UserError(f"{df.attrs.get('source', 'results')}: {len(done)} usable IsoFLOP budget(s); "
                        f"need at least 2 budgets with 3+ model sizes each (skipped: {reasons})")
    C = [b["flops"] for b in done]
    n_law = loglog_fit(C, [b["n_opt"] for b in done])
    d_law = loglog_fit(C, [b["d_opt"] for b in done])
    return {"form": "isoflop", "a": n_law["exponent"], "b": d_law["exponent"],
            "n_opt_k": n_law["k"], "d_opt_k": d_law["k"], "r2_n": n_law["r2"], "r2_d": d_law["r2"],
            "budgets": done, "skipped": skipped, "n_points": int(len(df))}


def n_opt(fit_: dict, flops) -> np.ndarray:
    return fit_["n_opt_k"] * np.asarray(flops, dtype=float) ** fit_["a"]
