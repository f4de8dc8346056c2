"""Child processes that die with their parent, so a kill -9 of a study leaves no orphan writing."""

from __future__ import annotations

import ctypes
import signal


def die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies (Linux; elsewhere a no-op). The signal fires
    when the parent *thread* that started the child ends, so start children from a thread that
    outlives them."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
