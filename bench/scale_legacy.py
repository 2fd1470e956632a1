"""The one-poller-per-account engine smsdesk ran before the `sync` app, reconstructed
for the scale benchmark's side-by-side run. Not part of the product.

Taken from `orders/sync.py` and `orders/tasks.py` at 81517b3^ (the commit before
"Sync engine: short per-account cycles sent by one dispatcher"): `poll_account`
claims the account's lease (30 s, renewed every cycle), loops over cycles for up
to SYNC_RUN_SECONDS, polling at `poll_interval` from cycle start to cycle start
while codes are awaited and every IDLE_INTERVAL when only received orders remain,
and stops when nothing is left; when its time is up with work left it enqueues a
successor (`ensure_poller`) and frees its worker. Every placement enqueued a
poller (`start_poller` on commit) and a schedule (the watchdog, once a minute)
restarted pollers of accounts with work and no lease.

What differs from that code, on purpose: one cycle is today's
`sync.engine.run_cycle` and the intervals today's `sync.engine.poll_interval`
(the same steps, bulk requests and budget shares the old poller ran, moved since),
so the comparison isolates what changed: how cycles are scheduled onto workers.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from providers.models import ProviderAccount
from sync import engine, shutdown

LEASE_SECONDS = 30
TASK = "bench.scale_legacy.poll_account"


def _lease_free(now) -> Q:
    return Q(poller_lease_until__isnull=True) | Q(poller_lease_until__lt=now)


def claim_lease(account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    now = timezone.now()
    return bool(
        ProviderAccount.objects.filter(pk=account_id)
        .filter(_lease_free(now) | Q(poller_lease_owner=owner))
        .update(poller_lease_owner=owner, poller_lease_until=now + timedelta(seconds=seconds))
    )


def renew_lease(account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    until = timezone.now() + timedelta(seconds=seconds)
    return bool(
        ProviderAccount.objects.filter(pk=account_id, poller_lease_owner=owner).update(
            poller_lease_until=until
        )
    )


def release_lease(account_id: int, owner: str) -> None:
    ProviderAccount.objects.filter(pk=account_id, poller_lease_owner=owner).update(
        poller_lease_owner="", poller_lease_until=None
    )


def lease_is_free(account_id: int) -> bool:
    now = timezone.now()
    return ProviderAccount.objects.filter(pk=account_id).filter(_lease_free(now)).exists()


def ensure_poller(account_id: int) -> bool:
    """Enqueue a poller for the account unless one holds the lease; True when enqueued."""
    if not lease_is_free(account_id):
        return False
    from django_q.tasks import async_task

    async_task(TASK, account_id, group="sync", q_options={"timeout": 90})
    return True


def poll_account(account_id: int) -> str:
    """Poll one account until idle, out of time or the cluster stops; hand over if work
    remains (the old `orders.sync.poll_account`)."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not claim_lease(account_id, owner):
        return "another poller holds the lease"
    deadline = time.monotonic() + settings.SYNC_RUN_SECONDS
    cycles, cycle = 0, engine.Cycle()
    stopping = shutdown.stop_requested()
    try:
        while not stopping:
            started = time.monotonic()
            account = ProviderAccount.objects.filter(pk=account_id, enabled=True).first()
            if account is None:
                return "account disabled or gone"
            cycle = engine.run_cycle(account)
            cycles += 1
            if not cycle.has_work or time.monotonic() >= deadline:
                break
            wait = engine.poll_interval(account, cycle) - (time.monotonic() - started)
            stopping = shutdown.sleep(max(cycle.rate_limited_for, wait, 0.0), sleep=time.sleep)
            if not stopping and not renew_lease(account_id, owner):
                return f"lease lost after {cycles} cycles"
            close_old_connections()
    finally:
        release_lease(account_id, owner)
    if (cycle.has_work or stopping) and settings.SYNC_RUN_SECONDS > 0:
        ensure_poller(account_id)  # a fresh task continues; this worker is freed
    return f"{cycles} cycles" + (", stopped with the cluster" if stopping else "")


def watchdog() -> int:
    """The old watchdog schedule: restart pollers of accounts with work; how many."""
    engine.release_settled_holds()
    started = 0
    for account_id in engine.accounts_with_work().values_list("pk", flat=True):
        if ensure_poller(account_id):
            started += 1
    return started
