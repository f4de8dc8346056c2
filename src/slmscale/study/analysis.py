"""The study's fits: per arm, the Chinchilla loss law (SCALING's robust fit + bootstrap), the loss
envelope power law, downstream metric vs compute (envelope, Q = k C^gamma), metric vs loss, the
text-vs-speech exponent ratio and the planner's answers. Writes DIR/fits.json.

Runs that did not finish (failed, diverged, interrupted) are excluded and listed under `excluded`
with their status and error, so the report says exactly what the fits stand on.
Every fit that cannot be made (too few points, no metric) is recorded with its reason, never
silently dropped.

Interleaved arms that start from a text arm's models get no L(N, D) fit: their loss is over a mixed
text/speech token stream and their models did not start from scratch, so neither the law's form
nor a comparison with speech-unit losses applies (the loss envelope is kept, per arm, labelled).
Instead `interleaved` compares them with each textless (units) arm run by run at equal training
compute (same N, same D), stating the compute both ways: training only, and training + the text
run's pre-training (see `compare_interleaved`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.errors import UserError
from slmscale.study.spec import CROSS_TASKS, SPEECH_TASKS, TASK_COLUMNS, TEXT_TASKS, StudySpec
from slmscale.study.store import finished_rows

METRICS = list(TASK_COLUMNS.values())
SPEECH_METRICS = [TASK_COLUMNS[t] for t in SPEECH_TASKS]
# Scores only a model that reads text and speech has: cross-modal StoryCloze and text versions.
MIXED_METRICS = [TASK_COLUMNS[t] for t in CROSS_TASKS + TEXT_TASKS]
MIXED_LOSS_NOTE = ("loss over a mixed text/speech token stream of a model started from a text LM: "
                   "not comparable with speech-unit losses, and no L(N, D) law from scratch applies")


def power_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """y = k x^gamma by least squares in log-log space, with R^2 (in log space)."""
    lx, ly = np.log(x), np.log(y)
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("need at least 2 distinct x values")
    gamma, logk = np.polyfit(lx, ly, 1)
    pred = logk + gamma * lx
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1 - float(np.sum((ly - pred) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    return {"k": float(math.exp(logk)), "gamma": float(gamma), "r2": r2, "n_points": int(len(x))}


def envelope(x: np.ndarray, y: np.ndarray, better: str = "min") -> tuple[np.ndarray, np.ndarray]:
    """Points that set a new best y as compute grows (the frontier of best y per FLOP)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    keep, best = [], math.inf if better == "min" else -math.inf
    for i, v in enumerate(ys):
        if (better == "min" and v < best) or (better == "max" and v > best):
            keep.append(i)
            best = v
    return xs[keep], ys[keep]


def curve_points(study_dir: Path, run_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(flops, held-out loss) of every evaluation in the runs' metrics.jsonl (scaling.envelope's
    reader); a run whose files are missing or unreadable contributes nothing."""
    from slmscale.scaling.envelope import read_curves

    xs, ys = [], []
    for rid in run_ids:
        run = study_dir / "runs" / rid / "run"
        try:
            df = read_curves([run])
        except UserError:
            continue
        xs.extend(df["flops"].tolist())
        ys.extend(df["loss"].tolist())
    return np.array(xs, dtype=float), np.array(ys, dtype=float)


def loss_fit(rows: list[dict[str, Any]], delta: float, n_boot: int, seed: int) -> dict[str, Any]:
    """SCALING's Chinchilla analysis (robust fit, goodness, hold-out of the largest budget, CIs)."""
    import pandas as pd

    from slmscale.scaling import loss

    df = pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops", "loss", "status"])
    rec = loss.analyze(df, "chinchilla", delta=delta, n_boot=n_boot, seed=seed, show_progress=False)
    boot = rec.pop("bootstrap", {})
    if boot:
        rec["bootstrap_failed"] = f"{boot['failed']} of {boot['n']}"
    samples = boot.get("samples")
    if samples:
        rec["_samples"] = np.column_stack([samples[k] for k in ("E", "A", "B", "alpha", "beta")])
    return rec


def _try(fn, *args, **kw) -> dict[str, Any]:
    try:
        return fn(*args, **kw)
    except (ValueError, RuntimeError, np.linalg.LinAlgError, UserError) as err:
        return {"error": str(err)}


def plan_answers(spec: StudySpec, fit: dict[str, Any], downstream: dict[str, Any]) -> list[dict]:
    from slmscale.scaling import forms

    answers = []
    samples = fit.get("_samples")
    for C in spec.questions.flops:
        if "error" in fit:
            answers.append({"flops": C, "error": fit["error"]})
            continue
        p = {k: fit[k] for k in ("E", "A", "B", "alpha", "beta")}
        ans = {"flops": C, "N": float(forms.n_opt(C, p["A"], p["B"], p["alpha"], p["beta"])),
               "D": float(forms.d_opt(C, p["A"], p["B"], p["alpha"], p["beta"])),
               "loss": float(forms.optimal_loss(C, **p))}
        if samples is not None and len(samples):
            E, A, B, al, be = samples.T
            with np.errstate(all="ignore"):
                ok = np.isfinite(samples).all(axis=1)
                for key, vals in (("N", forms.n_opt(C, A, B, al, be)), ("D", forms.d_opt(C, A, B, al, be)),
                                  ("loss", forms.optimal_loss(C, E, A, B, al, be))):
                    v = np.asarray(vals)[ok]
                    v = v[np.isfinite(v)]
                    if len(v):
                        ans[f"{key}_ci"] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
        answers.append(ans)
    for metric, target in spec.questions.targets.items():
        law = downstream.get(metric, {})
        if "gamma" not in law or law["gamma"] <= 0:
            answers.append({"target": f"{metric}={target}",
                            "error": law.get("error", "no increasing metric-vs-compute law")})
            continue
        C = (target / law["k"]) ** (1.0 / law["gamma"])
        answers.append({"target": f"{metric}={target}", "flops": float(C),
                        "via": "metric-vs-compute envelope law Q = k C^gamma"})
    return answers


def analyse(spec: StudySpec, study_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """All fits for all arms; returns (and the caller writes) the fits document.

    Only runs of the current plan (DIR/plan.json) enter the fits: run folders left from an earlier
    version of the spec (other data or config) stay in results.csv but are counted as `stale`.
    """
    plan = study_dir / "plan.json"
    stale: list[str] = []
    if plan.is_file():
        ids = {r["run_id"] for r in json.loads(plan.read_text())["runs"]}
        stale = [r["run_id"] for r in rows if r["run_id"] not in ids]
        rows = [r for r in rows if r["run_id"] in ids]
    done = finished_rows(rows)
    excluded = [{"run_id": r["run_id"], "status": r["status"], "error": r["error"]}
                for r in rows if r not in done]
    arms: dict[str, Any] = {}
    for arm in spec.enabled_arms():
        ar = [r for r in done if r["arm"] == arm.name]
        res: dict[str, Any] = {"kind": arm.kind, "n_runs": len(ar)}
        from_text = spec.init_arm_of(arm) is not None
        if from_text:
            res["init_arm"] = spec.init_arm_of(arm)
            res["loss_note"] = MIXED_LOSS_NOTE
            res["loss_fit"] = {"error": "not fitted: " + MIXED_LOSS_NOTE}
        elif spec.fits.loss:
            res["loss_fit"] = _try(loss_fit, ar, spec.fits.huber_delta, spec.fits.bootstrap, spec.seed)
        else:
            res["loss_fit"] = {"error": "disabled in spec"}
        cx, cy = curve_points(study_dir, [r["run_id"] for r in ar])
        fx = np.array([r["flops"] for r in ar], float)
        fy = np.array([r["loss"] for r in ar], float)
        allx, ally = np.concatenate([cx, fx]), np.concatenate([cy, fy])
        res["loss_envelope"] = _try(lambda: power_fit(*envelope(allx, ally, "min")))
        down, vs_loss = {}, {}
        for m in METRICS:
            pts = [(r["flops"], r[m], r["loss"]) for r in ar if r.get(m) is not None]
            if not pts:
                continue
            c, q, lo = (np.array(v, float) for v in zip(*pts))
            down[m] = _try(lambda: power_fit(*envelope(c, q, "max"))) if spec.fits.downstream else {}
            if len(pts) >= 3 and np.ptp(lo) > 0 and np.ptp(q) > 0:
                slope, icpt = np.polyfit(lo, q, 1)
                r = float(np.corrcoef(lo, q)[0, 1])
                vs_loss[m] = {"slope": float(slope), "intercept": float(icpt), "pearson_r": r,
                              "r2": r * r, "n_points": len(pts)}
        res["downstream"], res["metric_vs_loss"] = down, vs_loss
        arms[arm.name] = res
    out: dict[str, Any] = {"arms": arms, "excluded": excluded, "stale": stale, "n_finished": len(done),
                           "n_runs": len(rows), "ratios": exponent_ratios(spec, arms),
                           "interleaved": compare_interleaved(spec, done, arms)}
    qarm = spec.questions.arm or next((a.name for a in spec.enabled_arms() if a.kind == "units"),
                                      spec.enabled_arms()[0].name)
    if qarm in arms:
        out["planner"] = {"arm": qarm, "answers": plan_answers(spec, arms[qarm]["loss_fit"],
                                                               arms[qarm]["downstream"])}
    return out


def exponent_ratios(spec: StudySpec, arms: dict[str, Any]) -> list[dict[str, Any]]:
    """gamma_text / gamma_speech per metric (the papers' "orders of magnitude slower")."""
    out = []
    kinds = {a.name: a.kind for a in spec.enabled_arms()}
    texts = [a for a in arms if kinds[a] == "text"]
    speech = [a for a in arms if kinds[a] in ("units", "unigram")]  # the papers' textless SLMs
    for t in texts:
        for s in speech:
            for m in METRICS:
                gt = arms[t]["downstream"].get(m, {}).get("gamma")
                gs = arms[s]["downstream"].get(m, {}).get("gamma")
                if gt is not None and gs is not None:
                    ratio = gt / gs if gs != 0 else float("inf")
                    out.append({"metric": m, "text_arm": t, "speech_arm": s, "gamma_text": gt,
                                "gamma_speech": gs, "ratio": ratio,
                                "note": f"a {10}x compute gain for text needs {10 ** ratio:.3g}x "
                                        "for speech (k^(gamma_text/gamma_speech))"
                                        if math.isfinite(ratio) else "speech exponent is 0"})
    return out


def _law_at(law: dict[str, Any], c: float | None) -> float | None:
    if c is None or "gamma" not in law:
        return None
    return float(law["k"] * c ** law["gamma"])


def compare_interleaved(spec: StudySpec, done: list[dict[str, Any]], arms: dict[str, Any]) -> list[dict]:
    """Each interleaved arm that starts from a text arm against each textless (units) arm.

    Runs are matched on (preset, budget, seed): same N and D, hence the same training compute
    C = 6·N·D (FLOPs over every trained token, text and speech alike). Each pair also carries the
    interleaved run's compute including the text run's pre-training (`flops_total`) and, for every
    speech metric, what the textless arm's metric-vs-compute envelope law gives at that total
    compute (`textless_law_at_total`; `extrapolated` when beyond the textless arm's largest run).
    Metrics that were not evaluated are None (cross-modal tasks may not exist in EVAL yet)."""
    enabled = spec.enabled_arms()
    out = []
    for arm in enabled:
        if arm.kind != "interleaved" or spec.init_arm_of(arm) is None:
            continue
        ir = sorted((r for r in done if r["arm"] == arm.name), key=lambda r: (r["flops"], r["preset"]))
        for base in (a.name for a in enabled if a.kind == "units"):
            br = {(r["preset"], r["budget"], r["seed"]): r for r in done if r["arm"] == base}
            max_c = max((r["flops"] for r in br.values()), default=None)
            laws = arms.get(base, {}).get("downstream", {})
            pairs = []
            for r in ir:
                m = br.get((r["preset"], r["budget"], r["seed"]))
                total = r.get("flops_total")
                pair = {"run_id": r["run_id"], "textless_run_id": m["run_id"] if m else None,
                        "preset": r["preset"], "budget": r["budget"], "seed": r["seed"], "params": r["params"],
                        "tokens": r["tokens"], "flops": r["flops"], "textless_flops": m["flops"] if m else None,
                        "init_flops": r.get("init_flops"), "flops_total": total,
                        "speech_token_share": r.get("speech_token_share"),
                        "interleaved": {k: r.get(k) for k in SPEECH_METRICS},
                        "textless": {k: (m.get(k) if m else None) for k in SPEECH_METRICS},
                        "mixed": {k: r.get(k) for k in MIXED_METRICS},
                        "textless_law_at_total": {k: _law_at(laws.get(k, {}), total) for k in SPEECH_METRICS},
                        "extrapolated": bool(total is not None and max_c is not None and total > max_c)}
                pair["delta"] = {k: (pair["interleaved"][k] - pair["textless"][k]
                                     if pair["interleaved"][k] is not None and pair["textless"][k] is not None
                                     else None) for k in SPEECH_METRICS}
                pairs.append(pair)
            summary = {}
            for k in SPEECH_METRICS:
                ds = [p["delta"][k] for p in pairs if p["delta"][k] is not None]
                if ds:
                    summary[k] = {"n_pairs": len(ds), "mean_delta": float(np.mean(ds)),
                                  "interleaved_better": int(sum(d > 0 for d in ds)),
                                  "mean_interleaved": float(np.mean([p["interleaved"][k] for p in pairs
                                                                     if p["delta"][k] is not None])),
                                  "mean_textless": float(np.mean([p["textless"][k] for p in pairs
                                                                  if p["delta"][k] is not None]))}
            out.append({"arm": arm.name, "textless_arm": base, "init_arm": spec.init_arm_of(arm),
                        "n_pairs": sum(p["textless_run_id"] is not None for p in pairs), "pairs": pairs,
                        "summary": summary})
    return out


def public(fits: dict[str, Any]) -> dict[str, Any]:
    """The fits document without in-memory extras (bootstrap sample arrays)."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if not k.startswith("_")}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v
    return clean(fits)
