"""The report's interleaved-vs-textless section: tables of the equal-compute comparison
(slmscale.study.analysis.compare_interleaved) and a figure of speech metrics against compute, with
each interleaved run at its training compute and at training + text pre-training."""

from __future__ import annotations

import html

import numpy as np

from slmscale.scaling.figures import major_ticks_only
from slmscale.study.analysis import MIXED_METRICS, SPEECH_METRICS
from slmscale.study.report import _fig_to_img, _table


def fig_interleaved(comparison: list[dict], fits: dict) -> str | None:
    """Speech metrics vs compute: textless runs, interleaved runs at their training compute (filled)
    and at training + text pre-training (hollow, joined by a dotted line), the textless envelope law."""
    import matplotlib.pyplot as plt

    metrics = [m for m in SPEECH_METRICS
               if any(p["interleaved"][m] is not None for c in comparison for p in c["pairs"])]
    if not metrics:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for c in comparison:
            tl = [(p["textless_flops"], p["textless"][m]) for p in c["pairs"] if p["textless"][m] is not None]
            if tl:
                ax.scatter(*zip(*tl), color="tab:blue", s=16, label=f"{c['textless_arm']} (textless)")
            law = fits["arms"].get(c["textless_arm"], {}).get("downstream", {}).get(m, {})
            xs = [p["flops"] for p in c["pairs"]] + [p["flops_total"] for p in c["pairs"] if p["flops_total"]]
            if "gamma" in law and xs:
                g = np.geomspace(min(xs), max(xs), 40)
                ax.plot(g, law["k"] * g ** law["gamma"], color="tab:blue", lw=1, ls="--",
                        label=f"{c['textless_arm']} envelope law")
            pts = [p for p in c["pairs"] if p["interleaved"][m] is not None]
            if pts:
                ax.scatter([p["flops"] for p in pts], [p["interleaved"][m] for p in pts], color="tab:red",
                           s=18, label=f"{c['arm']} (training compute)")
                tot = [p for p in pts if p["flops_total"]]
                if tot:
                    ax.scatter([p["flops_total"] for p in tot], [p["interleaved"][m] for p in tot],
                               facecolors="none", edgecolors="tab:red", s=22,
                               label=f"{c['arm']} (+ text pre-training)")
                    for p in tot:
                        ax.plot([p["flops"], p["flops_total"]], [p["interleaved"][m]] * 2, color="tab:red",
                                lw=0.6, ls=":")
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.set(xscale="log", xlabel="compute (FLOPs)", ylabel=f"{m} accuracy", title=f"{m}: interleaved vs textless")
        major_ticks_only(ax, "x")
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        if uniq:
            ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    return _fig_to_img(fig, "interleaved vs textless")


def interleaved_section(comparison: list[dict], fits: dict) -> list[str]:
    """HTML of the equal-compute comparison (see slmscale.study.analysis.compare_interleaved)."""
    s = ["<h2>Interleaved (initialised from text) vs textless, at equal training compute</h2>"]
    if not comparison:
        return []
    s.append("<p>Each interleaved run starts from the text arm's model of the same size (the one with the "
             "largest compute), extended with the unit and switch tokens, and trains on the same number of "
             "tokens D as the textless run of that size and budget: same N, same D, so the same training "
             "compute C = 6·N·D, counted over every trained token (text and speech alike; the speech share "
             "is in the table). The second compute column adds the text run's own training "
             "(pre-training), the other honest accounting. Speech tasks of the interleaved model are scored "
             "on speech tokens only (logits restricted to the units). “textless law @ total” is the "
             "textless arm's metric-vs-compute envelope law Q = k·C<sup>γ</sup> at the interleaved run's "
             "total compute (* = beyond its largest run: extrapolated).</p>")
    for c in comparison:
        s.append(f"<h3>{html.escape(c['arm'])} (from {html.escape(str(c['init_arm']))}) vs "
                 f"{html.escape(c['textless_arm'])}: {c['n_pairs']} matched run(s)</h3>")
        metrics = [m for m in SPEECH_METRICS if any(p["interleaved"][m] is not None or p["textless"][m] is not None
                                                    for p in c["pairs"])]
        body = []
        for p in c["pairs"]:
            cells = [p["preset"], p["budget"], p["params"], p["tokens"], p["flops"], p["flops_total"],
                     p["speech_token_share"]]
            for m in metrics:
                law = p["textless_law_at_total"][m]
                cells += [p["interleaved"][m], p["textless"][m], p["delta"][m],
                          None if law is None else f"{law:.3f}{'*' if p['extrapolated'] else ''}"]
            body.append(cells)
        head = ["size", "budget", "N", "D", "C train", "C train + text pre-train", "speech share"]
        for m in metrics:
            head += [f"{m} interleaved", f"{m} textless", f"Δ {m}", f"textless law @ total"]
        s.append(_table(head, body))
        if c["summary"]:
            s.append(_table(["metric", "pairs", "mean interleaved", "mean textless", "mean Δ",
                             "interleaved better"],
                            [[m, v["n_pairs"], v["mean_interleaved"], v["mean_textless"], v["mean_delta"],
                              f"{v['interleaved_better']}/{v['n_pairs']}"] for m, v in c["summary"].items()]))
        else:
            s.append("<p>No metric was evaluated on both arms yet.</p>")
        mixed = [m for m in MIXED_METRICS if any(p["mixed"][m] is not None for p in c["pairs"])]
        if mixed:
            s.append("<p>Cross-modal StoryCloze (t2s: text context, spoken ending; s2t: the reverse) and the "
                     "benchmarks' text versions, interleaved runs only:</p>")
            s.append(_table(["size", "budget", "C train", *mixed],
                            [[p["preset"], p["budget"], p["flops"], *(p["mixed"][m] for m in mixed)]
                             for p in c["pairs"]]))
        else:
            s.append("<p>No cross-modal or text-version scores (not evaluated, or not available in this "
                     "installation's evaluation).</p>")
    img = fig_interleaved(comparison, fits)
    if img:
        s.append(f"<figure>{img}</figure>")
    notes = [f"{a}: {f['loss_note']}" for a, f in fits["arms"].items() if "loss_note" in f]
    if notes:
        s.append("<p><small>" + html.escape("; ".join(notes)) + ". Its loss envelope above is its own and is "
                 "not fitted with an L(N, D) law.</small></p>")
    return s
