"""Interleaved arms that start from the text arm: expansion, dependencies, resume (fake trainer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slmscale.errors import UserError
from slmscale.study.expand import dependencies, expand
from slmscale.study.pipeline import run_study
from slmscale.study.spec import load_spec
from study_helpers import interleaved_spec, write_spec


def _events(root: Path) -> list[dict]:
    f = root / "run" / "attempts.jsonl"
    return [json.loads(x) for x in f.read_text().splitlines()] if f.is_file() else []


def test_expansion_starts_each_size_from_its_largest_text_run(tmp_path, shards):
    d = interleaved_spec(tmp_path, shards)
    d["arms"].insert(0, d["arms"].pop())  # the interleaved arm first: order in the spec must not matter
    d["arms"][0]["grid"]["seeds"] = [0, 1]
    spec = load_spec(write_spec(tmp_path, d))
    runs = expand(spec, {"il": "fp-il", "text": "fp-text"})
    text = {r.run_id: r for r in runs if r.arm == "text"}
    il = [r for r in runs if r.arm == "il"]
    assert [r.arm for r in runs][:len(il)] == ["il"] * len(il) and len(il) == 4
    for r in il:
        src = text[r.init_run]
        assert src.preset == r.preset and src.budget == "tpp=8" and src.seed == 0  # text arm has seed 0 only
    assert dependencies(runs) == {r.run_id: [r.init_run] for r in il}
    # The init run enters the id: another text config gives other interleaved runs.
    again = expand(spec, {"il": "fp-il", "text": "fp-text2"})
    assert {r.run_id for r in again if r.arm == "il"}.isdisjoint({r.run_id for r in il})
    # A size missing from the text arm's grid is named.
    d["arms"][0]["grid"]["sizes"].append({"preset": "fake-5", "params": 5})
    with pytest.raises(UserError, match="size 'fake-5' has no run in init_arm 'text'"):
        expand(load_spec(write_spec(tmp_path, d)))


def test_interleaved_runs_wait_for_their_text_run_and_report_both_computes(tmp_path, shards):
    spec = load_spec(write_spec(tmp_path, interleaved_spec(tmp_path, shards, step_s=0.05)))
    res = run_study(spec, tmp_path / "out", report=True)
    study = tmp_path / "out"
    df = pd.read_csv(study / "results.csv").set_index("run_id")
    assert len(df) == 14 and set(df["status"]) == {"finished"}
    il = df[df["arm"] == "il"]
    for rid, row in il.iterrows():
        run = json.loads((study / "runs" / rid / "run.json").read_text())
        init = run["init"]
        text_root = study / "runs" / init["run_id"]
        # Started only after its text run finished, from the extended copy of that run's model.
        finished = max(e["t"] for e in _events(text_root) if e["event"] == "finish")
        assert min(e["t"] for e in _events(study / "runs" / rid)) > finished
        cfg = yaml.safe_load((study / "runs" / rid / "train.yaml").read_text())
        assert cfg["model"]["init_from"] == init["model"] == str(study / "init" / f"{init['run_id']}_k10")
        assert init["k"] == 10 and init["tokenizer"] == str(tmp_path / "text-tok")
        # Compute both ways: training (= the textless run's) and training + the text run's.
        assert row["init_run"] == init["run_id"] and row["init_flops"] == df.loc[init["run_id"], "flops"]
        assert row["flops_total"] == pytest.approx(row["flops"] + row["init_flops"])
        twin = df[(df["arm"] == "speech") & (df["preset"] == row["preset"]) & (df["budget"] == row["budget"])]
        assert twin["flops"].item() == row["flops"]
    assert (df[df["arm"] != "il"]["init_flops"] == 0).all()
    # One extension per text run.
    assert len((study / "init" / "extend.log").read_text().splitlines()) == 2
    fits = res["fits"]
    assert "not fitted" in fits["arms"]["il"]["loss_fit"]["error"] and "loss_note" in fits["arms"]["il"]
    assert [r["speech_arm"] for r in fits["ratios"]] == ["speech"]  # not the interleaved arm
    [comp] = fits["interleaved"]
    assert comp["arm"] == "il" and comp["textless_arm"] == "speech" and comp["n_pairs"] == 2
    for p in comp["pairs"]:
        assert p["flops"] == p["textless_flops"] and p["flops_total"] > p["flops"]
        assert p["delta"]["sblimp"] == pytest.approx(p["interleaved"]["sblimp"] - p["textless"]["sblimp"])
        assert 0.5 <= p["mixed"]["sstorycloze_t2s"] <= 1
    assert comp["summary"]["sblimp"]["n_pairs"] == 2
    html = Path(res["report"]).read_text()
    assert "Interleaved (initialised from text) vs textless" in html and "C train + text pre-train" in html
    # Nothing left to do on a second invocation.
    assert run_study(spec, study, report=False)["ran"] == 0


def test_a_failed_text_run_fails_its_interleaved_runs_with_the_reason(tmp_path, shards):
    d = interleaved_spec(tmp_path, shards)
    d["train"]["fake"]["fail_tokens"] = 8 * 300_000  # the largest text (and speech) run
    spec = load_spec(write_spec(tmp_path, d))
    spec.fits.loss = False
    run_study(spec, tmp_path / "out", report=False)
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    bad = df[(df["arm"] == "il") & (df["preset"] == "fake-300000")].iloc[0]
    assert bad["status"] == "failed" and "init run text_fake-300000" in bad["error"]
    assert df[(df["arm"] == "il") & (df["preset"] == "fake-80000")]["status"].item() == "finished"


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "submitit"])
def test_kill_9_mid_study_then_rerun_gives_each_run_once(tmp_path, shards, executor):
    spec = write_spec(tmp_path, interleaved_spec(tmp_path, shards, step_s=0.15,
                                                 execution={"slurm": {"cluster": "local"}}))
    study = tmp_path / "out"
    cmd = [sys.executable, "-m", "slmscale.cli.main", "study", "run", str(spec), "--out", str(study),
           "--no-report", "--executor", executor]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600  # generous: a loaded machine is slow, and the loop ends early

    def finished() -> set[str]:
        return {p.parent.parent.name for p in study.glob("runs/*/run/meta.json")}

    # Kill once a text run the interleaved arm needs has finished, before everything has.
    while time.time() < deadline and not any(r.startswith("text_fake-80000_640k") for r in finished()):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole session: submitit's local jobs too
    proc.wait()
    time.sleep(0.5)
    before = finished()
    assert 0 < len(before) < 14
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    df = pd.read_csv(study / "results.csv")
    assert len(df) == 14 and set(df["status"]) == {"finished"}
    for root in (study / "runs").iterdir():
        events = [e["event"] for e in _events(root)]
        assert events.count("finish") == 1, root.name
        if root.name in before:
            assert events == ["start", "finish"], root.name
    il = df[df["arm"] == "il"]
    assert il["init_flops"].notna().all() and (il["flops_total"] > il["flops"]).all()


def test_prebuilt_interleaved_shards_without_init_arm_train_from_scratch(tmp_path, shards):
    d = interleaved_spec(tmp_path, shards)
    del d["arms"][2]["init_arm"]
    spec = load_spec(write_spec(tmp_path, d))
    runs = [r for r in expand(spec) if r.arm == "il"]
    assert runs and all(r.init_run == "" for r in runs)
    assert spec.init_arm_of(spec.arms[2]) is None


def test_interleaved_arm_rejects_prebuilt_shards_that_are_not_interleaved(tmp_path, shards):
    d = interleaved_spec(tmp_path, shards)
    d["arms"][2]["shards"] = str(shards)  # unit shards
    spec = load_spec(write_spec(tmp_path, d))
    with pytest.raises(UserError, match="not interleaved shards"):
        run_study(spec, tmp_path / "out", report=False)


def test_every_registered_task_is_scored_under_its_results_column():
    """One registry: EVAL files every task (and each alias) under the column the results table reads,
    and the store's columns are the registry's (no task can be accepted and then never read)."""
    from slmscale.eval.run import resolve_task
    from slmscale.eval.tasks import TASKS, get_task, result_columns
    from slmscale.study.store import COLUMNS

    for task in TASKS.values():
        kind = "units" if task.modality == "speech" else "interleaved"
        for name in (task.name, *task.aliases):
            assert resolve_task(name, None, kind)[2] == task.column == get_task(name).column, name
        assert task.column in COLUMNS
    # A text run scores the text version of a speech benchmark under the plain name.
    assert resolve_task("sstorycloze", None, "text")[2] == "ssc"
    assert [c for c in COLUMNS if c in TASKS] == result_columns()


@pytest.mark.slow
def test_real_tiny_study_builds_the_data_extends_the_text_models_and_trains(tmp_path):
    """No fakes: units fit/encode, text BPE, extended tokenizer + interleaved shards (data stages),
    then text runs, their models extended, interleaved runs trained by the worker."""
    from study_helpers import write_aligned_babble

    from slmscale.eval.encoders import encoder_from_run
    from slmscale.text.interleaved_vocab import check_same_vocabulary, read_speech_vocab

    manifest = write_aligned_babble(tmp_path / "corpus")
    spec = {"name": "il-real", "data": {"corpus": {"path": str(manifest)},
                                        "units": {"fit": {"encoder": "mfcc", "k": 12}},
                                        "text": {"vocab_size": 300}, "interleave": {"seed": 1}},
            "arms": [{"name": "speech", "kind": "units"}, {"name": "text", "kind": "text"},
                     {"name": "il", "kind": "interleaved"}],
            "grid": {"sizes": ["auto-10k"], "tokens_per_param": [2]},
            "train": {"train": {"seq_len": 64, "batch_tokens": 512, "lr": 0.003}, "eval": {"max_tokens": 2048}},
            "fits": {"loss": False, "bootstrap": 0},
            "execution": {"jobs": 2, "threads_per_run": 1}}
    study = tmp_path / "out"
    res = run_study(load_spec(write_spec(tmp_path, spec)), study, report=False)
    assert set(res["states"].values()) == {"finished"}, res["states"]
    stages = json.loads((study / "plan.json").read_text())["data"]["stages"]
    assert stages["interleave-tokenizer-text"] == "built" and stages["interleaved-text"] == "built"
    df = pd.read_csv(study / "results.csv").set_index("arm")
    il_id, text_id = df.loc["il", "run_id"], df.loc["text", "run_id"]
    # Equal compute = equal full FLOPs: planned exactly; trained within a step's rounding.
    planned = {r["arm"]: r for r in json.loads((study / "plan.json").read_text())["runs"]}
    assert planned["il"]["compute_partner"] == planned["speech"]["run_id"]
    assert planned["il"]["flops_full"] == pytest.approx(planned["speech"]["flops_full"], rel=0.02)
    assert df.loc["il", "flops_full"] == pytest.approx(df.loc["speech", "flops_full"], rel=0.05)
    assert df.loc["il", "flops"] < df.loc["speech", "flops"]  # its larger vocabulary costs more per token
    assert df.loc["il", "params"] == df.loc["text", "params"]
    assert df.loc["il", "init_flops"] == df.loc["text", "flops"]
    assert 0.1 < df.loc["il", "speech_token_share"] < 0.95 and df.loc["speech", "speech_token_share"] > 0.9
    # The starting model: the text run's model + 12 units, with the shards' token ids.
    model = study / "init" / f"{text_id}_k12"
    assert read_speech_vocab(model).k == 12
    check_same_vocabulary(model, study / "data" / "interleaved" / "text" / "tokenizer")
    # What evaluation reads: the extended tokenizer and the speech tokenizer bundle.
    info = json.loads((study / "runs" / il_id / "run" / "final" / "slmscale.json").read_text())
    assert info["modality"] == "interleaved"
    assert info["tokenizer"]["path"] == str(study / "data" / "interleaved" / "text" / "tokenizer")
    assert info["tokenizer"]["units_path"] == str(study / "data" / "tokenizer")
    enc = encoder_from_run(info, study / "runs" / il_id / "run" / "final" / "slmscale.json")
    text_vocab = json.loads((study / "data" / "text" / "shards" / "meta.json").read_text())["vocab_size"]
    assert enc.offset == read_speech_vocab(model).unit_offset == text_vocab
    assert enc.prefix == [2, read_speech_vocab(model).speech_token_id]
    # Everything is reused on a second invocation.
    again = run_study(load_spec(write_spec(tmp_path, spec)), study, report=False)
    assert again["ran"] == 0
    assert set(json.loads((study / "plan.json").read_text())["data"]["stages"].values()) == {"cached", "given"}
