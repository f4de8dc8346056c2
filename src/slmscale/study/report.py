"""The study report: one self-contained HTML file (figures embedded as PNG; the PNG and SVG files
also under DIR/figures/) laid out from the fits document. It computes nothing: the numbers come
from fits.json (slmscale.scaling), the figures from slmscale.scaling's figure functions, the
published coefficients from the package data (scaling/published).

The page opens with the papers' findings (`report_findings`, from findings.json). Fits that trip
their own warnings lead to a different page: the envelope and exponent comparisons
come first, and the degenerate coefficients leave the headline table (it says withheld, and why).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from slmscale.artifacts import atomic_write_text
from slmscale.study import report_figures as figs
from slmscale.study.analysis import METRICS, MIXED_METRICS, SPEECH_METRICS
from slmscale.study.report_findings import render_findings
from slmscale.study.report_html import esc, note, num, page, table, with_ci
from slmscale.study.report_interleaved import interleaved_section
from slmscale.study.spec import StudySpec
from slmscale.study.store import finished_rows

LOSS_KEYS = ("E", "A", "B", "alpha", "beta", "a", "b")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("slmscale", "torch", "transformers", "numpy", "scipy", "pandas", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _holdout(lf: dict) -> str:
    ho = lf.get("holdout", {})
    if "mean_abs_rel_err" in ho:
        return f"{100 * ho['mean_abs_rel_err']:.2f}% (C={ho['heldout_flops']:.2g})"
    return ho.get("skipped", "")


def loss_section(fits: dict, frontier_imgs: list[str], frontier_notes: list[str]) -> list[str]:
    form = fits.get("form", "chinchilla")
    s = [f"<h2>Loss laws L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup> ({esc(form)} form, 95% bootstrap "
         "intervals)</h2>",
         f"<p>Fitted with C = 6·N·D, N the non-embedding parameters (as in both papers); Huber δ = "
         f"{num(fits.get('huber_delta'))}. "
         + ("The Chinchilla form assumes every token is new: runs that repeat their data are left out "
            "(counted per arm below)." if form == "chinchilla" else
            "Muennighoff's data-constrained form: all runs, repeated epochs worth less (R*_N, R*_D).")
         + "</p>"]
    body, withheld, degenerate = [], [], []
    for arm, f in fits["arms"].items():
        lf = f.get("loss_fit", {})
        left = lf.get("excluded_repeated") or {}
        left_txt = f"{left['n']} (repeated data)" if left.get("n") else "0"
        if "alpha" not in lf:
            err = str(lf.get("error") or "")
            body.append([arm, err if err.startswith("not fitted") else f"not fitted: {err}", *[""] * 8,
                         f["n_runs"], "", ""])
            continue
        if lf.get("degenerate"):
            withheld.append([arm, "withheld: degenerate fit (" + "; ".join(lf["warnings"]) + ")", *[""] * 8,
                             lf["n_points"], left_txt, ""])
            degenerate.append([arm, *(with_ci(lf, k) for k in LOSS_KEYS), lf["n_points"]])
            continue
        extra = [with_ci(lf, "r_star_n"), with_ci(lf, "r_star_d")] if form == "data-constrained" else ["", ""]
        body.append([arm, *(with_ci(lf, k) for k in LOSS_KEYS), *extra, lf["n_points"], left_txt, _holdout(lf)])
    for name, p in fits.get("published", {}).get("loss", {}).items():
        body.append([f"published: {p.get('source') or name}", *(p.get(k) for k in LOSS_KEYS),
                     p.get("r_star_n"), p.get("r_star_d"), "", "", ""])
    s.append(table(["arm", "E", "A", "B", "α", "β", "a (N_opt∝C^a)", "b (D_opt∝C^b)", "R*_N", "R*_D", "runs fitted",
                    "runs left out", "hold-out: largest budget predicted, mean |rel err|"], withheld + body))
    for arm, f in fits["arms"].items():
        lf = f.get("loss_fit", {})
        if lf.get("excluded_repeated", {}).get("n"):
            s.append(note(f"{arm}: {lf['excluded_repeated']['reason']}: {', '.join(lf['excluded_repeated']['runs'])}."))
        b = lf.get("bootstrap") or {}
        if b.get("failed"):
            s.append(note(f"{arm}: {b['failed']} of {b['n']} bootstrap refits did not converge and are left out "
                          "of the intervals."))
    if degenerate:
        s.append("<h3>Degenerate loss fits (not for extrapolation; the planner refuses them)</h3>")
        s.append(table(["arm", "E", "A", "B", "α", "β", "a", "b", "runs"], degenerate))
        for arm, f in fits["arms"].items():
            for w in f.get("loss_fit", {}).get("warnings", []):
                s.append(f"<p class='warn'><small>{esc(arm)}: {esc(w)}</small></p>")
    s.extend(frontier_imgs)
    s.extend(note(n) for n in frontier_notes)
    return s


def envelope_section(fits: dict, loss_img: str | None, iso_imgs: list[str]) -> list[str]:
    s = ["<h2>Loss envelope (best loss per FLOP, single-epoch runs): L = k·C<sup>γ</sup></h2>"]
    body = []
    for a, f in fits["arms"].items():
        env = f.get("loss_envelope", {})
        left = (env.get("excluded_repeated") or {}).get("n", 0)
        if "gamma" in env:
            body.append([a, env["k"], with_ci(env, "gamma"), env.get("r2"), env["n_envelope"], env["n_points"], left])
        else:
            body.append([a, env.get("error", "not fitted"), "", "", "", "", left])
    s.append(table(["arm", "k", "γ [95% CI]", "R²", "envelope points", "points (curves + runs)",
                    "repeated-data runs left out"], body))
    if loss_img:
        s.append(loss_img)
    for a, f in fits["arms"].items():
        iso = f.get("isoflop")
        if iso and "error" in iso:
            s.append(note(f"{a}: no IsoFLOP profile ({iso['error']})"))
    s.extend(iso_imgs)
    return s


def downstream_section(fits: dict, imgs: list[str]) -> list[str]:
    compute = fits.get("compute", "flops")
    s = [f"<h2>Downstream: metric vs compute (envelope Q = k·C<sup>γ</sup>, C = {esc(compute)}) and vs loss</h2>"]
    body = []
    for arm, f in fits["arms"].items():
        for m, law in f["downstream"].items():
            if "gamma" not in law:
                body.append([arm, m, law.get("error", "not fitted"), *[""] * 7])
                continue
            lin = law.get("vs_loss", {})
            vc = law.get("vs_compute", {})
            body.append([arm, m, with_ci(law, "gamma"), vc.get("power", {}).get("r2"), law.get("n_envelope"),
                         vc.get("preferred"),
                         with_ci({**lin, "ci": law.get("ci")}, "pearson_r", 3) if "slope" in lin else lin.get("skipped", ""),
                         lin.get("slope"), f"{lin['n_used']} / {lin['n_excluded']}" if "slope" in lin else "",
                         "; ".join(law.get("warnings", []))])
    s.append(table(["arm", "metric", "γ [95% CI]", "R² (log)", "envelope points", "preferred form",
                    "Pearson r vs loss [95% CI]", "slope per nat", "runs used / at chance", "warnings"], body)
             if body else "<p>No benchmark results.</p>")
    s.extend(imgs)
    return s


def ratio_section(fits: dict) -> list[str]:
    s = ["<h2>Text vs speech: ratio of downstream exponents</h2>"]
    if fits.get("ratios"):
        s.append(table(["metric", "text arm", "speech arm", "γ text", "γ speech", "ratio", "95% CI", "meaning"],
                       [[r["metric"], r["text_arm"], r["speech_arm"], r["gamma_text"], r["gamma_speech"],
                         r["ratio"], "" if not r.get("ratio_ci") else f"[{r['ratio_ci'][0]:.3g}, {r['ratio_ci'][1]:.3g}]",
                         r["note"]] for r in fits["ratios"]]))
    else:
        s.append("<p>Needs a text arm and a speech arm with benchmark results.</p>")
    pub = fits.get("published", {}).get("downstream", {})
    if pub:
        s.append("<p>Published (Cuervo &amp; Marxer): " + ", ".join(
            f"{esc(m)}: γ_text={g['text']}, γ_speech={g['speech']}, ratio {g['ratio']:.2f}" for m, g in pub.items())
            + "</p>")
    others = [c for cs in fits.get("comparisons", {}).values() for c in cs if "exponent_ratio" in c]
    if others:
        s.append("<details><summary>Every pair of arms (exponent ratio, faster arm first)</summary>")
        s.append(table(["faster", "slower", "γ faster", "γ slower", "ratio", "95% CI"],
                       [[c["fast"], c["slow"], c["gamma_fast"], c["gamma_slow"], c["exponent_ratio"],
                         "" if not c.get("exponent_ratio_ci") else
                         f"[{c['exponent_ratio_ci'][0]:.3g}, {c['exponent_ratio_ci'][1]:.3g}]"] for c in others]))
        s.append("</details>")
    return s


def planner_section(fits: dict) -> list[str]:
    plan = fits.get("planner")
    if not plan:
        return []
    s = [f"<h2>Planner (arm {esc(plan['arm'])})</h2>",
         "<p>The same answers as <code>slmscale plan --fit DIR/fits.json --arm "
         f"{esc(plan['arm'])}</code>. Budgets C = 6·N·D (non-embedding N); compute for a target in "
         f"{esc(fits.get('compute', 'flops'))}.</p>"]
    body = []
    for a in plan["answers"]:
        ci = a.get("ci") or {}
        cis = " ".join(f"{k}: [{v[0]:.3g}, {v[1]:.3g}]" for k, v in ci.items() if isinstance(v, list) and None not in v)
        if "target" in a:
            body.append([a["target"], "", "", a.get("flops"), cis, a.get("error", a.get("via", ""))])
        else:
            body.append([f"C={a['flops']:.3g}", a.get("n_opt"), a.get("d_opt"), a.get("loss"), cis,
                         a.get("error", a.get("note", ""))])
    s.append(table(["question", "N_opt", "D_opt", "predicted loss / compute", "95% CI", "note"], body))
    return s


def runs_section(fits: dict, rows: list[dict]) -> list[str]:
    acc = fits.get("accounting", {})
    s = ["<h2>Runs and compute accounting</h2>",
         "<ul>" + "".join(f"<li>{esc(v)}</li>" for v in acc.values()) + "</ul>"]
    shown = [m for m in METRICS if any(r.get(m) is not None for r in rows)]
    extra = any(r.get("init_run") for r in rows)
    s.append(table(["run", "arm", "preset", "budget", "N", "N total", "D", "epochs", "C = 6ND", "C full",
                    *(["init (text LM)", "C + init"] if extra else []), "loss", *shown, "status", "train wall s",
                    "job wall s (incl. start-up, eval)"],
                   [[r["run_id"], r["arm"], r["preset"], r["budget"], r["params"], r.get("params_total"), r["tokens"],
                     r.get("epochs"), r["flops"], r.get("flops_full"),
                     *([r.get("init_flops"), r.get("flops_total")] if extra else []), r["loss"],
                     *(r.get(m) for m in shown), r["status"], r.get("wall_s"), r.get("run_wall_s")] for r in rows]))
    return s


def baselines_note(doc: dict) -> str:
    """Where each metric's floor came from: the benchmarks' audits, else chance."""
    b = doc.get("baselines") or {}
    by = b.get("by_metric") or {}
    if by:
        parts = [f"{m} {e['accuracy']:.3f} ({e.get('baseline') or 'strongest'}, {e.get('source', '')})"
                 for m, e in by.items()]
        text = ("Floors: a metric at or below its strongest surface baseline is not evidence; from the "
                "benchmark audits: " + "; ".join(parts) + ". Other metrics: chance (0.5).")
    else:
        text = ("Floors: chance (0.5); no benchmark audit (audit.json) was found, so scores are not "
                "checked against surface baselines (`slmscale bench audit DIR`).")
    if b.get("skipped"):
        text += " Unreadable audits skipped: " + "; ".join(f"{s['file']}: {s['reason']}" for s in b["skipped"]) + "."
    return text


def findings_doc(study_dir: Path, fits: dict) -> dict | None:
    """The findings document: fits["_findings"] (just computed), else DIR/findings.json."""
    doc = fits.get("_findings")
    path = Path(study_dir) / "findings.json"
    if doc is None and path.is_file():
        doc = json.loads(path.read_text())
    return doc


def surface_baselines(doc: dict | None) -> dict[str, float]:
    """Metric column -> the strongest surface baseline's accuracy (from the benchmarks' audits)."""
    by_metric = ((doc or {}).get("baselines") or {}).get("by_metric") or {}
    return {m: float(b["accuracy"]) for m, b in by_metric.items() if isinstance(b, dict) and "accuracy" in b}


def findings_section(doc: dict | None) -> str:
    """The papers' findings, first on the page."""
    if doc is None:
        return render_findings([])
    return render_findings(doc.get("findings", []), doc.get("summary"), title="Findings: the papers' claims, tested",
                           notes=[baselines_note(doc)])


def lead_section(fits: dict) -> list[str]:
    """When fits are degenerate, say so first, and what the page leads with instead."""
    deg = fits.get("degenerate") or []
    if not deg:
        return []
    items = "".join(f"<li><b>{esc(d['arm'])}</b>, {esc(d['fit'])}: {esc('; '.join(d['warnings']))}</li>" for d in deg)
    return [f"<div class='lead'><p><b>Some fits are degenerate</b>: their coefficients are withheld from the "
            f"headline and the planner does not extrapolate from them. This report leads with what the data do "
            f"support: the loss envelope and the exponent comparisons.</p><ul>{items}</ul></div>"]


def render(study_dir: Path, spec: StudySpec, rows: list[dict], fits: dict) -> str:
    import yaml

    out = Path(study_dir) / "figures"
    done = finished_rows(rows)
    found = findings_doc(study_dir, fits)
    s: list[str] = [f"<h1>slmscale study: {esc(spec.name)}</h1>", findings_section(found),
                    f"<p>{fits['n_finished']} of {fits['n_runs']} runs finished and used in the fits "
                    f"(loss-law form: {esc(fits.get('form', 'chinchilla'))}; arms compared at equal "
                    f"{esc(fits.get('compute', 'flops'))}).</p>"]
    if fits.get("stale"):
        s.append(f"<p>{len(fits['stale'])} run folder(s) from an earlier version of the spec are kept in "
                 "results.csv but not used here.</p>")
    if fits["excluded"]:
        s.append("<h2>Runs excluded from the fits</h2>")
        s.append(table(["run", "status", "error"], [[e["run_id"], e["status"], e["error"]] for e in fits["excluded"]]))
    s.extend(lead_section(fits))
    metrics = [m for m in METRICS if any(r.get(m) is not None for r in done)]
    frontier_imgs, frontier_notes = figs.frontier_figures(out, done, fits)
    loss = loss_section(fits, frontier_imgs, frontier_notes)
    env = envelope_section(fits, figs.loss_figure(out, done, fits), figs.isoflop_figures(out, done, fits))
    down = downstream_section(fits, figs.metric_figures(out, done, fits, metrics, surface_baselines(found)))
    ratios = ratio_section(fits)
    inter = interleaved_section(out, fits, SPEECH_METRICS, MIXED_METRICS)
    order = ([env, ratios, down, inter, loss] if fits.get("degenerate") else [loss, env, down, inter, ratios])
    for part in order:
        s.extend(part)
    s.extend(planner_section(fits))
    s.extend(runs_section(fits, rows))
    total = sum(r.get("run_wall_s") or r.get("wall_s") or 0 for r in rows)
    prov = {"machine": f"{platform.node()} {platform.machine()} {platform.system()} {platform.release()}, "
                       f"{os.cpu_count()} CPUs", "versions": _versions(), "sum of job wall times (s)": round(total, 1),
            "this invocation wall time (s)": fits.get("wall_s"),
            "figures": "drawn by slmscale.scaling.figures / arm_figures; PNG + SVG in DIR/figures/"}
    s.append("<h2>Provenance</h2><pre>" + esc(json.dumps(prov, indent=2)) + "</pre>")
    s.append("<h3>Study spec</h3><pre>" + esc(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)) + "</pre>")
    plan_file = Path(study_dir) / "plan.json"
    if plan_file.is_file():
        data = json.loads(plan_file.read_text()).get("data", {})
        s.append("<h3>Data</h3><pre>" + esc(json.dumps(data, indent=2)) + "</pre>")
    return page(f"slmscale study {spec.name}", s)


def write_report(study_dir: str | Path, spec: StudySpec, rows: list[dict], fits: dict) -> Path:
    study_dir = Path(study_dir)
    out = study_dir / "report.html"
    atomic_write_text(out, render(study_dir, spec, rows, fits))
    return out


def report_from_dir(study_dir: str | Path) -> Path:
    """`slmscale study report DIR`: rebuild results and fits from the run folders, then the report."""
    from slmscale.artifacts import write_json
    from slmscale.study import analysis, store
    from slmscale.study.spec import load_spec

    study_dir = Path(study_dir).resolve()
    spec = load_spec(study_dir / "study.yaml")
    rows = store.write_results(study_dir)
    fits = analysis.analyse(spec, study_dir, rows)
    write_json(study_dir / "fits.json", analysis.public(fits))
    return write_report(study_dir, spec, rows, fits)

