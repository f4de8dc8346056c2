"""A small study (fake trainer) end to end: `slmscale fit loss` / `fit downstream` / `plan` on its
results.csv and fits.json give the numbers of fits.json and of the report's tables; the Chinchilla
fit leaves the repeated-data runs out and says so; findings.json is what `findings.assess` gives on
results.csv, and the report opens with it; the report renders in a headless browser with every
image loaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slmscale.study.report_html import num
from study_helpers import SIZES, make_spec, write_spec, write_text_and_interleaved_shards

pytestmark = pytest.mark.slow
BOOT = 20


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    from slmscale.data.shards import ShardWriter
    from slmscale.study.pipeline import run_study
    from slmscale.study.spec import load_spec

    tmp = tmp_path_factory.mktemp("e2e")
    w = ShardWriter(tmp / "shards", vocab_size=12, special_tokens={"bos": 10, "eos": 11}, modality="units")
    for i in range(4):
        w.add(np.arange(i, i + 5) % 10, doc_id=f"d{i}", split="train" if i else "valid")
    w.close({"k": 10})
    text, _ = write_text_and_interleaved_shards(tmp)
    sizes = [{"preset": f"fake-{n}", "params": n} for n in SIZES]
    speech_grid = {"sizes": sizes, "tokens_per_param": [2, 8, 32],
                   "multi_epoch": [{"size": "fake-80000", "unique_tokens": 200_000, "epochs": [3, 6]}]}
    arms = [{"name": "speech", "kind": "units", "shards": str(tmp / "shards"), "tasks": ["sblimp"],
             "grid": speech_grid},
            # The fake trainer's sizes have no model shape to count full FLOPs: compare at 6ND here
            # (equal-flops_full matching is tested in tests/study/test_expand.py and test_demo.py).
            {"name": "text", "kind": "text", "shards": str(text), "tasks": ["sblimp"], "match_flops": False}]
    d = make_spec(tmp, tmp / "shards", arms=arms, fits={"bootstrap": BOOT, "huber_delta": 0.03},
                  questions={"flops": [1e13], "targets": {"sblimp": 0.8}, "arm": "speech"})
    # The benchmark root's audit (`slmscale bench audit DIR`): the findings' sBLIMP floor.
    (tmp / "bench" / "audit.json").write_text(json.dumps({"bench": str(tmp / "bench"), "tasks": {
        "sblimp": {"task": "sblimp", "n_pairs": 400, "strongest": {"baseline": "length_phones", "accuracy": 0.55}}}}))
    run_study(load_spec(write_spec(tmp, d)), tmp / "out")
    return tmp / "out"


@pytest.fixture
def cli(capsys):
    from slmscale.cli.main import main

    def run(*args) -> dict:
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            try:
                main([*args, "--json"])
            except SystemExit as err:
                assert not err.code, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)

    return run


def _same(a, b, keys):
    for k in keys:
        assert a[k] == pytest.approx(b[k], rel=1e-9), k


def test_fit_loss_on_results_csv_gives_the_study_numbers(study, cli):
    fits = json.loads((study / "fits.json").read_text())
    for arm in ("speech", "text"):
        ours = fits["arms"][arm]["loss_fit"]
        rec = cli("fit", "loss", str(study / "results.csv"), "--arm", arm, "--huber-delta", "0.03",
                  "--bootstrap", str(BOOT), "--seed", "0")
        _same(rec, ours, ("E", "A", "B", "alpha", "beta", "a", "b", "n_points"))
        assert rec["ci"]["alpha"] == pytest.approx(ours["ci"]["alpha"], rel=1e-9)
    # The speech arm's two repeated-data runs are left out of the Chinchilla form, and it says so.
    left = fits["arms"]["speech"]["loss_fit"]["excluded_repeated"]
    assert left["n"] == 2
    assert fits["arms"]["speech"]["loss_fit"]["n_points"] == 9 and fits["form"] == "chinchilla"
    df = pd.read_csv(study / "results.csv")
    assert sorted(df.loc[df["epochs"] > 1.05, "run_id"]) == sorted(left["runs"])


def test_fit_downstream_and_plan_give_the_study_numbers(study, cli):
    fits = json.loads((study / "fits.json").read_text())
    rec = cli("fit", "downstream", str(study / "results.csv"), "--metric", "sblimp", "--compute", "flops_full",
              "--bootstrap", str(BOOT), "--seed", "0")
    for arm in ("speech", "text"):
        ours = fits["arms"][arm]["downstream"]["sblimp"]
        _same(rec["arms"][arm], ours, ("gamma", "k", "n_envelope"))
        assert rec["arms"][arm]["ci"]["gamma"] == pytest.approx(ours["ci"]["gamma"], rel=1e-9)
        assert rec["arms"][arm]["vs_loss"]["pearson_r"] == pytest.approx(ours["vs_loss"]["pearson_r"], rel=1e-9)
    budget, target = fits["planner"]["answers"]
    plan = cli("plan", "--fit", str(study / "fits.json"), "--arm", "speech", "--flops", "1e13")
    _same(plan, budget, ("n_opt", "d_opt", "loss", "tokens_per_param"))
    assert plan["ci"]["n_opt"] == pytest.approx(budget["ci"]["n_opt"], rel=1e-9)
    plan = cli("plan", "--fit", str(study / "fits.json"), "--arm", "speech", "--target", "sblimp=0.8")
    _same(plan, target, ("flops",))
    assert plan["compute"] == "flops_full"


def test_the_report_tables_show_the_fitted_numbers(study):
    fits = json.loads((study / "fits.json").read_text())
    html = (study / "report.html").read_text()
    lf = fits["arms"]["speech"]["loss_fit"]
    assert f"{num(lf['alpha'])} [{lf['ci']['alpha'][0]:.3g}, {lf['ci']['alpha'][1]:.3g}]" in html
    law = fits["arms"]["text"]["downstream"]["sblimp"]
    assert f"{num(law['gamma'])} [{law['ci']['gamma'][0]:.3g}, {law['ci']['gamma'][1]:.3g}]" in html
    env = fits["arms"]["speech"]["loss_envelope"]
    assert f"{num(env['gamma'])} [{env['ci']['gamma'][0]:.3g}, {env['ci']['gamma'][1]:.3g}]" in html
    budget = fits["planner"]["answers"][0]
    assert f"<td>{num(budget['n_opt'])}</td>" in html
    assert "2 run(s) repeat their data" in html and "2 (repeated data)" in html
    # Both accountings, and the published laws from the package data.
    for needle in ("C = 6ND", "C full", "N total", "flops_full", "Hoffmann et al. 2022", "Cuervo &amp; Marxer 2024"):
        assert needle in html, needle
    # Every embedded figure is on disk under figures/, as its caption says.
    for name in re.findall(r"figures/([\w.-]+\.(?:png|svg))", html):
        assert (study / "figures" / name).is_file(), name
    assert not re.search(r'(src|href)="(http|//)', html)  # opens offline


def test_findings_json_and_the_report_open_with_every_finding_decided(study):
    from slmscale.scaling import findings
    from slmscale.study.report_findings import ORDER

    doc = json.loads((study / "findings.json").read_text())
    floor = doc["baselines"]["by_metric"]["sblimp"]
    assert floor == {"accuracy": 0.55, "baseline": "length_phones", "n": 400, "source": floor["source"]}
    assert Path(floor["source"]).samefile(study.parent / "bench" / "audit.json")  # outside the study: absolute
    recs = doc["findings"]
    assert {r["id"] for r in recs} == set(findings.CLAIMS)
    assert all(r["verdict"] in ORDER and r["reason"] for r in recs)  # a verdict, or not tested + why
    by = {(r["id"], r["metric"]): r for r in recs}
    assert by[("C&M 1", None)]["verdict"] == "reproduced"  # the fake law's envelope falls with compute
    assert by[("C&M 2", "sblimp")]["verdict"] == "reproduced" and by[("C&M 2", "sblimp")]["ci"][0] > 0
    assert by[("C&M 6", None)]["reason"].startswith("needs a unigram-unit SLM arm")
    assert by[("SIMS 2", None)]["reason"].startswith("needs an interleaved SLM arm")
    # The same numbers from results.csv with `findings.assess` (what a user runs by hand).
    df = pd.read_csv(study / "results.csv")
    again = findings.assess(df, kinds={"speech": "units", "text": "text"}, n_boot=BOOT, seed=0,
                            huber_delta=0.03, baselines=doc["baselines"]["by_metric"])
    assert [(r.id, r.metric, r.verdict) for r in again] == [(r["id"], r["metric"], r["verdict"]) for r in recs]
    for a, r in zip(again, recs):
        assert (a.value is None) == (r["value"] is None) and (a.value is None or a.value == pytest.approx(r["value"]))
    html = (study / "report.html").read_text()
    assert html.index("<h2>") == html.index("<h2>Findings")
    assert html.index("<table") == html.index("<table class='findings-table'>")
    assert "sblimp 0.550 (length_phones" in html  # where the floor came from
    assert json.loads((study / "fits.json").read_text())["findings"]["summary"] == doc["summary"]


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def test_the_report_renders_in_a_headless_browser_with_every_image(study, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium); CI must install it")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    # A copy of the report that records, once loaded, how many of its images decoded.
    probe = tmp_path / "probe.html"
    probe.write_text((study / "report.html").read_text().replace(
        "</body>", "<script>window.addEventListener('load',()=>{const i=[...document.images];"
                   "document.body.setAttribute('data-images',i.filter(x=>x.complete&&x.naturalWidth>0).length"
                   "+'/'+i.length)})</script></body>"))
    dom = subprocess.run([*flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    loaded, total = map(int, re.search(r'data-images="(\d+)/(\d+)"', dom).groups())
    assert total >= 5 and loaded == total
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--hide-scrollbars", "--window-size=1400,2400", f"--screenshot={shot}",
                    (study / "report.html").as_uri()], capture_output=True, timeout=180, check=True)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (2400, 1400) and img.std() > 10  # a rendered page, not a blank one
