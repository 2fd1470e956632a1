"""The sync engine: keeps every active order in step with its provider.

Providers do not push, so smsdesk polls. One poller per provider account runs
at a time across every process and machine: it holds a lease on the account
row, claimed and renewed with conditional UPDATEs. A poller task loops for up
to SYNC_RUN_SECONDS, polling fast while orders wait for a code and slowly
when they do not, stops when nothing is active, and hands over to a fresh task
when its time is up. A schedule (the watchdog) restarts pollers that died;
it is not the polling clock (django-q2 schedules tick once a minute at best).

Per cycle it prefers one bulk request (SMSPool request/active, SMSCode
orders/active, SMS-Activate getActiveActivations, NumPool's order list when
it carries status and code) over per-order checks; per-order checks are
spread under the account's rate budget, code-awaiting and newest first.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

import audit
from orders import services
from orders.models import ACTIVE_STATES, AWAITING_CODE_STATES, Order, OrderMessage, State
from providers.errors import NotFound, ProviderError, RateLimited
from providers.models import ProviderAccount
from providers.types import Capability, OrderState, OrderStatus
from reports import ledger
from reports.models import LedgerKind

log = logging.getLogger(__name__)

LEASE_SECONDS = 30
MIN_INTERVAL = 1.0  # seconds between cycles while a code is awaited
IDLE_INTERVAL = 5.0  # seconds between cycles when only received orders remain
# The share of an account's rate budget the poller may spend; the rest stays
# free for members' purchases and cancels. Small budgets (NumPool's 1/s) need
# a larger share to be useful at all.
POLL_SHARE = 0.15
SMALL_BUDGET_POLL_SHARE = 0.5
PLACING_GRACE = timedelta(seconds=45)  # a purchase may still be in flight
PLACING_TIMEOUT = timedelta(minutes=10)  # no upstream trace by then: it failed
RECEIVED_RECHECK = timedelta(seconds=15)
ABSENT_RECHECK = timedelta(seconds=15)
SAME_TIME = timedelta(seconds=1)  # an expiry that moved less than this is not worth a write


# --- the lease ----------------------------------------------------------------------------


def _lease_free(now) -> Q:
    return Q(poller_lease_until__isnull=True) | Q(poller_lease_until__lt=now)


def claim_lease(account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    """Take the account's poller lease if nobody holds it; True when taken."""
    now = timezone.now()
    return bool(
        ProviderAccount.objects.filter(pk=account_id)
        .filter(_lease_free(now) | Q(poller_lease_owner=owner))
        .update(poller_lease_owner=owner, poller_lease_until=now + timedelta(seconds=seconds))
    )


def renew_lease(account_id: int, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    """Extend our lease; False when another poller took it (we then stop)."""
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
    return (
        ProviderAccount.objects.filter(pk=account_id).filter(_lease_free(timezone.now())).exists()
    )


def ensure_poller(account_id: int) -> bool:
    """Enqueue a poller for the account unless one holds the lease; True when enqueued."""
    if not lease_is_free(account_id):
        return False
    from django_q.tasks import async_task

    async_task("orders.tasks.poll_account", account_id, group="sync", q_options={"timeout": 90})
    return True


# --- one poller run --------------------------------------------------------------------------


@dataclass
class Cycle:
    """What one sync cycle saw."""

    awaiting: int = 0  # orders waiting for a code
    active: int = 0  # all active orders, placing rows and due follow-ups
    rentals: int = 0  # active rentals the cycle looked after
    requests: int = 0
    rate_limited_for: float = 0.0

    @property
    def has_work(self) -> bool:
        return bool(self.active or self.rentals)


def poll_account(account_id: int) -> str:
    """Poll one account until idle or out of time; hand over if work remains."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not claim_lease(account_id, owner):
        return "another poller holds the lease"
    deadline = time.monotonic() + settings.SYNC_RUN_SECONDS
    cycles, cycle = 0, Cycle()
    try:
        while True:
            started = time.monotonic()
            account = ProviderAccount.objects.filter(pk=account_id, enabled=True).first()
            if account is None:
                return "account disabled or gone"
            cycle = run_cycle(account)
            cycles += 1
            if not cycle.has_work or time.monotonic() >= deadline:
                break
            # The interval runs from cycle start to cycle start: the request rate is
            # the one poll_interval budgets for, and a code waits no cycle time extra.
            wait = poll_interval(account, cycle) - (time.monotonic() - started)
            time.sleep(max(cycle.rate_limited_for, wait, 0.0))
            if not renew_lease(account_id, owner):
                return f"lease lost after {cycles} cycles"
            close_old_connections()
    finally:
        release_lease(account_id, owner)
    if cycle.has_work and settings.SYNC_RUN_SECONDS > 0:
        ensure_poller(account_id)  # a fresh task continues; this worker is freed
    return f"{cycles} cycles"


def poll_interval(account: ProviderAccount, cycle: Cycle) -> float:
    """Seconds from one cycle's start to the next: fast while codes are awaited, within
    the budget share."""
    if not cycle.awaiting:
        return IDLE_INTERVAL
    budget = account.budget()
    per_second = budget.limit / budget.period
    share = POLL_SHARE if per_second >= 2 else SMALL_BUDGET_POLL_SHARE
    return max(MIN_INTERVAL, 1 / (per_second * share))


def run_cycle(account: ProviderAccount, now=None) -> Cycle:
    """One pass over the account: states, codes, cancels, expiries, orphans, rentals."""
    now = now or timezone.now()
    cycle = Cycle()
    client = account.client(max_attempts=2, max_wait=2.0)
    try:
        services.process_cancel_requests(account, now)
        _sync_orders(account, client, now, cycle)
        services.process_expired(account, now)
        reconcile_placing(account, now)
    except RateLimited as exc:
        cycle.rate_limited_for = exc.retry_after or 5.0
    except ProviderError as exc:
        log.warning("sync of %s: %s", account.label, exc.message)
        account.record_error(exc)
    cycle.rentals = _sync_rentals(account, client, now)
    _count_work(account, cycle)
    return cycle


def _count_work(account: ProviderAccount, cycle: Cycle) -> None:
    orders = Order.objects.filter(account=account)
    cycle.awaiting = orders.filter(state__in=AWAITING_CODE_STATES).count()
    cycle.active = orders.filter(
        Q(state__in=ACTIVE_STATES) | Q(state=State.PLACING) | Q(cancel_requested=True)
    ).count()


def _sync_rentals(account, client, now) -> int:
    from rentals.sync import sync_rentals

    try:
        return sync_rentals(account, client, now)
    except RateLimited:
        return 1
    except ProviderError as exc:
        log.warning("rental sync of %s: %s", account.label, exc.message)
        return 1


# --- fetching states -------------------------------------------------------------------------


def _sync_orders(account: ProviderAccount, client, now, cycle: Cycle) -> None:
    active = list(Order.objects.filter(account=account, state__in=ACTIVE_STATES))
    bulk = _bulk_states(account, client, active, cycle)
    if bulk is None:
        _check_each(account, client, active, now, cycle)
        return
    by_id = {state.order_id: state for state in bulk}
    listed = [(order, by_id[order.upstream_id]) for order in active if order.upstream_id in by_id]
    absent = [order for order in active if order.upstream_id not in by_id]
    recorded = _recorded_sms(o for o, state in listed if state.code or state.full_text)
    unchanged = []
    for order, state in listed:
        if _unchanged(order, state, recorded):
            unchanged.append(order.pk)
        else:
            services.apply_state(order, state, now=now)
    # One statement for every order the list shows as it was: a write transaction
    # per listed order per cycle took most of a bulk cycle under SQLite (1-2 s at
    # 167 orders) and touched every row's `updated`, so the board never answered 204.
    Order.objects.filter(pk__in=unchanged).update(last_checked_at=now)
    _check_each(account, client, absent, now, cycle, recheck=ABSENT_RECHECK)
    reconcile_orphans(account, bulk, now)


def _recorded_sms(orders) -> set[tuple[int, str, str]]:
    """(order id, code, text) of every message these orders already hold."""
    ids = [order.pk for order in orders]
    if not ids:
        return set()
    return set(
        OrderMessage.objects.filter(order_id__in=ids).values_list("order_id", "code", "text")
    )


def _unchanged(order: Order, state: OrderState, recorded: set[tuple[int, str, str]]) -> bool:
    """True when applying `state` would change nothing but `last_checked_at`.

    Mirrors services.apply_state: no SMS it does not hold yet, the same status,
    no newer revision or missing number, the same expiry and cancel time (to
    within SAME_TIME). Anything else goes through apply_state.
    """
    if state.status.is_final or state.raw_status[:40] != order.upstream_status:
        return False
    if state.status == OrderStatus.RESEND_REQUESTED and order.state != State.RESEND_REQUESTED:
        return False
    sms = (order.pk, state.code.strip()[:64], state.full_text.strip())
    if (state.code or state.full_text) and sms not in recorded:
        return False
    if state.sms_revision is not None and (
        order.sms_revision is None or state.sms_revision > order.sms_revision
    ):
        return False
    if state.phone_number and not order.phone_number:
        return False
    return _same_time(state.expires_at or order.expires_at, order.expires_at) and _same_time(
        state.cancel_available_at, order.cancel_available_at
    )


def _same_time(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= SAME_TIME


def _bulk_states(account, client, active: list[Order], cycle: Cycle) -> list[OrderState] | None:
    """Every open upstream order in one request, or None when the provider has no such list."""
    if client.supports(Capability.BULK_ACTIVE):
        if not active and not _has_placing(account):
            return []
        cycle.requests += 1
        return client.list_active_orders()
    list_orders = getattr(client, "list_orders", None)
    if list_orders is None or not active:
        return None
    cycle.requests += 1
    states = list_orders(limit=min(100, max(20, 2 * len(active))))
    # The list is a usable bulk source only when it carries status and code.
    if states and all(s.status == OrderStatus.UNKNOWN for s in states):
        return None
    return [s for s in states if not s.status.is_final] + [s for s in states if s.status.is_final]


def _has_placing(account) -> bool:
    return Order.objects.filter(account=account, state=State.PLACING).exists()


def _check_each(account, client, orders: list[Order], now, cycle: Cycle, recheck=None) -> None:
    """Per-order checks for the orders that are due, most urgent first, within budget."""
    due = [o for o in orders if o.next_check_at is None or o.next_check_at <= now]
    due.sort(
        key=lambda o: (
            not o.awaits_code,
            -o.created.timestamp(),
            o.expires_at or now + timedelta(days=1),
        )
    )
    for order in due[: _per_cycle_allowance(account)]:
        cycle.requests += 1
        try:
            state = client.get_order(order.upstream_id)
        except NotFound:
            services.order_refresh(order=order)  # closes it as gone
            continue
        services.apply_state(order, state, now=now)
        gap = recheck or (timedelta(seconds=4) if order.awaits_code else RECEIVED_RECHECK)
        Order.objects.filter(pk=order.pk).update(next_check_at=now + gap, last_checked_at=now)


def _per_cycle_allowance(account) -> int:
    """How many per-order checks one cycle may spend."""
    budget = account.budget()
    per_second = budget.limit / budget.period
    share = POLL_SHARE if per_second >= 2 else SMALL_BUDGET_POLL_SHARE
    return max(1, int(per_second * share * MIN_INTERVAL * 4))


# --- reconciliation ---------------------------------------------------------------------------


def _known_upstream_ids(account, ids: set[str]) -> set[str]:
    known = set(
        Order.objects.filter(account=account, upstream_id__in=ids).values_list(
            "upstream_id", flat=True
        )
    )
    resent = Order.objects.filter(account=account, created__gte=timezone.now() - timedelta(days=2))
    for previous in resent.exclude(previous_upstream_ids=[]).values_list(
        "previous_upstream_ids", flat=True
    ):
        known.update(previous)
    return known


def reconcile_orphans(account: ProviderAccount, states: list[OrderState], now) -> int:
    """Attach upstream orders with no local row to a stranded "placing" row, or record
    them as orphans for staff; return how many were handled."""
    open_states = [s for s in states if not s.status.is_final]
    unknown = {s.order_id for s in open_states} - _known_upstream_ids(
        account, {s.order_id for s in open_states}
    )
    handled = 0
    for state in open_states:
        if state.order_id not in unknown:
            continue
        placing = _stranded_placing_row(account, state, now)
        if placing is not None:
            _attach(placing, state, now)
        else:
            _record_orphan(account, state, now)
        handled += 1
    return handled


def _stranded_placing_row(account, state: OrderState, now) -> Order | None:
    rows = Order.objects.filter(
        account=account,
        state=State.PLACING,
        created__lte=now - PLACING_GRACE,
        created__gte=now - PLACING_TIMEOUT,
    ).order_by("created")
    for row in rows:
        if _plausible_match(row, state):
            return row
    return None


def _plausible_match(order: Order, state: OrderState) -> bool:
    """Does an upstream order look like what this placing row tried to buy?"""

    def agrees(reported: str, *names: str) -> bool:
        return not reported or reported.strip().lower() in {n.lower() for n in names if n}

    service_slug = order.service.slug if order.service else ""
    country_iso = order.country.iso if order.country else ""
    return agrees(
        state.service, order.service_upstream_id, order.service_name, service_slug
    ) and agrees(state.country, order.country_upstream_id, order.country_name, country_iso)


def _attach(order: Order, state: OrderState, now) -> None:
    claimed = Order.objects.filter(pk=order.pk, state=State.PLACING).update(
        state=State.WAITING,
        upstream_id=state.order_id,
        phone_number=state.phone_number or "",
        upstream_status=state.raw_status[:40],
        expires_at=state.expires_at
        or now + timedelta(seconds=order.account.client_class.order_lifetime_seconds),
        cost=state.cost if state.cost is not None else order.cost,
        next_check_at=now,
    )
    if not claimed:
        return
    order.refresh_from_db()
    if order.cost is not None:
        ledger.book_for(
            order,
            kind=LedgerKind.PURCHASE,
            amount=order.cost,
            key="purchase",
            upstream_ref=state.order_id,
        )
    audit.record(
        team=order.team,
        actor=None,
        action="order.reconciled",
        target=order,
        payload={"upstream_id": state.order_id, "number": order.phone_number},
    )
    services.apply_state(order, state, now=now)


def _record_orphan(account: ProviderAccount, state: OrderState, now) -> None:
    order, created = Order.objects.get_or_create(
        team=account.team,
        idempotency_key=f"orphan:{account.code}:{state.order_id}",
        defaults={
            "account": account,
            "is_orphan": True,
            "state": State.WAITING,
            "upstream_id": state.order_id,
            "upstream_status": state.raw_status[:40],
            "phone_number": state.phone_number,
            "cost": state.cost,
            "currency": state.currency or account.currency,
            "expires_at": state.expires_at,
            "service_upstream_id": state.service or "?",
            "country_upstream_id": state.country or "?",
            "service_name": state.service or "Unknown service",
            "country_name": state.country or "Unknown country",
            "next_check_at": now,
        },
    )
    if not created:
        return
    if order.cost is not None:
        ledger.book_for(
            order,
            kind=LedgerKind.PURCHASE,
            amount=order.cost,
            key="purchase",
            upstream_ref=state.order_id,
        )
    audit.record(
        team=account.team,
        actor=None,
        action="order.orphan_found",
        target=order,
        payload={"upstream_id": state.order_id, "provider": account.label},
    )
    services.apply_state(order, state, now=now)


def reconcile_placing(account: ProviderAccount, now) -> int:
    """Fail placing rows that no upstream order claimed in time; return how many."""
    stale = Order.objects.filter(
        account=account, state=State.PLACING, created__lt=now - PLACING_TIMEOUT
    )
    failed = 0
    for order in stale:
        if Order.objects.filter(pk=order.pk, state=State.PLACING).update(
            state=State.FAILED,
            finished_at=now,
            error_category="unconfirmed",
            error="The provider never confirmed this purchase and lists no such order.",
        ):
            audit.record(
                team=order.team,
                actor=None,
                action="order.placement_unconfirmed",
                target=order,
                payload={"provider": account.label},
            )
            failed += 1
    return failed


def accounts_needing_a_poller():
    """Accounts with work for a poller (active orders, placing rows, cancel requests)."""
    from rentals.sync import accounts_with_active_rentals

    with_orders = Order.objects.filter(
        Q(state__in=ACTIVE_STATES) | Q(state=State.PLACING) | Q(cancel_requested=True)
    ).values("account")
    return ProviderAccount.objects.filter(enabled=True).filter(
        Q(pk__in=with_orders) | Q(pk__in=accounts_with_active_rentals())
    )
