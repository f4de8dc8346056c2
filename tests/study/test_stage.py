"""Data stages through their Python APIs, one process each, via the study's executors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slmscale.study.executors import LocalExecutor, make_executor
from slmscale.study.stage import STAGES, StageJob, main
from study_helpers import write_aligned_babble


def test_bad_stage_input_is_one_error_line_exit_2(tmp_path, capsys):
    assert main(["nope", str(tmp_path / "c.json")]) == 2
    assert main(["corpus", str(tmp_path / "missing.json")]) == 2
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"config": {"hours": 1, "stories": 2}, "out": str(tmp_path / "corpus")}))
    assert main(["corpus", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: unknown stage 'nope'") and "stage config not found" in err[1]
    assert err[2].startswith("error: data.corpus.synth:") and "--hours or --stories" in err[2]
    assert not (tmp_path / "corpus").exists()


def test_every_stage_the_pipeline_names_exists():
    assert set(STAGES) == {"corpus", "phonenet", "pretrain", "units-fit", "units-encode", "units-encode-part",
                           "units-encode-merge", "unigram", "text",
                           "interleave-tokenizer", "interleave", "bench"}


def _text_job(tmp_path):
    manifest = write_aligned_babble(tmp_path / "corpus", n=8)
    cfg = tmp_path / "text.json"
    cfg.write_text(json.dumps({"config": {"vocab_size": 280, "stories": 0, "seed": 0},
                               "manifest": str(manifest), "out": str(tmp_path / "text")}))
    return StageJob("text", str(cfg), str(tmp_path / "stages.log"), threads=1)


def test_a_stage_job_runs_in_its_own_process_through_the_local_executor(tmp_path):
    states = {}
    LocalExecutor(1).run_all([("text", _text_job(tmp_path))], lambda j, s: states.update({j: s}))
    assert states == {"text": "finished"}
    meta = json.loads((tmp_path / "text" / "shards" / "meta.json").read_text())
    assert meta["modality"] == "text" and meta["documents"] == 8
    assert "slmscale.study.stage text" in (tmp_path / "stages.log").read_text()


def test_a_failing_stage_reports_its_error_line(tmp_path):
    cfg = tmp_path / "text.json"
    cfg.write_text(json.dumps({"config": {"vocab_size": 280, "stories": 0, "seed": 0},
                               "manifest": str(tmp_path / "none.jsonl"), "out": str(tmp_path / "text")}))
    state = StageJob("text", str(cfg), str(tmp_path / "stages.log"))()
    assert state.startswith("failed: error:") and "none.jsonl" in state


@pytest.mark.slow
def test_a_stage_job_runs_through_submitit_local(tmp_path):
    states = {}
    ex = make_executor("submitit", tmp_path, jobs=1, slurm={"cluster": "local"})
    ex.run_all([("text", _text_job(tmp_path))], lambda j, s: states.update({j: s}))
    assert states == {"text": "finished"} and (tmp_path / "text" / "shards" / "meta.json").is_file()
    assert any((tmp_path / "submitit").iterdir())


def test_module_entry_point(tmp_path):
    res = subprocess.run([sys.executable, "-m", "slmscale.study.stage", "bench", str(tmp_path / "x.json")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and res.stderr.strip().startswith("error:") and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_pretrain_stage_gives_a_hubert_that_units_fit_takes(tmp_path):
    """The textless path of a study: pretrain (self-supervised) -> units-fit on its layer 2."""
    manifest = write_aligned_babble(tmp_path / "corpus", n=12)
    pre = tmp_path / "pretrain.json"
    pre.write_text(json.dumps({"config": {"preset": "cpu-tiny", "iterations": 1, "steps": [6], "k": [8],
                                          "batch": 2, "crop_seconds": 0.8, "kmeans_frames": 2000,
                                          "max_hours": 0.05, "perturb": None},
                               "manifest": str(manifest), "out": str(tmp_path / "hubert")}))
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"config": {"encoder": {"name": "hubert", "layer": 2,
                                                      "checkpoint": str(tmp_path / "hubert")}, "k": 8},
                               "manifest": str(manifest), "out": str(tmp_path / "tok")}))
    states = {}
    log = str(tmp_path / "stages.log")
    for name, cfg in (("pretrain", pre), ("units-fit", fit)):
        LocalExecutor(1).run_all([(name, StageJob(name, str(cfg), log, threads=1))],
                                 lambda j, s: states.update({j: s}))
    assert states == {"pretrain": "finished", "units-fit": "finished"}, (tmp_path / "stages.log").read_text()[-2000:]
    assert json.loads((tmp_path / "hubert" / "meta.json").read_text())["kind"] == "hubert-pretrain"
    tok = json.loads((tmp_path / "tok" / "meta.json").read_text())
    assert tok["config"]["encoder"]["name"] == "hubert" and tok["config"]["k"] == 8


def test_sharded_encoding_through_the_executor_gives_the_one_job_bytes(tmp_path, tokdir, corpus):
    """execution.data_shards: N encode jobs side by side, then a merge job; same files as one job."""
    from slmscale.study.data_stages import Stages

    params = {"config": {"valid_fraction": 0.1, "valid_voices": [], "seed": 0}, "tokenizer": str(tokdir),
              "manifest": str(corpus)}
    made = {}
    for parts in (1, 3):
        record: dict[str, str] = {}
        st = Stages(tmp_path / f"data{parts}", LocalExecutor(2), record, threads=1)
        assert st.run("units", "units-encode", tmp_path / f"units{parts}", params, {"m": "x"}, parts=parts)
        assert record == {"units": "built"}
        made[parts] = {n: (tmp_path / f"units{parts}" / n).read_bytes()
                       for n in ("tokens.bin", "durations.bin", "docs.jsonl")}
        assert st.run("units", "units-encode", tmp_path / f"units{parts}", params, {"m": "x"}, parts=parts)
        assert record == {"units": "cached"}
    assert made[1] == made[3]
    log = (tmp_path / "data3" / "stages.log").read_text()
    assert log.count("slmscale.study.stage units-encode-part") == 3 and "units-encode-merge" in log


def test_submitit_missing_is_one_line(tmp_path, monkeypatch):
    import builtins

    from slmscale.errors import UserError
    from slmscale.study.executors import SubmititExecutor

    real = builtins.__import__

    def no_submitit(name, *a, **kw):
        if name == "submitit":
            raise ImportError("No module named 'submitit'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_submitit)
    with pytest.raises(UserError, match=r"pip install 'slmscale\[cluster\]'"):
        SubmititExecutor(tmp_path / "jobs", cluster="local")


def test_stage_process_gives_the_cli_one_line_errors_and_bugs_stay_tracebacks(tmp_path, monkeypatch, capsys):
    import errno

    from slmscale.study import stage

    cfg = tmp_path / "c.json"
    cfg.write_text("{}")

    def full_disk(params):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "tokens.bin"))

    monkeypatch.setitem(stage.STAGES, "text", full_disk)
    assert main(["text", str(cfg)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'out' / 'tokens.bin'}: no space left on the "
                                               "device; free some space (or pick another output folder) and "
                                               "rerun the same command")

    def bug(params):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(stage.STAGES, "text", bug)
    with pytest.raises(ZeroDivisionError):
        main(["text", str(cfg)])


def test_units_fit_stage_passes_voice_normalisation_through(tmp_path):
    """`data.units.fit.voice_norm` (and every other fit option) in a study reaches the tokenizer
    the stage writes."""
    from support.voices import gain_corpus

    manifest = gain_corpus(tmp_path / "c")
    fit = tmp_path / "fit.json"
    fit.write_text(json.dumps({"config": {"encoder": {"name": "logmel", "context": 0, "cmvn": False}, "k": 2,
                                          "voice_norm": {"seconds": 12}, "min_run": 2},
                               "manifest": str(manifest), "out": str(tmp_path / "tok")}))
    assert main(["units-fit", str(fit)]) == 0
    config = json.loads((tmp_path / "tok" / "config.json").read_text())
    assert config["voice_norm"] == {"kind": "whiten", "shrink": 0.1, "seconds": 12.0, "min_seconds": 10.0, "seed": 0}
    assert config["min_run"] == 2
