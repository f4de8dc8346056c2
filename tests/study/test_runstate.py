"""Run folders: names stay inside their root; the TRAIN config a run is written with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmscale.errors import UserError
from slmscale.study.expand import RunSpec
from slmscale.study.runstate import inside, run_root, train_config


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", "", "/abs"])
def test_names_that_would_leave_their_root_are_refused(tmp_path, name):
    with pytest.raises(UserError, match="must stay inside"):
        run_root(tmp_path, name)


def test_a_link_out_of_the_root_is_refused(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "escape").symlink_to(tmp_path.parent)
    with pytest.raises(UserError):
        inside(tmp_path / "runs", "escape")
    assert run_root(tmp_path, "speech_auto-10k_20k_s0_abc") == (tmp_path / "runs" / "speech_auto-10k_20k_s0_abc").resolve()


def test_train_config_is_the_runs_complete_config():
    run = RunSpec(run_id="r1", arm="a", kind="units", preset="auto-10k", params=10, tokens=200, seed=3,
                  budget="tpp=20", train={"train.lr": 0.01})
    cfg = train_config(run, Path("/s"), Path("/o"), Path("/init"))
    assert cfg == {"train": {"lr": 0.01}, "data": {"shards": "/s"}, "model": {"preset": "auto-10k",
                   "init_from": "/init"}, "budget": {"tokens": 200}, "seed": 3, "out": "/o", "run_id": "r1"}


def test_spec_scoring_reaches_every_run(tmp_path, shards):
    """scoring.protocol/truncation from the spec are written into each run.json for its evaluator."""
    from slmscale.study.expand import expand
    from slmscale.study.runstate import RunPaths, prepare_run
    from slmscale.study.spec import load_spec
    from study_helpers import make_spec, write_spec

    spec = load_spec(write_spec(tmp_path, {**make_spec(tmp_path, shards),
                                           "scoring": {"protocol": "cm2024", "truncation": "refuse"}}))
    run = expand(spec)[0]
    paths = prepare_run(tmp_path / "r", run, shards, scoring=spec.scoring.model_dump())
    assert json.loads(RunPaths(tmp_path / "r").spec.read_text())["scoring"] == {"protocol": "cm2024",
                                                                                 "truncation": "refuse"}
    assert paths.root == tmp_path / "r"


def test_a_changed_scoring_protocol_is_rescored(tmp_path):
    from slmscale.artifacts import write_json
    from slmscale.eval.protocols import scoring_record
    from slmscale.study.runstate import RunPaths, needs_work, task_done
    from slmscale.study.worker import evaluate_tasks

    paths = RunPaths(tmp_path / "r")
    paths.run.mkdir(parents=True)
    write_json(paths.summary, {"status": "finished", "swuggy": 0.61,
                               "eval_scoring": {"swuggy": scoring_record("zerospeech")}})
    write_json(paths.status, {"status": "finished", "missing_evals": []})
    run = {"tasks": ["swuggy"], "bench": {"swuggy": "B"}, "scoring": {"protocol": "zerospeech"}}
    write_json(paths.spec, run)
    assert task_done(json.loads(paths.summary.read_text()), "swuggy", run["scoring"])
    assert not needs_work(paths)

    scored = []
    assert evaluate_tasks(paths, run, lambda task, bench: scored.append(task)) == {} and scored == []
    run["scoring"] = {"protocol": "cm2024"}
    write_json(paths.spec, run)
    assert needs_work(paths)  # the runner starts the worker again ...

    def rescore(task, bench):  # ... which scores the task again under the new protocol
        scored.append(task)
        write_json(paths.summary, {**json.loads(paths.summary.read_text()), "swuggy": 0.58,
                                   "eval_scoring": {"swuggy": scoring_record("cm2024")}})

    assert evaluate_tasks(paths, run, rescore) == {} and scored == ["swuggy"]
    assert not needs_work(paths)
    # a score whose scoring was never recorded (a custom evaluator) stays done
    assert task_done({"swuggy": 0.5}, "swuggy", {"protocol": "slamkit"})


def test_a_voice_normalised_runs_score_with_other_voice_statistics_is_rescored(tmp_path):
    """A run whose speech tokenizer normalises per voice is scored with all of each benchmark
    voice's audio: a score recorded otherwise (or before eval recorded it) is done again; a run
    without voice normalisation, or a text task, records none and stays done."""
    from slmscale.artifacts import write_json
    from slmscale.eval.protocols import scoring_record
    from slmscale.study.runstate import RunPaths, task_done

    paths = RunPaths(tmp_path / "r")
    tok = tmp_path / "tok"
    write_json(tok / "config.json", {"k": 100, "voice_norm": {"kind": "whiten", "seconds": 180.0}})
    write_json(paths.run / "final" / "slmscale.json", {"modality": "units", "tokenizer": {"kind": "units", "path": str(tok)}})
    scoring = {"protocol": "zerospeech"}

    def summary(record):
        return {"swuggy": 0.6, "eval_scoring": {"swuggy": record}}

    assert task_done(summary(scoring_record("zerospeech", "slide", "all")), "swuggy", scoring, paths.run)
    assert not task_done(summary(scoring_record("zerospeech", "slide", "180 s")), "swuggy", scoring, paths.run)
    assert not task_done(summary(scoring_record("zerospeech")), "swuggy", scoring, paths.run)
    write_json(tok / "config.json", {"k": 100, "voice_norm": None})
    assert task_done(summary(scoring_record("zerospeech")), "swuggy", scoring, paths.run)
    assert not task_done(summary(scoring_record("zerospeech", "slide", "all")), "swuggy", scoring, paths.run)
    (tok / "config.json").unlink()  # the tokenizer is gone: the record is trusted, nothing to re-score with
    assert task_done(summary(scoring_record("zerospeech", "slide", "all")), "swuggy", scoring, paths.run)
    assert task_done(summary(scoring_record("zerospeech")), "swuggy", scoring, paths.run)
