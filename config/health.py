"""`/health`: what a load balancer or a monitor asks every few seconds.

Unauthenticated and cheap (two database queries, one cache round trip, one Redis
round trip with the Redis broker). The answer is 503 when this web process
cannot reach the database, the cache or the task broker, so a load balancer
takes it out of rotation; provider trouble never does (a provider outage is no
reason to stop serving the portal), it is reported under "sync" for monitoring:

    {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok",
     "queued_tasks": 0,
     "scheduler": {"overdue_seconds": 0},
     "sync": {"accounts": 3, "accounts_failing": 0, "never_succeeded": 0,
              "oldest_success_seconds": 412, "success_ages_seconds": [412, 80, 75]}}

An account's age counts from its last successful exchange with its provider
(`ProviderAccount.last_ok_at`: the balance refresh every 15 minutes, catalog
syncs, connection tests). Ages are bare numbers: no label, code or key of any
account appears here. Failures say "error" and are logged by type only.
"""

from __future__ import annotations

import functools
import logging
import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import DatabaseError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)

OK = "ok"
ERROR = "error"
# Seconds a Redis check may take before the broker counts as down (a load
# balancer's probe usually gives up after a few seconds).
REDIS_TIMEOUT = 2.0


@login_not_required
@never_cache
@require_safe
def health(request):
    """Return 200 with the checks as JSON, or 503 when database, cache or broker is down."""
    body = {"status": OK, "database": OK, "cache": check_cache()}
    try:
        body["sync"] = sync_summary()
        body["scheduler"] = scheduler_summary()
    except DatabaseError as exc:
        log.warning("health: database unavailable (%s)", type(exc).__name__)
        body["database"] = ERROR
    body.update(check_broker(database_ok=body["database"] == OK))
    if ERROR in (body["database"], body["cache"], body["broker"]):
        body["status"] = ERROR
    return JsonResponse(body, status=200 if body["status"] == OK else 503)


def sync_summary(now=None) -> dict:
    """Ages in seconds of every enabled account's last success, worst first; how many
    accounts are failing and how many never succeeded. One query."""
    from providers.models import Health, ProviderAccount

    now = now or timezone.now()
    rows = ProviderAccount.objects.filter(enabled=True).values_list("last_ok_at", "health")
    ages, failing, never = [], 0, 0
    for last_ok_at, health in rows:
        failing += health == Health.FAILING
        if last_ok_at is None:
            never += 1
        else:
            ages.append(max(0, round((now - last_ok_at).total_seconds())))
    ages.sort(reverse=True)
    return {
        "accounts": len(ages) + never,
        "accounts_failing": failing,
        "never_succeeded": never,
        "oldest_success_seconds": ages[0] if ages else None,
        "success_ages_seconds": ages,
    }


def scheduler_summary(now=None) -> dict:
    """How late the most overdue smsdesk schedule is: near 0 while exactly one cluster runs
    the scheduler (Q_SCHEDULER), growing when none does. One query."""
    from django_q.models import Schedule

    from config.schedules import SCHEDULE_PREFIX

    now = now or timezone.now()
    next_run = (
        Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX)
        .exclude(repeats=0)
        .order_by("next_run")
        .values_list("next_run", flat=True)
        .first()
    )
    overdue = 0 if next_run is None else max(0, round((now - next_run).total_seconds()))
    return {"schedules": next_run is not None, "overdue_seconds": overdue}


def check_cache() -> str:
    """Write and read back a value in the default cache."""
    key, value = "health:probe", uuid.uuid4().hex
    try:
        cache.set(key, value, 30)
        return OK if cache.get(key) == value else ERROR
    except Exception as exc:  # any backend's failure means the same to a load balancer
        log.warning("health: cache unavailable (%s)", type(exc).__name__)
        return ERROR


def check_broker(*, database_ok: bool) -> dict:
    """The task broker: Redis answers a PING (and the queue length), or, with the ORM
    broker, the database is the broker."""
    redis_url = settings.Q_CLUSTER.get("redis")
    if not redis_url:
        return {"broker": OK if database_ok else ERROR}
    try:
        client = _redis(redis_url)
        pipe = client.pipeline(transaction=False)
        pipe.ping()
        pipe.llen(_queue_key())
        _, queued = pipe.execute()
    except Exception as exc:  # connection refused, timeout, authentication...
        log.warning("health: broker unavailable (%s)", type(exc).__name__)
        return {"broker": ERROR}
    return {"broker": OK, "queued_tasks": queued}


@functools.cache
def _redis(url: str):
    """One client (and connection pool) per process, with short timeouts."""
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )


def _queue_key() -> str:
    """The Redis list django-q2 queues tasks in (as django_q.brokers.redis_broker names it)."""
    return f"django_q:{settings.Q_CLUSTER['name']}:q"
