"""Order actions: place, cancel, resend, complete, replace, refresh, and applying
upstream state. Every action writes an audit event; every charge and refund
goes through the ledger; money state stays consistent when a provider fails.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

import audit
from accounts.roles import Permission
from config.sql import KeptRead
from orders.errors import CancelLocked, OrderActionError
from orders.models import (
    AWAITING_CODE_STATES,
    PENDING_STATES,
    Order,
    OrderMessage,
    State,
)
from providers import leases
from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    NotFound,
    OutOfStock,
    PriceTooHigh,
    ProviderError,
    RateLimited,
    Unsupported,
    UpstreamUnavailable,
)
from providers.models import ProviderAccount
from providers.types import (
    ActivationType,
    Capability,
    OrderState,
    OrderStatus,
    PricingOption,
    Purchase,
    PurchaseRequest,
)
from reports import ledger
from reports.models import LedgerKind

log = logging.getLogger(__name__)

DEFAULT_CANCEL_LOCK = 30  # seconds, when a provider locks without saying how long
# "Cancel when allowed": after each refusal the next try waits what the provider
# asks, doubling from the base while it keeps refusing, up to the maximum.
CANCEL_BACKOFF_BASE = 5
CANCEL_BACKOFF_MAX = 60
# An unconfirmed purchase the provider's lists cannot settle: left for staff.
CANNOT_CONFIRM = "cannot_confirm"
# "Cancel when allowed" given up, and why (the audit event's payload).
CANCEL_DROPPED = "order.cancel_dropped"
CANCEL_DROPPED_CODE_ARRIVED = "a code arrived"
# By when a purchase call has surely ended (the transport's timeouts and retries
# fit well inside it). A "placing" row older than this lost its process.
PLACEMENT_DEADLINE = timedelta(seconds=90)


@dataclass(frozen=True)
class Choice:
    """Where to buy: one provider account's offer for a service in a country."""

    account: ProviderAccount
    service_upstream_id: str
    country_upstream_id: str
    service_name: str
    country_name: str
    service_id: int | None = None  # canonical providers.Service
    country_id: int | None = None  # canonical providers.Country
    pool: str = ""
    product_id: str = ""
    price: Decimal | None = None
    currency: str = ""

    @property
    def label(self) -> str:
        return f"{self.account.label}: {self.service_name} / {self.country_name}"


@dataclass(frozen=True)
class Options:
    """Purchase options the member set; unsupported ones are refused per provider."""

    max_price: Decimal | None = None
    pricing_option: str = ""
    quantity: int = 1
    area_codes: tuple[str, ...] = ()
    exclude_area_codes: bool = False
    carrier: str = ""
    activation_type: str = ActivationType.SMS
    operator: str = ""

    def as_json(self) -> dict:
        data = asdict(self)
        data["max_price"] = str(self.max_price) if self.max_price is not None else None
        data["area_codes"] = list(self.area_codes)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Options:
        data = dict(data or {})
        if data.get("max_price") is not None:
            data["max_price"] = Decimal(data["max_price"])
        data["area_codes"] = tuple(data.get("area_codes") or ())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def unsupported_by(self, account: ProviderAccount) -> list[str]:
        """Names of the options set here that `account`'s provider cannot honour."""
        # No quantity here: where the provider cannot sell several numbers in one
        # purchase, smsdesk buys them one by one (order_place).
        wanted = {
            Capability.MAX_PRICE: self.max_price is not None,
            Capability.AREA_CODES: bool(self.area_codes),
            Capability.CARRIER: bool(self.carrier),
            Capability.VOICE: self.activation_type != ActivationType.SMS,
            Capability.OPERATOR: bool(self.operator),
        }
        return [cap.value for cap, on in wanted.items() if on and not account.supports(cap)]


# --- placing ------------------------------------------------------------------------


def order_place(
    *,
    membership,
    choices: list[Choice],
    options: Options,
    idempotency_key: str,
    note: str = "",
    auto_replace: bool = False,
    failover: bool = False,
    request=None,
    actor=None,
    replaces: Order | None = None,
) -> list[Order]:
    """Buy a number (or `options.quantity` numbers) from the first workable choice.

    Returns one row per number, plus (for a quantity) the row of the purchase
    that stopped the series: failed with its reason, or unconfirmed. Several
    numbers are bought in one purchase where the provider sells them so; what
    it did not sell is bought one by one from the same offer (`placement_summary`
    says how many were bought and why any were not).

    Idempotent: a second call with the same key returns the orders of the
    first. The Order row exists in state "placing", with the price reserved
    against the member's limit and the team's budget (quantity x price),
    before the upstream call, so a crash in between leaves a trace for
    reconciliation. A purchase whose outcome is unknown (the answer was lost
    or unreadable) is returned "unconfirmed" and resolved by the sync engine,
    never reported as failed. With `failover`, an out-of-stock answer moves on
    to the next choice. Raises OrderActionError with a plain-words message and
    a next step when not one number was bought.
    """
    if not membership.can(Permission.ORDER):
        raise OrderActionError("Your role cannot order numbers.", category="forbidden")
    if not choices:
        raise OrderActionError("Choose a provider offer first.", category="invalid")
    actor = actor if actor is not None else membership.user
    existing = _orders_for_key(membership.team, idempotency_key)
    if existing:
        return existing
    _check_options(choices[0], options)
    try:
        order = _create_placing_row(
            membership, choices[0], options, idempotency_key, note, auto_replace, replaces
        )
    except IntegrityError:  # the same form posted twice at once
        return _orders_for_key(membership.team, idempotency_key)
    placed, sold_by = _purchase_with_failover(
        membership, order, choices, options, failover, actor, request
    )
    missing = options.quantity - len(placed)
    if missing <= 0 or not all(o.upstream_id for o in placed):
        return placed
    single = replace(options, quantity=1)
    extra = _buy_one_by_one(membership, order, sold_by, single, missing, failover, actor, request)
    return [*placed, *extra]


def _buy_one_by_one(
    membership, first: Order, choices, options, count: int, failover, actor, request
) -> list[Order]:
    """Buy `count` more numbers, each its own row and purchase, from `choices[0]`
    (the offer that sold the first ones). Stops at the first purchase that buys
    nothing (its row stays failed, with the reason) or whose outcome is unknown."""
    bought: list[Order] = []
    for _ in range(count):
        taken = Order.objects.filter(
            team=first.team, idempotency_key__startswith=f"{first.idempotency_key}#"
        ).count()
        key = f"{first.idempotency_key}#{taken + 1}"
        try:
            row = _create_placing_row(
                membership, choices[0], options, key, first.note, first.auto_replace, None
            )
        except OrderActionError as refused:  # the spend check: recorded as a failed row
            bought.append(_refused_row(membership, first, choices[0], key, refused, actor))
            break
        try:
            placed, choices = _purchase_with_failover(
                membership, row, choices, options, failover, actor, request
            )
        except OrderActionError as exc:
            # The row keeps the reason in plain words (the audit event has the provider's).
            Order.objects.filter(pk=row.pk, state=State.FAILED).update(error=exc.message[:500])
            row.refresh_from_db()
            bought.append(row)
            break
        bought.extend(placed)
        if not all(o.upstream_id for o in placed):
            break
    return bought


def _refused_row(membership, first: Order, choice: Choice, key: str, refused, actor) -> Order:
    """A failed row for a number of a series the spend check refused: it says why."""
    row = Order.objects.create(
        team=first.team,
        ordered_by=membership.user,
        idempotency_key=key,
        options=first.options,
        note=first.note,
        state=State.FAILED,
        error=refused.message[:500],
        error_category=refused.category,
        finished_at=timezone.now(),
        **_choice_fields(choice),
    )
    audit.record(
        team=row.team,
        actor=actor,
        action="order.failed",
        target=row,
        payload={
            "provider": row.account.label,
            "category": refused.category,
            "message": refused.message,
        },
    )
    return row


def placement_summary(orders: list[Order], quantity: int) -> tuple[int, str]:
    """How many numbers of a placement were bought, and why the others were not ("" when
    all were). `orders` as order_place returns them; `quantity` as asked."""
    bought = sum(1 for o in orders if o.upstream_id)
    if bought >= quantity:
        return bought, ""
    # A series stops at its first purchase that bought nothing (or may not have).
    stopped = next((o for o in orders if not o.upstream_id), None)
    if stopped is not None and stopped.state in PENDING_STATES:
        why = (
            f"{stopped.account.label} did not answer clearly about the next one; smsdesk is "
            "checking whether it went through and ordered no more meanwhile"
        )
    elif stopped is not None and stopped.error:
        why = stopped.error.rstrip(".")
    else:
        why = "the provider sold fewer numbers than asked"
    return bought, why


def _orders_for_key(team, key: str) -> list[Order]:
    base = Order.objects.filter(team=team, idempotency_key=key).first()
    if base is None:
        return []
    extra = Order.objects.filter(team=team, idempotency_key__startswith=f"{key}#")
    return [base, *extra.order_by("idempotency_key")]


def _check_options(choice: Choice, options: Options) -> None:
    missing = options.unsupported_by(choice.account)
    if missing:
        names = ", ".join(m.replace("_", " ") for m in missing)
        raise OrderActionError(
            f"{choice.account.get_kind_display()} does not support: {names}.",
            next_step="Clear those options or choose another provider.",
            category="invalid",
        )
    if not 1 <= options.quantity <= 20:
        raise OrderActionError("Order between 1 and 20 numbers at once.", category="invalid")


def _reserve(membership, order: Order, choice: Choice, options: Options) -> None:
    """Hold the order's price against the member's limit and the team's budget.

    Call inside the transaction that wrote `order`: a refusal rolls the row back.
    """
    # An offer priced only after purchase holds the most the member allows it to cost.
    each = choice.price if choice.price is not None else options.max_price
    total = each * options.quantity if each is not None else None
    try:
        ledger.reserve(
            membership,
            total,
            choice.currency or choice.account.currency,
            purpose="order",
            order=order,
        )
    except ledger.SpendRefused as exc:
        raise OrderActionError(exc.message, next_step=exc.next_step, category=exc.category) from exc


def _create_placing_row(membership, choice, options, key, note, auto_replace, replaces) -> Order:
    with transaction.atomic():
        order = Order.objects.create(
            team=membership.team,
            ordered_by=membership.user,
            idempotency_key=key,
            options={**options.as_json(), "pool": choice.pool, "product_id": choice.product_id},
            note=note[:500],
            auto_replace=auto_replace,
            replaces=replaces,
            replace_count=(replaces.replace_count + 1) if replaces else 0,
            placement_deadline=timezone.now() + PLACEMENT_DEADLINE,
            **_choice_fields(choice),
        )
        _reserve(membership, order, choice, options)
    return order


def _choice_fields(choice: Choice) -> dict:
    return {
        "account": choice.account,
        "service_id": choice.service_id,
        "country_id": choice.country_id,
        "service_upstream_id": choice.service_upstream_id,
        "country_upstream_id": choice.country_upstream_id,
        "service_name": choice.service_name,
        "country_name": choice.country_name,
        "currency": choice.currency or choice.account.currency,
        # The quote, until the provider's purchase answer states the price.
        "cost": choice.price,
        "cost_quoted": True,
    }


def purchase_request(order: Order, choice: Choice, options: Options) -> PurchaseRequest:
    return PurchaseRequest(
        service_id=choice.service_upstream_id,
        country_id=choice.country_upstream_id,
        pool=choice.pool,
        product_id=choice.product_id,
        max_price=options.max_price,
        pricing_option=_pricing_option(order, options),
        # Without multi-purchase, order_place buys the others one by one.
        quantity=options.quantity if choice.account.supports(Capability.QUANTITY) else 1,
        area_codes=options.area_codes,
        exclude_area_codes=options.exclude_area_codes,
        carrier=options.carrier,
        activation_type=ActivationType(options.activation_type or ActivationType.SMS),
        operator=options.operator,
        # SMSCode deduplicates on this key, so a retried purchase buys once.
        idempotency_key=_upstream_key(order),
    )


def _pricing_option(order: Order, options: Options) -> PricingOption | None:
    # A preference, not a requirement: passed on only where the provider routes.
    if options.pricing_option and order.account.supports(Capability.PRICING_OPTION):
        return PricingOption(options.pricing_option)
    return None


def _upstream_key(order: Order) -> str:
    return hashlib.sha256(f"{order.team.code}:{order.idempotency_key}".encode()).hexdigest()[:64]


def _purchase_with_failover(
    membership, order, choices, options, failover, actor, request
) -> tuple[list[Order], list[Choice]]:
    """Buy for the placing `order` from the first choice that sells; return the rows
    bought (or the row, unconfirmed) and the choices from the one that sold on."""
    for index, choice in enumerate(choices):
        if index:
            try:
                _retarget(membership, order, choice, options)
            except OrderActionError as refused:
                _mark_failed(order, refused.message, refused.category, actor, request)
                raise
        try:
            purchases = choice.account.client().purchase(purchase_request(order, choice, options))
        except OutOfStock as exc:
            if failover and index + 1 < len(choices):
                audit.record(
                    team=order.team,
                    actor=actor,
                    action="order.failover",
                    target=order,
                    payload={"from": choice.label, "reason": exc.message},
                    request=request,
                )
                continue
            raise _placement_failed(order, choice, options, exc, actor, request) from exc
        except ProviderError as exc:
            if exc.outcome_unknown:
                unconfirmed = placement_unconfirmed(order, exc, actor=actor, request=request)
                return [unconfirmed], choices[index:]
            raise _placement_failed(order, choice, options, exc, actor, request) from exc
        if not purchases:
            exc = UpstreamUnavailable("The provider answered without a number.")
            unconfirmed = placement_unconfirmed(order, exc, actor=actor, request=request)
            return [unconfirmed], choices[index:]
        placed = record_purchases(order, purchases, actor=actor, request=request)
        return placed, choices[index:]
    raise AssertionError("unreachable")  # pragma: no cover


def _retarget(membership, order: Order, choice: Choice, options: Options) -> None:
    """Point the placing row at the next choice, reserving that choice's price instead.

    Raises OrderActionError (and changes nothing) when that price does not fit the budget.
    """
    with transaction.atomic():
        for name, value in _choice_fields(choice).items():
            setattr(order, name, value)
        order.save()
        ledger.release(order=order)
        _reserve(membership, order, choice, options)


def placement_unconfirmed(order: Order, exc: ProviderError, *, actor, request=None) -> Order:
    """The purchase may or may not have happened: keep the row (and its hold) for the
    sync engine to resolve, and say so. Returns the order."""
    now = timezone.now()
    updated = Order.objects.filter(pk=order.pk, state__in=PENDING_STATES, upstream_id="").update(
        state=State.UNCONFIRMED,
        error=exc.message[:500],
        error_category="outcome_unknown",
        # The call has ended now: the provider's lists settle from here.
        placement_deadline=now,
        next_check_at=now,
    )
    order.refresh_from_db()
    if updated:
        audit.record(
            team=order.team,
            actor=actor,
            action="order.unconfirmed",
            target=order,
            payload={"provider": order.account.label, "reason": exc.message},
            request=request,
        )
        leases.mark_due(order.account_id)
    return order


def record_purchases(
    order: Order, purchases: list[Purchase], *, actor, request=None, action="order.placed"
) -> list[Order]:
    """Record each number bought for `order`, book it once and release the reservation.

    Insert-or-attach: an upstream order already recorded (the poller found it
    first) keeps its row; the first new one fills `order` while it has no
    upstream id; any other gets a row of its own for the same member.
    """
    orders = []
    with transaction.atomic():
        for purchase in purchases:
            target, new = _row_for_purchase(order, purchase)
            orders.append(target)
            if not new:
                continue
            _book_purchase(target, purchase)
            audit.record(
                team=target.team,
                actor=actor,
                action=action,
                target=target,
                payload=_placed_payload(target),
                request=request,
            )
        ledger.release(order=order)
    leases.mark_due(order.account_id)
    return orders


def _placed_payload(order: Order) -> dict:
    return {
        "provider": order.account.label,
        "service": order.service_name,
        "country": order.country_name,
        "number": order.phone_number,
        "cost": str(order.cost) if order.cost is not None else None,
        "cost_quoted": order.cost_quoted,
        "currency": order.currency,
        "upstream_id": order.upstream_id,
    }


def _row_for_purchase(order: Order, purchase: Purchase) -> tuple[Order, bool]:
    """The row that holds `purchase`, and whether it was filled just now."""
    known = Order.objects.filter(account=order.account, upstream_id=purchase.order_id).first()
    if known is not None:
        return known, False
    try:
        with transaction.atomic():
            current = _locked(order)
            if current.state in PENDING_STATES and not current.upstream_id:
                target = current
            else:
                target = _sibling(current)
            _fill_from_purchase(target, purchase)
            return target, True
    except IntegrityError:
        # Recorded meanwhile by another process (the unique row per upstream order).
        known = Order.objects.get(account=order.account, upstream_id=purchase.order_id)
        return known, False


def _sibling(order: Order) -> Order:
    """Another row, for the same member, for another number bought by one purchase."""
    skip = {"id", "code", "idempotency_key", "replaces_id", "created", "updated", "upstream_id"}
    fields = {
        f.attname: getattr(order, f.attname)
        for f in Order._meta.concrete_fields
        if f.attname not in skip
    }
    taken = Order.objects.filter(
        team=order.team, idempotency_key__startswith=f"{order.idempotency_key}#"
    ).count()
    return Order(**fields, idempotency_key=f"{order.idempotency_key}#{taken + 1}")


def _fill_from_purchase(order: Order, purchase: Purchase) -> None:
    now = timezone.now()
    order.upstream_id = purchase.order_id
    order.phone_number = purchase.phone_number
    order.dial_code = purchase.country_code
    if purchase.cost is not None:
        order.cost, order.cost_quoted = purchase.cost, False
    order.currency = purchase.currency or order.currency
    order.expires_at = purchase.expires_at or now + timedelta(
        seconds=order.account.client_class.order_lifetime_seconds
    )
    order.cancel_available_at = purchase.cancel_available_at
    order.upstream_status = purchase.raw_status
    order.state = State.WAITING
    order.error = order.error_category = ""
    order.placement_deadline = None
    order.next_check_at = now
    order.save()


def _book_purchase(order: Order, purchase: Purchase) -> None:
    if order.cost is None:
        return
    ledger.book_for(
        order,
        kind=LedgerKind.PURCHASE,
        amount=order.cost,
        upstream_ref=purchase.order_id,
        quoted=order.cost_quoted,
    )


def _correct_quoted_cost(order: Order, upstream: OrderState) -> None:
    """The provider reported the price of a purchase booked at its quote: book the
    difference once and keep the real price (the caller saves the order)."""
    if not order.cost_quoted or upstream.cost is None or not order.upstream_id:
        return
    if upstream.currency and upstream.currency != order.currency:
        return
    difference = upstream.cost - (order.cost or Decimal(0))
    if difference:
        ledger.book_for(order, kind=LedgerKind.ADJUSTMENT, amount=difference)
    order.cost, order.cost_quoted = upstream.cost, False


def _placement_failed(order, choice, options, exc: ProviderError, actor, request):
    _mark_failed(order, exc.message, exc.category, actor, request)
    if isinstance(exc, AuthFailed | InsufficientBalance):
        choice.account.record_error(exc)
    return explain_placement_error(exc, choice, options)


def _mark_failed(order: Order, message: str, category: str, actor, request=None) -> bool:
    """Close a purchase that bought nothing and give its reservation back; True when
    this call closed it (a row already placed or closed is left alone)."""
    now = timezone.now()
    with transaction.atomic():
        closed = Order.objects.filter(pk=order.pk, state__in=PENDING_STATES, upstream_id="").update(
            state=State.FAILED,
            error=message[:500],
            error_category=category,
            finished_at=now,
            placement_deadline=None,
        )
        if not closed:
            return False
        ledger.release(order=order)
        audit.record(
            team=order.team,
            actor=actor,
            action="order.failed",
            target=order,
            payload={"provider": order.account.label, "category": category, "message": message},
            request=request,
        )
    order.refresh_from_db()
    return True


def mark_not_found_upstream(
    order: Order, message: str, *, category: str = "not_found_upstream"
) -> bool:
    """Close an unconfirmed purchase the provider does not have: nothing was bought or
    charged, and its reservation goes back. True when this call closed it."""
    return _mark_failed(order, message, category, actor=None)


def mark_cannot_confirm(order: Order) -> bool:
    """The provider cannot tell whether an unconfirmed purchase happened (it lists only
    open orders, and this one would have ended): it stays unconfirmed, for staff to
    check on the provider's side; never shown as failed. True when marked now."""
    marked = (
        Order.objects.filter(pk=order.pk, state=State.UNCONFIRMED, upstream_id="")
        .exclude(error_category=CANNOT_CONFIRM)
        .update(
            error_category=CANNOT_CONFIRM,
            error="The provider cannot confirm whether this purchase went through: check its "
            "dashboard for a number bought at this time, then settle it in the admin.",
        )
    )
    if marked:
        audit.record(
            team=order.team,
            actor=None,
            action="order.cannot_confirm",
            target=order,
            payload={"provider": order.account.label},
        )
    return bool(marked)


def order_repurchase(order: Order) -> list[Order]:
    """Re-send an unconfirmed purchase under its own idempotency key.

    Only for providers that deduplicate the key (SMSCode): they answer with the
    order the first attempt made, or make it now, never a second one. Raises
    ProviderError.
    """
    if not order.account.supports(Capability.IDEMPOTENT_PURCHASE):
        raise Unsupported("This provider does not deduplicate purchases.")
    choice = choice_for(order)
    request = purchase_request(order, choice, Options.from_json(order.options))
    purchases = _client(order).purchase(request)
    if not purchases:
        raise UpstreamUnavailable("The provider answered without a number.")
    return record_purchases(order, purchases, actor=None, action="order.placed")


def explain_placement_error(exc: ProviderError, choice: Choice, options: Options):
    """An OrderActionError saying what went wrong and what to do next."""
    from orders.quotes import alternatives_for

    account = choice.account
    what = f"{choice.service_name} in {choice.country_name}"
    if isinstance(exc, OutOfStock):
        return OrderActionError(
            f"{account.label} has no numbers for {what} right now.",
            next_step="Try one of these, which have stock:",
            category=exc.category,
            alternatives=alternatives_for(choice),
        )
    if isinstance(exc, InsufficientBalance):
        from providers.services import provider_account_refresh_balance

        balance = provider_account_refresh_balance(account=account)
        have = f"{balance} {account.currency}" if balance is not None else "too little"
        price = f" The number costs {choice.price} {choice.currency}." if choice.price else ""
        return OrderActionError(
            f"{account.label} has {have} left.{price}",
            next_step="Top up that provider account, or choose another provider.",
            category=exc.category,
            alternatives=alternatives_for(choice),
        )
    if isinstance(exc, PriceTooHigh):
        current = _current_price(choice) or _lowest_price(exc, choice)
        return OrderActionError(
            f"No number for {what} at or below your maximum of {options.max_price} "
            f"{choice.currency or account.currency}."
            + (f" The current price is {current}." if current else ""),
            next_step="Raise the maximum price or choose another offer.",
            category=exc.category,
        )
    if isinstance(exc, RateLimited):
        return OrderActionError(
            f"{account.label} is limiting requests right now.",
            next_step=f"Try again in {int(exc.retry_after or 5)} seconds.",
            category=exc.category,
            retry_after=exc.retry_after,
        )
    if isinstance(exc, AuthFailed):
        return OrderActionError(
            f"{account.label} rejected smsdesk's API key.",
            next_step="Ask an owner or manager to check the key in the team settings.",
            category=exc.category,
        )
    if isinstance(exc, UpstreamUnavailable):
        return OrderActionError(
            f"{account.label} is not answering properly: {exc.message}",
            next_step="Try again in a moment, or choose another provider.",
            category=exc.category,
            alternatives=alternatives_for(choice),
        )
    return OrderActionError(
        f"{account.label} refused the order: {exc.message}",
        next_step="Check the options, or choose another offer.",
        category=exc.category,
    )


def _lowest_price(exc: PriceTooHigh, choice: Choice) -> str:
    """The lowest price the provider named when it refused (SMS-Activate WRONG_MAX_PRICE)."""
    lowest = exc.details.get("min_price")
    return f"{lowest} {choice.currency or choice.account.currency}" if lowest else ""


def _current_price(choice: Choice) -> str:
    try:
        quotes = choice.account.client().get_quotes(
            service_id=choice.service_upstream_id, country_id=choice.country_upstream_id
        )
    except ProviderError:
        return ""
    if not quotes:
        return ""
    best = min(quotes, key=lambda q: q.price)
    return f"{best.price} {best.currency}"


# --- acting on an order -----------------------------------------------------------------


def _locked(order: Order) -> Order:
    """Re-read the order under a row lock for the rest of the transaction."""
    return Order.objects.select_for_update().select_related("account", "team").get(pk=order.pk)


# apply_state's lock, taken for every code the engine stores: compiled once
# (config.sql.KeptRead), and without the account and team (a join of three tables
# cost more CPU than the rest of storing a code; they load when used).
_LOCKED_ROW = KeptRead(Order, lambda pk: Order.objects.select_for_update().filter(pk=pk).order_by())


def _locked_row(order: Order) -> Order:
    """Re-read the order, alone, under a row lock for the rest of the transaction."""
    (current,) = _LOCKED_ROW.rows(order.pk)
    return current


def _client(order: Order):
    return order.account.client()


def order_cancel(
    *, order: Order, actor, when_allowed: bool = False, request=None, now=None
) -> Order:
    """Cancel an order upstream and book the refund.

    Raises CancelLocked when the provider does not allow it yet (with
    `when_allowed`, the sync engine cancels it as soon as it may), and
    OrderActionError when it cannot be cancelled at all.
    """
    if order.state == State.PLACING:
        raise OrderActionError("This order is still being placed; try again in a moment.")
    if order.state == State.UNCONFIRMED:
        raise OrderActionError(
            "smsdesk is still checking with the provider whether this purchase went through.",
            next_step="Once it is confirmed you can cancel it; if it did not go through, "
            "nothing is charged.",
        )
    if not order.awaits_code:
        raise OrderActionError(
            f"This order is {order.get_state_display().lower()}; only an order still waiting "
            "for its code can be cancelled.",
            next_step="Mark it as done instead." if order.state == State.RECEIVED else "",
        )
    wait = order.cancel_wait_seconds(now)
    if wait > 0:
        _lock_wait(order, wait, when_allowed, actor, request)
    try:
        result = _client(order).cancel(order.upstream_id)
    except CancelTooEarly as exc:
        seconds = _next_cancel_try(order, exc)
        Order.objects.filter(pk=order.pk).update(
            cancel_available_at=(now or timezone.now()) + timedelta(seconds=seconds),
            cancel_refusals=F("cancel_refusals") + 1,
        )
        _lock_wait(order, seconds, when_allowed, actor, request)
    except NotFound:
        return order_refresh(order=order)
    except ProviderError as exc:
        raise _action_failed(order, "cancel", exc) from exc
    refunded = result.refunded if result.refunded is not None else order.cost
    return finish_order(
        order,
        State.CANCELLED,
        actor=actor,
        action="order.cancelled",
        refund=refunded,
        upstream_status="cancelled",
        request=request,
    )


def _next_cancel_try(order: Order, refusal: CancelTooEarly) -> int:
    """Seconds until the next cancel attempt after a refusal: what the provider asks
    for, backing off (up to a minute) while it keeps refusing. SMSPool's lock has been
    seen to last over two minutes, with no hint of how long."""
    asked = refusal.retry_after or DEFAULT_CANCEL_LOCK
    backoff = min(CANCEL_BACKOFF_MAX, CANCEL_BACKOFF_BASE * 2**order.cancel_refusals)
    return int(max(asked, backoff) + 0.999)


def _lock_wait(order: Order, seconds: int, when_allowed: bool, actor, request):
    if when_allowed:
        updated = Order.objects.filter(
            pk=order.pk, state__in=AWAITING_CODE_STATES, cancel_requested=False
        ).update(cancel_requested=True)
        if updated:
            audit.record(
                team=order.team,
                actor=actor,
                action="order.cancel_scheduled",
                target=order,
                payload={"seconds": seconds},
                request=request,
            )
            leases.mark_due(order.account_id)
        raise CancelLocked(seconds=seconds, scheduled=True)
    raise CancelLocked(seconds=seconds)


def _action_failed(order: Order, action: str, exc: ProviderError) -> OrderActionError:
    if isinstance(exc, Unsupported):
        return OrderActionError(f"{order.account.label} cannot {action} orders.")
    if isinstance(exc, RateLimited):
        return OrderActionError(
            f"{order.account.label} is limiting requests right now.",
            next_step=f"Try again in {int(exc.retry_after or 5)} seconds.",
            retry_after=exc.retry_after,
        )
    return OrderActionError(
        f"{order.account.label} could not {action} this order: {exc.message}",
        category=exc.category,
    )


def finish_order(
    order: Order,
    state: State,
    *,
    actor,
    action: str,
    refund: Decimal | None = None,
    upstream_status: str = "",
    request=None,
    payload: dict | None = None,
) -> Order:
    """Move an active order to a final state once, booking a refund when given."""
    with transaction.atomic():
        current = _locked(order)
        if current.is_final:
            return current
        current.state = state
        current.cancel_requested = False
        current.cancel_refusals = 0
        current.finished_at = timezone.now()
        if upstream_status:
            current.upstream_status = upstream_status
        current.save()
        ledger.book_refund(
            current,
            refund,
            kind=LedgerKind.REFUND,
            action=action,
            actor=actor,
            request=request,
            payload=payload,
        )
    return current


def order_resend(*, order: Order, actor, request=None) -> Order:
    """Ask the provider for another code on the same number."""
    if not order.account.supports(Capability.RESEND):
        raise OrderActionError(f"{order.account.label} cannot send another code.")
    if order.state != State.RECEIVED:
        raise OrderActionError(
            "A new code can be requested once the first one has arrived.",
            next_step="Wait for the first code, or cancel this number.",
        )
    try:
        result = _client(order).resend(order.upstream_id)
    except ProviderError as exc:
        raise _action_failed(order, "resend", exc) from exc
    with transaction.atomic():
        current = _locked(order)
        new_id = bool(result.order_id) and result.order_id != current.upstream_id
        if new_id:
            # SMSPool's Postman shape re-sends under a new order id; follow the new one.
            current.previous_upstream_ids = [*current.previous_upstream_ids, current.upstream_id]
            current.upstream_id = result.order_id
        current.state = State.RESEND_REQUESTED
        current.next_check_at = timezone.now()
        current.save()
        if result.charge:
            _book_resend(current, result, new_id)
        audit.record(
            team=current.team,
            actor=actor,
            action="order.resend_requested",
            target=current,
            payload={
                "upstream_id": current.upstream_id,
                "charge": str(result.charge) if result.charge else None,
            },
            request=request,
        )
    leases.mark_due(order.account_id)
    return current


def _book_resend(order: Order, result, new_id: bool) -> None:
    # One charge per re-send: keyed by the new order id, or (where the provider
    # re-sends under the same id) by how many re-sends this order had.
    count = order.ledger.filter(kind=LedgerKind.RESEND).count()
    ledger.book_for(
        order,
        kind=LedgerKind.RESEND,
        amount=result.charge,
        currency=result.currency,
        upstream_ref=order.upstream_id,
        event="" if new_id else f"resend-{count + 1}",
    )


def order_complete(*, order: Order, actor, request=None) -> Order:
    """Mark an order done (telling the provider where it has such a call)."""
    if not order.is_active:
        raise OrderActionError(f"This order is already {order.get_state_display().lower()}.")
    if order.awaits_code and not order.messages.exists():
        raise OrderActionError(
            "No code has arrived yet.", next_step="Cancel it instead to get a refund."
        )
    try:
        _client(order).finish(order.upstream_id)
    except (NotFound, Unsupported):
        pass  # nothing left to finish upstream
    except ProviderError as exc:
        raise _action_failed(order, "finish", exc) from exc
    return finish_order(
        order,
        State.COMPLETED,
        actor=actor,
        action="order.completed",
        upstream_status="completed",
        request=request,
    )


def order_replace(*, order: Order, membership, request=None, actor=None) -> Order:
    """Cancel this number (if still possible) and order the same again."""
    actor = actor or membership.user
    if order.awaits_code:
        order_cancel(order=order, actor=actor, request=request)
    elif order.is_active:
        order_complete(order=order, actor=actor, request=request)
    choice = choice_for(order)
    placed = order_place(
        membership=membership,
        choices=[choice],
        options=_one_more_like(order),
        idempotency_key=f"replace:{order.code}",
        note=order.note,
        auto_replace=order.auto_replace,
        request=request,
        actor=actor,
        replaces=order,
    )
    audit.record(
        team=order.team,
        actor=actor,
        action="order.replaced",
        target=order,
        payload={"new_order": str(placed[0].code)},
        request=request,
    )
    return placed[0]


def _one_more_like(order: Order) -> Options:
    """The options `order` was bought with, for one number: the row of a bulk order
    keeps the quantity asked, and its replacement replaces that one number only."""
    return replace(Options.from_json(order.options), quantity=1)


def choice_for(order: Order) -> Choice:
    return Choice(
        account=order.account,
        service_upstream_id=order.service_upstream_id,
        country_upstream_id=order.country_upstream_id,
        service_name=order.service_name,
        country_name=order.country_name,
        service_id=order.service_id,
        country_id=order.country_id,
        pool=(order.options or {}).get("pool", ""),
        product_id=(order.options or {}).get("product_id", ""),
        price=order.cost,
        currency=order.currency,
    )


def order_set_note(*, order: Order, note: str, actor, request=None) -> Order:
    before = order.note
    order.note = note.strip()[:500]
    order.save(update_fields=["note", "updated"])
    audit.record(
        team=order.team,
        actor=actor,
        action="order.note_changed",
        target=order,
        payload={"before": before, "after": order.note},
        request=request,
    )
    return order


def order_refresh(*, order: Order) -> Order:
    """Read the order upstream and apply what it says."""
    if not order.upstream_id:
        return order
    try:
        state = _client(order).get_order(order.upstream_id)
    except NotFound:
        return close_vanished(order)
    except ProviderError as exc:
        raise _action_failed(order, "read", exc) from exc
    return apply_state(order, state)


def close_vanished(order: Order) -> Order:
    """The provider no longer knows an order: close it as it most likely ended."""
    if not order.is_active:
        return order
    if order.messages.exists():
        return finish_order(
            order, State.COMPLETED, actor=None, action="order.completed", upstream_status="gone"
        )
    return finish_order(
        order,
        State.EXPIRED,
        actor=None,
        action="order.expired",
        upstream_status="gone",
        refund=order.cost,
    )


# --- applying upstream state ----------------------------------------------------------------

_FINAL_MAP = {
    OrderStatus.COMPLETED: (State.COMPLETED, "order.completed"),
    OrderStatus.CANCELLED: (State.CANCELLED, "order.cancelled"),
    OrderStatus.EXPIRED: (State.EXPIRED, "order.expired"),
    OrderStatus.REFUNDED: (State.REFUNDED, "order.refunded"),
}


def apply_state(order: Order, upstream: OrderState, *, now=None) -> Order:
    """Bring a local order in line with what the provider reports.

    Records any new message, moves the state forward (never back from a final
    state), and books the refund the provider made when the order ended
    without a code. Safe to call repeatedly with the same state.
    """
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked_row(order)
        if current.is_final or current.upstream_id != upstream.order_id:
            return current
        before = _field_values(current)
        new_message = _record_message(current, upstream, now)
        cancel_was_requested = current.cancel_requested
        _update_fields(current, upstream, now, new_message)
        _correct_quoted_cost(current, upstream)
        _save_changes(current, before)
        if new_message and not upstream.status.is_final:
            # In the same transaction: the code and its audit rows land together.
            _audit_code(current, new_message, dropped_cancel=cancel_was_requested)
    if upstream.status.is_final:
        return _apply_final(current, upstream, now)
    return current


def _field_values(order: Order) -> dict:
    values = {field.attname: getattr(order, field.attname) for field in Order._meta.concrete_fields}
    # A list or dict (JSON fields) might be changed in place: compare against a copy.
    return {
        name: copy.deepcopy(value) if isinstance(value, (dict, list)) else value
        for name, value in values.items()
    }


def _save_changes(order: Order, before: dict) -> None:
    """Save the fields that differ from `before` (and `updated`).

    Storing a code is the sync engine's most frequent write: a full save() of the
    order's fifty-odd columns cost more CPU than the rest of it (issue 13).
    """
    changed = [name for name, value in _field_values(order).items() if before[name] != value]
    order.save(update_fields=[*changed, "updated"])


def _audit_code(order: Order, message: OrderMessage, *, dropped_cancel: bool) -> None:
    audit.record(
        team=order.team_id,
        actor=None,
        action="order.code_received",
        target=order,
        payload={"code": message.code},
    )
    if dropped_cancel and not order.cancel_requested:
        # The number is used now: a refund is no longer due. Said on the board row.
        audit.record(
            team=order.team_id,
            actor=None,
            action=CANCEL_DROPPED,
            target=order,
            payload={"reason": CANCEL_DROPPED_CODE_ARRIVED},
        )


def _record_message(order: Order, upstream: OrderState, now) -> OrderMessage | None:
    code, text = upstream.code.strip(), upstream.full_text.strip()
    if not code and not text:
        return None
    if upstream.sms_revision is not None and order.sms_revision is not None:
        if upstream.sms_revision <= order.sms_revision:
            return None  # an older or repeated SMS (SMSCode's revisions only grow)
    elif order.state == State.RESEND_REQUESTED and code and code == order.last_code:
        return None  # the previous code, still shown while the new one is on its way
    fingerprint = hashlib.sha256(
        f"{upstream.order_id}|{upstream.sms_revision}|{code}|{text}".encode()
    ).hexdigest()
    message, created = OrderMessage.objects.get_or_create(
        order=order,
        fingerprint=fingerprint,
        defaults={
            "upstream_order_id": upstream.order_id,
            "code": code[:64],
            "text": text,
            "revision": upstream.sms_revision,
            "received_at": now,
        },
    )
    return message if created else None


def _update_fields(order: Order, upstream: OrderState, now, message) -> None:
    order.upstream_status = upstream.raw_status[:40]
    order.last_checked_at = now
    if upstream.expires_at:
        order.expires_at = upstream.expires_at
    order.cancel_available_at = cancel_time_after(order, upstream)
    if upstream.sms_revision is not None:
        order.sms_revision = max(order.sms_revision or 0, upstream.sms_revision)
    if upstream.phone_number and not order.phone_number:
        order.phone_number = upstream.phone_number
    if message is not None:
        order.last_code = message.code or order.last_code
        order.code_received_at = order.code_received_at or now
        order.state = State.RECEIVED
        order.cancel_requested = False
        order.cancel_refusals = 0
    elif upstream.status == OrderStatus.RESEND_REQUESTED:
        order.state = State.RESEND_REQUESTED


def cancel_time_after(order: Order, upstream: OrderState):
    """When the provider allows a cancel, once `upstream` is applied.

    What the provider reports wins, except over a time learned from its own
    refusals (SMSPool reports none, and its lock outlasts any estimate): that one
    only moves later.
    """
    reported = upstream.cancel_available_at
    if order.cancel_refusals and order.cancel_available_at:
        return max(order.cancel_available_at, reported or order.cancel_available_at)
    return reported


def _apply_final(order: Order, upstream: OrderState, now) -> Order:
    state, action = _FINAL_MAP[upstream.status]
    has_code = order.messages.exists()
    if has_code and state in (State.EXPIRED, State.CANCELLED, State.REFUNDED):
        # A used number that times out upstream is done, not refunded.
        return finish_order(
            order,
            State.COMPLETED,
            actor=None,
            action="order.completed",
            upstream_status=upstream.raw_status,
        )
    if state == State.REFUNDED and order.expires_at and order.expires_at <= now:
        # SMSPool reports an order that timed out as "refunded": it expired.
        state, action = State.EXPIRED, "order.expired"
    refund = None if has_code or state == State.COMPLETED else order.cost
    finished = finish_order(
        order, state, actor=None, action=action, refund=refund, upstream_status=upstream.raw_status
    )
    if state == State.EXPIRED:
        replace_if_asked(finished)
    return finished


# --- the poller's to-do list ----------------------------------------------------------------


def replace_if_asked(order: Order) -> Order | None:
    """Order the same again for a member who asked for it, up to the limit."""
    if not order.auto_replace or order.replace_count >= settings.ORDERS_AUTO_REPLACE_LIMIT:
        return None
    return _auto_replace(order)


def _auto_replace(order: Order) -> Order | None:
    from accounts.models import Membership

    membership = Membership.objects.filter(team=order.team, user=order.ordered_by).first()
    if membership is None or not membership.can(Permission.ORDER):
        return None
    try:
        new = order_place(
            membership=membership,
            choices=[choice_for(order)],
            options=_one_more_like(order),
            idempotency_key=f"auto:{order.code}",
            note=order.note,
            auto_replace=True,
            actor=None,
            replaces=order,
        )[0]
    except OrderActionError as exc:
        audit.record(
            team=order.team,
            actor=None,
            action="order.auto_replace_failed",
            target=order,
            payload={"reason": exc.message},
        )
        return None
    audit.record(
        team=order.team,
        actor=None,
        action="order.auto_replaced",
        target=order,
        payload={"new_order": str(new.code), "attempt": new.replace_count},
    )
    return new
