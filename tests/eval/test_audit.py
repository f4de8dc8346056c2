"""`slmscale bench audit`: baselines per task and group, bounds, official layouts, the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from slmscale.cli.main import app
from slmscale.errors import UserError
from slmscale.eval.audit import audit_bench, strongest_baseline
from slmscale.eval.formats import GOLD_COLUMNS, write_csv
from slmscale.eval.synth_bench import BenchConfig, build_bench

from eval.test_synth_bench import fake_tts


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    mp = pytest.MonkeyPatch()
    mp.setattr("slmscale.audio.tts.synthesize_many", fake_tts())
    try:
        build_bench(BenchConfig(n=20, seed=0, voices=["us-f1"], tasks=["swuggy", "sblimp", "ssc"]), out)
    finally:
        mp.undo()
    return out


def test_synthetic_build_writes_an_audit_near_chance(bench):
    lex = json.loads((bench / "lexical" / "audit.json").read_text())
    assert lex["n_pairs"] == 20 and lex["within_bounds"], lex["baselines"]
    assert {"length_phones", "length_seconds", "phone_2gram_sum", "phone_4gram_mean"} <= set(lex["baselines"])
    assert "word_unigram_sum" not in lex["baselines"]  # "is this a word" is not a surface cue
    assert lex["baselines"]["length_seconds"] == 0.5  # the fake speaker's wavs all last the same
    assert set(lex["by_group"]) == {"high", "mid", "low"}
    rep = audit_bench(bench)
    assert set(rep["tasks"]) == {"swuggy", "sblimp", "ssc"}
    assert rep["corpus"] == "synthetic corpus, seed 0"
    syn = rep["tasks"]["sblimp"]
    assert len(syn["by_group"]) == 12 and syn["group_key"] == "phenomenon"
    assert abs(syn["baselines"]["length_phones"] - 0.5) <= 0.05
    assert "overlap_mean" in rep["tasks"]["ssc"]["baselines"]


def test_a_confounded_benchmark_is_flagged(bench, tmp_path):
    """Make every bad sentence longer: the length baseline solves the task and the audit says so."""
    folder = tmp_path / "syntactic"
    folder.mkdir()
    lines = (bench / "syntactic" / "text.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    for r in recs:
        r["sentence_bad"] = r["sentence_bad"][:-1] + " in the big old garden."
    (folder / "text.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    rep = audit_bench(tmp_path, corpus=None)
    t = rep["tasks"]["sblimp"]
    assert t["baselines"] == {"length_phones": 1.0} and not t["within_bounds"] and not rep["within_bounds"]
    assert "none" in rep["corpus"]


def test_official_gold_layout_and_a_corpus_file(tmp_path):
    d = tmp_path / "lexical" / "dev"
    d.mkdir(parents=True)
    rows = []
    for i, (w, nw) in enumerate([("cat", "bip"), ("dog", "strengthsome"), ("apple", "ap")]):
        for c, text in ((1, w), (0, nw)):
            rows.append(dict(id=f"p{i}", filename=f"f{i}{c}", voice="v", frequency="", word=text, phones="",
                             length=len(text), correct=c))
    write_csv(d / "gold.csv", GOLD_COLUMNS["swuggy"], rows)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\nthe dog ran\n")
    rep = audit_bench(tmp_path, corpus=corpus)  # no wavs: text baselines only
    t = rep["tasks"]["swuggy"]
    # cat/bip tie, dog is shorter than strengthsome, apple longer than ap
    assert t["n_pairs"] == 3 and t["baselines"]["length_phones"] == pytest.approx(0.5)
    assert "length_seconds" not in t["baselines"] and rep["corpus"] == str(corpus)
    with pytest.raises(UserError, match="corpus file not found"):
        audit_bench(tmp_path, corpus=tmp_path / "nope.txt")
    with pytest.raises(UserError, match="no benchmark task folders"):
        audit_bench(tmp_path / "lexical" / "dev" / "..", tasks=["sblimp"])


def test_cli_prints_and_writes_json(bench, tmp_path):
    out = tmp_path / "a.json"
    res = CliRunner().invoke(app, ["bench", "audit", str(bench), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "swuggy: 20 pairs" in res.output and "strongest" in res.output
    assert json.loads(out.read_text())["tasks"]["swuggy"]["n_pairs"] == 20
    res = CliRunner().invoke(app, ["bench", "audit", str(tmp_path / "missing")])
    assert isinstance(res.exception, UserError) and "not found" in str(res.exception)  # main() prints it


def test_the_strongest_baseline_keeps_its_outcome_on_every_pair(bench):
    from slmscale.eval.formats import TASK_DIRS, load_benchmark

    for task in ("swuggy", "sblimp", "ssc"):
        s = json.loads((bench / TASK_DIRS[task] / "audit.json").read_text())["strongest"]
        ids = {p.pair_id for p in load_benchmark(bench, task, "dev").pairs}
        assert set(s["by_pair"]) == ids, task  # keyed like the pairs eval compares
        assert sum(s["by_pair"].values()) / len(s["by_pair"]) == pytest.approx(s["accuracy"])
        assert set(s["by_pair"].values()) <= {0.0, 0.5, 1.0}


def test_strongest_baseline_is_found_next_to_the_task_or_at_the_root(bench, tmp_path):
    got = strongest_baseline(bench, "swuggy")
    assert got["source"] == str(bench / "lexical" / "audit.json") and got["by_pair"]
    assert strongest_baseline(bench / "lexical", "swuggy")["source"] == got["source"]  # the task folder given
    assert strongest_baseline(tmp_path, "swuggy") is None  # no audit: nothing to compare with
    # An older task audit without per-pair outcomes gives way to a root audit that has them.
    import shutil

    root = tmp_path / "b"
    shutil.copytree(bench / "lexical", root / "lexical")
    old = json.loads((root / "lexical" / "audit.json").read_text())
    del old["strongest"]["by_pair"]
    (root / "lexical" / "audit.json").write_text(json.dumps(old))
    assert "by_pair" not in strongest_baseline(root, "swuggy")  # still the accuracy, unpaired
    (root / "audit.json").write_text(json.dumps({"tasks": {"swuggy": json.loads(
        (bench / "lexical" / "audit.json").read_text())}}))
    assert strongest_baseline(root, "swuggy")["source"] == str(root / "audit.json")
    assert strongest_baseline(root, "sblimp") is None
    (root / "lexical" / "audit.json").write_text(json.dumps({"task": "swuggy", "strongest": {}}))
    with pytest.raises(UserError, match=r"lexical/audit.json: task 'swuggy' has no 'strongest'"):
        strongest_baseline(root, "swuggy")
