"""`slmscale study run|status|report` through the real CLI entry point (fake trainer)."""

from __future__ import annotations

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
