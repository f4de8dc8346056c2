"""The report's interleaved-vs-textless section: the runs matched at equal full training FLOPs
(`fits.json` "interleaved", made by slmscale.scaling.compare.match_equal_compute) in both
accountings, with and without the text LM's pre-training, and their figure."""

from __future__ import annotations

from pathlib import Path

from slmscale.study.report_figures import interleaved_figure
from slmscale.study.report_html import esc, note, table


def interleaved_section(out: Path, fits: dict, speech_metrics: list[str], mixed_metrics: list[str]) -> list[str]:
    comparison = fits.get("interleaved") or []
    if not comparison:
        return []
    s = ["<h2>Interleaved (initialised from text) vs textless, at equal training compute</h2>",
         "<p>Each interleaved run starts from the text arm's model of its size, extended with the unit and "
         "switch tokens. It is paired with the textless run of the nearest <b>full</b> training compute "
         "(<code>flops_full</code>: embeddings, LM head and attention counted, same seed); a pair counts as "
         "equal compute when the two differ by at most "
         f"{100 * comparison[0].get('tolerance', 0.02):.0f}%. Both accountings are shown: C = 6·N·D with "
         "non-embedding N, and the full count; “+ pre-train” adds the text run's own training (the text "
         "LM's pre-training), the other honest accounting. Speech tasks of the interleaved model are scored "
         "on speech tokens only. “textless law @ total” is the textless arm's envelope law "
         "Q = k·C<sup>γ</sup> at the interleaved run's total compute (* = beyond its largest run).</p>"]
    for c in comparison:
        s.append(f"<h3>{esc(c['arm'])} (from {esc(str(c['init_arm']))}) vs {esc(c['textless_arm'])}: "
                 f"{c['n_pairs']} of {len(c['pairs'])} run(s) matched at equal {esc(c['compute'])}</h3>")
        metrics = [m for m in speech_metrics if any(p["interleaved"][m] is not None or p["textless"][m] is not None
                                                    for p in c["pairs"])]
        body = []
        for p in c["pairs"]:
            ratio = p.get("compute_ratio")
            cells = [p["preset"], p["budget"], p["params"], p.get("params_total"), p["tokens"], p["flops"],
                     p.get("flops_full"), p.get("textless_flops_full"),
                     "" if ratio is None else f"{ratio:.3f}{'' if p['matched'] else ' (not equal)'}",
                     p.get("flops_total"), p.get("flops_full_total"), p["speech_token_share"]]
            for m in metrics:
                law = p["textless_law_at_total"][m]
                cells += [p["interleaved"][m], p["textless"][m], p["delta"][m],
                          None if law is None else f"{law:.3f}{'*' if p['extrapolated'] else ''}"]
            body.append(cells)
        head = ["size", "budget", "N", "N total", "D", "C = 6ND", "C full", "textless C full",
                "C full ratio", "C train + text pre-train", "C full + pre-train", "speech share"]
        for m in metrics:
            head += [f"{m} interleaved", f"{m} textless", f"Δ {m}", "textless law @ total"]
        s.append(table(head, body))
        if c["summary"]:
            s.append(table(["metric", "pairs", "mean interleaved", "mean textless", "mean Δ", "interleaved better"],
                           [[m, v["n_pairs"], v["mean_interleaved"], v["mean_textless"], v["mean_delta"],
                             f"{v['interleaved_better']}/{v['n_pairs']}"] for m, v in c["summary"].items()]))
        else:
            s.append("<p>No pair at equal compute with a metric evaluated on both arms.</p>")
        mixed = [m for m in mixed_metrics if any(p["mixed"][m] is not None for p in c["pairs"])]
        if mixed:
            s.append("<p>Cross-modal StoryCloze (t2s: text context, spoken ending; s2t: the reverse) and the "
                     "benchmarks' text versions, interleaved runs only:</p>")
            s.append(table(["size", "budget", "C full", *mixed],
                           [[p["preset"], p["budget"], p.get("flops_full"), *(p["mixed"][m] for m in mixed)]
                            for p in c["pairs"]]))
        img = interleaved_figure(out, c, fits, speech_metrics)
        if img:
            s.append(img)
    notes = [f"{a}: {f['loss_note']}" for a, f in fits["arms"].items() if "loss_note" in f]
    if notes:
        s.append(note("; ".join(notes) + ". Its loss envelope above is its own and is not fitted with an "
                      "L(N, D) law."))
    return s
