"""The study report: one self-contained HTML file (figures embedded as base64 PNG, no external
assets) with the fitted laws and their intervals, the papers' figures, published-law overlays, the
text-vs-speech exponent ratio, the planner's answers and provenance (spec, versions, machine,
wall time per run, runs excluded from the fits and why).

Figures are drawn here with matplotlib (Agg backend) from the results table and the runs'
metrics.jsonl, so the report needs nothing but the study folder.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

from slmscale.artifacts import atomic_write_text
from slmscale.scaling.figures import major_ticks_only
from slmscale.study.analysis import METRICS, SPEECH_METRICS, curve_points, envelope
from slmscale.study.spec import StudySpec
from slmscale.study.store import finished_rows

# Published loss laws (DESIGN.md facts): name -> (E, A, B, alpha, beta).
PUBLISHED = {
    "speech units (Cuervo & Marxer)": (1.73, 13.9, 39.8, 0.25, 0.24),
    "speech, unigram units (C&M)": (1.42, 3.85, 8.90, 0.15, 0.16),
    "text (Chinchilla)": (1.69, 406.4, 410.7, 0.34, 0.28),
    "text (Muennighoff)": (1.87, 521.0, 1488.0, 0.35, 0.35),
}
# Published downstream exponents gamma of the metric-vs-compute envelope (C&M).
PUBLISHED_GAMMA = {"sblimp": (0.066, 0.021), "tsc": (0.039, 0.025), "ssc": (0.046, 0.017)}


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def _fig_to_img(fig: Any, alt: str) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _opt_law(C: np.ndarray, E: float, A: float, B: float, alpha: float, beta: float) -> np.ndarray:
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    a, b = beta / (alpha + beta), alpha / (alpha + beta)
    N = G * (C / 6) ** a
    D = (C / 6) ** b / G
    return E + A / N ** alpha + B / D ** beta


def _arm_colors(arms: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {a: cmap(i % 10) for i, a in enumerate(arms)}


def fig_loss_curves(study_dir: Path, rows: list[dict], fits: dict) -> str | None:
    """Paper Fig. 1: held-out loss vs compute per run (log-log), envelope and its power law."""
    import matplotlib.pyplot as plt

    arms = sorted({r["arm"] for r in rows})
    if not arms:
        return None
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 4), squeeze=False)
    for ax, arm in zip(axes[0], arms):
        ar = [r for r in rows if r["arm"] == arm]
        presets = sorted({r["preset"] for r in ar}, key=lambda p: min(r["params"] for r in ar if r["preset"] == p))
        cmap = plt.get_cmap("viridis")
        for i, p in enumerate(presets):
            color = cmap(i / max(1, len(presets) - 1))
            for r in (r for r in ar if r["preset"] == p):
                x, y = curve_points(study_dir, [r["run_id"]])
                if len(x):
                    ax.plot(x, y, color=color, alpha=0.5, lw=1)
            pts = [(r["flops"], r["loss"]) for r in ar if r["preset"] == p]
            n = int(next(r["params"] for r in ar if r["preset"] == p))
            ax.scatter(*zip(*pts), color=color, s=18, label=f"{p} (N={n:,})")
        env = fits["arms"].get(arm, {}).get("loss_envelope", {})
        if "gamma" in env:
            xs = np.array([r["flops"] for r in ar], float)
            cx, _ = curve_points(study_dir, [r["run_id"] for r in ar])
            lo = min(xs.min(), cx.min() if len(cx) else xs.min())
            grid = np.geomspace(lo, xs.max(), 50)
            ax.plot(grid, env["k"] * grid ** env["gamma"], "k--",
                    label=f"envelope L = {env['k']:.3g}·C^{env['gamma']:.3f} (R²={env['r2']:.3f})")
        mixed = "loss_note" in fits["arms"].get(arm, {})
        ax.set(xscale="log", yscale="log", xlabel="training compute C = 6ND (FLOPs)",
               ylabel="held-out loss (nats)" + (", mixed text+speech tokens" if mixed else ""),
               title=f"{arm}: loss vs compute" + (" (mixed-token loss)" if mixed else ""))
        major_ticks_only(ax, "x")  # y labels stack vertically and stay readable
        _legend(ax)
    return _fig_to_img(fig, "loss curves and envelope")


def _metric_panels(rows: list[dict], fits: dict, x_key: str, draw_law, title: str, xlabel: str,
                   log_x: bool) -> str | None:
    """One panel per benchmark: accuracy of every arm's runs against `x_key`, plus that arm's law.

    `draw_law(ax, arm_fits, metric, xs, color, arm)` draws the fitted law over the points' x range.
    """
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if any(r.get(m) is not None for r in rows)]
    if not metrics:
        return None
    arms = sorted({r["arm"] for r in rows})
    colors = _arm_colors(arms)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for arm in arms:
            pts = [(r[x_key], r[m]) for r in rows if r["arm"] == arm and r.get(m) is not None]
            if not pts:
                continue
            ax.scatter(*zip(*pts), color=colors[arm], s=16, label=arm)
            xs = [p[0] for p in pts]
            draw_law(ax, fits["arms"].get(arm, {}), m, (min(xs), max(xs)), colors[arm], arm)
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.set(xlabel=xlabel, ylabel=f"{m} accuracy", title=f"{m} vs {title}")
        if log_x:
            ax.set_xscale("log")
            major_ticks_only(ax, "x")
        else:
            ax.invert_xaxis()  # lower loss to the right, as compute grows
        _legend(ax)
    return _fig_to_img(fig, f"metric vs {title}")


def fig_metric_vs_compute(rows: list[dict], fits: dict) -> str | None:
    """Paper Fig. 2: downstream accuracy vs compute per arm, envelope power laws."""
    def law(ax, arm_fits, m, span, color, arm):
        fit = arm_fits.get("downstream", {}).get(m, {})
        if "gamma" in fit:
            g = np.geomspace(*span, 40)
            ax.plot(g, fit["k"] * g ** fit["gamma"], color=color, label=f"{arm}: γ={fit['gamma']:.3f}")

    return _metric_panels(rows, fits, "flops", law, "compute", "compute (FLOPs)", log_x=True)


def fig_metric_vs_loss(rows: list[dict], fits: dict) -> str | None:
    """Paper Fig. 4: downstream accuracy vs held-out loss with linear fits."""
    def law(ax, arm_fits, m, span, color, arm):
        lin = arm_fits.get("metric_vs_loss", {}).get(m)
        if lin:
            xs = np.linspace(*span, 10)
            ax.plot(xs, lin["intercept"] + lin["slope"] * xs, color=color, label=f"{arm}: r={lin['pearson_r']:.2f}")

    # Mixed-token losses (interleaved arms from text) are on another scale: not on these axes.
    rows = [r for r in rows if "loss_note" not in fits["arms"].get(r["arm"], {})]
    return _metric_panels(rows, fits, "loss", law, "loss", "held-out loss (nats)", log_x=False)


def fig_isoflop(rows: list[dict]) -> str | None:
    """IsoFLOP curves: loss vs N at each fixed compute budget (runs given as flops budgets)."""
    import matplotlib.pyplot as plt

    iso = [r for r in rows if str(r["budget"]).startswith("flops=")]
    if not iso:
        return None
    arms = sorted({r["arm"] for r in iso})
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 3.8), squeeze=False)
    for ax, arm in zip(axes[0], arms):
        budgets = sorted({r["budget"] for r in iso if r["arm"] == arm}, key=lambda b: float(b[6:]))
        for b in budgets:
            pts = sorted((r["params"], r["loss"]) for r in iso if r["arm"] == arm and r["budget"] == b)
            ax.plot(*zip(*pts), "o-", label=f"C={float(b[6:]):.2g}")
        ax.set(xscale="log", xlabel="non-embedding params N", ylabel="loss", title=f"{arm}: IsoFLOP")
        major_ticks_only(ax, "x")
        _legend(ax)
    return _fig_to_img(fig, "isoflop curves")


def fig_frontier(rows: list[dict], fits: dict) -> str | None:
    """Compute-optimal loss L(N_opt(C), D_opt(C)) per arm, with the published laws overlaid."""
    import matplotlib.pyplot as plt

    fitted = {a: f["loss_fit"] for a, f in fits["arms"].items() if "alpha" in f.get("loss_fit", {})}
    if not rows:
        return None
    fl = np.array([r["flops"] for r in rows], float)
    grid = np.geomspace(fl.min() / 10, fl.max() * 1e3, 60)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colors = _arm_colors(sorted({r["arm"] for r in rows}))
    for arm, f in fitted.items():
        if f["alpha"] <= 0 or f["beta"] <= 0:  # degenerate fit: no compute-optimal frontier
            continue
        ax.plot(grid, _opt_law(grid, f["E"], f["A"], f["B"], f["alpha"], f["beta"]), lw=2,
                color=colors.get(arm), label=f"{arm} (fitted)")
        ar = [r for r in rows if r["arm"] == arm]
        ax.scatter([r["flops"] for r in ar], [r["loss"] for r in ar], s=10, color=colors.get(arm))
    for name, p in PUBLISHED.items():
        ax.plot(grid, _opt_law(grid, *p), ls="--", lw=1, label=f"published: {name}")
    ax.set(xscale="log", yscale="log", xlabel="compute C (FLOPs)", ylabel="compute-optimal loss",
           title="compute-optimal frontier vs published laws (different vocabularies: compare slopes)")
    _legend(ax)
    return _fig_to_img(fig, "frontier and published laws")


def scaling_frontiers(study_dir: Path, rows: list[dict], fits: dict) -> tuple[list[str], str]:
    """SCALING's frontier figure (fitted L(N, D) contours, N_opt/D_opt, published overlay) per arm,
    saved as PNG + SVG under DIR/figures/ and embedded; returns (images, note)."""
    try:
        import pandas as pd

        from slmscale.scaling import figures
    except ImportError as err:
        return [], f"slmscale.scaling.figures unavailable ({err})"
    imgs = []
    overlay = {"C&M speech": dict(zip(("E", "A", "B", "alpha", "beta"), PUBLISHED["speech units (Cuervo & Marxer)"]))}
    for arm, f in fits["arms"].items():
        lf = f.get("loss_fit", {})
        ar = [r for r in rows if r["arm"] == arm]
        if "alpha" not in lf or lf["alpha"] <= 0 or lf["beta"] <= 0 or not ar:
            continue
        try:
            paths = figures.frontier(pd.DataFrame(ar), lf, study_dir / "figures", name=f"frontier_{arm}",
                                     overlay=overlay)
        except Exception as err:  # a figure must not stop the report
            return imgs, f"slmscale.scaling.figures.frontier failed: {err}"
        png = next(p for p in paths if p.suffix == ".png")
        data = base64.b64encode(png.read_bytes()).decode()
        imgs.append(f'<img alt="frontier {html.escape(arm)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>arm {html.escape(arm)}: fitted L(N, D), its compute-optimal "
                    "frontier and the published speech law's</figcaption>")
    return imgs, "compute-optimal frontiers by slmscale.scaling.figures (PNG + SVG in DIR/figures/)"


def _table(header: list[str], body: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            v = f"{v:.4g}" if math.isfinite(v) else "–"
        return html.escape("" if v is None else str(v))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _ci(fit: dict, key: str) -> str:
    ci = fit.get("ci", {}).get(key)
    return f"{fit[key]:.4g} [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else f"{fit[key]:.4g}"


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("slmscale", "torch", "transformers", "numpy", "scipy", "pandas", "matplotlib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def render(study_dir: Path, spec: StudySpec, rows: list[dict], fits: dict) -> str:
    import os

    import yaml

    done = finished_rows(rows)
    s: list[str] = [f"<h1>slmscale study: {html.escape(spec.name)}</h1>",
                    f"<p>{fits['n_finished']} of {fits['n_runs']} runs finished and used in the fits.</p>"]
    if fits.get("stale"):
        s.append(f"<p>{len(fits['stale'])} run folder(s) from an earlier version of the spec are kept in "
                 "results.csv but not used here.</p>")
    if fits["excluded"]:
        s.append("<h2>Runs excluded from the fits</h2>")
        s.append(_table(["run", "status", "error"], [[e["run_id"], e["status"], e["error"]]
                                                     for e in fits["excluded"]]))
    s.append("<h2>Loss laws L(N, D) = E + A/N<sup>α</sup> + B/D<sup>β</sup> (95% bootstrap intervals)</h2>")
    body = []
    for arm, f in fits["arms"].items():
        lf = f.get("loss_fit", {})
        if "alpha" in lf:
            ho = lf.get("holdout", {})
            ho_txt = (f"{100 * ho['mean_abs_rel_err']:.2f}% (C={ho['heldout_flops']:.2g})"
                      if "mean_abs_rel_err" in ho else ho.get("skipped", ""))
            body.append([arm, *(_ci(lf, k) for k in ("E", "A", "B", "alpha", "beta", "a", "b")),
                         lf["n_points"], lf.get("goodness", {}).get("r2"),
                         lf.get("goodness", {}).get("rmse_log"), ho_txt])
        else:
            err = str(lf.get("error") or "")
            body.append([arm, err if err.startswith("not fitted") else f"not fitted: {err}", "", "", "", "", "", "", f["n_runs"],
                         "", "", ""])
    for name, p in PUBLISHED.items():
        body.append([f"published: {name}", *p, p[4] / (p[3] + p[4]), p[3] / (p[3] + p[4]), "", "", "", ""])
    s.append(_table(["arm", "E", "A", "B", "α", "β", "a (N_opt∝C^a)", "b (D_opt∝C^b)", "runs", "R²",
                     "RMSE(log)", "hold-out: largest budget predicted, mean |rel err|"], body))
    for arm, f in fits["arms"].items():
        for note in f.get("loss_fit", {}).get("warnings", []):
            s.append(f"<p class='warn'><small>{html.escape(arm)}: {html.escape(note)}</small></p>")
        failed = f.get("loss_fit", {}).get("bootstrap_failed")
        if failed and not failed.startswith("0 "):
            s.append(f"<p><small>{html.escape(arm)}: {html.escape(failed)} bootstrap refits did not converge "
                     "and are left out of the intervals (blank intervals: none converged).</small></p>")
    s.append("<h2>Loss envelope (best loss per FLOP): L = k·C<sup>γ</sup></h2>")
    s.append(_table(["arm", "k", "γ", "R²", "points"],
                    [[a, *((f["loss_envelope"].get(k) for k in ("k", "gamma", "r2", "n_points"))
                           if "gamma" in f["loss_envelope"] else [f["loss_envelope"].get("error"), "", "", ""])]
                     for a, f in fits["arms"].items()]))
    for img in (fig_loss_curves(study_dir, done, fits), fig_frontier(done, fits), fig_isoflop(done)):
        if img:
            s.append(f"<figure>{img}</figure>")
    frontier_imgs, frontier_note = scaling_frontiers(study_dir, done, fits)
    s.append("<h3>Fitted L(N, D) and its compute-optimal frontier</h3>"
             + "".join(f"<figure>{i}</figure>" for i in frontier_imgs)
             + f"<p><small>{html.escape(frontier_note)}</small></p>")
    s.append("<h2>Downstream: metric vs compute (envelope Q = k·C<sup>γ</sup>) and vs loss</h2>")
    body = []
    for arm, f in fits["arms"].items():
        for m, law in f["downstream"].items():
            lin = f["metric_vs_loss"].get(m, {})
            body.append([arm, m, law.get("gamma", law.get("error")), law.get("r2"),
                         lin.get("pearson_r"), lin.get("slope")])
    s.append(_table(["arm", "metric", "γ", "R² (log)", "Pearson r (metric vs loss)", "slope per nat"], body)
             if body else "<p>No benchmark results.</p>")
    for img in (fig_metric_vs_compute(done, fits), fig_metric_vs_loss(done, fits)):
        if img:
            s.append(f"<figure>{img}</figure>")
    from slmscale.study.report_interleaved import interleaved_section

    s.extend(interleaved_section(fits.get("interleaved") or [], fits))
    s.append("<h2>Text vs speech: ratio of downstream exponents</h2>")
    if fits["ratios"]:
        s.append(_table(["metric", "text arm", "speech arm", "γ text", "γ speech", "ratio", "meaning"],
                        [[r["metric"], r["text_arm"], r["speech_arm"], r["gamma_text"], r["gamma_speech"],
                          r["ratio"], r["note"]] for r in fits["ratios"]]))
    else:
        s.append("<p>Needs a text arm and a speech arm with benchmark results.</p>")
    s.append("<p>Published (Cuervo &amp; Marxer): " + ", ".join(
        f"{m}: γ_text={t}, γ_speech={sp}, ratio {t / sp:.2f}" for m, (t, sp) in PUBLISHED_GAMMA.items()) + "</p>")
    plan = fits.get("planner")
    if plan:
        s.append(f"<h2>Planner (arm {html.escape(plan['arm'])})</h2>")
        s.append(_table(["question", "N_opt", "D_opt", "predicted loss / compute", "95% CI", "note"],
                        [[f"C={a['flops']:.3g}" if "N" in a or "target" not in a else a["target"],
                          a.get("N"), a.get("D"), a.get("loss", a.get("flops")),
                          " ".join(f"{k[:-3]}: [{v[0]:.3g}, {v[1]:.3g}]" for k, v in a.items() if k.endswith("_ci")),
                          a.get("error", a.get("via", ""))] for a in plan["answers"]]))
    s.append("<h2>Runs</h2>")
    shown = [m for m in METRICS if m in SPEECH_METRICS or any(r.get(m) is not None for r in rows)]
    extra = any(r.get("init_run") for r in rows)
    s.append(_table(["run", "arm", "preset", "budget", "N", "D", "C", *(["C + init"] if extra else []), "loss",
                     *shown, "status", "train wall s", "job wall s (incl. start-up, eval)"],
                    [[r["run_id"], r["arm"], r["preset"], r["budget"], r["params"], r["tokens"], r["flops"],
                      *([r.get("flops_total")] if extra else []), r["loss"], *(r.get(m) for m in shown),
                      r["status"], r["wall_s"], r.get("run_wall_s")] for r in rows]))
    total = sum(r.get("run_wall_s") or r["wall_s"] or 0 for r in rows)
    prov = {"machine": f"{platform.node()} {platform.machine()} {platform.system()} {platform.release()}, "
                       f"{os.cpu_count()} CPUs", "versions": _versions(), "sum of job wall times (s)": round(total, 1),
            "this invocation wall time (s)": fits.get("wall_s"), "figures": "slmscale.study.report (matplotlib); " + frontier_note}
    s.append("<h2>Provenance</h2><pre>" + html.escape(json.dumps(prov, indent=2)) + "</pre>")
    s.append("<h3>Study spec</h3><pre>" + html.escape(yaml.safe_dump(spec.model_dump(mode="json"),
                                                                     sort_keys=False)) + "</pre>")
    plan_file = study_dir / "plan.json"
    if plan_file.is_file():
        data = json.loads(plan_file.read_text()).get("data", {})
        s.append("<h3>Data</h3><pre>" + html.escape(json.dumps(data, indent=2)) + "</pre>")
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;"
             "padding:3px 6px;text-align:left}th{background:#f3f3f3}img{max-width:100%}"
             "pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}.warn{color:#8a4b00}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>slmscale study {html.escape(spec.name)}"
            f"</title><style>{style}</style></head><body>{''.join(s)}</body></html>\n")


def write_report(study_dir: str | Path, spec: StudySpec, rows: list[dict], fits: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
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
