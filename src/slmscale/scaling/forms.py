"""Functional forms of the scaling laws and their compute-optimal consequences.

Chinchilla:        L(N, D) = E + A / N^alpha + B / D^beta
Compute optimum (C = 6ND):  N_opt = G (C/6)^a,  D_opt = G^-1 (C/6)^b,
                   G = (alpha A / (beta B))^(1/(alpha+beta)),  a = beta/(alpha+beta),  b = alpha/(alpha+beta)
Data-constrained (Muennighoff et al. 2023): N, D replaced by the effective N', D' below.
Power law:         Q(C) = k C^gamma            (envelopes; downstream vs compute)
Saturating:        Q(C) = Q_inf - k C^(-lam)   (downstream alternative that levels off at Q_inf)
"""

from __future__ import annotations

import numpy as np

LOSS_PARAMS = ("E", "A", "B", "alpha", "beta")


def chinchilla_loss(N, D, E, A, B, alpha, beta):
    """Predicted loss at N parameters trained on D tokens."""
    N = np.asarray(N, dtype=float)
    D = np.asarray(D, dtype=float)
    return E + A / N**alpha + B / D**beta


def optimal_exponents(alpha, beta):
    """(a, b): N_opt ∝ C^a and D_opt ∝ C^b."""
    s = np.asarray(alpha) + np.asarray(beta)
    return np.asarray(beta) / s, np.asarray(alpha) / s


def g_constant(A, B, alpha, beta):
    """G = (alpha A / (beta B))^(1/(alpha+beta)); minimises L(N, C/(6N)) at N = G (C/6)^a."""
    return (np.asarray(alpha) * A / (np.asarray(beta) * B)) ** (1.0 / (np.asarray(alpha) + beta))


def n_opt(C, A, B, alpha, beta):
    a, _ = optimal_exponents(alpha, beta)
    return g_constant(A, B, alpha, beta) * (np.asarray(C, dtype=float) / 6.0) ** a


def d_opt(C, A, B, alpha, beta):
    _, b = optimal_exponents(alpha, beta)
    return (np.asarray(C, dtype=float) / 6.0) ** b / g_constant(A, B, alpha, beta)


def optimal_loss(C, E, A, B, alpha, beta):
    """Loss on the compute-optimal frontier at budget C."""
    return chinchilla_loss(n_opt(C, A, B, alpha, beta), d_opt(C, A, B, alpha, beta),
                           E, A, B, alpha, beta)


def effective_data(D, unique_D, r_star_d):
    """Muennighoff D' = U + U R* (1 - exp(-R/R*)), R = D/U - 1 repeated epochs beyond the first."""
    D = np.asarray(D, dtype=float)
    U = np.minimum(np.asarray(unique_D, dtype=float), D)
    R = D / U - 1.0
    return U + U * r_star_d * (1.0 - np.exp(-R / r_star_d))


def unique_params(N, unique_D, A, B, alpha, beta):
    """U_N = min(N, the compute-optimal N for a budget whose optimal D is U_D)."""
    a, b = optimal_exponents(alpha, beta)
    G = g_constant(A, B, alpha, beta)
    # D_opt = (C/6)^b / G = U_D  gives  (C/6) = (U_D G)^(1/b),  N_opt = G (C/6)^a.
    n_for_u = G * (np.asarray(unique_D, dtype=float) * G) ** (a / b)
    return np.minimum(np.asarray(N, dtype=float), n_for_u)


def effective_params(N, unique_D, A, B, alpha, beta, r_star_n):
    """Muennighoff N' = U_N + U_N R* (1 - exp(-R_N/R*)), R_N = N/U_N - 1 excess parameters."""
    N = np.asarray(N, dtype=float)
    U = unique_params(N, unique_D, A, B, alpha, beta)
    R = N / U - 1.0
    return U + U * r_star_n * (1.0 - np.exp(-R / r_star_n))


def data_constrained_loss(N, D, unique_D, E, A, B, alpha, beta, r_star_n, r_star_d):
    Np = effective_params(N, unique_D, A, B, alpha, beta, r_star_n)
    Dp = effective_data(D, unique_D, r_star_d)
    return chinchilla_loss(Np, Dp, E, A, B, alpha, beta)


def power_law(C, k, gamma):
    return k * np.asarray(C, dtype=float) ** gamma


def saturating(C, q_inf, k, lam):
    return q_inf - k * np.asarray(C, dtype=float) ** (-lam)


def derived(params: dict) -> dict:
    """a, b, G from the five loss parameters (added to every loss fit and published fit)."""
    a, b = optimal_exponents(params["alpha"], params["beta"])
    G = g_constant(params["A"], params["B"], params["alpha"], params["beta"])
    return {"a": float(a), "b": float(b), "G": float(G)}
