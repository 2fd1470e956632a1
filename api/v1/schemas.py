"""Request and answer shapes (they make the OpenAPI schema). Orders and rentals answer
with `webhooks.payloads`' dictionaries, the same shapes webhook events carry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ninja import Field, Schema

MONEY = "A decimal amount as a string, in `currency`."
# No NUL character in any text a client sends: PostgreSQL refuses it in every query.
TEXT = r"^[^\x00]*$"


class ErrorBody(Schema):
    code: str = Field(description="Stable, for code: not_found, invalid_request, ...")
    message: str = Field(description="Plain words, for people.")


class ErrorOut(Schema):
    error: ErrorBody


class OfferOut(Schema):
    id: str = Field(description="Pass as `offer` when ordering to buy this one first.")
    provider: str
    provider_id: str
    price: str | None = Field(description=MONEY + " None: priced only after purchase.")
    currency: str
    usd_price: str | None
    stock: int | None = Field(description="None: the provider does not say.")
    pool: str
    success_rate: str | None
    live: bool = Field(description="True: quoted by the provider within 30 s.")
    age_seconds: int


class OffersOut(Schema):
    service: str
    country: str
    data: list[OfferOut]


class MessageOut(Schema):
    code: str | None
    text: str
    received_at: datetime


class OrderOut(Schema):
    id: str
    state: str = Field(
        description="placing, unconfirmed, waiting, received, resend_requested, completed, "
        "cancelled, expired, refunded, failed"
    )
    state_label: str
    service: str
    service_slug: str | None
    country: str
    country_iso: str | None
    provider: str
    phone_number: str | None
    cost: str | None = Field(description=MONEY)
    currency: str
    code: str | None = Field(description="The latest code received.")
    messages: list[MessageOut]
    ordered_by: str | None
    note: str
    cancel_requested: bool = Field(description="smsdesk cancels it as soon as allowed.")
    cancel_available_at: datetime | None
    expires_at: datetime | None
    created: datetime
    finished_at: datetime | None
    error: str | None


class OrderPage(Schema):
    data: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class OrderIn(Schema):
    service: str = Field(
        max_length=120,
        pattern=TEXT,
        description='A service: its slug ("whatsapp") or "u<id>" from offers.',
    )
    country: str = Field(
        max_length=120,
        pattern=TEXT,
        description='A country: ISO code ("US") or "u<id>" from offers.',
    )
    offer: str | None = Field(
        None, max_length=200, pattern=TEXT, description="An offer id from GET /offers to buy first."
    )
    provider: str | None = Field(
        None,
        max_length=100,
        pattern=TEXT,
        description="Only this provider account (its id or label).",
    )
    max_price: Decimal | None = Field(
        None, gt=0, max_digits=12, decimal_places=4, description="At most this, in USD."
    )
    failover: bool = Field(True, description="On out of stock, try the next cheapest offer.")
    note: str = Field("", max_length=500, pattern=TEXT)


class CancelIn(Schema):
    when_allowed: bool = Field(
        False, description="If the provider's lock is on: cancel as soon as it ends."
    )


class RentalMessageOut(Schema):
    id: int
    sender: str
    text: str
    code: str | None
    received_at: datetime


class RentalOut(Schema):
    id: str
    state: str
    state_label: str
    label: str
    service: str
    country: str
    provider: str
    phone_number: str | None
    cost: str | None = Field(description=MONEY)
    currency: str
    duration: int = Field(description="The whole length rented, in `unit`s.")
    unit: str
    auto_extend: bool
    rented_by: str | None
    message_count: int
    started_at: datetime | None
    expires_at: datetime | None
    created: datetime
    finished_at: datetime | None


class ExtendOption(Schema):
    duration: int = Field(description="Units (the rental's `unit`) to add.")
    price: str = Field(description=MONEY)
    currency: str


class RentalDetailOut(RentalOut):
    messages: list[RentalMessageOut]
    extend_options: list[ExtendOption] = Field(
        description="The lengths it can be extended by now, and their prices."
    )


class RentalPage(Schema):
    data: list[RentalOut]
    next_cursor: str | None


class ExtendIn(Schema):
    duration: int = Field(gt=0, le=10000, description="Units (the rental's `unit`) to add.")


class BalanceOut(Schema):
    currency: str = Field(description="The team's reporting currency.")
    left: str | None = Field(description="What the next purchase may cost at most; None: no limit.")
    day_left: str | None
    month_left: str | None
    team_left: str | None
    daily_limit: str | None
    monthly_limit: str | None
    team_budget: str | None
    spent_today: str
    spent_month: str


class WebhookIn(Schema):
    url: str = Field(
        max_length=500, pattern=TEXT, description="https to a public host; events are POSTed there."
    )
    events: list[str] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="The events to send (docs/API.md, Events); default: every order and rental "
        "event.",
    )


class WebhookOut(Schema):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="The signing secret: returned this once, never again.")


class WebhookPage(Schema):
    data: list[WebhookOut]


class WebhookTestOut(Schema):
    delivered: bool = Field(description="True when the endpoint answered 2xx.")
    status_code: int | None = Field(description="The endpoint's answer; None: no answer.")
    error: str = Field(description="Why nothing was delivered, in plain words.")
