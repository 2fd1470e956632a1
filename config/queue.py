"""Enqueueing tasks through one broker per process.

django-q2's `async_task` builds a new broker for every call unless it is given one.
With Redis that is a new connection each time: a TCP handshake, redis-py's
CLIENT SETINFO (for which it reads its own package metadata) and a closed socket
afterwards, about 3-4 ms of CPU per task. The sync dispatcher enqueues a cycle per
account every second or so, so that was most of its cost. A broker made once per
process keeps its connection pool (redis-py resets a pool inherited across a fork).
"""

from __future__ import annotations

from functools import cache

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task


@cache
def broker() -> Broker:
    """This process's broker (Redis or the ORM, as Q_CLUSTER says)."""
    return get_broker()


def enqueue(func: str, *args, **options) -> str:
    """`async_task(func, *args, **options)` through the process's broker; the task id."""
    return async_task(func, *args, broker=broker(), **options)
