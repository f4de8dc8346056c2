"""Building blocks of the findings (see `findings.py`): the cleaned results table, which arm plays
which role, a stratified bootstrap, ratio intervals that survive exponents near 0, the gap between
two arms' metric envelopes at equal compute, and the surface-baseline floor of a metric.

Pure numpy/pandas; the fits themselves come from `envelope`, `downstream`, `chinchilla`, `isoflop`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from slmscale.errors import UserError
from slmscale.scaling.downstream import CHANCE, MARGIN
from slmscale.scaling.envelope import frontier
from slmscale.stats import binomial_half_width, percentile_interval

ROLES = ("speech", "text", "unigram", "interleaved", "no_story")
# Arm names recognised for each role when the caller gives no mapping.
ROLE_ALIASES = {"speech": ("speech", "units", "textless"), "text": ("text",), "unigram": ("unigram",),
                "interleaved": ("interleaved",), "no_story": ("no_story", "nostory", "no-story")}
ROLE_HINT = {
    "speech": "a textless SLM arm on speech units (kind: units)",
    "text": "a text LM arm on the transcripts (kind: text)",
    "unigram": "a unigram-unit SLM arm (kind: unigram)",
    "interleaved": "an interleaved SLM arm started from the text arm (kind: interleaved)",
    "no_story": "a 'no_story' units arm: the same sentences shuffled across stories, same voices "
                "and compute (`slmscale synth corpus --no-story`)",
}
KIND_ROLE = {"units": "speech", "text": "text", "unigram": "unigram", "interleaved": "interleaved"}
NUMERIC = ("params", "params_total", "tokens", "flops", "flops_full", "epochs", "loss",
           "init_flops", "flops_total")
# Benchmark audits key results by task name; the results table by column.
TASK_NAMES = {"ssc": "sstorycloze", "tsc": "tstorycloze"}
FAILURES = (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError, UserError)


def clean_table(df: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Finished runs with numeric columns; `flops` = 6·N·D where missing. Needs an `arm` column."""
    missing = [c for c in ("arm", "params", "tokens") if c not in df.columns]
    if missing:
        raise UserError(f"results table: missing column(s) {', '.join(missing)}; the findings need "
                        "arm, params, tokens (and loss / metric columns)")
    out = df.copy()
    if "status" in out.columns:
        status = out["status"].astype(str).str.strip().str.lower()
        out = out[status.isin(["finished", "nan", ""])]
    out = out.reset_index(drop=True)
    for col in (*NUMERIC, *metrics):
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    derived = 6.0 * out["params"] * out["tokens"]
    out["flops"] = out["flops"].fillna(derived) if "flops" in out.columns else derived
    out["arm"] = out["arm"].astype(str)
    return out[(out["params"] > 0) & (out["tokens"] > 0) & (out["flops"] > 0)].reset_index(drop=True)


def resolve_roles(arms: list[str], roles: dict[str, str] | None = None,
                  kinds: dict[str, str] | None = None) -> dict[str, str]:
    """Role -> arm name. Explicit `roles` win; then arm kinds (from the study spec); then names."""
    out: dict[str, str] = {}
    for role, arm in (roles or {}).items():
        if role not in ROLES:
            raise UserError(f"findings: unknown role {role!r}; roles are {', '.join(ROLES)}")
        out[role] = arm
    for arm, kind in (kinds or {}).items():
        role = "no_story" if arm.lower() in ROLE_ALIASES["no_story"] else KIND_ROLE.get(kind)
        if role and role not in out:
            out[role] = arm
    for role in ROLES:
        if role not in out:
            hit = next((a for a in arms if a.lower() in ROLE_ALIASES[role]), None)
            if hit is not None:
                out[role] = hit
    return out


def stratified_bootstrap(sizes: dict[str, int], refit: Callable[[dict[str, np.ndarray]], dict],
                         n_boot: int, seed: int) -> tuple[dict[str, np.ndarray], int]:
    """Resample runs with replacement within each group (arm); `refit` gets one index array per
    group and returns numbers. Returns the samples per key and the number of failed refits."""
    rng = np.random.default_rng(seed)
    rows, failed = [], 0
    for _ in range(n_boot):
        idx = {g: rng.integers(0, n, n) for g, n in sizes.items()}
        try:
            with np.errstate(all="ignore"):  # a degenerate resample may overflow; it then fails
                rows.append(refit(idx))
        except FAILURES:
            failed += 1
    keys = rows[0].keys() if rows else []
    return {k: np.array([r[k] for r in rows], dtype=float) for k in keys}, failed


def interval(samples: np.ndarray | None, level: float) -> list[float] | None:
    if samples is None or not len(samples):
        return None
    lo, hi = percentile_interval(samples, level)
    return None if not (np.isfinite(lo) and np.isfinite(hi)) else [lo, hi]


def ratio(num: float, den: float) -> float:
    """num/den for exponents expected positive: +inf when only the denominator is <= 0, 0 when
    only the numerator is, nan when both are (no direction at all)."""
    if den > 0:
        return max(num, 0.0) / den
    return float("inf") if num > 0 else float("nan")


def ratio_interval(num: np.ndarray, den: np.ndarray, level: float) -> tuple[list[float] | None, int]:
    """Percentile interval of num/den over paired bootstrap samples (see `ratio`); bounds are
    sample values (no interpolation), so an infinite upper bound is reported as such.
    Returns the interval and the number of samples without a direction (both <= 0)."""
    m = min(len(num), len(den))
    if m == 0:
        return None, 0
    r = np.array([ratio(a, b) for a, b in zip(num[:m], den[:m])])
    ok = ~np.isnan(r)
    if not ok.any():
        return None, int(m)
    q = [50 * (1 - level), 50 * (1 + level)]
    lo = float(np.percentile(r[ok], q[0], method="lower"))
    hi = float(np.percentile(r[ok], q[1], method="higher"))
    return [lo, hi], int((~ok).sum())


def envelope_points(C: np.ndarray, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best-metric-per-FLOP frontier, sorted by compute."""
    idx = frontier(C, Q, maximize=True)
    order = np.argsort(C[idx], kind="stable")
    return C[idx][order], Q[idx][order]


def envelope_gap(ca: np.ndarray, qa: np.ndarray, cb: np.ndarray, qb: np.ndarray,
                 tol_dex: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Arm A's envelope minus arm B's at A's envelope computes inside B's compute range.

    B's envelope is interpolated linearly in log C between its points (a local power law), so
    arms whose runs sit at slightly different compute (e.g. a larger embedding table counted in
    full FLOPs) still compare at equal compute. Returns (compute, A - B) per evaluation point.
    """
    xa, ya = envelope_points(ca, qa)
    xb, yb = envelope_points(cb, qb)
    la, lb = np.log10(xa), np.log10(xb)
    inside = (la >= lb.min() - tol_dex) & (la <= lb.max() + tol_dex)
    if not inside.any():
        raise ValueError("the arms share no compute range")
    gap = ya[inside] - np.interp(la[inside], lb, yb)
    return xa[inside], gap


def gap_stats(c: np.ndarray, gap: np.ndarray) -> dict[str, float]:
    """Mean gap and, with 3+ points, its slope per decade of compute (least squares)."""
    out = {"mean_gap": float(np.mean(gap))}
    if len(c) >= 3 and np.ptp(np.log10(c)) > 0:
        out["slope"] = float(np.polyfit(np.log10(c), gap, 1)[0])
    return out


def floor_of(metric: str, baselines: dict | None) -> tuple[float, float, str]:
    """(level, half-width, source) of a metric's floor: chance (0.5) or its strongest surface
    baseline when higher (keyed by results column or task name, e.g. ssc or sstorycloze). The half-width is the baseline's interval (`ci`), else a binomial 95%
    interval from `n` items, else `downstream.MARGIN`."""
    entry = (baselines or {}).get(metric, (baselines or {}).get(TASK_NAMES.get(metric, metric)))
    if entry is None:
        return CHANCE, MARGIN, "chance"
    if isinstance(entry, dict):
        acc = float(entry.get("accuracy", entry.get("best", CHANCE)))
        if entry.get("ci"):
            lo, hi = (float(v) for v in entry["ci"][:2])
            half = (hi - lo) / 2
        elif entry.get("n"):
            half = binomial_half_width(acc, int(entry["n"]))
        else:
            half = MARGIN
    else:
        acc, half = float(entry), MARGIN
    if acc <= CHANCE:
        return CHANCE, half, "chance"
    return acc, half, "surface baseline"


def at_floor(best: float, metric: str, baselines: dict | None) -> str | None:
    """A reason string when the best score is within the floor's interval, else None."""
    level, half, source = floor_of(metric, baselines)
    if best <= level + half:
        return (f"metric at its surface baseline ({source} {level:.3f}): best {metric} {best:.3f} is "
                f"within {half:.3f} of it")
    return None
