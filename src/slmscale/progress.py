"""Progress bars with rate and ETA; where stderr is not a terminal, a plain line a minute instead."""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, Task, TaskID, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)

T = TypeVar("T")

console = Console(stderr=True, soft_wrap=True)


LINE_EVERY_S = 60.0  # in a batch log, one plain line per bar per minute at most


class _Progress(Progress):
    """A rich Progress that, where it is disabled (stderr not a terminal: Slurm, nohup), still says
    how far long work has got: one plain line per task at most every `line_every` seconds, never
    in the first `line_every` seconds, so short steps stay silent."""

    def __init__(self, *columns: Any, line_every: float | None, **kw: Any) -> None:
        super().__init__(*columns, **kw)
        self._line_every = line_every
        self._last_line: dict[TaskID, float] = {}

    def update(self, task_id: TaskID, **kw: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kw)
        self._maybe_line(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_line(task_id)

    def _maybe_line(self, task_id: TaskID) -> None:
        if not self.disable or self._line_every is None:
            return
        task = self._tasks[task_id]
        now = self.get_time()
        last = self._last_line.get(task_id, task.start_time if task.start_time is not None else now)
        if now - last < self._line_every:
            return
        self._last_line[task_id] = now
        print(plain_line(task), file=sys.stderr, flush=True)


def plain_line(task: Task) -> str:
    """`description: done/total (pct) | rate | elapsed | ETA` for a batch log."""
    done = f"{task.completed:,.0f}"
    if task.total:
        done += f"/{task.total:,.0f} ({100 * task.completed / task.total:.0f} %)"
    parts = [f"{task.description}: {done}"]
    rate = str(task.fields.get("rate") or "")
    if rate:
        parts.append(rate)
    parts.append(f"{_clock(task.elapsed or 0.0)} elapsed")
    left = task.time_remaining
    parts.append(f"ETA {_clock(left) if left is not None else '?'}")
    return " | ".join(parts)


def make_progress(unit: str = "it", batch_lines: bool = True) -> Progress:
    """Progress bars on a terminal; elsewhere a plain line per bar each minute (`batch_lines`:
    False where the caller writes its own lines, as training does per logged step)."""
    return _Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not sys.stderr.isatty(),
        transient=False,
        line_every=LINE_EVERY_S if batch_lines else None,
    )


def track(items: Iterable[T], description: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate with a progress bar showing rate (`unit`/s) and ETA."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress(unit) as prog:
        task = prog.add_task(description, total=total, rate="")
        for item in items:
            yield item
            t = prog.tasks[task]
            speed = t.speed
            prog.update(task, advance=1, rate=f"{speed:.1f} {unit}/s" if speed else "")


def say(msg: str) -> None:
    """A summary line on stderr, never wrapped (one line per skipped file, greppable)."""
    print(msg, file=sys.stderr, flush=True)


def info(msg: str) -> None:
    """A status line for the user (stderr, so stdout stays machine-readable)."""
    console.print(msg, highlight=False, markup=False)  # paths and tags like "[study]" print as written


def _clock(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def step_line(record: dict, total_steps: int) -> str | None:
    """One plain progress line for a training log record (None for records without a loss)."""
    step = int(record["step"])
    head = f"step {step}/{total_steps}"
    if record.get("train_loss") is not None:
        tps = float(record.get("tokens_per_s") or 0.0)
        per_step = record["tokens"] / step if step else 0
        eta = (total_steps - step) * per_step / tps if tps > 0 else None
        return (f"{head} | tokens {record['tokens']:,} | loss {record['train_loss']:.4f} | "
                f"lr {record['lr']:.3g} | {tps:,.0f} tok/s | ETA {_clock(eta) if eta is not None else '?'}")
    if record.get("valid_loss") is not None:
        return f"{head} | tokens {record['tokens']:,} | valid loss {record['valid_loss']:.4f}"
    return None


def with_step_lines(log: Callable[[dict], None], total_steps: int) -> Callable[[dict], None]:
    """`log`, plus a plain, flushed line per record on stderr when it is not a terminal, so a
    batch job's log (Slurm, nohup) keeps the loss trace that the progress bar shows on a TTY."""
    if sys.stderr.isatty():
        return log

    def logged(record: dict) -> None:
        log(record)
        line = step_line(record, total_steps)
        if line is not None:
            print(line, file=sys.stderr, flush=True)

    return logged
