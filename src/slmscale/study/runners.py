"""Execute one study run: the job that an executor (slmscale.study.executors) runs per run.

`execute_run(run_dir, ...)` is idempotent and resumable:
  - a per-run file lock stops two runners from working on the same run at once;
  - a finished run with all its evaluations is skipped;
  - an interrupted run is started again and TRAIN auto-resumes from its last checkpoint;
  - a failed/diverged run is recorded in `status.json` with its error and is not retried unless
    asked (`retry_failed`), since a deterministic failure would only fail again.
The work itself runs in a subprocess: by default the study worker (slmscale.study.worker: train,
then the one eval loop), under torchrun when the run has several GPUs; or, when the spec gives
`execution.trainer`/`evaluator` commands, those (the eval loop is still the worker's). Child
processes die with their runner (Linux PDEATHSIG), so a kill -9 of the study leaves no orphan
writing into a run dir that the next invocation resumes.

Runs that start from another run's model (interleaved runs: `init` in run.json) start only once that
run has finished (a failed one fails the dependent run; one still being worked on elsewhere leaves
it "blocked", untouched, for the next invocation).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmscale.artifacts import read_json, write_json
from slmscale.study import warm
from slmscale.study.lifetime import die_with_parent
from slmscale.study.runstate import (DIVERGED_EXIT, DONE, FINAL_BAD, RunPaths, read_status, read_summary,
                                     run_state)


def worker_command(root: Path, gpus: int = 1) -> list[str]:
    """The worker process of one run; several GPUs: one process per GPU under torchrun."""
    if gpus <= 1:
        return [sys.executable, "-m", "slmscale.study.worker", str(root)]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={gpus}",
            "-m", "slmscale.study.worker", str(root)]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def tail_error(path: Path, lines: int = 8) -> str:
    """The last `error:` line of a log (else its last lines), for one-line reports."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    errs = [ln for ln in text if ln.startswith("error:")]
    return (errs[-1] if errs else " | ".join(text[-lines:]))[-600:]


def run_logged(cmd: list[str], log: Path, threads: int | None = None, timeout: float | None = None) -> int:
    """Run a command with its output appended to `log`; returns its exit code (-9 on timeout). A
    study job module (`python -m slmscale.study.worker|stage ...`) inside a local study session is
    forked warm instead (slmscale.study.warm): same process semantics, without the imports."""
    env = dict(os.environ)
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "SLMSCALE_THREADS"):
            env[var] = str(threads)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        warm_module = _warm_module(cmd)
        fh.write(f"\n$ {' '.join(cmd)}  # {_now()}{' (forked warm)' if warm_module else ''}\n")
        fh.flush()
        if warm_module:
            try:
                rc, timed_out = warm.run_module(warm_module, cmd[3:], log, env, timeout, threads)
            except RuntimeError as err:  # the server died (e.g. killed for memory): this job starts cold
                fh.write(f"{err}; starting the job cold\n")
                fh.flush()
                warm_module = None
        if not warm_module:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                    preexec_fn=die_with_parent)
            try:
                rc, timed_out = proc.wait(timeout=timeout), False
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc, timed_out = -9, True
        if timed_out:
            fh.write(f"error: timed out after {timeout:g} s\n")
        return rc


def _warm_module(cmd: list[str]) -> str | None:
    if len(cmd) >= 3 and cmd[:2] == [sys.executable, "-m"] and cmd[2] in warm.MODULES and warm.active():
        return cmd[2]
    return None


@dataclass
class RunJob:
    """What an executor runs for one run (picklable, for submitit)."""
    root: str
    threads: int | None = None
    retry_failed: bool = False
    timeout: float | None = None
    gpus: int = 1
    trainer: list[str] | None = None
    evaluator: list[str] | None = None
    extender: list[str] | None = None

    def __call__(self) -> str:
        return execute_run(self.root, self.trainer, self.evaluator, self.threads, self.retry_failed,
                           self.timeout, self.extender, self.gpus)


def execute_run(root: str | Path, trainer: list[str] | None = None, evaluator: list[str] | None = None,
                threads: int | None = None, retry_failed: bool = False,
                timeout: float | None = None, extender: list[str] | None = None, gpus: int = 1) -> str:
    """Train and evaluate one prepared run dir; returns its final state. Never raises for run errors."""
    paths = RunPaths(Path(root))
    run = read_json(paths.spec)
    lock = open(paths.lock, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return "busy"
    try:
        job = RunJob(str(root), threads, retry_failed, timeout, gpus, trainer, evaluator, extender)
        return _execute_locked(paths, run, job)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _init_blocked(paths: RunPaths, run: dict[str, Any]) -> str | None:
    """None when the run's init run has finished; else the state to report (and, when the init run
    failed for good, this run is recorded as failed with the reason)."""
    init = run.get("init")
    if not init:
        return None
    state = run_state(RunPaths(Path(init["root"])))
    if state == "finished":
        return None
    if state in FINAL_BAD:
        write_json(paths.status, {**read_status(paths), "status": "failed", "ended": _now(),
                                  "error": f"init run {init['run_id']} {state}; this run starts from its "
                                           "model (fix it, then run again with --retry-failed)"})
        return "failed"
    return f"blocked: init run {init['run_id']} is {state}"


def _train_with_commands(paths: RunPaths, run: dict[str, Any], job: RunJob) -> int:
    """Custom trainer (+ extender for a starting model) commands instead of the worker."""
    rc = 0
    if run.get("init"):
        from slmscale.study.warm_start import extender_command, init_lock

        with init_lock(Path(run["init"]["model"])):
            rc = run_logged(extender_command(job.extender, run["init"], Path(run["shards"])), paths.log,
                            job.threads, job.timeout)
    trainer = job.trainer or [sys.executable, "-m", "slmscale.cli.main", "train"]
    return rc or run_logged([*trainer, str(paths.config)], paths.log, job.threads, job.timeout)


def _score_with_command(paths: RunPaths, job: RunJob, scoring: dict[str, Any]):
    evaluator = job.evaluator or [sys.executable, "-m", "slmscale.cli.main", "eval"]
    # Our own evaluator takes the spec's scoring, and the spec's bench replaces whatever result the
    # run holds (the study owns its runs); a custom one is called as documented (no flags added).
    flags = [] if job.evaluator else [*(f"--{k}={v}" for k, v in sorted(scoring.items())), "--replace"]

    def score(task: str, bench: str) -> None:
        rc = run_logged([*evaluator, "--run", str(paths.run), "--task", task, "--bench", str(bench), *flags],
                        paths.log, job.threads, job.timeout)
        if rc != 0:
            raise RuntimeError(f"exit {rc}: {tail_error(paths.log)}")

    return score


def _execute_locked(paths: RunPaths, run: dict[str, Any], job: RunJob) -> str:
    status = read_status(paths)
    summary = read_summary(paths)
    if summary.get("status") == "diverged" or (status.get("status") in FINAL_BAD and not job.retry_failed):
        return status.get("status", "diverged")
    if summary.get("status") not in DONE:
        blocked = _init_blocked(paths, run)
        if blocked:
            return blocked
    commands = job.trainer is not None or job.evaluator is not None
    if summary.get("status") not in DONE or not commands:
        attempts = int(status.get("attempts", 0)) + (summary.get("status") not in DONE)
        status = {"status": "running", "attempts": attempts, "started": _now(), "pid": os.getpid()}
        write_json(paths.status, status)
        t0 = time.time()
        paths.eval_errors.unlink(missing_ok=True)
        if commands:
            rc = 0 if summary.get("status") in DONE else _train_with_commands(paths, run, job)
        else:
            rc = run_logged(worker_command(paths.root, job.gpus), paths.log, job.threads, job.timeout)
        summary = read_summary(paths)
        status["wall_s"] = round(time.time() - t0, 3)
        if rc != 0 or summary.get("status") not in DONE:
            state = "diverged" if summary.get("status") == "diverged" or rc == DIVERGED_EXIT else "failed"
            err = tail_error(paths.log) or summary.get("error") or f"trainer exited with code {rc}"
            status.update(status=state, error=f"exit {rc}: {err}", ended=_now())
            write_json(paths.status, status)
            return state
    if commands:
        from slmscale.study.worker import evaluate_tasks

        errors = evaluate_tasks(paths, run, _score_with_command(paths, job, run.get("scoring") or {}))
    else:  # the worker ran the loop; tasks it did not score are listed with their errors
        from slmscale.study.runstate import task_done

        reported = read_json(paths.eval_errors) if paths.eval_errors.is_file() else {}
        errors = {t: reported.get(t, "not evaluated (see train.log)") for t in run.get("tasks", [])
                  if not task_done(read_summary(paths), t, run.get("scoring"), paths.run)}
    status.update(status="finished", ended=_now(), eval_errors=errors, missing_evals=sorted(errors))
    write_json(paths.status, status)
    return "finished" if not errors else "finished (eval errors)"
