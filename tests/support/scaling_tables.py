"""Results tables drawn from known laws plus noise: for recovery tests, benches and demos."""

from __future__ import annotations

import numpy as np
import pandas as pd

from slmscale.scaling import forms

PAPER_RATIOS = (2, 4, 8, 10, 20, 32, 64, 100)  # C&M token budgets D/N


def loss_table(params: dict, sizes=None, ratios=PAPER_RATIOS, noise: float = 0.01,
               seed: int = 0, epochs=None) -> pd.DataFrame:
    """A ladder of runs (every size x every D/N ratio) with multiplicative log-normal noise.

    `params` holds E, A, B, alpha, beta (and r_star_n, r_star_d when `epochs` is given:
    a list of epoch counts, each run repeated that many times over D/epochs unique tokens).
    """
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(2e6, 8e8, 8) if sizes is None else np.asarray(sizes, dtype=float)
    rows = []
    for n in sizes:
        for r in ratios:
            for ep in (epochs or [1]):
                rows.append((n, n * r, ep))
    N, D, ep = (np.array(c, dtype=float) for c in zip(*rows))
    base = {k: params[k] for k in forms.LOSS_PARAMS}
    if epochs:
        L = forms.data_constrained_loss(N, D, D / ep, **base, r_star_n=params["r_star_n"],
                                        r_star_d=params["r_star_d"])
    else:
        L = forms.chinchilla_loss(N, D, **base)
    L = L * np.exp(rng.normal(0.0, noise, len(L)))
    return pd.DataFrame({"run_id": [f"r{i:03d}" for i in range(len(N))], "params": N, "tokens": D,
                         "flops": 6 * N * D, "epochs": ep, "loss": L, "status": "finished"})


def downstream_table(gamma: float, k: float, sizes=None, ratios=PAPER_RATIOS, noise: float = 0.005,
                     seed: int = 0, arm: str = "speech", metric: str = "sblimp") -> pd.DataFrame:
    """Runs whose best-per-FLOP metric follows k C^gamma, with worse (under-trained) runs inside."""
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(2e6, 8e8, 6) if sizes is None else np.asarray(sizes, dtype=float)
    N = np.repeat(sizes, len(ratios))
    D = N * np.tile(np.asarray(ratios, dtype=float), len(sizes))
    C = 6 * N * D
    # Off-optimal allocations lose a little: distance from D/N = 20 in log space.
    penalty = 0.01 * np.abs(np.log(D / N / 20.0))
    q = forms.power_law(C, k, gamma) * np.exp(-penalty + rng.normal(0.0, noise, len(C)))
    return pd.DataFrame({"run_id": [f"{arm}{i:03d}" for i in range(len(C))], "arm": arm,
                         "params": N, "tokens": D, "flops": C, metric: q,
                         "loss": 2.0 * C ** -0.02, "status": "finished"})


SPEECH_LAW = {"E": 1.73, "A": 13.9, "B": 39.8, "alpha": 0.25, "beta": 0.24}  # C&M speech units


def arm_runs(arm: str, gammas: dict[str, float], loss: dict | None = None, q0: float = 0.55,
             sizes=None, ratios=(2, 5, 10, 20, 50, 100, 200), noise: float = 0.003,
             loss_noise: float = 0.005, seed: int = 0, c0: float = 1.2e9,
             embed_share: float = 0.2) -> pd.DataFrame:
    """One arm's ladder (sizes x D/N ratios, single epoch) for the findings tests.

    Loss follows the Chinchilla law `loss` (default: C&M's speech units); each metric's envelope
    follows q0 (C/c0)^gamma, with off-optimal allocations a little worse (distance from D/N = 20)
    and log-normal noise. `flops_full` adds `embed_share` for embeddings, head and attention.
    """
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(1e4, 1e5, 4) if sizes is None else np.asarray(sizes, dtype=float)
    N = np.repeat(sizes, len(ratios))
    D = N * np.tile(np.asarray(ratios, dtype=float), len(sizes))
    C = 6 * N * D
    law = {**SPEECH_LAW, **(loss or {})}
    L = forms.chinchilla_loss(N, D, **law) * np.exp(rng.normal(0.0, loss_noise, len(C)))
    penalty = 0.01 * np.abs(np.log(D / N / 20.0))
    cols = {"run_id": [f"{arm}{i:03d}" for i in range(len(C))], "arm": arm, "params": N,
            "params_total": N * (1 + embed_share), "tokens": D, "flops": C,
            "flops_full": C * (1 + embed_share), "epochs": 1.0, "loss": L, "status": "finished"}
    for metric, gamma in gammas.items():
        cols[metric] = q0 * (C / c0) ** gamma * np.exp(-penalty + rng.normal(0.0, noise, len(C)))
    return pd.DataFrame(cols)


def findings_table(arms: dict[str, dict]) -> pd.DataFrame:
    """Several arms' ladders in one results table: arm name -> keyword arguments of `arm_runs`."""
    return pd.concat([arm_runs(name, **kw) for name, kw in arms.items()], ignore_index=True)
