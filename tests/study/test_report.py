from __future__ import annotations

import copy
import json
import re

import pytest

from slmscale.study.analysis import analyse, degenerate_fits
from slmscale.study.analysis_findings import study_findings
from slmscale.study.report import report_from_dir, write_report
from slmscale.study.spec import load_spec
from slmscale.study.store import finished_rows
from study_helpers import make_spec, write_spec


def _rows():
    """Two arms on a known law; accuracy grows with compute, faster for text."""
    rows = []
    for arm, gain in (("speech", 0.02), ("text", 0.06)):
        for n in (2e4, 8e4, 3e5):
            for r in (2, 8, 32):
                d = n * r
                loss = 1.7 + 40 / n ** 0.3 + 60 / d ** 0.28
                c = 6 * n * d
                rows.append({"run_id": f"{arm}-{int(n)}-{r}", "arm": arm, "kind": "units", "preset": f"p{int(n)}",
                             "budget": f"tpp={r}", "seed": 0, "params": n, "params_total": n + 1, "tokens": d,
                             "flops": c, "flops_full": 1.2 * c, "epochs": 1.0, "loss": loss, "status": "finished",
                             "swuggy": None, "sblimp": 0.5 * (c / 1e9) ** gain, "ssc": None, "tsc": None,
                             "wall_s": 1.0, "error": None})
    rows.append({**rows[0], "run_id": "speech-broken", "status": "failed", "loss": None,
                 "error": "exit 1: boom"})
    return rows


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Fitted once for the module (the fits take seconds); each test writes its own report."""
    tmp = tmp_path_factory.mktemp("fitted")
    shards = tmp / "shards"  # the spec needs a path; the fits read only the rows
    arms = [{"name": "speech", "kind": "units", "shards": str(shards), "tasks": ["sblimp"]},
            {"name": "text", "kind": "text", "shards": str(shards), "tasks": ["sblimp"]}]
    spec = load_spec(write_spec(tmp, make_spec(tmp, shards, arms=arms, fits={"bootstrap": 20},
                                               questions={"flops": [1e15], "targets": {"sblimp": 0.7}})))
    rows = _rows()
    return spec, rows, analyse(spec, tmp, rows)


def test_report_is_self_contained_with_fits_ratio_planner_and_exclusions(tmp_path, fitted):
    spec, rows, fits = fitted
    assert fits["arms"]["speech"]["loss_fit"]["alpha"] > 0.2 and not fits["degenerate"]
    (ratio,) = fits["ratios"]
    assert abs(ratio["ratio"] - 3.0) < 0.05 and ratio["ratio_ci"][0] <= ratio["ratio"] <= ratio["ratio_ci"][1]
    assert fits["excluded"] == [{"run_id": "speech-broken", "status": "failed", "error": "exit 1: boom"}]
    answers = fits["planner"]["answers"]
    assert answers[0]["n_opt"] > 0 and answers[1]["target"] == "sblimp=0.7" and answers[1]["flops"] > 0
    html = write_report(tmp_path, spec, rows, fits).read_text()
    for needle in ("Loss laws", "Loss envelope", "Text vs speech", "Planner", "Provenance", "Runs excluded",
                   "published: Cuervo &amp; Marxer 2024, speech units", "speech-broken", "exit 1: boom",
                   "γ_text=0.066"):
        assert needle in html, needle
    assert "Some fits are degenerate" not in html and html.index("Loss laws") < html.index("Loss envelope")
    imgs = re.findall(r'src="data:image/png;base64,', html)
    assert len(imgs) >= 4 and len(imgs) == len(re.findall(r"<figcaption>", html))
    assert not re.search(r'(src|href)="(http|//)', html)  # nothing to fetch: opens offline
    assert (tmp_path / "figures" / "metric_vs_compute.svg").is_file()


def test_degenerate_fits_are_withheld_and_the_report_leads_with_the_envelope(tmp_path, fitted):
    spec, rows, fits = fitted
    fits = copy.deepcopy(fits)
    lf = fits["arms"]["speech"]["loss_fit"]
    lf.update(degenerate=True, warnings=["E = 8e-161 (irreducible loss ~0): <unconstrained>"], E=8e-161)
    fits["degenerate"] = [{"arm": "speech", "fit": "loss law L(N, D)", "warnings": lf["warnings"]}]
    html = write_report(tmp_path, spec, rows, fits).read_text()
    assert html.index("Some fits are degenerate") < html.index("Loss envelope") < html.index("Text vs speech") \
        < html.index("Loss laws")
    assert "withheld: degenerate fit (E = 8e-161 (irreducible loss ~0): &lt;unconstrained&gt;)" in html
    head = html[html.index("Loss laws"):html.index("Degenerate loss fits")]
    assert "8e-161" not in head.split("withheld")[1].split("</tr>")[1]  # not in the headline rows
    assert "speech: the L(N, D) surface and frontier are not drawn" in html
    assert not (tmp_path / "figures" / "frontier_speech.png").exists()


def _row_of(html: str, needle: str) -> str:
    (row,) = [r for r in html.split("<tr>") if needle in r]
    return row


def test_the_report_opens_with_the_findings_and_a_degenerate_fit_reproduces_nothing(tmp_path, fitted):
    spec, rows, fits = fitted
    doc = fits["_findings"]
    verdict = {(r["id"], r["metric"]): r["verdict"] for r in doc["findings"]}
    # The planted laws (sblimp γ 0.02 speech, 0.06 text) reproduce C&M 2 and 3 when the fits are sound.
    assert verdict[("C&M 2", "sblimp")] == verdict[("C&M 3", "sblimp")] == "reproduced"
    assert fits["findings"] == {"file": "findings.json", "summary": doc["summary"]}
    html = write_report(tmp_path, spec, rows, fits).read_text()
    assert html.index("<h2>") == html.index("<h2>Findings") and html.index("<table") == html.index(
        "<table class='findings-table'>")  # the page opens with the findings table
    assert "no benchmark audit (audit.json) was found" in html
    # The same speech law made degenerate: the report withholds it, and the findings agree.
    fits = copy.deepcopy(fits)
    law = fits["arms"]["speech"]["downstream"]["sblimp"]
    law.update(degenerate=True, warnings=["gamma's 95% interval [0.001, 0.05] spans 50x"])
    fits["degenerate"] = degenerate_fits(fits["arms"])
    fits["_findings"] = study_findings(spec, tmp_path, finished_rows(rows), fits["degenerate"])
    after = {(r["id"], r["metric"]): r for r in fits["_findings"]["findings"]}
    for key in (("C&M 2", "sblimp"), ("C&M 3", "sblimp")):
        assert after[key]["verdict"] == "inconclusive"
        assert after[key]["reason"].startswith("degenerate fit: arm 'speech', sblimp vs compute: gamma's")
    assert after[("C&M 1", None)]["verdict"] == after[("C&M 4", "sblimp")]["verdict"] == "reproduced"
    html = write_report(tmp_path, spec, rows, fits).read_text()
    assert html.index("findings-table") < html.index("Some fits are degenerate")
    row = _row_of(html, "γ_text / γ_speech on sblimp")
    assert "verdict-inconclusive" in row and "degenerate fit" in row and "verdict-reproduced" not in row


@pytest.mark.slow
def test_report_from_dir_rebuilds_everything(tmp_path, shards):
    from slmscale.study.pipeline import run_study

    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2, 8]}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid)))
    run_study(spec, tmp_path / "out", report=False)
    (tmp_path / "out" / "results.csv").unlink()
    path = report_from_dir(tmp_path / "out")
    assert path.is_file() and (tmp_path / "out" / "results.csv").is_file()
    html = path.read_text()
    assert "not fitted" in html  # 2 runs cannot fit 5 parameters; the report says so
    doc = json.loads((tmp_path / "out" / "findings.json").read_text())  # rebuilt with the fits
    assert _row_of(html, "loss-envelope exponent") and {r["verdict"] for r in doc["findings"]} <= {
        "inconclusive", "not tested"}
