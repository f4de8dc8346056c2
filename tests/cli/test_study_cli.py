"""`slmscale study run|status|report` through the real CLI entry point (fake trainer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from slmscale.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "study"))
from study_helpers import make_spec, shards, write_spec  # noqa: E402,F401


def _run(argv, capsys):
    with pytest.raises(SystemExit) as ex:
        main(argv)
    out = capsys.readouterr()
    return ex.value.code, out.out, out.err


@pytest.mark.slow
def test_run_status_report(tmp_path, shards, capsys):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2, 8]}
    spec = write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid))
    out = tmp_path / "out"
    try:
        main(["study", "run", str(spec), "--out", str(out), "--no-report", "--jobs", "1"])
    except SystemExit as ex:
        assert ex.code in (0, None)
    text = capsys.readouterr().out
    assert "runs: 2 planned, 2 executed now, 2 finished" in text
    assert len(pd.read_csv(out / "results.csv")) == 2
    try:
        main(["study", "status", str(out)])
    except SystemExit as ex:
        assert ex.code in (0, None)
    text = capsys.readouterr().out
    assert "2 runs: 2 finished" in text and "tpp=8" in text
    try:
        main(["study", "report", str(out)])
    except SystemExit as ex:
        assert ex.code in (0, None)
    assert (out / "report.html").is_file() and "report:" in capsys.readouterr().out


def test_bad_spec_and_bad_dir_are_one_line_errors(tmp_path, shards, capsys):
    d = make_spec(tmp_path, shards)
    d["grid"]["sizez"] = 1
    code, _, err = _run(["study", "run", str(write_spec(tmp_path, d)), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "grid.sizez: unknown key" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["study", "status", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "not a study folder" in err
    code, _, err = _run(["study", "run", str(write_spec(tmp_path, make_spec(tmp_path, shards))),
                         "--out", str(tmp_path / "o"), "--executor", "cloud"], capsys)
    assert code == 2 and "choose local or submitit" in err
    assert yaml.safe_load((tmp_path / "study.yaml").read_text())["name"] == "test"


def test_unsafe_size_names_and_unknown_train_keys_stop_before_any_work(tmp_path, shards, capsys):
    out = tmp_path / "o"
    for preset in ("../../../pwn/x", "mine/v2"):
        d = make_spec(tmp_path, shards, grid={"sizes": [{"preset": preset, "params": 53440}], "tokens_per_param": [2]})
        code, _, err = _run(["study", "run", str(write_spec(tmp_path, d)), "--out", str(out)], capsys)
        assert code == 2 and "grid.sizes.0.preset" in err and len(err.strip().splitlines()) == 1
    d = make_spec(tmp_path, shards, grid={"sizes": ["auto-10k"], "tokens_per_param": [2]})
    d["execution"] = {"jobs": 1}  # slmscale's own trainer: its config is validated per run
    spec = str(write_spec(tmp_path, d))
    code, _, err = _run(["study", "run", spec, "--out", str(out), "--set", "train.train.lrr=3"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: run speech_auto-10k_") and "train.train.lrr: unknown key" in err
    assert not out.exists() and not (tmp_path.parent / "pwn").exists()


@pytest.mark.slow
def test_failed_runs_make_the_study_exit_nonzero_with_a_line_per_run(tmp_path, shards, capsys):
    grid = {"sizes": [{"preset": "fake-20000", "params": 20_000}], "tokens_per_param": [2, 8]}
    spec = write_spec(tmp_path, make_spec(tmp_path, shards, grid=grid, train={"fake": {"fail_tokens": 160_000}}))
    out = tmp_path / "out"
    code, stdout, err = _run(["study", "run", str(spec), "--out", str(out), "--no-report", "--jobs", "1"], capsys)
    assert code == 1 and "runs: 2 planned" in stdout
    lines = [ln for ln in err.splitlines() if ln.startswith("[study] run ")]
    assert len(lines) == 2
    states = {ln.split()[2]: ln.split()[3] for ln in lines}
    assert sorted(states.values()) == ["failed", "finished"]
    assert any("loss=-" in ln and "failed" in ln for ln in lines)
    assert any(ln.split()[4].startswith("loss=") and ln.split()[4] != "loss=-" for ln in lines)
    # The fixture's shards hold a few dozen tokens: every run repeats them many times, and says so.
    assert err.count("repeats its data") == 2
    assert "error: 1 run(s) did not finish" in err

    code, stdout, _ = _run(["study", "status", str(out), "--json"], capsys)
    doc = json.loads(stdout)
    assert code in (0, None) and doc["counts"] == {"failed": 1, "finished": 1}
    assert {r["run_id"] for r in doc["runs"]} == set(states) and all("epochs" in r for r in doc["runs"])
    # Piped, the table is as wide as it needs to be: every run id whole, on one line.
    code, stdout, _ = _run(["study", "status", str(out)], capsys)
    assert all(any(rid in ln for ln in stdout.splitlines()) for rid in states)
    assert max(len(ln) for ln in stdout.splitlines()) > 80


def test_repeated_data_with_the_chinchilla_form_is_warned_before_work(tmp_path, shards, capsys):
    grid = {"sizes": ["auto-10k"], "tokens_per_param": [2],
            "multi_epoch": [{"size": "auto-10k", "unique_tokens": 5000, "epochs": [1, 4]}]}
    d = make_spec(tmp_path, shards, grid=grid)
    d["execution"] = {"jobs": 1}
    code, _, err = _run(["study", "run", str(write_spec(tmp_path, d)), "--out", str(tmp_path / "o"),
                         "--set", "train.nope=1"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and not (tmp_path / "o").exists()
    assert lines[0].startswith("warning: arm 'speech': runs repeat their data (4 epochs)")
    assert "data-constrained" in lines[0] and "train.nope: unknown key" in lines[1]
