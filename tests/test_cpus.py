"""usable_cpus: the process's affinity mask, the one count every worker default uses."""

from __future__ import annotations

import os

from slmscale.cpus import usable_cpus


def test_usable_cpus_follow_the_affinity_mask():
    n = usable_cpus()
    assert n >= 1
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))
        before = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {min(before)})  # a one-CPU allotment, as under `taskset -c 0`
            assert usable_cpus() == 1
        finally:
            os.sched_setaffinity(0, before)
