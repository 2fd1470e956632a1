"""Placing and finding orders for an API key: the portal's own services, plus the
link (`ApiOrder`) that gives the order an integer activation id and its board label."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiKey, ApiOrder
from orders import quotes, services
from orders.models import Order
from providers.models import ProviderAccount

# Activation ids: random, below 2**31 (some SMS-Activate tools keep them in 32-bit
# integers), never 0-padded; nine or ten digits like SMS-Activate's own.
ACTIVATION_MIN = 100_000_000
ACTIVATION_MAX = 2_147_483_647


def link_order(
    order: Order, key: ApiKey, *, country_code: str = "", service_code: str = ""
) -> ApiOrder:
    """Record that `order` was placed with `key`: a fresh activation id, and the key's
    label on the order for the board. Returns the link (the existing one if any)."""
    existing = ApiOrder.objects.filter(order=order).first()
    if existing is not None:
        return existing
    for _ in range(10):
        try:
            with transaction.atomic():
                link = ApiOrder.objects.create(
                    activation_id=ACTIVATION_MIN
                    + secrets.randbelow(ACTIVATION_MAX - ACTIVATION_MIN),
                    order=order,
                    team_id=order.team_id,
                    user_id=key.user_id,
                    key=key,
                    key_name=key.name,
                    country_code=country_code[:16],
                    service_code=service_code[:16],
                )
                # `updated` moves too, so the live board's poll brings the labelled row.
                Order.objects.filter(pk=order.pk).update(
                    placed_via=key.label[:80], updated=timezone.now()
                )
                order.placed_via = key.label[:80]
                return link
        except IntegrityError:  # the id was taken (or the order linked meanwhile)
            existing = ApiOrder.objects.filter(order=order).first()
            if existing is not None:
                return existing
    raise RuntimeError("Could not draw a free activation id.")  # pragma: no cover


def activation_number(raw_id) -> int | None:
    """The activation id `raw_id` spells (up to 18 ASCII digits), or None."""
    text = str(raw_id or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def find_activation(key: ApiKey, raw_id) -> ApiOrder | None:
    """The key's member's API order with activation id `raw_id`, or None (for an id of
    another member or team as for one that does not exist)."""
    number = activation_number(raw_id)
    if number is None:
        return None
    rows = ApiOrder.objects.select_related("order__account").filter(
        activation_id=number, team_id=key.team_id, user_id=key.user_id
    )
    return next(iter(rows.order_by()[:1]), None)


def activation_state(key: ApiKey, raw_id) -> tuple[str, str] | None:
    """(state, last code) of the key's member's activation `raw_id`, or None. A status
    poll read it with the key (`key.polled`); otherwise one small query."""
    number = activation_number(raw_id)
    if number is None:
        return None
    if key.polled is not None and key.polled[0] == number:
        return key.polled[1]
    rows = ApiOrder.objects.filter(
        activation_id=number, team_id=key.team_id, user_id=key.user_id
    ).values_list("order__state", "order__last_code")
    return next(iter(rows.order_by()[:1]), None)


@dataclass
class Refusal(Exception):
    """Nothing can be bought: `reason` is "no_numbers", "price" (with `lowest`, the
    cheapest price in USD) or "provider" (the pinned provider is not the team's)."""

    reason: str
    lowest: Decimal | None = None


def choices_for(
    key: ApiKey, service, country, *, max_price_usd: Decimal | None, provider: str = ""
) -> list[services.Choice]:
    """The offers to try, cheapest in stock first (failover moves down the list).

    With `provider` (an account's code or label) only that account's offers; with
    `max_price_usd` only offers priced at most that. Raises Refusal.
    """
    offers = quotes.offers_for(key.team, service, country)
    if provider:
        account = pinned_account(key, provider)
        if account is None:
            raise Refusal("provider")
        offers = [o for o in offers if o.account.pk == account.pk]
    offers = [o for o in quotes.sort_offers(offers) if o.in_stock]
    if max_price_usd is not None:
        priced = [o for o in offers if o.priced]
        offers = [o for o in priced if o.usd_price <= max_price_usd]
        if not offers and priced:
            raise Refusal("price", lowest=min(o.usd_price for o in priced))
    if not offers:
        raise Refusal("no_numbers")
    return [o.choice for o in offers]


def pinned_account(key: ApiKey, provider: str) -> ProviderAccount | None:
    """The team's enabled provider account named by code or label (any case), or None."""
    accounts = ProviderAccount.objects.filter(team_id=key.team_id, enabled=True)
    text = provider.strip()[:100]
    try:
        found = accounts.filter(code=uuid.UUID(text)).first()
    except ValueError:
        found = None
    return found or accounts.filter(label__iexact=text).first()


def place(key: ApiKey, choices: list[services.Choice], *, request=None) -> Order:
    """Buy one number for `key`'s member from the first choice that sells (failover on
    out of stock), through orders.services.order_place: spend check, idempotent
    placement row, audit and ledger as in the portal. Raises OrderActionError."""
    placed = services.order_place(
        membership=key.membership,
        choices=choices,
        options=services.Options(),
        idempotency_key=f"api:{uuid.uuid4().hex}",
        failover=True,
        request=request,
        actor=key.user,
    )
    return placed[0]
