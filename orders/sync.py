"""The orders step of a sync cycle (sync.engine runs it for each account that is due).

Per cycle it does scheduled cancels, then prefers one bulk request (SMSPool
request/active, SMSCode orders/active, SMS-Activate getActiveActivations,
NumPool's order list when it carries status and code) over per-order checks;
per-order checks are spread under the account's rate budget, code-awaiting and
newest first. Then it settles unconfirmed purchases and orphans, and closes
orders whose time is up by what the provider says about each.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

import audit
from config.sql import KeptRead
from orders import services
from orders.errors import CancelLocked, OrderActionError
from orders.models import (
    ACTIVE_STATES,
    AWAITING_CODE_STATES,
    PENDING_STATES,
    Order,
    OrderMessage,
    State,
)
from providers import leases
from providers.errors import NotFound, ProviderError, RateLimited, Unsupported
from providers.models import ProviderAccount
from providers.types import Capability, OrderState, OrderStatus, Purchase
from reports import ledger
from reports.models import LedgerKind

log = logging.getLogger(__name__)

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
CANCEL_CLAIM = timedelta(seconds=30)  # a claimed cancel try that died is retried after this
EXPIRIES_PER_CYCLE = 10  # each costs a read and a cancel; the rest wait for the next cycle
# How old `last_checked_at` of an order a list shows unchanged may get (_stamp_checked).
CHECKED_EVERY = timedelta(seconds=60)


# --- the cycle's orders step ------------------------------------------------------------


class LiveOrders:
    """The account's live orders (open, pending, or with a scheduled cancel), read in
    one query and shared by every step of a cycle.

    A cycle of an account whose orders did not change makes no other read of them:
    the cancels due, lost placements, unconfirmed purchases, expiries and the work
    counts are picked from this list. A step that acts on an order (or may have)
    calls `changed()`, and the next step reads the list again, so no step sees an
    order as it was before an earlier step of the same cycle moved it.

    Work given to the account by another process after the read is not lost: the
    service that gives it marks the account due (`providers.leases.mark_due`), and
    the cycle's release leaves it due at once.
    """

    def __init__(self, account: ProviderAccount):
        self.account = account
        self._rows: list[Order] | None = None

    def rows(self) -> list[Order]:
        if self._rows is None:
            # Sorted here as the model's ordering would (newest first): an ORDER BY
            # cost more to compile than this sort of a handful of rows.
            rows = _LIVE_ORDERS.rows(self.account.pk)
            self._rows = sorted(rows, key=lambda o: (o.created, o.pk), reverse=True)
        return self._rows

    def changed(self) -> None:
        self._rows = None

    def active(self) -> list[Order]:
        return [o for o in self.rows() if o.state in ACTIVE_STATES]

    def has_pending(self) -> bool:
        return any(o.state in PENDING_STATES for o in self.rows())

    def upstream_ids(self) -> set[str]:
        return {o.upstream_id for o in self.rows() if o.upstream_id}


def _live() -> Q:
    return Q(state__in=(*ACTIVE_STATES, *PENDING_STATES)) | Q(cancel_requested=True)


# Read by every cycle of every account: compiled once (config.sql.KeptRead).
_LIVE_ORDERS = KeptRead(
    Order, lambda account: Order.objects.filter(account_id=account).filter(_live()).order_by()
)


def sync_orders(account: ProviderAccount, client, now, live: LiveOrders | None = None) -> None:
    """Bring the account's orders in step with the provider. (The engine counts the
    requests it made: providers.http.counting.)

    Raises RateLimited (the engine waits) and other ProviderErrors.
    """
    live = live or LiveOrders(account)
    try:
        process_cancel_requests(account, now, live=live)
        _sync_orders(account, client, now, live)
        process_expired(account, now, live=live)
    except BaseException:
        live.changed()  # a step stopped halfway: what it did is not in the list
        raise


def count_work(account: ProviderAccount, live: LiveOrders | None = None) -> tuple[int, int]:
    """(orders awaited, orders to follow) of the account: what sets its next cycle."""
    rows = (live or LiveOrders(account)).rows()
    # An unconfirmed purchase is awaited like a code: the member is waiting on it.
    awaited = sum(
        1
        for o in rows
        if o.state in (*AWAITING_CODE_STATES, State.UNCONFIRMED)
        and o.error_category != CANNOT_CONFIRM
    )
    return awaited, sum(1 for o in rows if _follows(o))


def _follows(order: Order) -> bool:
    """In Python what _to_follow() says in SQL."""
    waiting_for_staff = order.state == State.UNCONFIRMED and order.error_category == CANNOT_CONFIRM
    in_play = order.state in (*ACTIVE_STATES, *PENDING_STATES) and not waiting_for_staff
    return in_play or order.cancel_requested


def _to_follow() -> Q:
    waiting_for_staff = Q(state=State.UNCONFIRMED, error_category=CANNOT_CONFIRM)
    return (Q(state__in=(*ACTIVE_STATES, *PENDING_STATES)) & ~waiting_for_staff) | Q(
        cancel_requested=True
    )


def accounts_with_orders_to_follow():
    """Ids of the accounts with open or pending orders or scheduled cancels (a subquery)."""
    return Order.objects.filter(_to_follow()).values("account")


# --- scheduled cancels and expiry ----------------------------------------------------------


def process_cancel_requests(
    account: ProviderAccount, now=None, *, live: LiveOrders | None = None
) -> int:
    """Cancel the orders whose member asked "cancel when allowed" and whose lock is over.

    Keeps trying for as long as the provider refuses (order_cancel backs off); the
    request is dropped only when the order ends or a code arrives.
    """
    now = now or timezone.now()
    live = live or LiveOrders(account)
    due = [
        o
        for o in live.rows()
        if o.cancel_requested
        and o.state in AWAITING_CODE_STATES
        and not (o.cancel_available_at is not None and o.cancel_available_at > now)
    ]
    if due:
        live.changed()
    done = 0
    for order in due:
        # Claim it: only the poller that moves the next try forward does the cancel.
        claimed = (
            Order.objects.filter(pk=order.pk, cancel_requested=True)
            .exclude(cancel_available_at__gt=now)
            .update(cancel_available_at=now + CANCEL_CLAIM)
        )
        if not claimed:
            continue
        try:
            services.order_cancel(order=order, actor=None, when_allowed=True, now=now)
            done += 1
        except CancelLocked:
            pass  # still refused: order_cancel scheduled the next try
        except OrderActionError as exc:
            log.info("scheduled cancel of %s failed: %s", order.code, exc.message)
    return done


def process_expired(account: ProviderAccount, now=None, *, live: LiveOrders | None = None) -> int:
    """Close open orders that reached their expiry (by what the provider says about
    each: used, or refunded); return how many were closed."""
    now = now or timezone.now()
    live = live or LiveOrders(account)
    due = [o for o in live.active() if o.expires_at is not None and o.expires_at <= now]
    if due:
        live.changed()
    due.sort(key=lambda o: o.expires_at)  # stable: the list's own order among equals
    count = 0
    for order in due[:EXPIRIES_PER_CYCLE]:
        if expire_order(order, now=now):
            count += 1
    return count


def expire_order(order: Order, *, now=None) -> bool:
    """Close one order whose time is up, by what the provider says about it; True when
    it is closed now.

    The provider's word decides: an order may have got its code upstream while
    nobody was looking (the poller was down), and then it is used, not refunded.
    Closed upstream, its final state applies; still open and without a code, it
    is cancelled and refunded. When the provider cannot be asked, nothing is
    assumed: the next cycle asks again. Refunds are booked once whoever books them.
    """
    now = now or timezone.now()
    client = order.account.client()
    try:
        current = services.apply_state(order, client.get_order(order.upstream_id), now=now)
    except NotFound:
        return services.close_vanished(order).is_final
    except ProviderError as exc:
        log.info("reading %s at expiry: %s", order.code, exc.message)
        return False
    if current.is_final:
        return True
    if not current.awaits_code:
        # Its code came while nobody looked: a used number whose time is up is done.
        services.finish_order(current, State.COMPLETED, actor=None, action="order.completed")
        return True
    try:
        result = client.cancel(current.upstream_id)
    except NotFound:
        return services.close_vanished(current).is_final
    except ProviderError as exc:
        log.info("cancel at expiry of %s: %s", order.code, exc.message)
        return False
    refund = result.refunded if result.refunded is not None else current.cost
    finished = services.finish_order(
        current, State.EXPIRED, actor=None, action="order.expired", refund=refund
    )
    services.replace_if_asked(finished)
    return True


# --- fetching states -------------------------------------------------------------------------


def _sync_orders(account: ProviderAccount, client, now, live: LiveOrders) -> None:
    flag_lost_placements(account, now, live=live)
    active = live.active()
    bulk = _bulk_states(account, client, active, live)
    if bulk is None:
        _check_each(account, client, active, now, live=live)
        resolve_unconfirmed(account, client, now, listed=False, live=live)
        return
    by_id = {state.order_id: state for state in bulk}
    listed = [(order, by_id[order.upstream_id]) for order in active if order.upstream_id in by_id]
    absent = [order for order in active if order.upstream_id not in by_id]
    recorded = _recorded_sms(o for o, state in listed if state.code or state.full_text)
    unchanged = []
    for order, state in listed:
        if _unchanged(order, state, recorded):
            unchanged.append(order)
        else:
            live.changed()
            services.apply_state(order, state, now=now)
    _stamp_checked(unchanged, now)
    _check_each(account, client, absent, now, recheck=ABSENT_RECHECK, live=live)
    reconcile_orphans(account, bulk, now, client=client, live=live)
    resolve_unconfirmed(account, client, now, listed=True, live=live)


def _stamp_checked(orders: list[Order], now) -> None:
    """Note when orders the provider's list shows unchanged were seen, at most once a
    CHECKED_EVERY each.

    Nothing decides on `last_checked_at` (per-order checks go by `next_check_at`):
    staff read it in the admin, and the benchmark waits for every order's first
    check. One statement for all of them, and only when one is older than that: an
    UPDATE each cycle was the largest cost of a bulk cycle (a write transaction per
    listed order took 1-2 s a cycle under SQLite at 167 orders, and touching `updated`
    kept the board from answering 204).
    """
    stale = [
        o for o in orders if o.last_checked_at is None or now - o.last_checked_at >= CHECKED_EVERY
    ]
    if not stale:
        return
    Order.objects.filter(pk__in=[o.pk for o in stale]).update(last_checked_at=now)
    for order in stale:
        order.last_checked_at = now


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


def _bulk_states(account, client, active: list[Order], live: LiveOrders) -> list[OrderState] | None:
    """Every open upstream order in one request, or None when the provider has no such list
    (or the account's host turned out not to serve it)."""
    pending = live.has_pending()
    if client.supports(Capability.BULK_ACTIVE):
        if not active and not pending:
            return []
        try:
            return client.list_active_orders()
        except Unsupported:
            return None  # the client remembers it; per-order checks from now on
    list_orders = getattr(client, "list_orders", None)
    if list_orders is None or not (active or pending):
        return None
    try:
        states = list_orders(limit=min(100, max(20, 2 * len(active))))
    except Unsupported:
        return None  # this host has no order list (SMSCode's guide dialect): check each
    # The list is a usable bulk source only when it carries status and code.
    if states and all(s.status == OrderStatus.UNKNOWN for s in states):
        return None
    return [s for s in states if not s.status.is_final] + [s for s in states if s.status.is_final]


def _check_each(account, client, orders: list[Order], now, recheck=None, live=None) -> None:
    """Per-order checks for the orders that are due, most urgent first, within budget."""
    due = [o for o in orders if o.next_check_at is None or o.next_check_at <= now]
    if due and live is not None:
        live.changed()
    due.sort(
        key=lambda o: (
            not o.awaits_code,
            -o.created.timestamp(),
            o.expires_at or now + timedelta(days=1),
        )
    )
    for order in due[: _per_cycle_allowance(account)]:
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
    per_second = leases.poll_rate(account)
    return max(1, int(per_second * leases.MIN_INTERVAL * 4))


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


def flag_lost_placements(account: ProviderAccount, now, *, live: LiveOrders | None = None) -> int:
    """Placing rows past their deadline lost their process (a crash, a kill): their
    purchase may have happened, so they become unconfirmed; return how many."""
    live = live or LiveOrders(account)
    lost = [
        o
        for o in live.rows()
        if o.state == State.PLACING
        and o.placement_deadline is not None
        and o.placement_deadline < now
        and o.upstream_id == ""
    ]
    if lost:
        live.changed()
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
    account: ProviderAccount,
    states: list[OrderState],
    now,
    *,
    client=None,
    live: LiveOrders | None = None,
) -> int:
    """Give every open upstream order with no local row one: the unconfirmed purchase
    it answers, else (when no purchase of that kind is still in flight) an orphan row
    for staff. Return how many were handled."""
    open_states = [s for s in states if not s.status.is_final]
    unknown = {s.order_id for s in open_states}
    if live is not None:
        unknown -= live.upstream_ids()  # the usual case: every listed order is a live row
    if unknown:
        unknown -= _known_upstream_ids(account, unknown)
    if unknown and live is not None:
        live.changed()
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


def resolve_unconfirmed(
    account: ProviderAccount, client, now, *, listed: bool, live: LiveOrders | None = None
) -> int:
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
    live = live or LiveOrders(account)
    rows = [
        o
        for o in live.rows()
        if o.state == State.UNCONFIRMED
        and o.upstream_id == ""
        and o.error_category != CANNOT_CONFIRM
    ]
    if not rows:
        return 0
    live.changed()
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
