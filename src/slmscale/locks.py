"""Advisory file locks (fcntl.flock) that keep two processes from writing one output folder.

The lock is a small file inside the folder it guards; the kernel drops it when the holder exits,
even on kill -9, so a stale lock file never blocks a later run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from slmscale.errors import UserError

LOCK = ".lock"


class LockHeld(UserError):
    """Another process holds the lock on an output folder."""


@contextlib.contextmanager
def exclusive(folder: str | Path, what: str, name: str = LOCK) -> Iterator[Path]:
    """Hold `folder/name` for the duration; fail at once (LockHeld) when another process holds it.

    `what` names the work in the message, e.g. "a training run".
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fh = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "another process"
            raise LockHeld(f"{folder}: {what} is already writing here (lock {path} held by pid {pid}); "
                           "wait for it to finish or use another output folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield path
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


@contextlib.contextmanager
def waiting(path: str | Path) -> Iterator[None]:
    """Hold the lock file `path`, blocking until its holder lets go (for short shared builds)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def is_held(path: str | Path) -> bool:
    """True while some process holds the lock file `path`."""
    path = Path(path)
    if not path.exists():
        return False
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False
