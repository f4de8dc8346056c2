"""study.analysis_findings: surface baselines read from the benchmarks' audit.json files (absent,
per task, per benchmark root, unreadable), and findings.json for a study without runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmscale.scaling.findings import CLAIMS
from slmscale.study.analysis_findings import SMALL_HINT, load_baselines, study_findings
from slmscale.study.spec import load_spec
from study_helpers import make_spec, write_spec


def _spec(tmp_path: Path, **extra):
    return load_spec(write_spec(tmp_path, make_spec(tmp_path, tmp_path / "shards", **extra)))


def _task_audit(task: str, acc: float, n: int = 200) -> dict:
    # The shape `slmscale synth bench` writes next to each task (eval.audit.audit_task).
    return {"task": task, "n_pairs": n, "baselines": {"length_phones": acc, "unigram": 0.5},
            "strongest": {"baseline": "length_phones", "accuracy": acc}, "within_bounds": True}


def test_no_audit_means_no_baselines(tmp_path):
    baselines, info = load_baselines(tmp_path, _spec(tmp_path))
    assert baselines is None and info == {"files": [], "skipped": []}


def test_audits_per_task_and_at_the_root_strongest_wins_bad_files_listed(tmp_path):
    spec = _spec(tmp_path)
    bench = tmp_path / "bench"  # the spec's given benchmark root
    # `slmscale bench audit DIR` at the root: tasks keyed by their short names.
    (bench / "audit.json").write_text(json.dumps({"bench": str(bench), "tasks": {
        "sblimp": _task_audit("sblimp", 0.53), "ssc": _task_audit("ssc", 0.58, n=100)}}))
    (bench / "syntactic").mkdir()
    (bench / "syntactic" / "audit.json").write_text(json.dumps(_task_audit("sblimp", 0.56)))
    (bench / "lexical").mkdir()
    (bench / "lexical" / "audit.json").write_text("{not json")
    # A synthesised task folder listed in plan.json, its audit naming the task in full.
    synth = tmp_path / "data" / "bench" / "tstorycloze"
    (synth / "tStoryCloze").mkdir(parents=True)
    (synth / "tStoryCloze" / "audit.json").write_text(json.dumps(_task_audit("tstorycloze", 0.61)))
    (tmp_path / "plan.json").write_text(json.dumps({"runs": [], "data": {"bench": {"tstorycloze": str(synth)}}}))

    baselines, info = load_baselines(tmp_path, spec)
    assert set(baselines) == {"sblimp", "ssc", "tsc"}  # results columns, whatever the audit called them
    assert baselines["sblimp"] == {"accuracy": 0.56, "baseline": "length_phones", "n": 200,
                                   "source": "bench/syntactic/audit.json"}  # the higher floor
    assert baselines["ssc"]["accuracy"] == 0.58 and baselines["ssc"]["n"] == 100
    assert baselines["tsc"]["source"] == "data/bench/tstorycloze/tStoryCloze/audit.json"
    assert len(info["files"]) == 3
    (bad,) = info["skipped"]
    assert bad["file"] == "bench/lexical/audit.json" and bad["reason"]


@pytest.mark.parametrize("doc", [{"task": "sblimp"}, {"task": "sblimp", "strongest": {"accuracy": None}},
                                 {"task": "sblimp", "strongest": {"accuracy": 1.7}}, ["sblimp"]])
def test_an_unusable_audit_is_skipped_not_fatal(tmp_path, doc):
    spec = _spec(tmp_path)
    (tmp_path / "bench" / "audit.json").write_text(json.dumps(doc))
    baselines, info = load_baselines(tmp_path, spec)
    assert baselines is None and info["files"] == [] and len(info["skipped"]) == 1


def test_a_demo_preset_without_runs_says_every_finding_is_not_tested_and_what_would_test_it(tmp_path):
    spec = _spec(tmp_path, name="demo-tiny")
    doc = study_findings(spec, tmp_path, [], degenerate=[])
    on_disk = json.loads((tmp_path / "findings.json").read_text())
    assert on_disk == doc and doc["study"] == "demo-tiny" and doc["hint"] == SMALL_HINT
    assert {r["id"] for r in doc["findings"]} == set(CLAIMS)
    assert all(r["verdict"] == "not tested" and r["reason"].endswith(f"({SMALL_HINT})") for r in doc["findings"])
    assert [s["verdict"] for s in doc["summary"]] == ["not tested"] * len(CLAIMS)
    # Any other study gets no hint.
    other = study_findings(_spec(tmp_path), tmp_path, [], degenerate=[])
    assert other["hint"] is None and not any(SMALL_HINT in r["reason"] for r in other["findings"])
