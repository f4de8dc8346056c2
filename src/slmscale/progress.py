"""Progress bars with rate and ETA; quiet when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import Callable, Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

T = TypeVar("T")

console = Console(stderr=True, soft_wrap=True)


def make_progress(unit: str = "it") -> Progress:
    return Progress(
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


def batch_line(msg: str) -> None:
    """A plain, flushed progress line on stderr when it is not a terminal: the bar is off there, and
    a batch job's log (Slurm, nohup) should still show how far long work has got."""
    if not sys.stderr.isatty():
        print(msg, file=sys.stderr, flush=True)


def eta(done: int, total: int, first: int, seconds: float) -> str:
    """Time left for `total - done` more units at the rate since unit `first` (`seconds` ago)."""
    rate = (done - first) / seconds if seconds > 0 else 0.0
    return _clock((total - done) / rate) if rate > 0 else "?"


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
