"""Which figures the study report shows, and with which data: every figure is drawn by
slmscale.scaling.figures / slmscale.scaling.arm_figures and saved as PNG + SVG under DIR/figures/.
One colour per arm (the spec's arm order) in every figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slmscale.study.report_html import figure

# The published law each arm kind is set beside (a text LM's frontier never gets the speech law).
OVERLAY = {"units": ("speech_units_cm2024",), "unigram": ("speech_unigram_cm2024", "speech_units_cm2024"),
           "text": ("text_chinchilla2022",)}


def colors(fits: dict) -> dict[str, Any]:
    from slmscale.scaling.figures import arm_colors

    return arm_colors(list(fits["arms"]))


def _frame(rows: list[dict]):
    import pandas as pd

    return pd.DataFrame(rows)


def loss_figure(out: Path, done: list[dict], fits: dict) -> str | None:
    from slmscale.scaling import arm_figures, loss

    arms = {}
    for arm, f in fits["arms"].items():
        ar = [r for r in done if r["arm"] == arm]
        if not ar:
            continue
        df = _frame(ar)
        single, _ = loss.split_repeated(df)
        df["repeated"] = ~df["run_id"].isin(single["run_id"])
        note = "mixed-token loss" if "loss_note" in f else ""
        arms[arm] = {"runs": df, "curves": fits.get("_curves", {}).get(arm), "envelope": f.get("loss_envelope"),
                     "note": note}
    if not arms:
        return None
    paths = arm_figures.loss_vs_compute(arms, colors(fits), out)
    return figure(paths, "loss vs compute per arm",
                  "Held-out loss vs training compute C = 6ND per arm (C&M Fig. 1): training curves and final "
                  "runs by model size (darker = larger), the envelope of the single-epoch runs and its power "
                  "law with its 95% bootstrap interval; runs that repeat their data are drawn as hollow squares "
                  "and are not in the envelope.")


def isoflop_figures(out: Path, done: list[dict], fits: dict) -> list[str]:
    from slmscale.scaling import figures

    imgs = []
    for arm, f in fits["arms"].items():
        iso = f.get("isoflop") or {}
        if "budgets" not in iso:
            continue
        rows = [r for r in done if r["arm"] == arm and str(r["budget"]).startswith("flops=")]
        paths = figures.isoflop_curves(_frame(rows), iso, out, name=f"isoflop_{arm}", title=f"{arm}: IsoFLOP profiles")
        imgs.append(figure(paths, f"IsoFLOP {arm}", f"Arm {arm}: loss vs N at each compute budget, the parabola "
                                                     "in log N and its optimum (*).", half=True))
    return imgs


def frontier_figures(out: Path, done: list[dict], fits: dict) -> tuple[list[str], list[str]]:
    """(figures, notes): one per arm with a loss fit that is not degenerate."""
    from slmscale.scaling import figures

    pub = fits.get("published", {}).get("loss", {})
    imgs, notes = [], []
    for arm, f in fits["arms"].items():
        lf = f.get("loss_fit", {})
        if "alpha" not in lf:
            continue
        if lf.get("degenerate"):
            notes.append(f"{arm}: the L(N, D) surface and frontier are not drawn: the fit is degenerate.")
            continue
        overlay = {pub[n]["source"]: pub[n] for n in OVERLAY.get(f["kind"], ()) if n in pub}
        ar = _frame([r for r in done if r["arm"] == arm])
        paths = figures.frontier(ar, lf, out, name=f"frontier_{arm}", overlay=overlay or None,
                                 title=f"{arm}: fitted L(N, D)")
        ov = f"; dashed: {', '.join(overlay)} (another vocabulary: compare the slope)" if overlay else ""
        imgs.append(figure(paths, f"frontier {arm}", f"Arm {arm}: contours of the fitted L(N, D), its "
                                                      f"compute-optimal frontier N_opt(C), D_opt(C) and the runs{ov}.", half=True))
    return imgs, notes


def metric_figures(out: Path, done: list[dict], fits: dict, metrics: list[str],
                   surface: dict[str, float] | None = None) -> list[str]:
    """Metric vs compute and vs loss panels; `surface`: metric -> strongest surface baseline, drawn
    as a dashed line so a reader sees whether a model beats what length or n-grams alone get."""
    from slmscale.scaling import arm_figures

    if not metrics:
        return []
    compute = fits.get("compute", "flops")
    laws = {m: {a: f["downstream"].get(m) for a, f in fits["arms"].items()} for m in metrics}
    pts = _frame(done)
    imgs = [figure(arm_figures.metric_panels(pts, compute, metrics, laws, colors(fits), out, "metric_vs_compute",
                                             f"training compute ({compute}, FLOPs)", surface),
                   "metrics vs compute",
                   f"Accuracy vs full training compute ({compute}) per benchmark (C&M Fig. 2): every arm's runs "
                   "and its envelope law Q = k·C^γ with γ's 95% bootstrap interval; no law is drawn on fewer "
                   "than 3 envelope points or when degenerate (the legend says why), nor above accuracy 1. "
                   "Dotted grey: chance; dashed black: the benchmark's strongest surface baseline "
                   "(`slmscale bench audit`), where audited.")]
    mixed = {a for a, f in fits["arms"].items() if "loss_note" in f}
    own = pts[~pts["arm"].isin(mixed)] if len(pts) else pts
    own_metrics = [m for m in metrics if len(own) and own[m].notna().any()]
    if own_metrics:
        imgs.append(figure(arm_figures.metric_panels(own, "loss", own_metrics, laws, colors(fits), out, "metric_vs_loss",
                                                     "held-out loss (nats/token)", surface),
                           "metrics vs loss",
                           "Accuracy vs held-out loss (C&M Fig. 4) with the linear map fitted on the runs above "
                           "chance + 0.02 (Pearson r and its 95% bootstrap interval). Arms whose loss is over "
                           "mixed text/speech tokens are not on these axes."))
    return imgs


def interleaved_figure(out: Path, comp: dict, fits: dict, metrics: list[str]) -> str | None:
    from slmscale.scaling import arm_figures

    key = comp["compute"]
    total = "flops_full_total" if key == "flops_full" else "flops_total"
    pairs = [{"compute": p[key], "compute_total": p.get(total),
              "textless_compute": p.get(f"textless_{key}"), "interleaved": p["interleaved"],
              "textless": p["textless"]} for p in comp["pairs"] if p.get(key)]
    metrics = [m for m in metrics if any(p["interleaved"].get(m) is not None for p in pairs)]
    if not metrics:
        return None
    laws = fits["arms"].get(comp["textless_arm"], {}).get("downstream", {})
    paths = arm_figures.interleaved_vs_textless(pairs, metrics, laws, (comp["arm"], comp["textless_arm"]),
                                                colors(fits), out, f"interleaved_{comp['arm']}_{comp['textless_arm']}",
                                                compute=key)
    return figure(paths, "interleaved vs textless",
                  f"Speech metrics vs compute ({key}): {comp['arm']} at its training compute (filled) and with the "
                  f"text LM's pre-training added (hollow, dotted line), {comp['textless_arm']}'s matched runs and "
                  "its envelope law.")
