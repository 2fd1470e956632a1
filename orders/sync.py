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
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections
from django.db.models import Q
from django.utils import timezone

import audit
from orders import services
from orders.models import (
    ACTIVE_STATES,
    AWAITING_CODE_STATES,
    PENDING_STATES,
    Order,
    OrderMessage,
    State,
)
from providers.errors import NotFound, ProviderError, RateLimited, Unsupported
from providers.models import ProviderAccount
from providers.types import Capability, OrderState, OrderStatus, Purchase
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
# An unconfirmed purchase absent from the provider's lists this long after its
# call ended did not happen. (A request still being processed upstream after
# that shows up later and is re-attached to its row: see _pending_match.)
UNCONFIRMED_SETTLE = timedelta(seconds=10)
# How long a purchase closed as "not found upstream" may still be claimed by a
# late upstream order.
REOPEN_WINDOW = timedelta(minutes=10)
# Unconfirmed purchases re-sent under their idempotency key per cycle (SMSCode).
RETRIES_PER_CYCLE = 5
NOT_FOUND_UPSTREAM = "not_found_upstream"
CANNOT_CONFIRM = services.CANNOT_CONFIRM
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
    """Poll one account until idle, out of time or the task cluster stops; hand over if
    work remains. A stopping cluster waits for this task, so the loop then ends at the
    next cycle boundary (within about a second) and its successor waits in the queue."""
    from orders import shutdown

    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not claim_lease(account_id, owner):
        return "another poller holds the lease"
    deadline = time.monotonic() + settings.SYNC_RUN_SECONDS
    cycles, cycle = 0, Cycle()
    stopping = shutdown.stop_requested()
    try:
        while not stopping:
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
            stopping = shutdown.sleep(max(cycle.rate_limited_for, wait, 0.0), sleep=time.sleep)
            if not stopping and not renew_lease(account_id, owner):
                return f"lease lost after {cycles} cycles"
            close_old_connections()
    finally:
        release_lease(account_id, owner)
    if (cycle.has_work or stopping) and settings.SYNC_RUN_SECONDS > 0:
        ensure_poller(account_id)  # a fresh task continues; this worker is freed
    return f"{cycles} cycles" + (", stopped with the cluster" if stopping else "")


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
    # An unconfirmed purchase is awaited like a code: the member is waiting on it.
    cycle.awaiting = (
        orders.filter(state__in=(*AWAITING_CODE_STATES, State.UNCONFIRMED))
        .exclude(error_category=CANNOT_CONFIRM)
        .count()
    )
    cycle.active = orders.filter(_has_work()).count()


def _has_work() -> Q:
    waiting_for_staff = Q(state=State.UNCONFIRMED, error_category=CANNOT_CONFIRM)
    return (Q(state__in=(*ACTIVE_STATES, *PENDING_STATES)) & ~waiting_for_staff) | Q(
        cancel_requested=True
    )


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
    flag_lost_placements(account, now)
    active = list(Order.objects.filter(account=account, state__in=ACTIVE_STATES))
    bulk = _bulk_states(account, client, active, cycle)
    if bulk is None:
        _check_each(account, client, active, now, cycle)
        resolve_unconfirmed(account, client, now, listed=False)
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
    reconcile_orphans(account, bulk, now, client=client)
    resolve_unconfirmed(account, client, now, listed=True)


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
    if order.cost_quoted and state.cost is not None:
        return False
    return _same_time(state.expires_at or order.expires_at, order.expires_at) and _same_time(
        services.cancel_time_after(order, state), order.cancel_available_at
    )


def _same_time(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= SAME_TIME


def _bulk_states(account, client, active: list[Order], cycle: Cycle) -> list[OrderState] | None:
    """Every open upstream order in one request, or None when the provider has no such list
    (or the account's host turned out not to serve it)."""
    pending = _has_pending(account)
    if client.supports(Capability.BULK_ACTIVE):
        if not active and not pending:
            return []
        cycle.requests += 1
        try:
            return client.list_active_orders()
        except Unsupported:
            return None  # the client remembers it; per-order checks from now on
    list_orders = getattr(client, "list_orders", None)
    if list_orders is None or not (active or pending):
        return None
    cycle.requests += 1
    try:
        states = list_orders(limit=min(100, max(20, 2 * len(active))))
    except Unsupported:
        return None  # this host has no order list (SMSCode's guide dialect): check each
    # The list is a usable bulk source only when it carries status and code.
    if states and all(s.status == OrderStatus.UNKNOWN for s in states):
        return None
    return [s for s in states if not s.status.is_final] + [s for s in states if s.status.is_final]


def _has_pending(account) -> bool:
    return Order.objects.filter(account=account, state__in=PENDING_STATES).exists()


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
#
# One upstream order is one local row: the database refuses a second row for
# the same (account, upstream id), and every path below claims rows with a
# conditional UPDATE, so the placement's own answer, the poller and a retry can
# race without double rows or double charges. The ledger's natural keys make a
# second booking of the same purchase impossible as well.


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


def flag_lost_placements(account: ProviderAccount, now) -> int:
    """Placing rows past their deadline lost their process (a crash, a kill): their
    purchase may have happened, so they become unconfirmed; return how many."""
    lost = Order.objects.filter(
        account=account, state=State.PLACING, placement_deadline__lt=now, upstream_id=""
    )
    flagged = 0
    for order in lost:
        if Order.objects.filter(pk=order.pk, state=State.PLACING, upstream_id="").update(
            state=State.UNCONFIRMED,
            error="The purchase was interrupted before the provider's answer was recorded.",
            error_category="outcome_unknown",
        ):
            audit.record(
                team=order.team,
                actor=None,
                action="order.unconfirmed",
                target=order,
                payload={"provider": account.label, "reason": "interrupted"},
            )
            flagged += 1
    return flagged


def reconcile_orphans(
    account: ProviderAccount, states: list[OrderState], now, *, client=None
) -> int:
    """Give every open upstream order with no local row one: the unconfirmed purchase
    it answers, else (when no purchase of that kind is still in flight) an orphan row
    for staff. Return how many were handled."""
    open_states = [s for s in states if not s.status.is_final]
    unknown = {s.order_id for s in open_states} - _known_upstream_ids(
        account, {s.order_id for s in open_states}
    )
    handled = 0
    for state in sorted(open_states, key=lambda s: s.order_id):
        if state.order_id not in unknown:
            continue
        row = _pending_match(account, state, now)
        if row is not None:
            handled += _attach(row, state, now)
        elif not _in_flight_match(account, state, now):
            handled += _record_orphan(account, _with_cost(client, state), now)
    return handled


def _pending_match(account, state: OrderState, now) -> Order | None:
    """The oldest purchase of the account that may be `state`'s: unconfirmed, or
    closed a moment ago as not found upstream (a late upstream order)."""
    rows = Order.objects.filter(account=account, upstream_id="").filter(
        Q(state=State.UNCONFIRMED)
        | Q(
            state=State.FAILED,
            error_category=NOT_FOUND_UPSTREAM,
            finished_at__gte=now - REOPEN_WINDOW,
        )
    )
    for row in rows.select_related("service", "country").order_by("state", "created", "id"):
        if _plausible_match(row, state):
            return row
    return None


def _in_flight_match(account, state: OrderState, now) -> bool:
    """Whether a purchase still waiting for its own answer could be `state`'s (its
    answer will claim it; an orphan row now would be a second row)."""
    rows = Order.objects.filter(
        account=account, state=State.PLACING, upstream_id="", placement_deadline__gte=now
    ).select_related("service", "country")
    return any(_plausible_match(row, state) for row in rows)


def _plausible_match(order: Order, state: OrderState) -> bool:
    """Does an upstream order look like what this row tried to buy?"""

    def agrees(reported: str, *names: str) -> bool:
        return not reported or reported.strip().lower() in {n.lower() for n in names if n}

    service_slug = order.service.slug if order.service else ""
    country_iso = order.country.iso if order.country else ""
    return agrees(
        state.service, order.service_upstream_id, order.service_name, service_slug
    ) and agrees(state.country, order.country_upstream_id, order.country_name, country_iso)


def _attach(order: Order, state: OrderState, now) -> int:
    """Record `state` as the purchase `order` made; 1 when this call attached it."""
    from orders.services import record_purchases

    purchase = Purchase(
        order_id=state.order_id,
        phone_number=state.phone_number,
        cost=state.cost,
        currency=state.currency,
        expires_at=state.expires_at,
        raw_status=state.raw_status[:40],
    )
    if order.state == State.FAILED:
        # A purchase closed as not found turned up after all: it is open again.
        Order.objects.filter(pk=order.pk, state=State.FAILED, upstream_id="").update(
            state=State.UNCONFIRMED, finished_at=None
        )
    (row,) = record_purchases(order, [purchase], actor=None, action="order.reconciled")
    if row.pk != order.pk or row.upstream_id != state.order_id:
        return 0
    services.apply_state(row, state, now=now)
    return 1


def _with_cost(client, state: OrderState) -> OrderState:
    """`state`, with its price read from the order itself where the list carries none
    (an orphan's charge must be booked at what it cost)."""
    if state.cost is not None or client is None:
        return state
    try:
        found = client.get_order(state.order_id)
    except ProviderError:
        return state
    return replace(state, cost=found.cost, currency=found.currency or state.currency)


def _record_orphan(account: ProviderAccount, state: OrderState, now) -> int:
    service, country = _catalog_names(account, state)
    try:
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
                "service_name": service,
                "country_name": country,
                "next_check_at": now,
            },
        )
    except IntegrityError:
        return 0  # recorded meanwhile under its own row
    if not created:
        return 0
    if order.cost is not None:
        ledger.book_for(order, kind=LedgerKind.PURCHASE, amount=order.cost)
    audit.record(
        team=account.team,
        actor=None,
        action="order.orphan_found",
        target=order,
        payload={"upstream_id": state.order_id, "provider": account.label},
    )
    services.apply_state(order, state, now=now)
    return 1


def _catalog_names(account, state: OrderState) -> tuple[str, str]:
    """Readable service and country names for an upstream order, from the catalogue."""
    from providers.models import CatalogCountry, CatalogService

    service = CatalogService.objects.filter(account=account, upstream_id=state.service).first()
    country = CatalogCountry.objects.filter(account=account, upstream_id=state.country).first()
    return (
        service.display_name if service else (state.service or "Unknown service"),
        country.display_name if country else (state.country or "Unknown country"),
    )


def resolve_unconfirmed(account: ProviderAccount, client, now, *, listed: bool) -> int:
    """Settle the purchases whose outcome is unknown; return how many were settled.

    By the surest way the provider offers: re-sending the purchase under its
    idempotency key (SMSCode answers with the order it made, or makes it now);
    else the lists this cycle read (`listed`) and the provider's recent orders:
    absent from both once the call has settled, it did not happen. Absence from
    a list of open orders alone proves nothing once such an order would have
    ended (the poller was down that long): then, and where a host offers no list
    at all, the purchase is marked as one the provider cannot confirm, for staff
    to check, never as failed.
    """
    rows = list(
        Order.objects.filter(account=account, state=State.UNCONFIRMED, upstream_id="").exclude(
            error_category=CANNOT_CONFIRM
        )
    )
    if not rows:
        return 0
    if client.supports(Capability.IDEMPOTENT_PURCHASE):
        return sum(_retry_purchase(order) for order in rows[:RETRIES_PER_CYCLE])
    due = [o for o in rows if now >= _call_ended(o) + UNCONFIRMED_SETTLE]
    if not listed:
        late = [o for o in rows if now >= o.created + _lifetime(account)]
        return sum(services.mark_cannot_confirm(o) for o in late)
    if not due:
        return 0
    # Absent from the open orders: it may have ended already. Look in the history.
    attached, has_history = _attach_from_history(account, client, due, now)
    settled = attached
    for order in due:
        if has_history or now < order.created + _lifetime(account):
            settled += services.mark_not_found_upstream(
                order, "The provider has no such order: nothing was bought or charged."
            )
        else:
            settled += services.mark_cannot_confirm(order)
    return settled


def _call_ended(order: Order):
    return order.placement_deadline or order.created


def _attach_from_history(account, client, rows: list[Order], now) -> tuple[int, bool]:
    """Attach ended upstream orders that nobody recorded (from the provider's recent
    orders) to unconfirmed purchases; return how many, and whether the provider has
    such a list at all."""
    since = min(o.created for o in rows) - timedelta(minutes=1)
    try:
        recent = client.recent_orders(since)
    except Unsupported:
        return 0, False
    ids = {s.order_id for s in recent}
    strays = [s for s in recent if s.order_id in ids - _known_upstream_ids(account, ids)]
    attached = 0
    for state in reversed(strays):  # oldest first, as the rows
        row = _pending_match(account, state, now)
        if row is not None and row.state == State.UNCONFIRMED:
            attached += _attach(row, state, now)
    return attached, True


def _lifetime(account) -> timedelta:
    """How long an activation of the account can live upstream."""
    return timedelta(seconds=account.client_class.order_lifetime_seconds)


def _retry_purchase(order: Order) -> int:
    """Re-send an unconfirmed purchase under its own idempotency key; 1 when settled."""
    try:
        services.order_repurchase(order)
    except ProviderError as exc:
        if exc.outcome_unknown or isinstance(exc, RateLimited):
            return 0
        return int(services.mark_not_found_upstream(order, exc.message, category=exc.category))
    return 1


def accounts_needing_a_poller():
    """Accounts with work for a poller (active orders, placing rows, cancel requests)."""
    from rentals.sync import accounts_with_active_rentals

    with_orders = Order.objects.filter(_has_work()).values("account")
    return ProviderAccount.objects.filter(enabled=True).filter(
        Q(pk__in=with_orders) | Q(pk__in=accounts_with_active_rentals())
    )


def release_settled_holds() -> int:
    """Give back spend holds whose purchase is no longer pending (a safety net for a
    process that died between booking a charge and releasing its hold); return how many."""
    from rentals.models import RentalState
    from reports.models import SpendHold

    settled = Q(order__isnull=False) & ~Q(order__state__in=PENDING_STATES)
    settled |= Q(purpose="rental", rental__isnull=False) & ~Q(rental__state=RentalState.PLACING)
    settled |= Q(created__lt=timezone.now() - ledger.STALE_HOLD)
    return (
        SpendHold.objects.filter(released_at__isnull=True)
        .filter(settled)
        .update(released_at=timezone.now())
    )
