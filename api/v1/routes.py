"""The endpoints. Each one: the key's scope, what it may see, one service, the answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone
from ninja import Body, Header, Query, Router, Schema, Status

from accounts.roles import Permission
from api import placement
from api.models import ApiKey, Scope
from api.v1 import schemas
from api.v1.access import ERRORS, attributed, key_for
from api.v1.errors import SPEND_CATEGORIES, ApiError, from_action
from api.v1.pagination import DEFAULT_LIMIT, MAX_LIMIT, page
from orders import quotes, services
from orders.errors import CancelLocked, OrderActionError
from orders.models import ACTIVE_STATES, Order, State
from providers.models import Country, Service
from providers.types import Capability
from rentals import services as rental_services
from rentals.models import Rental, RentalState
from reports import ledger
from webhooks.payloads import order_data, rental_data

router = Router()
ORDER_MISMATCH = "This Idempotency-Key was used for another order (another service or country)."


# --- the key, its scope and what it sees ------------------------------------------------------


def _sees_everyone(key: ApiKey) -> bool:
    return key.membership.can(Permission.API_ALL_ORDERS)


def _orders(key: ApiKey) -> QuerySet[Order]:
    """The orders `key` may see: its team's, and only its member's own unless a manager's."""
    rows = Order.objects.filter(team_id=key.team_id)
    if not _sees_everyone(key):
        rows = rows.filter(ordered_by_id=key.user_id)
    return rows.select_related("account", "service", "country", "ordered_by").prefetch_related(
        "messages"
    )


def _rentals(key: ApiKey) -> QuerySet[Rental]:
    rows = Rental.objects.filter(team_id=key.team_id)
    if not _sees_everyone(key):
        rows = rows.filter(rented_by_id=key.user_id)
    return rows.select_related("account", "rented_by", "offer")


def _order(key: ApiKey, order_id: uuid.UUID) -> Order:
    order = _orders(key).filter(code=order_id).first()
    if order is None:
        raise ApiError(404, "not_found", "No such order.")
    return order


def _rental(key: ApiKey, rental_id: uuid.UUID) -> Rental:
    rental = _rentals(key).filter(code=rental_id).first()
    if rental is None:
        raise ApiError(404, "not_found", "No such rental.")
    return rental


def _fresh(key: ApiKey, order: Order) -> dict:
    return order_data(_orders(key).get(pk=order.pk))


# --- offers and the allowance -----------------------------------------------------------------


def _resolve(key: ApiKey, service: str, country: str):
    found_service = quotes.resolve_service(service, team=key.team)
    if found_service is None:
        raise ApiError(422, "unknown_service", f"No service {service[:60]!r}: use its slug.")
    found_country = quotes.resolve_country(country, team=key.team)
    if found_country is None:
        raise ApiError(422, "unknown_country", f"No country {country[:60]!r}: use its ISO code.")
    return found_service, found_country


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _offer(offer: quotes.Offer) -> dict:
    return {
        "id": offer.key,
        "provider": offer.account.label,
        "provider_id": str(offer.account.code),
        "price": _money(offer.price),
        "currency": offer.currency,
        "usd_price": _money(offer.usd_price),
        "stock": offer.stock,
        "pool": offer.pool_name or offer.pool,
        "success_rate": _money(offer.success_rate),
        "live": offer.live,
        "age_seconds": offer.age_seconds,
    }


class OffersQuery(Schema):
    service: str = schemas.Field(
        max_length=120, pattern=schemas.TEXT, description='Slug ("whatsapp") or "u<id>".'
    )
    country: str = schemas.Field(
        max_length=120, pattern=schemas.TEXT, description='ISO code ("US") or "u<id>".'
    )


@router.get("/offers", response={200: schemas.OffersOut, **ERRORS}, tags=["offers"])
def list_offers(request, query: Query[OffersQuery]):
    """The team's offers for a service in a country: in stock first, then cheapest (USD)."""
    key = key_for(request, Scope.READ)
    service, country = _resolve(key, query.service, query.country)
    offers = quotes.offers_for(key.team, service, country)
    return {"service": query.service, "country": query.country, "data": [_offer(o) for o in offers]}


@router.get("/balance", response={200: schemas.BalanceOut, **ERRORS}, tags=["balance"])
def balance(request):
    """What the key's member may still spend: today, this month, and in the team's budget."""
    key = key_for(request, Scope.READ)
    left = ledger.allowance(key.membership)
    return {
        "currency": left.currency,
        "left": _money(left.left),
        "day_left": _money(left.day_left),
        "month_left": _money(left.month_left),
        "team_left": _money(left.team_left),
        "daily_limit": _money(left.daily_limit),
        "monthly_limit": _money(left.monthly_limit),
        "team_budget": _money(left.budget),
        "spent_today": _money(left.spent_today),
        "spent_month": _money(left.spent_month),
    }


# --- orders -----------------------------------------------------------------------------------


def _choices(key: ApiKey, body: schemas.OrderIn, service, country) -> list[services.Choice]:
    try:
        choices = placement.choices_for(
            key, service, country, max_price_usd=body.max_price, provider=body.provider or ""
        )
    except placement.Refusal as refusal:
        raise _refusal(refusal) from refusal
    if body.offer:
        picked = [c for c in choices if _choice_id(c) == body.offer]
        if not picked:
            raise ApiError(409, "offer_unavailable", "That offer is not available (now).")
        rest = [c for c in choices if _choice_id(c) != body.offer]
        choices = [*picked, *rest]
    return choices if body.failover else choices[:1]


def _choice_id(choice: services.Choice) -> str:
    return f"{choice.account.code}|{choice.pool}|{choice.product_id}"


def _refusal(refusal: placement.Refusal) -> ApiError:
    if refusal.reason == "price":
        return ApiError(
            409,
            "price_too_high",
            f"No offer in stock at or below max_price; the cheapest is {refusal.lowest} USD.",
            lowest_price=_money(refusal.lowest),
        )
    if refusal.reason == "provider":
        return ApiError(
            422, "unknown_provider", "The team has no enabled provider account by that name."
        )
    return ApiError(409, "out_of_stock", "No provider of the team has this in stock now.")


def _spend_refused(key: ApiKey, exc: OrderActionError) -> ApiError:
    """The refusal with what is left, as a number too (the message says it in words)."""
    left = ledger.allowance(key.membership)
    remaining = {
        "daily_limit": left.day_left,
        "spend_limit": left.month_left,
        "team_budget": left.team_left,
    }.get(exc.category)
    return from_action(exc, remaining=_money(remaining), currency=left.currency)


def _existing(key: ApiKey, internal_key: str, body: schemas.OrderIn, service, country):
    order = Order.objects.filter(team_id=key.team_id, idempotency_key=internal_key).first()
    if order is None:
        return None
    if not (
        _same(order.service_id, order.service_name, service)
        and _same(order.country_id, order.country_name, country)
    ):
        raise ApiError(409, "idempotency_key_reused", ORDER_MISMATCH)
    return order


def _same(canonical_id, name: str, wanted) -> bool:
    """Whether an order's service (or country) is `wanted`: canonical, or a catalogue row."""
    if isinstance(wanted, (Service, Country)):
        return canonical_id == wanted.pk
    return name == wanted.display_name


@router.post(
    "/orders", response={201: schemas.OrderOut, 200: schemas.OrderOut, **ERRORS}, tags=["orders"]
)
def create_order(
    request,
    body: schemas.OrderIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        max_length=64,
        pattern=schemas.TEXT,
        description="Any unique string: a retry with the same key returns the first order "
        "(200) instead of buying again.",
    ),
):
    """Buy a number: the offer asked for, or the cheapest in stock (failover on out of stock),
    under the member's limits and the team's budget. 201 with the order; 200 with the same
    order when the Idempotency-Key was used before."""
    key = key_for(request, Scope.ORDER)
    service, country = _resolve(key, body.service, body.country)
    internal_key = f"rest:{key.membership_id}:{idempotency_key or uuid.uuid4().hex}"
    existing = _existing(key, internal_key, body, service, country)
    if existing is not None:
        return Status(200, _fresh(key, existing))
    choices = _choices(key, body, service, country)
    try:
        with attributed(key):
            order = services.order_place(
                membership=key.membership,
                choices=choices,
                options=services.Options(),
                idempotency_key=internal_key,
                note=body.note,
                failover=body.failover,
                request=request,
                actor=key.user,
            )[0]
            placement.link_order(order, key)
    except OrderActionError as exc:
        if exc.category in SPEND_CATEGORIES:
            raise _spend_refused(key, exc) from exc
        raise from_action(exc) from exc
    return Status(201, _fresh(key, order))


class OrderFilters(Schema):
    state: State | None = None
    active: bool | None = schemas.Field(None, description="Only open orders (or only closed).")
    service: str | None = schemas.Field(
        None, max_length=120, pattern=schemas.TEXT, description="Service slug."
    )
    country: str | None = schemas.Field(
        None, max_length=2, pattern=schemas.TEXT, description="ISO code."
    )
    member: str | None = schemas.Field(
        None,
        max_length=150,
        pattern=schemas.TEXT,
        description="Username (keys of owners and managers only).",
    )
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = schemas.Field(None, max_length=200, pattern=schemas.TEXT)
    limit: int = schemas.Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


@router.get("/orders", response={200: schemas.OrderPage, **ERRORS}, tags=["orders"])
def list_orders(request, filters: Query[OrderFilters]):
    """The orders the key may see, newest first: its member's own, or (a key of an owner or
    manager) the whole team's."""
    key = key_for(request, Scope.READ)
    rows = _orders(key)
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.active is not None:
        open_ = {"state__in": ACTIVE_STATES}
        rows = rows.filter(**open_) if filters.active else rows.exclude(**open_)
    if filters.service:
        rows = rows.filter(service__slug=filters.service.lower())
    if filters.country:
        rows = rows.filter(country__iso=filters.country.upper())
    if filters.member:
        if not _sees_everyone(key):
            raise ApiError(403, "forbidden", "Only keys of owners and managers see other members.")
        rows = rows.filter(ordered_by__username=filters.member)
    if filters.since:
        rows = rows.filter(created__gte=_moment(filters.since, "since"))
    if filters.until:
        rows = rows.filter(created__lte=_moment(filters.until, "until"))
    found, cursor = page(rows, filters.cursor, filters.limit)
    return {"data": [order_data(o) for o in found], "next_cursor": cursor}


def _moment(value: datetime, name: str) -> datetime:
    """`value` with a time zone (the portal's when it has none), within years 2000-9998
    (beyond them the conversion to UTC, or the database, fails)."""
    if not 2000 <= value.year <= 9998:
        raise ApiError(422, "invalid_request", f"{name}: choose a date between 2000 and 9998.")
    return value if timezone.is_aware(value) else timezone.make_aware(value)


@router.get("/orders/{order_id}", response={200: schemas.OrderOut, **ERRORS}, tags=["orders"])
def get_order(request, order_id: uuid.UUID):
    """One order with its messages (codes)."""
    key = key_for(request, Scope.READ)
    return order_data(_order(key, order_id))


@router.post(
    "/orders/{order_id}/cancel",
    response={200: schemas.OrderOut, 202: schemas.OrderOut, **ERRORS},
    tags=["orders"],
)
def cancel_order(request, order_id: uuid.UUID, body: schemas.CancelIn = Body(None)):  # noqa: B008
    """Cancel and get the refund. While the provider's lock is on: 409 `cancel_locked` with
    `retry_after`, or with `when_allowed` 202 and smsdesk cancels it as soon as allowed
    (a code arriving first keeps the number: `order.cancel_requested` turns false)."""
    key = key_for(request, Scope.ORDER)
    order = _order(key, order_id)
    when_allowed = bool(body and body.when_allowed)
    try:
        with attributed(key):
            order = services.order_cancel(
                order=order, actor=key.user, when_allowed=when_allowed, request=request
            )
    except CancelLocked as locked:
        if locked.scheduled:
            return Status(202, _fresh(key, order))
        raise ApiError(
            409,
            "cancel_locked",
            f"The provider allows cancelling this number in {locked.seconds} s.",
            retry_after=locked.seconds,
            next_step='Try again then, or send {"when_allowed": true}.',
        ) from locked
    except OrderActionError as exc:
        raise from_action(exc) from exc
    return Status(200, _fresh(key, order))


def _act(request, order_id: uuid.UUID, action) -> dict:
    key = key_for(request, Scope.ORDER)
    order = _order(key, order_id)
    try:
        with attributed(key):
            order = action(order=order, actor=key.user, request=request)
    except OrderActionError as exc:
        raise from_action(exc) from exc
    return _fresh(key, order)


@router.post(
    "/orders/{order_id}/another-code",
    response={200: schemas.OrderOut, **ERRORS},
    tags=["orders"],
)
def another_code(request, order_id: uuid.UUID):
    """Ask the provider for another code on the same number (after the first arrived)."""
    return _act(request, order_id, services.order_resend)


@router.post("/orders/{order_id}/done", response={200: schemas.OrderOut, **ERRORS}, tags=["orders"])
def order_done(request, order_id: uuid.UUID):
    """Mark the order done once its code has arrived (the provider is told where it can be)."""
    return _act(request, order_id, services.order_complete)


# --- rentals ----------------------------------------------------------------------------------


class RentalFilters(Schema):
    state: RentalState | None = None
    cursor: str | None = schemas.Field(None, max_length=200, pattern=schemas.TEXT)
    limit: int = schemas.Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


@router.get("/rentals", response={200: schemas.RentalPage, **ERRORS}, tags=["rentals"])
def list_rentals(request, filters: Query[RentalFilters]):
    """The rentals the key may see (its member's own, or the team's for owners and
    managers), newest first."""
    key = key_for(request, Scope.READ)
    rows = _rentals(key)
    if filters.state:
        rows = rows.filter(state=filters.state)
    found, cursor = page(rows, filters.cursor, filters.limit)
    return {"data": [rental_data(r) for r in found], "next_cursor": cursor}


RENTAL_MESSAGES = 100


@router.get(
    "/rentals/{rental_id}", response={200: schemas.RentalDetailOut, **ERRORS}, tags=["rentals"]
)
def get_rental(request, rental_id: uuid.UUID):
    """One rental with its latest 100 messages, oldest first."""
    key = key_for(request, Scope.READ)
    rental = _rental(key, rental_id)
    latest = list(rental.messages.order_by("-received_at", "-id")[:RENTAL_MESSAGES])[::-1]
    return {**rental_data(rental, messages=latest), "extend_options": _extend_options(rental)}


def _extend_options(rental: Rental) -> list[dict]:
    if not rental.is_active or rental.offer is None:
        return []
    if not rental.account.supports(Capability.RENTAL_EXTEND):
        return []
    return [
        {"duration": length, "price": _money(price), "currency": rental.currency}
        for length, price in rental.offer.extend_durations()
    ]


@router.post(
    "/rentals/{rental_id}/extend",
    response={200: schemas.RentalDetailOut, **ERRORS},
    tags=["rentals"],
)
def extend_rental(request, rental_id: uuid.UUID, body: schemas.ExtendIn):
    """Extend by `duration` units at the offer's price (charged, under the spend limits)."""
    key = key_for(request, Scope.ORDER)
    rental = _rental(key, rental_id)
    try:
        with attributed(key):
            rental = rental_services.rental_extend(
                rental=rental, duration=body.duration, actor=key.user, request=request
            )
    except rental_services.RentalError as exc:
        if exc.category in SPEND_CATEGORIES:
            raise _spend_refused(key, exc) from exc
        raise from_action(exc, extend_options=_extend_options(rental)) from exc
    return get_rental(request, rental.code)
