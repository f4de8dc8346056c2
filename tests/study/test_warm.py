"""Jobs forked from the warm server behave as cold-started processes: environment, working
directory, threads, log, exit code, timeout, crash, death with the study, identical training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from slmscale.study import warm
from slmscale.study.runners import run_logged, worker_command

JOB = '''
import json, os, sys, time


def main(argv):
    import torch
    what = argv[0]
    if what == "report":
        print(json.dumps({"env": os.environ.get("WARM_TEST"), "cwd": os.getcwd(), "argv": argv,
                          "threads": torch.get_num_threads(), "pid": os.getpid(), "ppid": os.getppid()}))
        return int(argv[1])
    if what == "sleep":
        open(argv[1], "w").write(str(os.getpid()))
        time.sleep(float(argv[2]))
        return 0
    if what == "crash":
        raise ValueError("a bug in the job")
    if what == "exit":
        sys.exit(int(argv[1]))
'''


@pytest.fixture
def job_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module the server can import (on PYTHONPATH when the server starts)."""
    pkg = tmp_path / "jobmods"
    pkg.mkdir()
    (pkg / "warm_test_job.py").write_text(JOB)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pkg), os.environ.get("PYTHONPATH", "")]))
    return "warm_test_job"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_job_sees_the_callers_environment_directory_and_threads_and_returns_its_code(
        tmp_path, job_module, monkeypatch):
    log = tmp_path / "job.log"
    work = tmp_path / "work"
    work.mkdir()
    with warm.warm_jobs():
        monkeypatch.chdir(work)
        env = {**os.environ, "WARM_TEST": "first"}
        assert warm.run_module(job_module, ["report", "3"], log, env, None, 1) == (3, False)
        env["WARM_TEST"] = "second"  # the environment as it is at each launch, not at server start
        assert warm.run_module(job_module, ["report", "0"], log, env, None, 2) == (0, False)
        assert warm.run_module(job_module, ["exit", "7"], log, env, None, None) == (7, False)
    first, second = [json.loads(x) for x in log.read_text().splitlines()]
    assert first["env"] == "first" and second["env"] == "second"
    assert first["cwd"] == str(work) and first["argv"] == ["report", "3"]
    assert (first["threads"], second["threads"]) == (1, 2)
    assert first["pid"] != second["pid"] and first["ppid"] == second["ppid"] != os.getpid()  # one server
    assert not _alive(first["ppid"])  # the server is gone with the session


def test_a_timed_out_job_is_killed_and_a_crash_leaves_its_traceback(tmp_path, job_module):
    log = tmp_path / "job.log"
    pid_file = tmp_path / "pid"
    with warm.warm_jobs():
        t0 = time.time()
        assert warm.run_module(job_module, ["sleep", str(pid_file), "60"], log, dict(os.environ), 3.0,
                               None) == (-9, True)
        assert time.time() - t0 < 30
        assert not _alive(int(pid_file.read_text()))
        assert warm.run_module(job_module, ["crash"], log, dict(os.environ), None, None) == (1, False)
    assert "ValueError: a bug in the job" in log.read_text()


def test_run_logged_forks_study_modules_warm_only_inside_a_session(tmp_path):
    log = tmp_path / "stage.log"
    cmd = [sys.executable, "-m", "slmscale.study.stage", "no-such-stage", str(tmp_path / "c.json")]
    assert run_logged(cmd, log) == 2  # cold: the stage's one-line error, exit 2
    with warm.warm_jobs():
        assert run_logged(cmd, log) == 2
    text = log.read_text()
    assert text.count("unknown stage 'no-such-stage'") == 2
    assert text.count("(forked warm)") == 1


def test_a_job_whose_server_died_starts_cold_and_the_next_one_gets_a_new_server(tmp_path):
    log = tmp_path / "stage.log"
    cmd = [sys.executable, "-m", "slmscale.study.stage", "no-such-stage", str(tmp_path / "c.json")]
    with warm.warm_jobs():
        assert run_logged(cmd, log) == 2
        first = warm._server
        assert first is not None
        first.proc.kill()
        first.proc.wait()
        assert run_logged(cmd, log) == 2  # cold, after saying why
        assert warm._server is None
        assert run_logged(cmd, log) == 2
        assert warm._server is not None and warm._server is not first
    text = log.read_text()
    assert "the warm job server exited" in text and "starting the job cold" in text
    assert text.count("unknown stage 'no-such-stage'") == 3


@pytest.mark.skipif(not warm.supported(), reason="warm jobs need Linux fork")
def test_kill_9_of_the_study_process_kills_its_warm_jobs(tmp_path, job_module):
    pid_file = tmp_path / "pid"
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from pathlib import Path
        from slmscale.study import warm
        with warm.warm_jobs():
            warm.run_module({job_module!r}, ["sleep", {str(pid_file)!r}, "120"], Path({str(tmp_path / "log")!r}),
                            dict(os.environ), None, None)
    """))
    proc = subprocess.Popen([sys.executable, str(script)])
    deadline = time.time() + 600  # generous: a loaded machine is slow, and the loop ends early
    while not (pid_file.is_file() and pid_file.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    job = int(pid_file.read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 120
    while _alive(job) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(job)


@pytest.mark.slow
def test_a_run_trains_the_same_weights_forked_warm_as_started_cold(tmp_path, shards_dir):
    roots = []
    for name in ("cold", "warm"):
        root = tmp_path / name
        root.mkdir()
        (root / "run.json").write_text(json.dumps({"run_id": name, "tasks": []}))
        (root / "train.yaml").write_text(yaml.safe_dump({
            "run_id": name, "out": str(root / "run"), "seed": 0, "data": {"shards": str(shards_dir)},
            "model": {"preset": "cpu-50k"}, "budget": {"tokens": 8192},
            "train": {"batch_tokens": 1024, "seq_len": 64, "lr": 3e-3}}))
        roots.append(root)
    assert run_logged(worker_command(roots[0]), roots[0] / "train.log", threads=1) == 0
    with warm.warm_jobs():
        assert run_logged(worker_command(roots[1]), roots[1] / "train.log", threads=1) == 0
    weights = [(r / "run" / "final" / "model.safetensors").read_bytes() for r in roots]
    assert weights[0] == weights[1]
    assert "(forked warm)" in (roots[1] / "train.log").read_text()
