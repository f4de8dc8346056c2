"""How many CPUs this process may use (its affinity mask, not the machine's count)."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs the scheduler lets this process run on (a Slurm or cgroup allotment), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # macOS has no affinity mask
