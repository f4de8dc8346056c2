"""Execute a study's runs: each run is a subprocess, so one crash never takes the study down.

One run = train (the TRAIN command on `RUNDIR/train.yaml`) then evaluate each of its tasks (the EVAL
command). The whole job is `execute_run(run_dir, ...)`, idempotent and resumable:
  - a per-run file lock stops two runners from working on the same run at once;
  - a finished run with all its evaluations is skipped;
  - an interrupted run is started again and TRAIN auto-resumes from its last checkpoint;
  - a failed/diverged run is recorded in `status.json` with its error and is not retried unless
    asked (`retry_failed`), since a deterministic failure would only fail again.
Trainer processes die with their runner (Linux PDEATHSIG), so a kill -9 of the study leaves no
orphan writing into a run dir that the next invocation resumes.

Runs that start from another run's model (interleaved runs: `init` in run.json) are started only
once that run is resolved: the executors hold them back while it is queued or running, and
`execute_run` checks it is finished (a failed one fails the dependent run; one still being worked on
elsewhere leaves it "blocked", untouched, for the next invocation).

Executors: `LocalExecutor` (a thread pool of N workers, each waiting on its run's subprocess) and
`SubmititExecutor` (Slurm on a cluster; submitit's local executor elsewhere and in tests).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import fcntl
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from slmscale.artifacts import atomic_write_text, read_json, write_json
from slmscale.config import set_dotted
from slmscale.study.expand import RunSpec

SUMMARY = "summary.json"
STATUS = "status.json"
DONE = {"finished"}
FINAL_BAD = {"failed", "diverged"}


def worker_command(root: Path) -> list[str]:
    """The default: one process trains and evaluates via the Python APIs (torch imported once)."""
    return [sys.executable, "-m", "slmscale.study.worker", str(root)]


@dataclass
class RunPaths:
    root: Path  # DIR/runs/<run_id>

    @property
    def run(self) -> Path:  # TRAIN's RUN dir
        return self.root / "run"

    @property
    def summary(self) -> Path:
        return self.run / SUMMARY

    @property
    def status(self) -> Path:
        return self.root / STATUS

    @property
    def config(self) -> Path:
        return self.root / "train.yaml"

    @property
    def log(self) -> Path:
        return self.root / "train.log"


def nest(dotted: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        set_dotted(out, key, value)
    return out


def prepare_run(root: Path, run: RunSpec, shards: Path, bench: dict[str, Path] | None = None,
                init: dict[str, Any] | None = None) -> RunPaths:
    """Write the run's spec and TRAIN config (idempotent: same RunSpec = same bytes).

    `init` (interleaved runs): where the starting model comes from (see slmscale.study.warm_start)."""
    paths = RunPaths(root)
    root.mkdir(parents=True, exist_ok=True)
    over = {**run.train, "data.shards": str(shards), "model.preset": run.preset,
            "budget.tokens": int(run.tokens), "seed": int(run.seed), "out": str(paths.run),
            "run_id": run.run_id}
    if init is not None:
        over["model.init_from"] = str(init["model"])
    config = nest(over)
    text = yaml.safe_dump(config, sort_keys=True)
    if not paths.config.is_file() or paths.config.read_text() != text:
        atomic_write_text(paths.config, text)
    bench = bench or {}
    info = {**run.to_dict(), "shards": str(shards),
            "bench": {t: str(bench[t]) for t in run.tasks if t in bench}}
    if init is not None:
        info["init"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in init.items()}
    if not (root / "run.json").is_file() or read_json(root / "run.json") != info:
        write_json(root / "run.json", info)
    return paths


def read_status(paths: RunPaths) -> dict[str, Any]:
    try:
        return read_json(paths.status) if paths.status.is_file() else {}
    except Exception:  # a damaged status file is rebuilt, not fatal
        return {}


def read_summary(paths: RunPaths) -> dict[str, Any]:
    try:
        return read_json(paths.summary) if paths.summary.is_file() else {}
    except Exception:
        return {}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the runner dies (Linux), so no orphan keeps writing."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    errs = [ln for ln in text if ln.startswith("error:")]
    return (errs[-1] if errs else " | ".join(text[-lines:]))[-600:]


def _run_cmd(cmd: list[str], log: Path, threads: int | None, timeout: float | None) -> int:
    env = dict(os.environ)
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "SLMSCALE_THREADS"):
            env[var] = str(threads)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"\n$ {' '.join(cmd)}  # {_now()}\n")
        fh.flush()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_die_with_parent)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            fh.write(f"error: timed out after {timeout:g} s\n")
            return -9


def _locked(paths: RunPaths) -> bool:
    """True while some runner holds this run's lock (i.e. it is being worked on right now)."""
    lock_path = paths.root / ".lock"
    if not lock_path.exists():
        return False
    with open(lock_path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def run_state(paths: RunPaths) -> str:
    """Training state: finished | failed | diverged | running | partial (interrupted) | pending."""
    summary = read_summary(paths)
    status = read_status(paths)
    if summary.get("status") in DONE:
        return "finished"
    if summary.get("status") == "diverged" or status.get("status") == "diverged":
        return "diverged"
    if status.get("status") == "failed":
        return "failed"
    if status.get("status") == "running" and _locked(paths):
        return "running"
    return "partial" if paths.run.exists() or status else "pending"


def needs_work(paths: RunPaths, retry_failed: bool = False) -> bool:
    """Whether a runner has anything left to do for this run (train, resume, or evaluate)."""
    state = run_state(paths)
    if state == "finished":
        status = read_status(paths)
        return status.get("status") != "finished" or bool(status.get("missing_evals"))
    if state == "failed":
        return retry_failed
    return state != "diverged"


def execute_run(root: str | Path, trainer: list[str] | None = None, evaluator: list[str] | None = None,
                threads: int | None = None, retry_failed: bool = False,
                timeout: float | None = None, extender: list[str] | None = None) -> str:
    """Train and evaluate one prepared run dir; returns its final state. Never raises for run errors.

    With no `trainer`/`evaluator` the run goes through `slmscale.study.worker` (one process);
    otherwise through the given command prefixes (e.g. `slmscale train` then `slmscale eval`), and
    an interleaved run's starting model through `extender` (default `slmscale model extend`).
    """
    paths = RunPaths(Path(root))
    run = read_json(paths.root / "run.json")
    lock = open(paths.root / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return "busy"
    try:
        return _execute_locked(paths, run, trainer, evaluator, threads, retry_failed, timeout, extender)
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


def _execute_locked(paths: RunPaths, run: dict[str, Any], trainer: list[str] | None,
                    evaluator: list[str] | None, threads: int | None, retry_failed: bool,
                    timeout: float | None, extender: list[str] | None = None) -> str:
    status = read_status(paths)
    summary = read_summary(paths)
    if summary.get("status") == "diverged" or (status.get("status") in FINAL_BAD and not retry_failed):
        return status.get("status", "diverged")
    if summary.get("status") not in DONE:
        blocked = _init_blocked(paths, run)
        if blocked:
            return blocked
    worker = trainer is None and evaluator is None
    if not worker:  # one command given: the other stage goes through its `slmscale` command
        trainer = trainer or [sys.executable, "-m", "slmscale.cli.main", "train"]
        evaluator = evaluator or [sys.executable, "-m", "slmscale.cli.main", "eval"]
    if summary.get("status") not in DONE or worker:
        attempts = int(status.get("attempts", 0)) + (summary.get("status") not in DONE)
        status = {"status": "running", "attempts": attempts, "started": _now(), "pid": os.getpid()}
        write_json(paths.status, status)
        t0 = time.time()
        rc = 0
        if run.get("init") and not worker and summary.get("status") not in DONE:
            from slmscale.study.warm_start import extender_command, init_lock

            with init_lock(Path(run["init"]["model"])):
                rc = _run_cmd(extender_command(extender, run["init"], Path(run["shards"])), paths.log,
                              threads, timeout)
        cmd = worker_command(paths.root) if worker else [*trainer, str(paths.config)]
        if rc == 0:
            rc = _run_cmd(cmd, paths.log, threads, timeout)
        summary = read_summary(paths)
        status["wall_s"] = round(time.time() - t0, 3)
        if rc != 0 or summary.get("status") not in DONE:
            state = "diverged" if summary.get("status") == "diverged" or rc == 3 else "failed"
            err = _tail(paths.log) or summary.get("error") or f"trainer exited with code {rc}"
            status.update(status=state, error=f"exit {rc}: {err}", ended=_now())
            write_json(paths.status, status)
            return state
    # Evaluate the tasks whose accuracy is not yet in summary.json (EVAL merges it there).
    from slmscale.study.spec import task_done

    missing: list[str] = []
    errors: dict[str, str] = {}
    if worker:
        reported = read_json(paths.root / "eval_errors.json") if (paths.root / "eval_errors.json").is_file() else {}
    for task in run.get("tasks", []):
        if task_done(read_summary(paths), task):
            continue
        if worker:
            errors[task] = reported.get(task, "not evaluated (see train.log)")
            missing.append(task)
            continue
        bench = (run.get("bench") or {}).get(task)
        if bench is None:
            errors[task] = "no benchmark folder for this task (data.bench)"
            missing.append(task)
            continue
        cmd = [*evaluator, "--run", str(paths.run), "--task", task, "--bench", str(bench)]
        rc = _run_cmd(cmd, paths.log, threads, timeout)
        if rc != 0 or not task_done(read_summary(paths), task):
            errors[task] = f"exit {rc}: {_tail(paths.log)}"
            missing.append(task)
    status.update(status="finished", ended=_now(), eval_errors=errors, missing_evals=missing)
    write_json(paths.status, status)
    return "finished" if not missing else "finished (eval errors)"


# ---------------------------------------------------------------- executors

Job = Callable[[], str]
Callback = Callable[[str, str], None]  # (run_id, state)


def _take_ready(queue: list[tuple[str, dict[str, Any]]], deps: dict[str, list[str]],
                unresolved: set[str], slots: int) -> list[tuple[str, dict[str, Any]]]:
    """Pop up to `slots` queued runs none of whose dependencies is still queued or running."""
    ready = [item for item in queue if not any(d in unresolved for d in deps.get(item[0], ()))][:max(0, slots)]
    for item in ready:
        queue.remove(item)
    return ready


class LocalExecutor:
    """N workers on this machine; each waits on its run's subprocess."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs

    def run_all(self, runs: Iterable[tuple[str, dict[str, Any]]], on_done: Callback,
                deps: dict[str, list[str]] | None = None) -> None:
        """Run everything, at most `jobs` at once; a run waits for the runs it depends on
        (`deps`: run id -> run ids) that are part of this batch."""
        queue, deps = list(runs), deps or {}
        unresolved = {rid for rid, _ in queue}
        active: dict[Any, str] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            while queue or active:
                ready = _take_ready(queue, deps, unresolved, self.jobs - len(active))
                if not ready and not active:  # a dependency cycle: let execute_run report it
                    ready = [queue.pop(0)]
                for rid, kw in ready:
                    active[pool.submit(execute_run, **kw)] = rid
                done, _ = wait(list(active), return_when=FIRST_COMPLETED)
                for f in done:
                    rid = active.pop(f)
                    unresolved.discard(rid)
                    try:
                        state = f.result()
                    except Exception as err:  # runner bug or unreadable run dir: record, go on
                        state = f"error: {err}"
                    on_done(rid, state)


class SubmititExecutor:
    """Submit each run as a submitit job (Slurm on clusters; `cluster="local"` runs locally).

    At most `jobs` are in flight at once, which on a laptop keeps the cores from being oversubscribed
    and on Slurm is the array parallelism. A run is submitted only once the runs it depends on are done.
    """

    def __init__(self, folder: Path, jobs: int = 1, cluster: str | None = None,
                 parameters: dict[str, Any] | None = None):
        import submitit

        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        params = dict(parameters or {})
        params.setdefault("timeout_min", 60 * 24)
        self.executor.update_parameters(**params)
        self.jobs = jobs

    def run_all(self, runs: Iterable[tuple[str, dict[str, Any]]], on_done: Callback,
                deps: dict[str, list[str]] | None = None) -> None:
        queue, deps = list(runs), deps or {}
        unresolved = {rid for rid, _ in queue}
        active: dict[Any, str] = {}
        while queue or active:
            ready = _take_ready(queue, deps, unresolved, self.jobs - len(active))
            if not ready and not active:
                ready = [queue.pop(0)]
            for rid, kw in ready:
                active[self.executor.submit(_submitit_job, kw)] = rid
            time.sleep(0.2)
            for job in [j for j in active if j.done()]:
                rid = active.pop(job)
                unresolved.discard(rid)
                try:
                    state = job.result()
                except Exception as err:
                    state = f"error: {str(err).strip().splitlines()[-1] if str(err).strip() else err}"
                on_done(rid, state)


def _submitit_job(kwargs: dict[str, Any]) -> str:
    return execute_run(**kwargs)
