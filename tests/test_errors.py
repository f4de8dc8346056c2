"""The CLI's error boundary: anticipated failures are one line (exit 2), bugs keep a traceback (exit 1)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys

import pytest

from slmscale.errors import EXIT_BUG, REPORT_HINT, UserError, explain
from support.failures import assert_one_line_error, run_cli


@pytest.mark.parametrize("err, phrase", [
    (OSError(errno.ENOSPC, "No space left on device", "/out/x"), "/out/x: no space left on the device"),
    (OSError(errno.EROFS, "Read-only file system", "/ro"), "/ro: read-only file system"),
    (PermissionError(errno.EACCES, "Permission denied", "/p"), "/p: permission denied"),
    (FileNotFoundError(errno.ENOENT, "No such file", "/nope"), "/nope: no such file or directory"),
    (OSError(errno.EXDEV, "cross-device", "/a", "/b"), None),
    (json.JSONDecodeError("Expecting value", "x", 0), "a JSON file is damaged"),
    (UserError("bad thing"), "bad thing"),
    (KeyboardInterrupt(), "interrupted"),
    (ZeroDivisionError("bug"), None),
])
def test_explain_sorts_failures(err, phrase):
    got = explain(err)
    if phrase is None:
        assert got is None
    else:
        assert phrase in got[0] and got[1] == (130 if isinstance(err, KeyboardInterrupt) else 2)


def test_damaged_safetensors_is_anticipated():
    from safetensors import SafetensorError

    assert explain(SafetensorError("header too large"))[1] == 2


def test_os_error_from_a_command_is_one_line(tmp_path, capsys, monkeypatch):
    def boom(*a, **k):
        raise OSError(errno.EACCES, "Permission denied", str(tmp_path / "sh" / "tokens.bin"))

    monkeypatch.setattr("slmscale.data.shard_summary.summarize", boom)
    code, _, err = run_cli(capsys, "data", "inspect", tmp_path / "sh")
    assert_one_line_error(code, err, "tokens.bin: permission denied")


def test_a_bug_keeps_its_traceback_and_asks_for_a_report(tmp_path, capsys, monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("a real bug")

    monkeypatch.setattr("slmscale.data.shard_summary.summarize", boom)
    code, _, err = run_cli(capsys, "data", "inspect", tmp_path)
    assert code == EXIT_BUG and "Traceback" in err and "ZeroDivisionError: a real bug" in err
    assert err.strip().splitlines()[-1] == f"error: {REPORT_HINT}"


def test_python_dash_m_goes_through_the_same_boundary(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "slmscale.cli.main", "data", "inspect", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=600)
    assert_one_line_error(proc.returncode, proc.stderr, "none")
    usage = subprocess.run([sys.executable, "-m", "slmscale.cli.main", "train"], capture_output=True, text=True,
                           timeout=600)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr and "Traceback" not in usage.stderr


def test_ctrl_c_exits_130_with_a_resume_hint(tmp_path, capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("slmscale.data.shard_summary.summarize", interrupted)
    code, _, err = run_cli(capsys, "data", "inspect", tmp_path)
    assert_one_line_error(code, err, "interrupted", "rerun the same command", exit_code=130)
