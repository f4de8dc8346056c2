"""Multi-arm figures (a study's report, any results table with an `arm` column): panels in a grid
of at most three per row, one colour per arm across every figure (`figures.arm_colors`), fitted
laws drawn only when they are fitted on 3+ points and not degenerate (otherwise the legend says
why), accuracy laws never drawn above 1.0. Each figure is saved as PNG and SVG (`figures._save`).

loss_vs_compute       per arm: loss curves by model size, final runs, the single-epoch envelope
                      and its law (C&M Fig. 1); repeated-data runs drawn hollow, not in the envelope
metric_panels         per metric: every arm's runs vs compute (with the envelope law Q = k C^gamma)
                      or vs loss (with the linear map) (C&M Figs. 2 and 4)
interleaved_vs_textless  per speech metric: interleaved runs at training compute and at training +
                      text pre-training, the textless runs and the textless envelope law
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slmscale.scaling import envelope, forms
from slmscale.scaling.figures import _save, capped, major_ticks_only, panel_grid

CHANCE = 0.5


def _shade(color, t: float):
    """The arm's colour, lighter for small t (model sizes within one arm's panel)."""
    r, g, b = color[:3]
    f = 0.35 + 0.65 * t
    return (1 - f + f * r, 1 - f + f * g, 1 - f + f * b)


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def drawable(law: dict | None) -> str | None:
    """None when a fitted law may be drawn, else why not (no fit, < 3 points, degenerate)."""
    if not law or "error" in law or "skipped" in law:
        text = str((law or {}).get("error") or (law or {}).get("skipped") or "")
        return "too few points" if "need" in text else "not fitted"
    n = law.get("n_envelope", law.get("n_used", law.get("n_points", 0)))
    if n is not None and n < 3:
        return f"{n} point(s)"
    if law.get("degenerate"):
        return "degenerate fit"
    return None


def loss_vs_compute(arms: dict[str, dict], colors: dict, out_dir: Path, name: str = "loss_vs_compute",
                    xlabel: str = "training compute C = 6ND (FLOPs)"):
    """`arms[arm]` = {"runs": DataFrame(params, flops, loss, repeated), "curves": DataFrame(run_id,
    params, flops, loss) or None, "envelope": envelope fit record or {"error": ...}, "note": str}."""
    fig, axes = panel_grid(len(arms), ncols=3, size=(5.0, 3.9))
    for ax, (arm, d) in zip(axes, arms.items()):
        runs, curves = d["runs"], d.get("curves")
        sizes = np.sort(runs["params"].unique())
        for i, n in enumerate(sizes):
            c = _shade(colors[arm], i / max(len(sizes) - 1, 1))
            if curves is not None and len(curves):
                for _, cur in curves[curves["params"] == n].groupby("run_id"):
                    ax.plot(cur["flops"], cur["loss"], color=c, lw=0.8, alpha=0.7)
            one = runs[(runs["params"] == n) & ~runs["repeated"]]
            ax.scatter(one["flops"], one["loss"], color=c, s=16, label=f"N={n:,.0f}")
        rep = runs[runs["repeated"]]
        if len(rep):
            ax.scatter(rep["flops"], rep["loss"], facecolors="none", edgecolors="k", s=26, marker="s",
                       label=f"repeated data ({len(rep)} run(s), not in envelope)")
        env = d.get("envelope") or {}
        why = drawable(env)
        if why is None:
            e = env["envelope"]
            g = np.geomspace(min(e["flops"]), max(e["flops"]), 50)
            ci = (env.get("ci") or {}).get("gamma")
            ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else ""
            ax.plot(g, envelope.predict(env, g), "--", color="k", lw=1.2,
                    label=f"envelope L ∝ C^{env['gamma']:.3f}{ci_txt}")
        else:
            ax.plot([], [], " ", label=f"no envelope law ({why})")
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="held-out loss (nats/token)")
        ax.set_title(f"{arm}{(': ' + d['note']) if d.get('note') else ''}", fontsize=9, color=colors[arm])
        major_ticks_only(ax)
        _legend(ax)
    fig.tight_layout()
    return _save(fig, Path(out_dir), name)


def metric_panels(points: pd.DataFrame, x: str, metrics: list[str], laws: dict[str, dict[str, dict]],
                  colors: dict, out_dir: Path, name: str, xlabel: str, surface: dict[str, float] | None = None):
    """One panel per metric; `points` has columns arm, `x` and the metrics; `laws[metric][arm]` is
    a downstream law record (x = compute: k, gamma; x = loss: its vs_loss map). `surface[metric]`:
    the benchmark's strongest surface baseline, drawn dashed beside chance."""
    fig, axes = panel_grid(len(metrics), ncols=3)
    for ax, m in zip(axes, metrics):
        for arm, color in colors.items():
            sub = points[(points["arm"] == arm) & points[m].notna() & points[x].notna()]
            if not len(sub):
                continue
            ax.scatter(sub[x], sub[m], color=color, s=16, label=arm)
            law = laws.get(m, {}).get(arm)
            lo, hi = float(sub[x].min()), float(sub[x].max())
            if x == "loss":
                lin = (law or {}).get("vs_loss") or {}
                why = drawable(lin) if "slope" in lin else (lin.get("skipped") or "not fitted")
                if why is None:  # over the runs the map was fitted on (above the chance cut-off)
                    cut = lin.get("cutoff", {})
                    used = sub[sub[m] > cut.get("chance", CHANCE) + cut.get("margin", 0.0)][x]
                    xs = np.linspace(float(used.min()), float(used.max()), 20) if len(used) else np.array([])
                    ci = ((law.get("ci") or {}).get("pearson_r")) or None
                    ci_txt = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and None not in ci else ""
                    ax.plot(xs, capped(lin["slope"] * xs + lin["intercept"]), color=color,
                            label=f"{arm}: r={lin['pearson_r']:.2f}{ci_txt}")
            else:
                why = drawable(law)
                if why is None:
                    g = np.geomspace(lo, hi, 40)
                    ci = (law.get("ci") or {}).get("gamma")
                    ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else ""
                    ax.plot(g, capped(forms.power_law(g, law["k"], law["gamma"])), color=color,
                            label=f"{arm}: γ={law['gamma']:.3f}{ci_txt}")
            if why is not None:
                ax.plot([], [], " ", label=f"{arm}: no law ({why})")
        ax.axhline(CHANCE, color="grey", lw=0.6, ls=":")
        if surface and m in surface:
            ax.axhline(surface[m], color="black", lw=0.8, ls="--", label=f"surface baseline {surface[m]:.2f}")
        ax.set(xlabel=xlabel, ylabel=f"{m} accuracy", title=m)
        if x == "loss":
            ax.invert_xaxis()  # lower loss to the right, as compute grows
        else:
            ax.set_xscale("log")
            major_ticks_only(ax, "x")
        _legend(ax)
    fig.tight_layout()
    return _save(fig, Path(out_dir), name)


def interleaved_vs_textless(pairs: list[dict], metrics: list[str], laws: dict[str, dict],
                            names: tuple[str, str], colors: dict, out_dir: Path, name: str,
                            compute: str = "flops_full"):
    """Speech metrics of matched runs vs compute. `pairs`: {"compute", "compute_total",
    "interleaved": {m: acc}, "textless_compute", "textless": {m: acc}}; `laws[m]` the textless
    arm's downstream law; `names` = (interleaved arm, textless arm)."""
    il, tl = names
    fig, axes = panel_grid(len(metrics), ncols=3)
    for ax, m in zip(axes, metrics):
        t = [(p["textless_compute"], p["textless"][m]) for p in pairs if p["textless"].get(m) is not None]
        if t:
            ax.scatter(*zip(*t), color=colors[tl], s=16, label=f"{tl} (textless)")
        law = laws.get(m)
        xs = [p["compute"] for p in pairs] + [p["compute_total"] for p in pairs if p.get("compute_total")]
        if drawable(law) is None and xs:
            g = np.geomspace(min(xs), max(xs), 40)
            ax.plot(g, capped(forms.power_law(g, law["k"], law["gamma"])), color=colors[tl], lw=1, ls="--",
                    label=f"{tl} envelope law")
        pts = [p for p in pairs if p["interleaved"].get(m) is not None]
        if pts:
            ax.scatter([p["compute"] for p in pts], [p["interleaved"][m] for p in pts], color=colors[il], s=18,
                       label=f"{il} (training compute)")
            tot = [p for p in pts if p.get("compute_total")]
            if tot:
                ax.scatter([p["compute_total"] for p in tot], [p["interleaved"][m] for p in tot],
                           facecolors="none", edgecolors=colors[il], s=22, label=f"{il} (+ text pre-training)")
                for p in tot:
                    ax.plot([p["compute"], p["compute_total"]], [p["interleaved"][m]] * 2, color=colors[il],
                            lw=0.6, ls=":")
        ax.axhline(CHANCE, color="grey", lw=0.6, ls=":")
        ax.set(xscale="log", xlabel=f"compute ({compute}, FLOPs)", ylabel=f"{m} accuracy", title=m)
        major_ticks_only(ax, "x")
        _legend(ax)
    fig.tight_layout()
    return _save(fig, Path(out_dir), name)

