"""Progress bars with rate and ETA; quiet when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

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


def info(msg: str) -> None:
    """A status line for the user (stderr, so stdout stays machine-readable)."""
    console.print(msg, highlight=False)
