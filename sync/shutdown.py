"""Whether the task cluster running this task is stopping, so long tasks can end early.

django-q2 stops a cluster like this: its main process, on SIGTERM or SIGINT, sets
the sentinel's stop event; the sentinel stops fetching tasks and then waits, with
no time limit, for every worker to finish the task it is running. It never tells a
busy worker. A poller that loops for SYNC_RUN_SECONDS therefore held `qcluster`
for up to that long after a supervisor's SIGTERM. A long task asks
`stop_requested()` between steps (or sleeps with `sleep()`) and returns early.

django-q2 has no API for the stop event, but every worker is forked from the
sentinel, so the worker holds a copy of the sentinel object, and the event itself
lives in shared memory: the copy sees the event set. Outside a cluster (tests,
`Q_SYNC`, the benchmark's threads) nothing is ever requested.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import time

CHECK_EVERY = 0.25  # seconds between checks while sleeping


def stop_requested() -> bool:
    """True when this worker's cluster is stopping, or its sentinel has died."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a worker process
        return False
    event = _cluster_stop_event()
    return (event is not None and event.is_set()) or not parent.is_alive()


def sleep(seconds: float, *, sleep=time.sleep) -> bool:
    """Sleep `seconds` with `sleep`, in steps; return True as soon as a stop is requested
    (and False after the full time).

    Never waits on the stop event itself: a worker killed while waiting on a
    multiprocessing Event would leave the cluster's main process blocked forever
    when it sets the event.
    """
    if multiprocessing.parent_process() is None:  # nobody can ask this process to stop
        sleep(seconds)
        return False
    remaining = seconds
    while remaining > 0:
        if stop_requested():
            return True
        step = min(CHECK_EVERY, remaining)
        sleep(step)
        remaining -= step
    return stop_requested()


@functools.cache
def _cluster_stop_event():
    """The stop event of the sentinel that forked this process, or None (looked up once)."""
    from django_q.cluster import Sentinel

    sentinel_pid = os.getppid()
    for obj in gc.get_objects():
        if isinstance(obj, Sentinel) and obj.pid == sentinel_pid:
            return obj.stop_event
    return None
