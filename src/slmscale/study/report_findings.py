"""The report's findings section: the papers' claims, our statistic with its 95% interval, the paper's
value and a colour-coded verdict with its reason (records from `slmscale.scaling.findings`).

Pure string building (no matplotlib, no file access): it takes the records, as `Finding` objects or
as the dicts of findings.json, and returns one HTML <section> that the study report puts first.
"""

from __future__ import annotations

import html
import math
from typing import Any

# Background and text colour per verdict (the colour is never the only cue: the word is printed).
COLOURS = {"reproduced": ("#d8f0dc", "#14532d"), "contradicted": ("#f8d7da", "#7f1d1d"),
           "inconclusive": ("#fff3cd", "#6b4e00"), "not tested": ("#e9ecef", "#343a40")}
ORDER = ("reproduced", "contradicted", "inconclusive", "not tested")
METRIC_NAMES = {"swuggy": "sWUGGY", "sblimp": "sBLIMP", "ssc": "sStoryCloze", "tsc": "tStoryCloze"}


def _as_dict(rec: Any) -> dict[str, Any]:
    return rec.to_dict() if hasattr(rec, "to_dict") else dict(rec)


def fmt(v: Any) -> str:
    """A number for the table: 3 significant digits; None (not computed) as a dash."""
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return html.escape(str(v))
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.3g}".replace("-", "−")


def fmt_ci(ci: Any) -> str:
    """[lo, hi]; in findings.json an unbounded end is null, read as ±∞ beside a finite end."""
    if not ci or all(v is None for v in ci):
        return ""
    lo, hi = ci[0], ci[1]
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    return f" [{fmt(lo)}, {fmt(hi)}]"


def _badge(verdict: str) -> str:
    bg, fg = COLOURS.get(verdict, COLOURS["inconclusive"])
    return (f"<span class='verdict verdict-{verdict.replace(' ', '-')}' style='background:{bg};"
            f"color:{fg};padding:1px 6px;border-radius:3px;font-weight:600;white-space:nowrap'>"
            f"{html.escape(verdict)}</span>")


def _summary_line(recs: list[dict[str, Any]], summary: list[dict[str, Any]] | None) -> str:
    if summary:
        parts = [f"{html.escape(s['id'])} {_badge(s['verdict'])}" for s in summary]
        return "<p class='findings-summary'>" + " &nbsp; ".join(parts) + "</p>"
    counts = {v: sum(r["verdict"] == v for r in recs) for v in ORDER}
    return "<p class='findings-summary'>" + ", ".join(
        f"{_badge(v)} {n}" for v, n in counts.items() if n) + "</p>"


def _paper(rec: dict[str, Any]) -> str:
    note = html.escape(rec.get("paper_note") or "")
    if rec.get("paper") is None:
        return f"<small>{note}</small>" if note else "—"
    return fmt(rec["paper"]) + (f"<br><small>{note}</small>" if note else "")


def render_findings(records: list[Any], summary: list[dict[str, Any]] | None = None,
                    title: str = "Findings", notes: list[str] | None = None) -> str:
    """The findings section as HTML: a headline verdict per finding (when `summary` is given, e.g.
    `findings.summarize(records)` or findings.json's "summary"), then one row per statistic, then
    `notes` (plain text, e.g. where the surface baselines came from)."""
    recs = [_as_dict(r) for r in records]
    s = [f"<section class='findings'><h2>{html.escape(title)}</h2>"]
    if not recs:
        s.append("<p>No findings were assessed (no results yet).</p></section>")
        return "".join(s)
    s.append(_summary_line(recs, summary))
    s.append("<table class='findings-table'><thead><tr><th>finding</th><th>statistic</th>"
             "<th>ours [95% CI]</th><th>paper</th><th>verdict</th></tr></thead><tbody>")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        groups.setdefault(r["id"], []).append(r)
    for fid, rows in groups.items():
        claim = html.escape(rows[0].get("claim", ""))
        for i, r in enumerate(rows):
            first = (f"<td rowspan='{len(rows)}'><b>{html.escape(fid)}</b><br><small>{claim}</small></td>"
                     if i == 0 else "")
            metric = r.get("metric")
            stat = html.escape(r.get("statistic", ""))
            if metric:
                stat = f"<b>{html.escape(METRIC_NAMES.get(metric, metric))}</b>: {stat}"
            arms = r.get("arms") or []
            if arms:
                stat += f"<br><small>arms: {html.escape(', '.join(map(str, arms)))}</small>"
            ours = "—" if r.get("value") is None else fmt(r["value"]) + fmt_ci(r.get("ci"))
            reason = html.escape(r.get("reason", ""))
            s.append(f"<tr>{first}<td>{stat}</td><td style='white-space:nowrap'>{ours}</td>"
                     f"<td>{_paper(r)}</td><td>{_badge(r['verdict'])}<br><small>{reason}</small></td></tr>")
    s.append("</tbody></table>")
    s.append("<p><small>Intervals: 95% percentile bootstrap over runs (resampled within each arm, "
             "seeded). A verdict needs the interval on one side of the claim's null value; "
             "<i>not tested</i> rows name the arm that would test the finding.</small></p>")
    s.extend(f"<p><small>{html.escape(n)}</small></p>" for n in notes or [])
    s.append("</section>")
    return "".join(s)
