"""Folder locks: one holder at a time, the loser told who holds it, released on exit (even kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from slmscale.locks import LockHeld, exclusive, is_held


def test_second_holder_fails_with_the_pid(tmp_path):
    with exclusive(tmp_path / "run", "a training run") as lock:
        assert is_held(lock)
        with pytest.raises(LockHeld, match=rf"lock .*held by pid {os.getpid()}"):
            with exclusive(tmp_path / "run", "a training run"):
                pass
    assert not is_held(tmp_path / "run" / ".lock")


def test_a_killed_holder_releases_the_lock(tmp_path):
    code = ("import sys, time; from slmscale.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'x'):\n    print('held', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert is_held(tmp_path / ".lock")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    deadline = time.time() + 120
    while is_held(tmp_path / ".lock") and time.time() < deadline:
        time.sleep(0.05)
    with exclusive(tmp_path, "x"):  # the stale lock file does not block
        pass


def test_waiting_blocks_exclusive_holders_until_released(tmp_path):
    from slmscale.locks import waiting

    with waiting(tmp_path / ".lock"):
        assert is_held(tmp_path / ".lock")
        with pytest.raises(LockHeld):
            with exclusive(tmp_path, "x"):
                pass
    with exclusive(tmp_path, "x"):
        pass
