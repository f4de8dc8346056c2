"""Answers from fits: the compute-optimal plan for a budget, and the compute for a target metric.

Intervals come from the bootstrap samples stored in the fit records (each sample is pushed
through the same computation; percentiles of the results). Published fits have no samples,
so their answers carry no interval.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from slmscale.errors import UserError
from slmscale.scaling import forms
from slmscale.scaling.fitfile import loss_samples
from slmscale.stats import percentile_interval


def _ci(values, level):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return list(percentile_interval(v, level)) if len(v) else None


def refuse_degenerate(record: dict, what: str) -> None:
    """A fit that trips its own warnings (E ~ 0, exponents out of range, intervals > 10x, a ladder
    under a decade) is not extrapolated from: one line saying why."""
    notes = record.get("warnings") or []
    if notes:
        raise UserError(f"not extrapolating from {what}: it is degenerate ({'; '.join(notes)})")


def plan_flops(record: dict, flops: float, level: float = 0.95) -> dict:
    """N_opt, D_opt, tokens per parameter and predicted loss at budget `flops` (C = 6ND)."""
    if not flops > 0:
        raise UserError("--flops must be positive (e.g. 1e21)")
    refuse_degenerate(record, "this loss fit")
    p = {k: float(record[k]) for k in forms.LOSS_PARAMS}
    n = float(forms.n_opt(flops, p["A"], p["B"], p["alpha"], p["beta"]))
    d = float(forms.d_opt(flops, p["A"], p["B"], p["alpha"], p["beta"]))
    out = {"flops": flops, "n_opt": n, "d_opt": d, "tokens_per_param": d / n,
           "loss": float(forms.chinchilla_loss(n, d, **p)), "a": record["a"], "b": record["b"],
           "form": record.get("form", "chinchilla"), "ci_level": level, "ci": {}}
    if record.get("form") == "data-constrained":
        out["note"] = "plan assumes unique data (single epoch): the data-constrained terms do not apply"
    s = loss_samples(record)
    if s is not None and len(s):
        E, A, B, al, be = s.T
        ns, ds = forms.n_opt(flops, A, B, al, be), forms.d_opt(flops, A, B, al, be)
        out["ci"] = {"n_opt": _ci(ns, level), "d_opt": _ci(ds, level),
                     "tokens_per_param": _ci(ds / ns, level),
                     "loss": _ci(forms.chinchilla_loss(ns, ds, E, A, B, al, be), level)}
    return out


def flops_for_loss(params: dict, target_loss: float) -> float:
    """Smallest compute whose compute-optimal loss reaches `target_loss` (inf if <= E)."""
    if target_loss <= params["E"]:
        return float("inf")

    def gap(logc):
        return float(forms.optimal_loss(np.exp(logc), **params)) - target_loss

    lo, hi = np.log(1e6), np.log(1e40)
    if gap(lo) <= 0:
        return float(np.exp(lo))
    if gap(hi) > 0:
        return float("inf")
    return float(np.exp(brentq(gap, lo, hi, xtol=1e-10)))


def parse_target(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        pass
    raise UserError(f"--target {text!r}: expected METRIC=VALUE, e.g. --target sblimp=0.70")


def _arm(record: dict, arm: str | None) -> tuple[str, dict]:
    arms = record["arms"]
    if arm is None:
        if len(arms) > 1:
            raise UserError(f"the downstream fit has arms {', '.join(arms)}; choose one with --arm")
        arm = next(iter(arms))
    if arm not in arms:
        raise UserError(f"arm {arm!r} not in the downstream fit (have: {', '.join(arms)})")
    return arm, arms[arm]


def target_via_compute(downstream: dict, metric: str, value: float, arm: str | None = None,
                       level: float = 0.95) -> dict:
    """Compute for metric = value from the metric-vs-compute law Q = k C^gamma."""
    _check_metric(downstream, metric)
    arm, law = _arm(downstream, arm)
    refuse_degenerate(law, f"the {metric} law of arm {arm!r}")
    if "k" not in law:
        raise UserError(f"the downstream fit for arm {arm!r} has only the exponent (published "
                        "numbers); absolute compute needs a fit of your own runs")
    flops = (value / law["k"]) ** (1.0 / law["gamma"])
    out = {"metric": metric, "value": value, "arm": arm, "via": "metric-vs-compute power law",
           "flops": float(flops), "compute": law.get("compute", downstream.get("compute", "flops")),
           "ci_level": level, "ci": {}}
    sat = law.get("vs_compute", {}).get("saturating", {})
    if "q_inf" in sat and value >= sat["q_inf"]:
        out["warning"] = (f"the saturating alternative levels off at {sat['q_inf']:.3f}; "
                          f"{value} may never be reached")
    samples = law.get("bootstrap", {}).get("samples", {})
    if "k" in samples and "gamma" in samples:
        k, g = np.asarray(samples["k"]), np.asarray(samples["gamma"])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out["ci"]["flops"] = _ci(np.where(g > 0, (value / k) ** (1.0 / g), np.inf), level)
    return out


def target_via_loss(loss_record: dict, downstream: dict, metric: str, value: float,
                    arm: str | None = None, level: float = 0.95) -> dict:
    """Compute for metric = value: metric -> loss by the linear map, loss -> compute by L(N, D)."""
    _check_metric(downstream, metric)
    arm, law = _arm(downstream, arm)
    refuse_degenerate(loss_record, "this loss fit")
    lin = law.get("vs_loss", {})
    if "slope" not in lin:
        raise UserError(f"the downstream fit for arm {arm!r} has no metric-vs-loss map "
                        f"({lin.get('skipped', 'no loss column')})")
    if lin["slope"] >= 0:
        raise UserError(f"metric '{metric}' does not improve as loss falls (slope {lin['slope']:.3g})")
    params = {k: float(loss_record[k]) for k in forms.LOSS_PARAMS}
    target_loss = (value - lin["intercept"]) / lin["slope"]
    flops = flops_for_loss(params, target_loss)
    out = {"metric": metric, "value": value, "arm": arm, "via": "metric-vs-loss map + loss law",
           "target_loss": float(target_loss), "flops": flops, "ci_level": level, "ci": {}}
    if not np.isfinite(flops):
        out["warning"] = (f"target loss {target_loss:.4g} is at or below the irreducible loss "
                          f"E = {params['E']:.4g}: unreachable under this law")
    else:
        out["n_opt"] = float(forms.n_opt(flops, params["A"], params["B"], params["alpha"], params["beta"]))
        out["d_opt"] = float(forms.d_opt(flops, params["A"], params["B"], params["alpha"], params["beta"]))
    s = loss_samples(loss_record)
    lin_s = law.get("bootstrap", {}).get("samples", {})
    if s is not None and len(s) and "slope" in lin_s:
        m = min(len(s), len(lin_s["slope"]))
        sl, ic = np.asarray(lin_s["slope"][:m]), np.asarray(lin_s["intercept"][:m])
        cs = [flops_for_loss(dict(zip(forms.LOSS_PARAMS, s[i])), (value - ic[i]) / sl[i])
              if sl[i] < 0 else np.inf for i in range(m)]
        # Order statistics, so unreachable samples (inf) count as "more than any budget".
        srt = np.sort(np.asarray(cs, float))
        pick = [srt[int(np.floor(q * (m - 1)))] for q in ((1 - level) / 2, (1 + level) / 2)]
        out["ci"]["flops"] = [float(v) for v in pick]
        out["ci"]["fraction_unreachable"] = float(np.mean(~np.isfinite(cs)))
    return out


def _check_metric(downstream: dict, metric: str) -> None:
    if downstream.get("form") != "downstream":
        raise UserError("--target needs a downstream fit (slmscale fit downstream ... --out DS.json)")
    if downstream.get("metric") not in (None, metric):
        raise UserError(f"the downstream fit is for metric '{downstream['metric']}', not '{metric}'")
