from __future__ import annotations

import copy
import re

import pytest

from slmscale.study.analysis import analyse
from slmscale.study.report import report_from_dir, write_report
from slmscale.study.spec import load_spec
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


@pytest.mark.slow
def test_report_from_dir_rebuilds_everything(tmp_path, shards):
    from slmscale.study.pipeline import run_study

    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2, 8]}
    spec = load_spec(write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid)))
    run_study(spec, tmp_path / "out", report=False)
    (tmp_path / "out" / "results.csv").unlink()
    path = report_from_dir(tmp_path / "out")
    assert path.is_file() and (tmp_path / "out" / "results.csv").is_file()
    assert "not fitted" in path.read_text()  # 2 runs cannot fit 5 parameters; the report says so
