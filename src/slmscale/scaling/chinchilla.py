"""Chinchilla approach 3: robust fit of L(N, D) = E + A/N^alpha + B/D^beta.

Minimise sum_i Huber_delta(LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i) over
theta = (a, b, e, alpha, beta) with E = exp(e), A = exp(a), B = exp(b), by L-BFGS from the
grid of starts alpha, beta in {0, .5, .., 2}, e in {-1, -.5, .., 1}, a, b in {0, 5, .., 25}.

Speed: the objective and its analytic gradient are numpy-vectorised over points, and the
4,500-start grid is first scored in one vectorised pass; only the best `refine` starts go
through L-BFGS (the full grid is available with refine=None, for checking the pruning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from slmscale.scaling import forms

GRID = {
    "alpha": np.arange(0.0, 2.01, 0.5),
    "beta": np.arange(0.0, 2.01, 0.5),
    "e": np.arange(-1.0, 1.01, 0.5),
    "a": np.arange(0.0, 25.01, 5.0),
    "b": np.arange(0.0, 25.01, 5.0),
}
DEFAULT_DELTA = 1e-3
MIN_POINTS = 6  # five free parameters plus one
_LBFGS = {"maxiter": 2000, "gtol": 1e-9, "ftol": 1e-14}


def grid_starts() -> np.ndarray:
    """All grid starts as rows (a, b, e, alpha, beta)."""
    g = np.meshgrid(GRID["a"], GRID["b"], GRID["e"], GRID["alpha"], GRID["beta"], indexing="ij")
    return np.stack([x.ravel() for x in g], axis=1)


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    absr = np.abs(r)
    value = np.where(absr <= delta, 0.5 * r * r, delta * (absr - 0.5 * delta))
    return value, np.clip(r, -delta, delta)


def objective(theta: np.ndarray, x: np.ndarray, y: np.ndarray, logl: np.ndarray,
              delta: float, weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Huber-on-log-LSE objective and its gradient at one theta.

    Scaled by 1/(n delta^2) so that L-BFGS tolerances mean the same for any delta and n;
    the minimiser is that of the plain sum. `weights` (bootstrap multiplicities) multiply points.
    """
    a, b, e, alpha, beta = theta
    z0 = a - alpha * x
    z1 = b - beta * y
    m = np.maximum(np.maximum(z0, z1), e)
    p0, p1, p2 = np.exp(z0 - m), np.exp(z1 - m), np.exp(e - m)
    s = p0 + p1 + p2
    r = m + np.log(s) - logl
    h, dh = _huber(r, delta)
    if weights is not None:
        h, dh = h * weights, dh * weights
    scale = 1.0 / (len(x) * delta * delta)
    dh = dh / s
    g0, g1 = dh * p0, dh * p1
    grad = np.array([g0.sum(), g1.sum(), (dh * p2).sum(), -(g0 * x).sum(), -(g1 * y).sum()])
    return float(h.sum() * scale), grad * scale


def objective_many(thetas: np.ndarray, x: np.ndarray, y: np.ndarray, logl: np.ndarray,
                   delta: float) -> np.ndarray:
    """Objective values at many thetas at once (rows), for scoring the start grid."""
    a, b, e, alpha, beta = (thetas[:, i : i + 1] for i in range(5))
    z = np.stack([a - alpha * x, b - beta * y, np.broadcast_to(e, (len(thetas), len(x)))])
    lse = np.logaddexp.reduce(z, axis=0)
    h, _ = _huber(lse - logl, delta)
    return h.sum(axis=1) / (len(x) * delta * delta)


def refine(theta0: np.ndarray, x, y, logl, delta: float, weights=None):
    """One L-BFGS run from theta0; returns scipy's OptimizeResult."""
    return minimize(objective, theta0, args=(x, y, logl, delta, weights), jac=True,
                    method="L-BFGS-B", options=_LBFGS)


@dataclass
class LossFit:
    """A fitted (or published) Chinchilla loss law."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    huber_delta: float = DEFAULT_DELTA
    n_points: int = 0
    objective: float = float("nan")
    converged: bool = True
    form: str = "chinchilla"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_theta(cls, theta, **kw) -> "LossFit":
        a, b, e, alpha, beta = (float(v) for v in theta)
        return cls(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=alpha,
                   beta=beta, **kw)

    @property
    def theta(self) -> np.ndarray:
        # A fit whose E (or A, B) underflowed to 0 keeps a finite log, so refits can warm-start from it.
        logs = np.log(np.maximum([self.A, self.B, self.E], np.finfo(float).tiny))
        return np.array([*logs, self.alpha, self.beta])

    @property
    def params(self) -> dict:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}

    def predict(self, N, D):
        return forms.chinchilla_loss(N, D, **self.params)

    def n_opt(self, C):
        return forms.n_opt(C, self.A, self.B, self.alpha, self.beta)

    def d_opt(self, C):
        return forms.d_opt(C, self.A, self.B, self.alpha, self.beta)

    def to_dict(self) -> dict:
        out = {"form": self.form, **self.params, **forms.derived(self.params),
               "n_points": self.n_points, "huber_delta": self.huber_delta,
               "objective": self.objective, "converged": self.converged}
        out.update(self.extra)
        return out


def fit_arrays(N, D, L, delta: float = DEFAULT_DELTA, refine_top: int | None = 24) -> LossFit:
    """Fit the Chinchilla law to arrays of params, tokens and loss (all positive)."""
    x, y, logl = np.log(N), np.log(D), np.log(L)
    starts = grid_starts()
    if refine_top is not None and refine_top < len(starts):
        scores = objective_many(starts, x, y, logl, delta)
        starts = starts[np.argsort(scores, kind="stable")[:refine_top]]
    best = None
    for theta0 in starts:
        res = refine(theta0, x, y, logl, delta)
        if np.all(np.isfinite(res.x)) and (best is None or res.fun < best.fun):
            best = res
    return LossFit.from_theta(best.x, huber_delta=delta, n_points=len(x), objective=float(best.fun),
                              converged=bool(best.success))


def fit(df, delta: float = DEFAULT_DELTA, refine_top: int | None = 24) -> LossFit:
    """Fit a validated results table (see `table.prepare`)."""
    from slmscale.errors import UserError

    if len(df) < MIN_POINTS:
        raise UserError(f"{df.attrs.get('source', 'results')}: {len(df)} run(s); the Chinchilla "
                        f"form has 5 parameters and needs at least {MIN_POINTS}")
    if df["params"].nunique() < 2 or df["tokens"].nunique() < 2:
        raise UserError(f"{df.attrs.get('source', 'results')}: runs must vary both params and "
                        "tokens (at least 2 distinct values each) to separate the N and D terms")
    return fit_arrays(df["params"].to_numpy(), df["tokens"].to_numpy(), df["loss"].to_numpy(),
                      delta=delta, refine_top=refine_top)

