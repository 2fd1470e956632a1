"""Plain dataclasses every provider client returns.

Money is always a Decimal with its currency; ids are strings exactly as the
provider spells them (SMSPool "ABCDEFGH", SMSCode 12345 becomes "12345").
Times are aware UTC datetimes. `raw_status` keeps the provider's own status
for reference and debugging.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Capability(StrEnum):
    BULK_ACTIVE = "bulk_active"  # one request lists every active order with its code
    RESEND = "resend"  # ask for another SMS on the same number
    FINISH = "finish"  # tell the provider the order is done
    POOLS = "pools"  # choose the upstream pool
    MAX_PRICE = "max_price"
    PRICING_OPTION = "pricing_option"  # cheapest / most reliable routing
    QUANTITY = "quantity"  # several numbers in one purchase
    AREA_CODES = "area_codes"
    CARRIER = "carrier"
    VOICE = "voice"  # activation by voice call or flash call
    OPERATOR = "operator"
    IDEMPOTENT_PURCHASE = "idempotent_purchase"  # the provider deduplicates a key
    SUCCESS_RATES = "success_rates"
    RENTALS = "rentals"
    RENTAL_EXTEND = "rental_extend"
    RENTAL_REFUND = "rental_refund"
    RENTAL_WAKE = "rental_wake"  # availability must be checked/woken before use
    RENTAL_AUTO_EXTEND = "rental_auto_extend"


class OrderStatus(StrEnum):
    """An activation's upstream state, normalised across providers."""

    WAITING = "waiting"  # number issued, no code yet
    RECEIVED = "received"  # a code (or message) arrived; the order is still open
    RESEND_REQUESTED = "resend_requested"  # waiting for another code
    COMPLETED = "completed"  # finished (by us or by the provider)
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self in {self.COMPLETED, self.CANCELLED, self.EXPIRED, self.REFUNDED}


class ActivationType(StrEnum):
    SMS = "SMS"
    VOICE = "VOICE"
    FLASH = "FLASH"


class PricingOption(StrEnum):
    CHEAPEST = "cheapest"
    BEST_SUCCESS = "best_success"


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Country:
    id: str
    name: str
    iso: str = ""  # ISO 3166 alpha-2 in upper case when the provider gives it
    dial_code: str = ""


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    code: str = ""  # a short code such as "wa" or "whatsapp" when the provider has one


@dataclass(frozen=True)
class Pool:
    id: str
    name: str


@dataclass(frozen=True, slots=True)  # slots: clients may hold 150,000 of them
class Quote:
    service_id: str
    country_id: str
    price: Decimal
    currency: str
    stock: int | None = None
    pool: str = ""
    success_rate: Decimal | None = None  # percent, 0-100
    product_id: str = ""  # SMSCode's product (tier) id
    operator: str = ""


@dataclass(frozen=True)
class Catalog:
    countries: list[Country]
    services: list[Service]
    pools: list[Pool] = field(default_factory=list)
    # A list, or an iterator that yields quotes as the provider's answer arrives
    # (SMSPool): then it can be read only once, and may raise a ProviderError.
    quotes: Iterable[Quote] = field(default_factory=list)
    # False: the host publishes no prices (an SMS-Activate clone answering
    # BAD_ACTION to getPrices). `quotes` then holds none, yet every pair of
    # `services` x `countries` may be ordered; its price is known after purchase.
    prices_known: bool = True


@dataclass(frozen=True)
class PurchaseRequest:
    service_id: str
    country_id: str
    pool: str = ""
    max_price: Decimal | None = None
    pricing_option: PricingOption | None = None
    quantity: int = 1
    area_codes: tuple[str, ...] = ()
    exclude_area_codes: bool = False
    carrier: str = ""
    activation_type: ActivationType = ActivationType.SMS
    operator: str = ""
    product_id: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True)
class Purchase:
    order_id: str
    phone_number: str  # as issued, digits with the country code where known ("14155552671")
    cost: Decimal | None
    currency: str
    expires_at: datetime | None = None
    country_code: str = ""  # dialling code without "+", e.g. "1"
    national_number: str = ""  # the number without the country code, when the provider splits it
    pool: str = ""
    status: OrderStatus = OrderStatus.WAITING
    raw_status: str = ""
    cancel_available_at: datetime | None = None


@dataclass(frozen=True)
class OrderState:
    order_id: str
    status: OrderStatus
    raw_status: str = ""
    code: str = ""
    full_text: str = ""
    phone_number: str = ""
    expires_at: datetime | None = None
    cost: Decimal | None = None
    currency: str = ""
    sms_revision: int | None = None  # grows with every new SMS (SMSCode)
    cancel_available_at: datetime | None = None
    can_resend: bool | None = None
    service: str = ""
    country: str = ""


@dataclass(frozen=True)
class CancelResult:
    order_id: str
    refunded: Decimal | None = None
    currency: str = ""
    status: OrderStatus = OrderStatus.CANCELLED


@dataclass(frozen=True)
class ResendResult:
    order_id: str  # the order that now waits for the new code (SMSPool issues a new id)
    charge: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True)
class Message:
    text: str
    code: str = ""
    sender: str = ""
    received_at: datetime | None = None
    id: str = ""


@dataclass(frozen=True)
class RentalOffer:
    """Something rentable: a country (SMSPool, SMS-Activate) or a service (NumPool)."""

    id: str
    name: str
    durations: dict[int, Decimal]  # length (in `unit`) -> total price
    currency: str
    unit: str = "day"  # "day" or "hour"
    extendable: bool = False
    extend_durations: dict[int, Decimal] = field(default_factory=dict)
    refundable: bool = False
    refund_within_hours: int | None = None
    country_iso: str = ""
    service_id: str = ""
    single_service_durations: dict[int, Decimal] = field(default_factory=dict)
    stock: int | None = None


@dataclass(frozen=True)
class RentalRequest:
    offer_id: str
    duration: int  # in the offer's unit
    service_id: str = ""
    country_id: str = ""


@dataclass(frozen=True)
class RentalState:
    rental_id: str
    phone_number: str = ""
    expires_at: datetime | None = None
    available: bool | None = None  # SMSPool: the line is awake and can receive now
    active_for: int | None = None  # seconds the line stays awake
    auto_extend: bool | None = None
    status: str = ""  # "active", "expired", "refunded", "cancelled", "finished"
    cost: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True)
class RentalPurchase:
    rental_id: str
    phone_number: str
    expires_at: datetime | None
    cost: Decimal | None
    currency: str
    duration: int = 0
    unit: str = "day"
    message: str = ""


@dataclass(frozen=True)
class RentalRefund:
    rental_id: str
    refunded: Decimal | None = None
    currency: str = ""
    message: str = ""
