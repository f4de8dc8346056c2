"""The findings section of the study report, from records and from findings.json."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

from slmscale.scaling.findings import Finding, findings_to_json, summarize
from slmscale.study.report_findings import COLOURS, fmt, fmt_ci, render_findings


def _records() -> list[Finding]:
    return [
        Finding("C&M 3", "γ_text / γ_speech on sblimp", metric="sblimp", arms=["text", "speech"],
                value=3.1, ci=[2.4, math.inf], paper=0.066 / 0.021, paper_note="compute factor",
                verdict="reproduced", reason="interval [2.4, inf] lies above 1"),
        Finding("C&M 3", "γ_text / γ_speech on tsc", metric="tsc", arms=["text", "speech"],
                value=1.1, ci=[0.7, 1.9], verdict="inconclusive",
                reason="interval too wide: [0.7, 1.9] includes 1"),
        Finding("C&M 5", "ssc: story arm − no-story arm", metric="ssc", verdict="not tested",
                reason="needs a 'no_story' units arm: the same sentences shuffled across stories"),
        Finding("C&M 1", "loss-envelope exponent", value=-0.08, ci=[-0.09, -0.07],
                verdict="contradicted", reason="envelope R² 0.3 < 0.5: not a power law <b>"),
    ]


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append("")

    def handle_data(self, data):
        if self.rows:
            self.rows[-1] += data


def test_table_rows_verdicts_and_colours():
    recs = _records()
    out = render_findings(recs, summarize(recs))
    assert out.startswith("<section class='findings'>") and out.endswith("</section>")
    parser = _Cells()
    parser.feed(out)
    assert len(parser.rows) == 1 + len(recs)  # header + one row per record
    row = parser.rows[1]
    assert "C&M 3" in row and "sBLIMP" in row and "3.1 [2.4, ∞]" in row and "3.14" in row
    assert "reproduced" in row
    assert "needs a 'no_story' units arm" in out.replace("&#x27;", "'")
    for verdict in ("reproduced", "inconclusive", "not tested", "contradicted"):
        assert COLOURS[verdict][0] in out
    assert "&lt;b&gt;" in out and "<b>\n" not in out  # reasons are escaped
    assert "rowspan='2'" in out  # C&M 3's two rows share the finding cell
    assert "<img" not in out and "matplotlib" not in out


def test_renders_findings_json_with_open_interval():
    doc = json.loads(json.dumps(findings_to_json(_records())))
    assert doc["findings"][0]["ci"] == [2.4, None]
    out = render_findings(doc["findings"], doc["summary"])
    assert "3.1 [2.4, ∞]" in out
    assert "C&amp;M 6 <span class='verdict verdict-not-tested'" in out  # every finding is summarised


def test_empty_and_number_formatting():
    assert "No findings" in render_findings([])
    assert fmt(None) == "—" and fmt(float("nan")) == "—" and fmt(-0.0213) == "−0.0213"
    assert fmt(12345.0) == "1.23e+04" and fmt(-math.inf) == "−∞"
    assert fmt_ci(None) == "" and fmt_ci([None, None]) == ""
    assert fmt_ci([None, 0.5]) == " [−∞, 0.5]"
