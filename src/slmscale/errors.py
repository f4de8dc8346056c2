"""Errors meant for the user, and the one place that turns anticipated failures into one line.

`UserError` is raised by our own code for expected bad input. `explain` also recognises failures
that come from the environment or from damaged files (no space left, read-only or forbidden
folder, a path that does not exist, a corrupt safetensors or JSON file) so the CLI can report
them as one line (exit 2) too; anything else is a bug and keeps its traceback (exit 1).
"""

from __future__ import annotations

import errno
import json
import sys
from typing import Callable

EXIT_USER = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130
REPORT_HINT = ("this is a bug in slmscale, not in your input; please report it with the command you ran "
               "and the traceback above")


class UserError(Exception):
    """An expected bad input: say what, where, and what to do, in one line."""

    exit_code = EXIT_USER


class StageSkipped(Exception):
    """Raised by a stage that found nothing to do (e.g. every input was bad)."""


# errno -> (what happened, what to do)
_OS_ERRORS = {
    errno.ENOSPC: ("no space left on the device", "free some space (or pick another output folder) and "
                                                   "rerun the same command"),
    errno.EDQUOT: ("disk quota exceeded", "free some space (or pick another output folder) and rerun"),
    errno.EROFS: ("read-only file system", "pick an output folder on a writable disk"),
    errno.EACCES: ("permission denied", "check the folder's permissions or pick another output folder"),
    errno.EPERM: ("operation not permitted", "check the folder's permissions or pick another output folder"),
    errno.ENOENT: ("no such file or directory", "check the path"),
    errno.ENOTDIR: ("not a directory", "check the path"),
    errno.EEXIST: ("already exists (a file is where a folder or a new file should go)",
                   "move it or choose another path"),
    errno.EISDIR: ("is a directory, expected a file", "check the path"),
    errno.ELOOP: ("too many levels of symbolic links", "fix the symbolic link loop"),
    errno.ENAMETOOLONG: ("file name too long", "use a shorter name"),
    errno.EMFILE: ("too many open files", "raise the open-file limit (ulimit -n)"),
    errno.EIO: ("input/output error", "check the disk"),
}


def _os_line(err: OSError) -> str | None:
    known = _OS_ERRORS.get(err.errno or -1)
    if known is None:
        return None
    what, todo = known
    where = err.filename if err.filename is not None else None
    if err.filename2 is not None:
        where = f"{err.filename} -> {err.filename2}"
    return f"{where}: {what}; {todo}" if where is not None else f"{what}; {todo}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def explain(err: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit code) for an anticipated failure; None for a bug (show the traceback)."""
    if isinstance(err, UserError):
        return str(err), err.exit_code
    if isinstance(err, KeyboardInterrupt):
        return "interrupted; rerun the same command to resume", EXIT_INTERRUPTED
    if isinstance(err, OSError):
        line = _os_line(err)
        return None if line is None else (line, EXIT_USER)
    if type(err).__name__ == "SafetensorError":
        return (f"a safetensors file is damaged ({_first_line(err)}); rebuild or restore it", EXIT_USER)
    if isinstance(err, json.JSONDecodeError):
        return (f"a JSON file is damaged ({err.msg} at line {err.lineno}); rebuild or restore it", EXIT_USER)
    if isinstance(err, MemoryError):
        return ("out of memory; use a smaller batch or model, or a machine with more memory", EXIT_USER)
    return None


def run_explained(body: Callable[[], int]) -> int:
    """For entry points other than the CLI (study stage and worker processes): run `body`; an
    anticipated failure prints the same one `error:` line the CLI gives and returns its exit code,
    a bug propagates with its traceback."""
    try:
        return body()
    except Exception as err:
        explained = explain(err)
        if explained is None:
            raise
        print(f"error: {explained[0]}", file=sys.stderr)
        return explained[1]


def safetensors_error() -> type[BaseException]:
    """The exception class safetensors raises for a damaged file."""
    from safetensors import SafetensorError

    return SafetensorError
