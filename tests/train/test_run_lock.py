"""Two writers on one run directory (issue #11, item 7): the second fails at once, one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

from slmscale.locks import exclusive, is_held
from support.failures import assert_one_line_error, run_cli, snapshot, train_yaml, unit_shards


def test_second_train_on_the_same_out_fails_clearly(tmp_path, capsys):
    shards = unit_shards(tmp_path / "sh")
    run = tmp_path / "run"
    cfg = train_yaml(tmp_path / "t.yaml", shards, run)
    with exclusive(run, "a training run"):  # stands for a first `slmscale train` still running
        before = snapshot(tmp_path)
        code, _, err = run_cli(capsys, "train", cfg)
        assert_one_line_error(code, err, str(run), "already writing here", "use another output folder")
        # the same through `python -m slmscale.cli.main`, a separate process
        proc = subprocess.run([sys.executable, "-m", "slmscale.cli.main", "train", str(cfg)],
                              capture_output=True, text=True, timeout=300)
        assert_one_line_error(proc.returncode, proc.stderr, "already writing here")
        assert snapshot(tmp_path) == before  # the loser wrote nothing
    assert not is_held(run / ".lock")
    code, _, err = run_cli(capsys, "train", cfg)  # once the holder is gone, training works
    assert code == 0, err
    assert (run / "final" / "model.safetensors").is_file()


def test_a_failed_start_leaves_no_run_folder(tmp_path, capsys):
    shards = unit_shards(tmp_path / "sh")
    cfg = train_yaml(tmp_path / "t.yaml", shards, tmp_path / "run", **{"train.micro_batch": 3})
    code, _, err = run_cli(capsys, "train", cfg)
    assert_one_line_error(code, err, "train.micro_batch=3")
    assert not (tmp_path / "run").exists()
