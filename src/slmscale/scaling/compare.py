"""Comparing two arms' downstream laws Q ∝ C^gamma (e.g. text LMs vs speech LMs).

A metric gain factor g costs compute g^(1/gamma). So the gain arm F gets from k× compute
needs k^(gamma_F/gamma_S) × compute in arm S: the exponent ratio is how many orders of
magnitude of compute S needs per order of magnitude F needs (Cuervo & Marxer: 0.066/0.021
≈ 3.1, "up to three orders of magnitude more slowly").
"""

from __future__ import annotations

import itertools

import numpy as np

from slmscale.stats import percentile_interval

KS = (10.0, 100.0, 1000.0)


def compare(gamma_fast: float, gamma_slow: float, name_fast: str = "A", name_slow: str = "B",
            samples_fast=None, samples_slow=None, level: float = 0.95, ks=KS) -> dict:
    """Exponent ratio, compute multipliers k -> k^ratio, sentences, and a bootstrap CI."""
    if gamma_fast <= 0 or gamma_slow <= 0:
        raise ValueError("exponent ratios need positive exponents (metrics that improve with compute)")
    ratio = gamma_fast / gamma_slow
    out = {
        "fast": name_fast, "slow": name_slow, "gamma_fast": gamma_fast, "gamma_slow": gamma_slow,
        "exponent_ratio": ratio,
        "compute_multiplier": {f"{k:g}": float(k**ratio) for k in ks},
        "paper_statement": f"{name_slow} scales about {ratio:.1f}x more slowly than {name_fast}: "
                           f"each order of magnitude of compute for {name_fast} takes about "
                           f"{ratio:.1f} orders of magnitude for {name_slow}",
        "exact_statement": f"a {ks[0]:g}x compute gain for {name_fast} needs {ks[0]:g}^"
                           f"({gamma_fast:.4g}/{gamma_slow:.4g}) = {ks[0] ** ratio:.4g}x "
                           f"compute for {name_slow}",
    }
    if samples_fast is not None and samples_slow is not None:
        m = min(len(samples_fast), len(samples_slow))
        sf, ss = np.asarray(samples_fast[:m], float), np.asarray(samples_slow[:m], float)
        ok = (sf > 0) & (ss > 0)
        if ok.any():
            out["exponent_ratio_ci"] = list(percentile_interval(sf[ok] / ss[ok], level))
            out["ci_level"] = level
    return out


def compare_arms(arms: dict, level: float = 0.95) -> list[dict]:
    """Every pair of arms, the faster-scaling (larger gamma) arm first."""
    out = []
    for x, y in itertools.combinations(sorted(arms), 2):
        fast, slow = (x, y) if arms[x]["gamma"] >= arms[y]["gamma"] else (y, x)
        sf = arms[fast].get("bootstrap", {}).get("samples", {}).get("gamma")
        ss = arms[slow].get("bootstrap", {}).get("samples", {}).get("gamma")
        try:
            out.append(compare(arms[fast]["gamma"], arms[slow]["gamma"], fast, slow, sf, ss, level))
        except ValueError as err:
            out.append({"fast": fast, "slow": slow, "skipped": str(err)})
    return out


MATCH_TOLERANCE = 0.02  # equal compute: within 2% (DESIGN: arms compared at equal full FLOPs)


def match_equal_compute(runs: list[dict], partners: list[dict], key: str = "flops_full",
                        tol: float = MATCH_TOLERANCE, same: tuple[str, ...] = ("seed",)) -> list[dict]:
    """Pair each run with the partner run of the nearest compute `key` (log distance), among
    partners that agree on the `same` fields. A pair is `matched` when the two computes differ by
    at most `tol` (relative); otherwise the nearest partner is still named, with its ratio, so a
    table shows how far from equal compute it is. Runs without the key get no partner."""
    out = []
    for r in runs:
        c = r.get(key)
        cands = [p for p in partners if p.get(key) and all(p.get(f) == r.get(f) for f in same)]
        if not c or not cands:
            out.append({"run": r, "partner": None, "ratio": None, "matched": False})
            continue
        # Nearest compute; among equally near partners, the same model size.
        p = min(cands, key=lambda q: (round(abs(float(np.log(q[key] / c))), 9),
                                      q.get("preset") != r.get("preset")))
        ratio = float(c / p[key])
        out.append({"run": r, "partner": p, "ratio": ratio, "matched": bool(abs(ratio - 1.0) <= tol)})
    return out
