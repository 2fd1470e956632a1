"""The sync engine: keeps every active order and rental in step with its provider.

Most providers do not push, so smsdesk polls (where SMSCode pushes to a
webhook, `sync.hooks` applies the events and polling slows to a fallback:
`providers.leases.push_interval`). The engine sits above orders and
rentals because it serves both: a cycle of one provider account runs
`orders.sync.sync_orders` and `rentals.sync.sync_rentals` as sibling steps.

A worker is busy only while cycles run. Cycles run in short django-q2 tasks
(`sync.tasks.cycles`, a few due accounts each, one after another), and one
dispatcher (`sync.tasks.dispatch`, a task that runs for SYNC_RUN_SECONDS and
hands over to a successor) sends each account's cycle when it is due:

- an account's due time (`sync_due_at`) is set by services when they give it
  work (`providers.leases.mark_due`) and by each cycle from what it saw: soon
  while codes are awaited, slower when only received orders remain, never when
  nothing is left;
- the dispatcher claims due accounts' leases (one cycle at a time per account,
  across every cluster and machine) and enqueues their cycles; it keeps at most
  SYNC_MAX_IN_FLIGHT cycles queued or running, most overdue first;
- a task carries up to SYNC_BATCH cycles when many accounts are due at once
  (a task's own cost, in the broker, the cluster and the connection check, is
  then paid once for several cycles) and one when few are (no cycle waits behind
  another while workers are free);
- one dispatcher runs across all clusters (an EngineLease); a schedule (the
  watchdog, once a minute) restarts it if its process died, and is not the
  polling clock (django-q2 schedules tick once a minute at best).

So the worker time spent follows the work (cycles of accounts that have some),
not the number of accounts, and a cluster with four workers serves hundreds of
accounts.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from config import queue
from config.sql import KeptRead
from providers import http, leases, webhooks
from providers.errors import ProviderError, RateLimited
from providers.models import ProviderAccount
from sync import shutdown

log = logging.getLogger(__name__)

DISPATCHER = "dispatcher"
DISPATCHER_LEASE = timedelta(seconds=20)
RENEW_EVERY = 5.0  # seconds between renewals of the dispatcher's lease
TICK = 0.1  # seconds between the dispatcher's looks while nothing is due sooner
# Seconds between looks while due accounts wait for an in-flight slot. Not shorter:
# the in-flight cycles (SYNC_MAX_IN_FLIGHT, twice what the workers run at once) keep
# the workers busy meanwhile, and at 0.02 s a saturated engine's dispatcher spent a
# tenth of the cluster's CPU on its looks (issue 13).
FULL_WAIT = 0.1
IDLE_INTERVAL = 5.0  # seconds between cycles when only received orders remain


@dataclass
class Cycle:
    """What one sync cycle saw."""

    awaiting: int = 0  # orders waiting for a code (or for a purchase to be confirmed)
    active: int = 0  # orders to follow: open, pending, scheduled cancels
    rentals: int = 0  # rentals to follow
    requests: int = 0
    rate_limited_for: float = 0.0

    @property
    def has_work(self) -> bool:
        return bool(self.active or self.rentals)


# --- one cycle --------------------------------------------------------------------------


def run_cycle(account: ProviderAccount, now: datetime | None = None) -> Cycle:
    """One pass over the account: orders (states, codes, cancels, expiries, unconfirmed
    purchases, orphans), then rentals."""
    from orders.sync import LiveOrders, count_work, sync_orders
    from rentals.sync import sync_rentals

    now = now or timezone.now()
    cycle = Cycle()
    client = account.client(max_attempts=2, max_wait=2.0)
    live = LiveOrders(account)  # read once; the steps and the count share it
    # Every request the cycle sends counts (expiries and cancels use clients of their
    # own): the next cycle waits for them all (next_due).
    with http.counting() as sent:
        try:
            sync_orders(account, client, now, live)
        except RateLimited as exc:
            cycle.rate_limited_for = exc.retry_after or 5.0
        except ProviderError as exc:
            log.warning("sync of %s: %s", account.label, exc.message)
            account.record_error(exc)
        cycle.rentals = _rental_step(sync_rentals, account, client, now)
        cycle.awaiting, cycle.active = count_work(account, live)
        webhooks.check_if_due(account, now)  # SMSCode push: registered and delivering?
    cycle.requests = sent[0]
    return cycle


def _rental_step(sync_rentals, account, client, now) -> int:
    try:
        return sync_rentals(account, client, now)
    except RateLimited:
        return 1
    except ProviderError as exc:
        log.warning("rental sync of %s: %s", account.label, exc.message)
        return 1


def poll_interval(account: ProviderAccount, cycle: Cycle) -> float:
    """Seconds from one cycle's start to the next: fast while codes are awaited, within
    the budget share."""
    if not cycle.awaiting:
        return IDLE_INTERVAL
    return max(leases.MIN_INTERVAL, 1 / leases.poll_rate(account))


def next_due(account: ProviderAccount, cycle: Cycle, started: datetime) -> datetime | None:
    """When the account's next cycle should start (None: nothing left to follow).

    The interval runs from cycle start to cycle start: the request rate is the one
    poll_interval budgets for, and a code waits no cycle time extra.
    """
    if not cycle.has_work:
        return None
    # Slower while the provider pushes events (polling is then only the fallback).
    interval = leases.push_interval(account, poll_interval(account, cycle), started)
    # A cycle that sent more than one request (per-order checks beside the list, an
    # expiry, a cancel, a rental) waits for them all: the account's share of its limit
    # holds on average, not only for cycles of one request (a NumPool account reached
    # 33 % of its limit without this).
    spent = cycle.requests / leases.poll_rate(account)
    seconds = max(cycle.rate_limited_for, interval, spent)
    return started + timedelta(seconds=seconds)


def cycles(leased: list[tuple[int, str]]) -> str:
    """Run the cycles of several accounts whose leases the dispatcher claimed, one after
    another. A cycle that fails is logged and the others still run (its lease runs out
    and the account is sent again, as when a one-cycle task fails)."""
    done = []
    for account_id, token in leased:
        if shutdown.stop_requested():
            # The cluster stops: hand the rest back at once rather than when their
            # leases run out.
            leases.release(account_id, token, started=timezone.now(), due_at=timezone.now())
            continue
        try:
            done.append(cycle(account_id, token))
        except Exception:
            log.exception("sync cycle of account %s failed", account_id)
    return f"{len(done)} of {len(leased)} cycles run"


# Read by every cycle: compiled once (config.sql.KeptRead). Without an ORDER BY: the
# model's ordering (by team name) would join the teams table.
_LEASED_ACCOUNT = KeptRead(
    ProviderAccount,
    lambda pk, token: ProviderAccount.objects.filter(
        pk=pk, poller_lease_owner=token, enabled=True
    ).order_by(),
    arity=2,
)


def cycle(account_id: int, token: str) -> str:
    """Run one cycle of an account whose lease the dispatcher claimed for `token`."""
    started = timezone.now()
    found = _LEASED_ACCOUNT.rows(account_id, token)
    account = found[0] if found else None
    if account is None:
        # Disabled meanwhile, or the lease ran out while the task waited: let go.
        leases.release(account_id, token, started=started, due_at=None)
        return "not ours any more"
    result = run_cycle(account, started)
    due = next_due(account, result, started)
    ended = timezone.now()
    leases.release(account_id, token, started=started, due_at=due)
    # One line per cycle at DEBUG: which account, under which lease, from when to when.
    log.debug(
        "cycle account=%s token=%s from=%.3f to=%.3f requests=%d",
        account_id,
        token,
        started.timestamp(),
        ended.timestamp(),
        result.requests,
    )
    # And one at INFO for people (the demo's output, an operator): the requests
    # themselves are at DEBUG (providers.http).
    log.info(
        "sync %s: %d requests; following %d orders, %d rentals; next %s",
        account.label,
        result.requests,
        result.active,
        result.rentals,
        "when there is work"
        if due is None
        else f"in {max(0, (due - ended).total_seconds()):.0f} s",
    )
    return f"{result.requests} requests, next {'idle' if due is None else due.isoformat()}"


# --- the dispatcher --------------------------------------------------------------------------


def dispatch() -> str:
    """Send due cycles for up to SYNC_RUN_SECONDS, then hand over (or stop when idle)."""
    owner = _owner()
    if not _claim_dispatcher(owner):
        return "another dispatcher runs"
    deadline = time.monotonic() + settings.SYNC_RUN_SECONDS
    renewed = time.monotonic()
    sent = 0
    idle = False
    try:
        while not shutdown.stop_requested():
            sent += len(dispatch_due())
            wait = next_look()
            idle = wait is None
            if idle or time.monotonic() >= deadline:
                break
            if time.monotonic() - renewed >= RENEW_EVERY:
                if not _renew_dispatcher(owner):
                    break
                renewed = time.monotonic()
            if shutdown.sleep(wait):
                break
            close_old_connections()
    finally:
        _release_dispatcher(owner)
    if not idle:
        wake()  # a successor continues; this worker is freed
    return f"{sent} cycles sent"


def dispatch_due(now: datetime | None = None, enqueue=None) -> list[int]:
    """Claim the leases of due accounts (most overdue first, within SYNC_MAX_IN_FLIGHT)
    and enqueue their cycles; return their ids."""
    now = now or timezone.now()
    enqueue = enqueue or _enqueue_cycles
    busy = ProviderAccount.objects.filter(poller_lease_until__gte=now).count()
    room = settings.SYNC_MAX_IN_FLIGHT - busy
    if room <= 0:
        return []
    due = list(
        ProviderAccount.objects.filter(enabled=True, sync_due_at__lte=now)
        .filter(leases.lease_free(now))
        .order_by("sync_due_at")
        .values_list("pk", flat=True)[:room]
    )
    if not due:
        return []
    prefix = f"{_owner()[:40]}:{uuid.uuid4().hex[:8]}"  # the field holds 64 characters
    claimed = leases.claim_many(due, prefix, now)
    for batch in batches(claimed):
        enqueue([(account_id, leases.many_token(prefix, account_id)) for account_id in batch])
    return claimed


def batches(account_ids: list[int]) -> list[list[int]]:
    """The claimed accounts in tasks, in order: as many tasks as workers while they
    fit, and at most SYNC_BATCH cycles in a task."""
    workers = settings.Q_CLUSTER.get("workers", 1)
    size = max(1, min(settings.SYNC_BATCH, math.ceil(len(account_ids) / workers)))
    return [account_ids[i : i + size] for i in range(0, len(account_ids), size)]


def next_look(now: datetime | None = None) -> float | None:
    """Seconds until the dispatcher should look again; None when no account is due at
    all (nor in a cycle that may leave it due): the dispatcher can stop.

    Accounts in a cycle are due until the cycle sets their next time, so they do not
    count as due now: the dispatcher would spin on them. An account that is due and
    free but was not sent waits for an in-flight slot: look again shortly.
    """
    now = now or timezone.now()
    summary = ProviderAccount.objects.filter(enabled=True, sync_due_at__isnull=False).aggregate(
        due=Count("pk"), soonest_free=Min("sync_due_at", filter=leases.lease_free(now))
    )
    if not summary["due"]:
        return None
    soonest = summary["soonest_free"]
    if soonest is None:  # every due account is in a cycle
        return TICK
    if soonest <= now:
        return FULL_WAIT
    return min(TICK, (soonest - now).total_seconds())


def _enqueue_cycles(leased: list[tuple[int, str]]) -> None:
    queue.enqueue(
        "sync.tasks.cycles",
        leased,
        group="sync",
        save=False,  # hundreds a minute: their results are not worth a row each
        # Every cycle of the task must start before its lease (claimed now) ends.
        q_options={"timeout": int(leases.CYCLE_LEASE.total_seconds())},
    )


def wake() -> bool:
    """Make sure a dispatcher runs; True when one was enqueued (never with SYNC_AUTOSTART
    off: tests and benchmarks drive the engine themselves)."""
    from sync.models import EngineLease

    if not getattr(settings, "SYNC_AUTOSTART", True):
        return False
    now = timezone.now()
    running = EngineLease.objects.filter(name=DISPATCHER, until__gte=now).exists()
    if running:
        return False
    queue.enqueue("sync.tasks.dispatch", group="sync", q_options={"timeout": _dispatch_timeout()})
    return True


def on_sync_requested(sender, account_id: int, **kwargs) -> None:
    """A service gave an account work: have the dispatcher look (after the commit)."""
    transaction.on_commit(wake)


def _dispatch_timeout() -> int:
    return settings.SYNC_RUN_SECONDS + int(DISPATCHER_LEASE.total_seconds())


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_dispatcher(owner: str) -> bool:
    from sync.models import EngineLease

    now = timezone.now()
    EngineLease.objects.get_or_create(name=DISPATCHER)
    free = Q(until__isnull=True) | Q(until__lt=now) | Q(owner=owner)
    return bool(
        EngineLease.objects.filter(name=DISPATCHER)
        .filter(free)
        .update(owner=owner, until=now + DISPATCHER_LEASE)
    )


def _renew_dispatcher(owner: str) -> bool:
    from sync.models import EngineLease

    until = timezone.now() + DISPATCHER_LEASE
    return bool(EngineLease.objects.filter(name=DISPATCHER, owner=owner).update(until=until))


def _release_dispatcher(owner: str) -> None:
    from sync.models import EngineLease

    EngineLease.objects.filter(name=DISPATCHER, owner=owner).update(owner="", until=None)


# --- the watchdog ------------------------------------------------------------------------------


def accounts_with_work():
    """Enabled accounts with something to follow: open or pending orders, scheduled
    cancels, active or unconfirmed rentals."""
    from orders.sync import accounts_with_orders_to_follow
    from rentals.sync import accounts_with_active_rentals

    return ProviderAccount.objects.filter(enabled=True).filter(
        Q(pk__in=accounts_with_orders_to_follow()) | Q(pk__in=accounts_with_active_rentals())
    )


def watchdog() -> int:
    """Once a minute: accounts with work but no due time get one (work given without
    `mark_due`, or lost to a crash), spend holds of settled purchases are released,
    and the dispatcher is restarted if it died. Returns how many accounts were due."""
    idle = accounts_with_work().filter(sync_due_at__isnull=True)
    marked = idle.update(sync_due_at=timezone.now())
    release_settled_holds()
    wake()
    return marked


def release_settled_holds() -> int:
    """Give back spend holds whose purchase is no longer pending (a safety net for a
    process that died between booking a charge and releasing its hold); return how many."""
    from orders.models import PENDING_STATES
    from rentals.models import RentalState
    from reports.ledger import STALE_HOLD
    from reports.models import SpendHold

    settled = Q(order__isnull=False) & ~Q(order__state__in=PENDING_STATES)
    pending_rental = (RentalState.PLACING, RentalState.UNCONFIRMED)
    settled |= Q(purpose="rental", rental__isnull=False) & ~Q(rental__state__in=pending_rental)
    settled |= Q(created__lt=timezone.now() - STALE_HOLD)
    return (
        SpendHold.objects.filter(released_at__isnull=True)
        .filter(settled)
        .update(released_at=timezone.now())
    )
