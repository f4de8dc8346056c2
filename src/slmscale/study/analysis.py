"""The study's fits, composed from `slmscale.scaling`: the same functions `slmscale fit` and
`slmscale plan` call, on the same rows, so `fits.json` and those commands on `results.csv` agree.

Per arm: the loss law (`loss.analyze`, form from `fits.form`: `chinchilla` on single-epoch runs,
saying how many repeated-data runs it left out; `data-constrained` on all runs), the loss envelope
of the single-epoch runs' training curves (`envelope.fit`, bootstrap over runs), IsoFLOP profiles
when the grid has compute budgets (`isoflop.fit`), and per benchmark the metric-vs-compute and
metric-vs-loss laws (`downstream.analyze`, against `flops_full`: arms are compared at equal full
training FLOPs). Across arms: exponent ratios (`compare.compare`), interleaved vs textless runs
matched on `flops_full` (`compare.match_equal_compute`), and the planner's answers
(`planner.plan_flops`, `planner.target_via_compute`), which refuse degenerate fits.

Runs that did not finish are excluded and listed (`excluded`); every fit that cannot be made is
recorded with its reason. Interleaved arms started from a text LM get no L(N, D) law (their loss is
over mixed text/speech tokens of a model that did not start from scratch) and no metric-vs-loss map.
The papers' findings are assessed on the same finished runs and written to DIR/findings.json
(`analysis_findings`); a fit listed as degenerate never makes a finding "reproduced".
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import fmean
from typing import Any

from slmscale.errors import UserError
from slmscale.study.analysis_findings import study_findings
from slmscale.eval import tasks as eval_tasks
from slmscale.study.spec import StudySpec
from slmscale.study.store import finished_rows

METRICS = eval_tasks.result_columns()
SPEECH_METRICS = [eval_tasks.TASKS[t].column for t in eval_tasks.names("speech")]
# Scores only a model that reads text and speech has: cross-modal StoryCloze and text versions.
MIXED_METRICS = [eval_tasks.TASKS[t].column for t in eval_tasks.names(modality="cross") + eval_tasks.names("text")]
MIXED_LOSS_NOTE = ("loss over a mixed text/speech token stream of a model started from a text LM: "
                   "not comparable with speech-unit losses, and no L(N, D) law from scratch applies")
SPEECH_KINDS = ("units", "unigram")  # the papers' textless SLMs
ACCOUNTING = {
    "loss_laws": "L(N, D), its envelope and the planner's C use C = 6·N·D with N the non-embedding "
                 "parameters (`flops`, `params`), as both papers do",
    "comparisons": "downstream laws, exponent ratios and arm-vs-arm pairs use the full training FLOPs "
                   "(`flops_full`: embeddings, LM head and attention counted), so arms with different "
                   "vocabularies are compared at equal compute",
    "pretraining": "an interleaved run's `flops`/`flops_full` count its own training only; the text "
                   "LM's pre-training is `init_flops`, and `flops_total` = flops + init_flops",
}


def _err(err: Exception) -> dict[str, str]:
    return {"error": str(err).splitlines()[0] if str(err) else type(err).__name__}


def _try(fn, *args, **kw) -> dict[str, Any]:
    try:
        return fn(*args, **kw)
    except (ValueError, RuntimeError, ArithmeticError, UserError) as err:
        return _err(err)


def _frame(rows: list[dict[str, Any]], source: str, target: str = "loss", skip_empty: bool = False):
    import pandas as pd

    from slmscale.scaling import table

    return table.prepare(pd.DataFrame(rows), target=target, source=source, skip_empty_target=skip_empty)


def curves(study_dir: Path, run_ids: list[str]):
    """Training curves (scaling.envelope.read_curves) of the runs whose files are readable."""
    import pandas as pd

    from slmscale.scaling.envelope import read_curves

    parts = []
    for rid in run_ids:
        try:
            part = read_curves([study_dir / "runs" / rid / "run"])
            part["run_id"] = rid  # the study's id, so bootstrap resamples group a run's points
            parts.append(part)
        except UserError:
            continue  # a run without curves contributes its final point only
    cols = ["run_id", "params", "tokens", "flops", "loss"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def loss_envelope(study_dir: Path, ar: list[dict[str, Any]], arm: str, n_boot: int, seed: int):
    """Envelope of the single-epoch runs (curves + final points); repeated-data runs left out."""
    import pandas as pd

    from slmscale.scaling import envelope, loss

    if not ar:
        return {"error": "no finished runs"}, None
    df = _frame(ar, f"results.csv [arm {arm}]")
    single, repeated = loss.split_repeated(df)
    cur = curves(study_dir, single["run_id"].astype(str).tolist())
    pts = pd.concat([cur, single[["run_id", "params", "tokens", "flops", "loss"]]], ignore_index=True)
    rec = _try(envelope.fit, pts, n_boot=n_boot, seed=seed)
    if repeated and repeated["n"]:
        rec["excluded_repeated"] = repeated
    return rec, cur


def _loss_fit(spec: StudySpec, ar: list[dict[str, Any]], arm: str) -> dict[str, Any]:
    from slmscale.scaling import loss

    def fit():
        df = _frame(ar, f"results.csv [arm {arm}]")
        return loss.analyze(df, spec.fits.form, delta=spec.fits.huber_delta, n_boot=spec.fits.bootstrap,
                            seed=spec.seed, show_progress=False)

    return _try(fit)


def compute_column(rows: list[dict[str, Any]]) -> str:
    """`flops_full` when every run has it (equal-compute comparisons), else `flops` (stated)."""
    return "flops_full" if rows and all(r.get("flops_full") for r in rows) else "flops"


def downstream(spec: StudySpec, done: list[dict[str, Any]], mixed_loss: set[str]) -> dict[str, Any]:
    """Per metric: `downstream.analyze` over every arm (the same call as `slmscale fit downstream
    --compute flops_full`); arms whose loss is over mixed tokens get no metric-vs-loss map."""
    from slmscale.scaling import downstream as ds

    compute = compute_column(done)
    out: dict[str, Any] = {"compute": compute, "by_metric": {}}
    if not spec.fits.downstream:
        return out
    for m in METRICS:
        rows = [{**r, "loss": None if r["arm"] in mixed_loss else r["loss"]}
                for r in done if r.get(m) is not None]
        if not rows:
            continue
        out["by_metric"][m] = _try(lambda: ds.analyze(
            _frame(rows, f"results.csv [{m}]", target=m), m, arm_col="arm", n_boot=spec.fits.bootstrap,
            seed=spec.seed, show_progress=False, compute=compute))
    return out


def exponent_ratios(kinds: dict[str, str], by_metric: dict[str, Any]) -> list[dict[str, Any]]:
    """gamma_text / gamma_speech per metric (`compare.compare`; bootstrap interval of the ratio)."""
    from slmscale.scaling import compare

    out = []
    for m, rec in by_metric.items():
        laws = rec.get("arms", {})
        for t in (a for a in laws if kinds.get(a) == "text"):
            for s in (a for a in laws if kinds.get(a) in SPEECH_KINDS):
                lt, ls = laws[t], laws[s]
                samples = [x.get("bootstrap", {}).get("samples", {}).get("gamma") for x in (lt, ls)]
                row = {"metric": m, "text_arm": t, "speech_arm": s, "gamma_text": lt["gamma"],
                       "gamma_speech": ls["gamma"]}
                try:
                    c = compare.compare(lt["gamma"], ls["gamma"], t, s, *samples)
                    row.update(ratio=c["exponent_ratio"], ratio_ci=c.get("exponent_ratio_ci"),
                               note=c["exact_statement"])
                except ValueError as err:
                    row.update(ratio=None, note=str(err))
                out.append(row)
    return out


def compare_interleaved(spec: StudySpec, done: list[dict[str, Any]], arms: dict[str, Any],
                        compute: str) -> list[dict[str, Any]]:
    """Each interleaved arm started from a text arm against each textless (units) arm: every run
    paired with the textless run of the nearest `compute` (`compare.match_equal_compute`, same
    seed); `matched` when within 2%. Both accountings are carried: `flops` (6ND) and `flops_full`,
    and the compute with the text LM's pre-training (`flops_total`, and in the full accounting
    `flops_full_total` = flops_full + the init run's flops_full). `textless_law_at_total` is the
    textless arm's metric-vs-compute law at that total (`extrapolated` beyond its largest run)."""
    from slmscale.scaling import compare, forms

    by_id = {r["run_id"]: r for r in done}
    out = []
    for arm in spec.enabled_arms():
        if arm.kind != "interleaved" or spec.init_arm_of(arm) is None:
            continue
        ir = sorted((r for r in done if r["arm"] == arm.name), key=lambda r: (r["flops"], r["preset"]))
        for base in (a.name for a in spec.enabled_arms() if a.kind == "units"):
            br = [r for r in done if r["arm"] == base]
            max_c = max((r.get(compute) or 0 for r in br), default=None)
            laws = arms.get(base, {}).get("downstream", {})
            pairs = []
            for match in compare.match_equal_compute(ir, br, key=compute):
                r, m = match["run"], match["partner"] if match["matched"] else None
                init = by_id.get(r.get("init_run") or "")
                full_total = (r["flops_full"] + init["flops_full"]
                              if init and r.get("flops_full") and init.get("flops_full") else None)
                total = full_total if compute == "flops_full" else r.get("flops_total")
                pair = {"run_id": r["run_id"], "textless_run_id": m["run_id"] if m else None,
                        "nearest_textless_run_id": match["partner"]["run_id"] if match["partner"] else None,
                        "compute_ratio": match["ratio"], "matched": match["matched"],
                        "preset": r["preset"], "budget": r["budget"], "seed": r["seed"],
                        "params": r["params"], "params_total": r.get("params_total"), "tokens": r["tokens"],
                        "flops": r["flops"], "textless_flops": m["flops"] if m else None,
                        "flops_full": r.get("flops_full"), "textless_flops_full": m.get("flops_full") if m else None,
                        "init_flops": r.get("init_flops"), "flops_total": r.get("flops_total"),
                        "flops_full_total": full_total, "speech_token_share": r.get("speech_token_share"),
                        "interleaved": {k: r.get(k) for k in SPEECH_METRICS},
                        "textless": {k: (m.get(k) if m else None) for k in SPEECH_METRICS},
                        "mixed": {k: r.get(k) for k in MIXED_METRICS},
                        "textless_law_at_total": {
                            k: (float(forms.power_law(total, laws[k]["k"], laws[k]["gamma"]))
                                if total and "gamma" in laws.get(k, {}) else None) for k in SPEECH_METRICS},
                        "extrapolated": bool(total is not None and max_c and total > max_c)}
                pair["delta"] = {k: (pair["interleaved"][k] - pair["textless"][k]
                                     if pair["interleaved"][k] is not None and pair["textless"][k] is not None
                                     else None) for k in SPEECH_METRICS}
                pairs.append(pair)
            summary = {}
            for k in SPEECH_METRICS:
                both = [p for p in pairs if p["delta"][k] is not None]
                if both:
                    summary[k] = {"n_pairs": len(both), "mean_delta": fmean(p["delta"][k] for p in both),
                                  "interleaved_better": sum(p["delta"][k] > 0 for p in both),
                                  "mean_interleaved": fmean(p["interleaved"][k] for p in both),
                                  "mean_textless": fmean(p["textless"][k] for p in both)}
            out.append({"arm": arm.name, "textless_arm": base, "init_arm": spec.init_arm_of(arm),
                        "compute": compute, "tolerance": compare.MATCH_TOLERANCE,
                        "n_pairs": sum(p["matched"] for p in pairs), "pairs": pairs, "summary": summary})
    return out


def plan_answers(spec: StudySpec, arm: str, loss_fit: dict[str, Any], by_metric: dict[str, Any]) -> list[dict]:
    """`planner.plan_flops` / `planner.target_via_compute` for the spec's questions (the same calls
    as `slmscale plan --fit DIR/fits.json --arm ARM`); a refusal is recorded as the answer's error."""
    from slmscale.scaling import planner

    answers: list[dict[str, Any]] = []
    for C in spec.questions.flops:
        if "error" in loss_fit:
            answers.append({"flops": C, "error": f"no loss fit ({loss_fit['error']})"})
        else:
            answers.append(_try(planner.plan_flops, loss_fit, C) | {"flops": C})
    for metric, target in spec.questions.targets.items():
        rec = by_metric.get(metric, {})
        law = rec.get("arms", {}).get(arm)
        q = {"target": f"{metric}={target}"}
        if law is None:
            why = rec.get("error") or rec.get("skipped", {}).get(arm) or f"arm {arm} has no {metric} results"
            answers.append(q | {"error": why})
            continue
        one = {"form": "downstream", "metric": metric, "compute": rec.get("compute"), "arms": {arm: law}}
        answers.append(q | _try(planner.target_via_compute, one, metric, target, arm))
    return answers


def published() -> dict[str, Any]:
    """The papers' coefficients shipped in scaling/published (never repeated in the study)."""
    from slmscale.scaling import compare, fitfile

    loss, gammas = {}, {}
    for name, path in fitfile.published().items():
        rec = fitfile.load(path)
        if rec.get("form") == "downstream":
            g = {a: v["gamma"] for a, v in rec["arms"].items()}
            gammas[rec["metric"]] = {**g, "ratio": compare.compare(g["text"], g["speech"])["exponent_ratio"],
                                     "source": rec.get("source")}
        else:
            loss[name] = {k: rec.get(k) for k in ("form", "source", "E", "A", "B", "alpha", "beta", "a", "b",
                                                  "r_star_n", "r_star_d")}
    return {"loss": loss, "downstream": gammas}


def degenerate_fits(arms: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a, f in arms.items():
        if f.get("loss_fit", {}).get("degenerate"):
            out.append({"arm": a, "fit": "loss law L(N, D)", "metric": None, "warnings": f["loss_fit"]["warnings"]})
        for m, law in f.get("downstream", {}).items():
            if law.get("degenerate"):
                out.append({"arm": a, "fit": f"{m} vs compute", "metric": m, "warnings": law["warnings"]})
    return out


def analyse(spec: StudySpec, study_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """All fits for all arms; returns (and the caller writes) the fits document.

    Only runs of the current plan (DIR/plan.json) enter the fits: run folders left from an earlier
    version of the spec (other data or config) stay in results.csv but are counted as `stale`.
    """
    plan = Path(study_dir) / "plan.json"
    stale: list[str] = []
    if plan.is_file():
        ids = {r["run_id"] for r in json.loads(plan.read_text())["runs"]}
        stale = [r["run_id"] for r in rows if r["run_id"] not in ids]
        rows = [r for r in rows if r["run_id"] in ids]
    done = finished_rows(rows)
    excluded = [{"run_id": r["run_id"], "status": r["status"], "error": r["error"]}
                for r in rows if r not in done]
    enabled = spec.enabled_arms()
    mixed_loss = {a.name for a in enabled if spec.init_arm_of(a) is not None}
    arms: dict[str, Any] = {}
    curve_frames: dict[str, Any] = {}
    for arm in enabled:
        ar = [r for r in done if r["arm"] == arm.name]
        res: dict[str, Any] = {"kind": arm.kind, "n_runs": len(ar)}
        if arm.name in mixed_loss:
            res.update(init_arm=spec.init_arm_of(arm), loss_note=MIXED_LOSS_NOTE,
                       loss_fit={"error": "not fitted: " + MIXED_LOSS_NOTE})
        elif spec.fits.loss:
            res["loss_fit"] = _loss_fit(spec, ar, arm.name)
        else:
            res["loss_fit"] = {"error": "disabled in spec (fits.loss: false)"}
        res["loss_envelope"], curve_frames[arm.name] = loss_envelope(
            Path(study_dir), ar, arm.name, spec.fits.bootstrap, spec.seed)
        iso = [r for r in ar if str(r["budget"]).startswith("flops=")]
        if iso:
            from slmscale.scaling import isoflop

            res["isoflop"] = _try(lambda: isoflop.fit(_frame(iso, f"results.csv [arm {arm.name}, IsoFLOP]")))
        res["downstream"] = {}
        arms[arm.name] = res
    ds = downstream(spec, done, mixed_loss)
    for m, rec in ds["by_metric"].items():
        for a in arms:
            if a in rec.get("arms", {}):
                arms[a]["downstream"][m] = rec["arms"][a]
            elif a in rec.get("skipped", {}):
                arms[a]["downstream"][m] = {"error": rec["skipped"][a]}
            elif "error" in rec and any(r["arm"] == a and r.get(m) is not None for r in done):
                arms[a]["downstream"][m] = {"error": rec["error"]}
    kinds = {a.name: a.kind for a in enabled}
    out: dict[str, Any] = {
        "kind": "study-fits", "form": spec.fits.form, "huber_delta": spec.fits.huber_delta,
        "bootstrap": spec.fits.bootstrap, "compute": ds["compute"], "accounting": ACCOUNTING,
        "arms": arms, "excluded": excluded, "stale": stale, "n_finished": len(done), "n_runs": len(rows),
        "comparisons": {m: rec.get("comparisons", []) for m, rec in ds["by_metric"].items()},
        "ratios": exponent_ratios(kinds, ds["by_metric"]),
        "interleaved": compare_interleaved(spec, done, arms, ds["compute"]),
        "published": published(),
    }
    out["degenerate"] = degenerate_fits(arms)
    # The papers' findings (DIR/findings.json); a degenerate fit above never makes one "reproduced".
    out["_findings"] = study_findings(spec, Path(study_dir), done, out["degenerate"])
    out["findings"] = {"file": "findings.json", "summary": out["_findings"]["summary"]}
    qarm = spec.questions.arm or next((a.name for a in enabled if a.kind == "units"), enabled[0].name)
    if qarm in arms and (spec.questions.flops or spec.questions.targets):
        out["planner"] = {"arm": qarm, "answers": plan_answers(spec, qarm, arms[qarm]["loss_fit"],
                                                               ds["by_metric"])}
    out["_curves"] = curve_frames  # for the report's figures; not written to fits.json
    return out


def public(fits: dict[str, Any]) -> dict[str, Any]:
    """The fits document as JSON: in-memory extras (keys starting with _) dropped, non-finite
    numbers as null."""
    import math

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if not str(k).startswith("_")}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v
    return clean(fits)
