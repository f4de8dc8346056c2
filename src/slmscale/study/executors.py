"""Where a study's jobs run: every data stage and every run goes through the same executor.

A job is a picklable callable returning a state string (slmscale.study.runners.RunJob for runs,
slmscale.study.stage.StageJob for data stages). `LocalExecutor` runs N at once on this machine (a
thread each, waiting on the job's subprocess); `SubmititExecutor` submits each job through submitit
(Slurm on a cluster, submitit's local executor elsewhere and in tests), so data stages run on compute
nodes too, never on the login node. A job waits for the jobs it depends on (`deps`) in the batch.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from slmscale.errors import UserError

Job = Callable[[], str]
Callback = Callable[[str, str], None]  # (job id, state)


def _take_ready(queue: list[tuple[str, Job]], deps: dict[str, list[str]], unresolved: set[str],
                slots: int) -> list[tuple[str, Job]]:
    """Pop up to `slots` queued jobs none of whose dependencies is still queued or running."""
    ready = [item for item in queue if not any(d in unresolved for d in deps.get(item[0], ()))][:max(0, slots)]
    for item in ready:
        queue.remove(item)
    return ready


def _error_state(err: BaseException) -> str:
    text = str(err).strip()
    return f"error: {text.splitlines()[-1] if text else type(err).__name__}"


class _Executor:
    """The scheduling loop both executors share; they differ in how a job is submitted and seen done."""
    jobs: int

    def run_all(self, jobs: Iterable[tuple[str, Job]], on_done: Callback,
                deps: dict[str, list[str]] | None = None) -> None:
        """Run every job, at most `self.jobs` at once; a job waits for the jobs it depends on
        (`deps`: job id -> job ids) that are part of this batch."""
        queue, deps = list(jobs), deps or {}
        unresolved = {jid for jid, _ in queue}
        active: dict[Any, str] = {}
        with self._session():
            while queue or active:
                ready = _take_ready(queue, deps, unresolved, self.jobs - len(active))
                if not ready and not active:  # a dependency cycle: let the job report it
                    ready = [queue.pop(0)]
                for jid, job in ready:
                    active[self._submit(job)] = jid
                for handle in self._finished(list(active)):
                    jid = active.pop(handle)
                    unresolved.discard(jid)
                    try:
                        state = handle.result()
                    except Exception as err:  # runner bug or unreadable run dir: record, go on
                        state = _error_state(err)
                    on_done(jid, state)

    def _session(self) -> Any:
        return contextlib.nullcontext()

    def _submit(self, job: Job) -> Any:
        raise NotImplementedError

    def _finished(self, active: list[Any]) -> list[Any]:
        raise NotImplementedError


class LocalExecutor(_Executor):
    """N workers on this machine; each waits on its job's process (forked warm: slmscale.study.warm)."""

    def __init__(self, jobs: int = 1):
        self.jobs = jobs
        self._pool: ThreadPoolExecutor | None = None

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        from slmscale.study.warm import warm_jobs

        with warm_jobs(), ThreadPoolExecutor(max_workers=self.jobs) as self._pool:
            yield

    def _submit(self, job: Job) -> Any:
        assert self._pool is not None
        return self._pool.submit(job)

    def _finished(self, active: list[Any]) -> list[Any]:
        return list(wait(active, return_when=FIRST_COMPLETED)[0])


class SubmititExecutor(_Executor):
    """Submit each job as a submitit job (Slurm on clusters; `cluster="local"` runs locally).

    At most `jobs` are in flight at once, which on a laptop keeps the cores from being oversubscribed
    and on Slurm is the array parallelism."""

    def __init__(self, folder: Path, jobs: int = 1, cluster: str | None = None,
                 parameters: dict[str, Any] | None = None):
        try:
            import submitit
        except ImportError:
            raise UserError("execution.executor submitit needs the submitit package: "
                            "pip install 'slmscale[cluster]'") from None

        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        params = dict(parameters or {})
        params.setdefault("timeout_min", 60 * 24)
        self.executor.update_parameters(**params)
        self.jobs = jobs

    def _submit(self, job: Job) -> Any:
        return self.executor.submit(job)

    def _finished(self, active: list[Any]) -> list[Any]:
        time.sleep(0.2)
        return [j for j in active if j.done()]


def make_executor(kind: str, study_dir: Path, jobs: int, slurm: dict[str, Any] | None = None,
                  gpus_per_run: int = 1) -> LocalExecutor | SubmititExecutor:
    if kind == "local":
        return LocalExecutor(jobs)
    slurm = dict(slurm or {})
    cluster = slurm.pop("cluster", None)
    if gpus_per_run > 1:  # one node, N GPUs, one task: torchrun starts the N processes
        slurm.setdefault("gpus_per_node", gpus_per_run)
    return SubmititExecutor(study_dir / "submitit", jobs=jobs, cluster=cluster, parameters=slurm)
