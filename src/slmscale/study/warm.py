"""Study jobs forked from a warm process instead of started cold.

A run or a data stage runs in a process of its own, so a crash costs only that job. Started cold
(`python -m slmscale.study.worker RUN`), each job pays ~8 s of CPU importing torch and transformers
before it does anything; on a ladder of small runs that is most of the work (a tiny demo run
trains for 3 s). Inside a `LocalExecutor` session the jobs are forked instead from one server
process (`python -m slmscale.study.warm`, started by the session's first job) that imported those
once. Each job is still a fresh process: it gets the caller's environment and working directory as
they are at launch, its thread limit, its output appended to the job's log and its exit code back,
and it is killed with SIGKILL if the server dies; the server is killed with the study process
(PR_SET_PDEATHSIG both times). A job whose server has died starts cold instead.

Protocol: JSON lines. The study writes one request per job to the server's stdin; the server
answers {"id", "pid"} when it has forked the job and {"pid", "code"} when the job has exited.
Elsewhere (submitit jobs, direct calls, platforms without fork) jobs start cold as before.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Iterator

# What the server imports once (one that fails to import is left to the job).
PRELOAD = ("torch", "transformers", "transformers.models.llama.modeling_llama", "slmscale.train.run",
           "slmscale.eval.run", "slmscale.study.worker", "slmscale.study.stage")
# Modules with a `main(argv) -> int` that may run warm.
MODULES = ("slmscale.study.worker", "slmscale.study.stage")

_lock = threading.Lock()
_server: "_Server | None" = None
_sessions = 0


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


@contextlib.contextmanager
def warm_jobs() -> Iterator[None]:
    """Within this block, `run_module` forks jobs from a warm server (started by the first job)."""
    global _server, _sessions
    with _lock:
        _sessions += 1
    try:
        yield
    finally:
        with _lock:
            _sessions -= 1
            done, _server = (_server, None) if _sessions == 0 else (None, _server)
        if done is not None:
            done.close()


def active() -> bool:
    return _sessions > 0 and supported()


def run_module(module: str, argv: list[str], log: Path, env: dict[str, str], timeout: float | None,
               threads: int | None) -> tuple[int, bool]:
    """Run `module.main(argv)` in a job forked from the warm server, its output appended to `log`;
    (exit code, whether it was killed at `timeout` seconds)."""
    global _server
    with _lock:
        if _sessions == 0:
            raise RuntimeError("no warm session (use warm_jobs())")
        if _server is None:
            _server = _Server()
        server = _server
    try:
        return server.run({"module": module, "argv": list(argv), "log": str(log), "env": dict(env),
                           "cwd": os.getcwd(), "threads": threads}, timeout)
    except RuntimeError:
        with _lock:  # a dead server is dropped; the session's next job starts a fresh one
            if _server is server:
                _server = None
        server.close()
        raise


class _Server:
    """The study's side: the server process, one reader thread, a future per job."""

    def __init__(self) -> None:
        # PR_SET_PDEATHSIG fires when the *thread* that started the server ends, so a thread of
        # its own starts it and lives until close() (or until the study process dies).
        self._closed = threading.Event()
        self._error: BaseException | None = None
        started = threading.Event()
        threading.Thread(target=self._own, args=(started,), name="slmscale-warm-owner", daemon=True).start()
        started.wait()
        if self._error is not None:
            raise self._error
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._started: dict[int, Future] = {}
        self._exited: dict[int, Future] = {}
        self._dead: str | None = None
        threading.Thread(target=self._read, name="slmscale-warm-reader", daemon=True).start()

    def _own(self, started: threading.Event) -> None:
        from slmscale.study.lifetime import die_with_parent

        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "slmscale.study.warm"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, preexec_fn=die_with_parent)
        except BaseException as err:  # e.g. out of processes: the job fails with this error
            self._error = err
            return
        finally:
            started.set()
        self._closed.wait()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._lock:
                if "code" in msg:
                    self._exited.setdefault(msg["pid"], Future()).set_result(int(msg["code"]))
                else:
                    self._started.pop(msg["id"]).set_result(int(msg["pid"]))
        with self._lock:  # the server is gone: nothing pending will ever be answered
            self._dead = f"the warm job server exited (code {self.proc.wait()})"
            for fut in [*self._started.values(), *self._exited.values()]:
                if not fut.done():
                    fut.set_exception(RuntimeError(self._dead))

    def run(self, request: dict[str, Any], timeout: float | None) -> tuple[int, bool]:
        assert self.proc.stdin is not None
        started: Future = Future()
        with self._lock:
            if self._dead:
                raise RuntimeError(self._dead)
            request["id"] = next(self._ids)
            try:
                self.proc.stdin.write((json.dumps(request) + "\n").encode())
                self.proc.stdin.flush()
            except OSError as err:  # it died before its reader saw it go
                raise RuntimeError(f"the warm job server exited ({err})") from None
            self._started[request["id"]] = started
        pid = started.result()
        with self._lock:
            exited = self._exited.setdefault(pid, Future())
        try:
            try:
                return exited.result(timeout), False
            except FutureTimeout:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                return exited.result(), True
        finally:
            with self._lock:
                self._exited.pop(pid, None)

    def close(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.proc.wait()
        self._closed.set()


# ---- the server process --------------------------------------------------------------------

_PROTO = 1  # the fd the server answers on (its stdout, moved off fd 1 by serve)


def _send(msg: dict[str, Any]) -> None:
    os.write(_PROTO, (json.dumps(msg) + "\n").encode())


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send({"pid": pid, "code": os.waitstatus_to_exitcode(status)})


def serve() -> None:
    """Import PRELOAD, then fork a job per request line on stdin until stdin closes."""
    global _PROTO
    _PROTO = os.dup(1)
    os.dup2(2, 1)  # whatever an import prints must not corrupt the answers
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            __import__(name)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that SIGCHLD wakes select
    buf = b""
    while True:
        ready, _, _ = select.select([0, wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap()
        if 0 in ready:
            data = os.read(0, 1 << 16)
            if not data:  # the study closed the session (or died: then so do we, by PDEATHSIG)
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    for fd in (wake_r, wake_w, _PROTO):
                        os.close(fd)
                    _job(req)  # never returns
                _send({"id": req["id"], "pid": pid})
    _reap()


def _job(req: dict[str, Any]) -> None:
    """In the forked job: become what `python -m module *argv` would be, run it, exit with its code."""
    from slmscale.study.lifetime import die_with_parent

    die_with_parent()  # the parent is the server
    code = 1
    try:
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        fd = os.open(req["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        if req["threads"]:  # what OMP_NUM_THREADS does at a cold start (torch and BLAS are loaded)
            import torch
            from threadpoolctl import threadpool_limits

            torch.set_num_threads(int(req["threads"]))
            threadpool_limits(int(req["threads"]))
        import importlib

        sys.argv = [req["module"], *req["argv"]]
        code = int(importlib.import_module(req["module"]).main(list(req["argv"])))
    except SystemExit as err:
        code = 0 if err.code is None else err.code if isinstance(err.code, int) else 1
    except BaseException:  # a bug: its traceback goes to the job's log, as a cold start's would
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
