"""The interface every provider client implements.

One subclass per wire protocol (smspool, numpool, smscode, smsactivate). A
client is cheap to build, holds no state beyond its transport, returns the
dataclasses in `providers.types` and raises only `providers.errors`. Methods a
protocol lacks raise Unsupported; `capabilities` says up front which exist so
callers ask instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from providers.errors import Unsupported, UpstreamUnavailable
from providers.http import Call, Response, Transport
from providers.types import (
    Balance,
    CancelResult,
    Capability,
    Catalog,
    Country,
    Message,
    OrderState,
    Pool,
    Purchase,
    PurchaseRequest,
    Quote,
    RentalOffer,
    RentalPurchase,
    RentalRefund,
    RentalRequest,
    RentalState,
    ResendResult,
    Service,
)


class ProviderClient:
    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    default_currency: ClassVar[str] = "USD"
    # The provider's published limit: (requests, per seconds).
    rate_limit: ClassVar[tuple[int, float]] = (10, 1.0)
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Longest an activation lives upstream, for expiry estimates when a
    # response carries none.
    order_lifetime_seconds: ClassVar[int] = 20 * 60
    # How long after renting a refundable rental may be refunded, when the
    # protocol fixes it rather than each offer (SMS-Activate: 20 minutes).
    rental_refund_window: ClassVar[timedelta | None] = None

    def __init__(
        self,
        *,
        base_url: str = "",
        api_key: str,
        transport: Transport | None = None,
        currency: str = "",
        facts: dict | None = None,
        on_learn: Callable[[dict], None] | None = None,
    ):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.api_key = api_key
        self.currency = currency or self.default_currency
        self.transport = transport or Transport(label=self.kind, secrets=(api_key,))
        # What the host was found to speak (see learn); kept by the caller between clients.
        self.facts = dict(facts or {})
        self.on_learn = on_learn

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def supports(self, capability: Capability) -> bool:
        missing = self.facts.get("missing", [])
        return capability in self.capabilities and str(capability) not in missing

    # --- what the host speaks -------------------------------------------------
    def learn(self, name: str, value: Any) -> None:
        """Remember a fact about the host (a dialect, a missing action) for the next client.

        Facts are per account: `ProviderAccount.client()` passes them in and stores
        what `on_learn` receives.
        """
        if self.facts.get(name) == value:
            return
        self.facts[name] = value
        if self.on_learn is not None:
            self.on_learn(dict(self.facts))

    def learn_missing(self, capability: Capability) -> None:
        """Remember that the host lacks `capability` (e.g. answers BAD_ACTION for it)."""
        missing = sorted({*self.facts.get("missing", []), str(capability)})
        self.learn("missing", missing)

    def _unsupported(self, what: str):
        raise Unsupported(f"{self.name or self.kind} does not support {what}.")

    def _send(self, call: Call, parse) -> Any:
        return self.transport.call(call, parse)

    # --- account ---------------------------------------------------------------
    def get_balance(self) -> Balance:
        raise NotImplementedError

    # --- catalog ---------------------------------------------------------------
    def list_countries(self) -> list[Country]:
        raise NotImplementedError

    def list_services(self, country_id: str = "") -> list[Service]:
        raise NotImplementedError

    def list_pools(self) -> list[Pool]:
        return []

    def get_quotes(self, *, service_id: str = "", country_id: str = "") -> list[Quote]:
        """Prices (and stock where known) for a service/country, or all pairs."""
        raise NotImplementedError

    def fetch_catalog(self) -> Catalog:
        """Everything the catalog sync stores, fetched as cheaply as the API allows."""
        return Catalog(
            countries=self.list_countries(),
            services=self.list_services(),
            pools=self.list_pools(),
            quotes=self.get_quotes(),
        )

    # --- activations -----------------------------------------------------------
    def purchase(self, request: PurchaseRequest) -> list[Purchase]:
        """Buy `request.quantity` numbers; return one Purchase per number issued."""
        raise NotImplementedError

    def get_order(self, order_id: str) -> OrderState:
        raise NotImplementedError

    def list_active_orders(self) -> list[OrderState]:
        """Every open activation with its code, in one request (BULK_ACTIVE)."""
        self._unsupported("listing active orders in one request")

    def recent_orders(self, since: datetime) -> list[OrderState]:
        """Orders placed since `since`, ended ones included, newest first (a history or
        order list). Raises Unsupported where the provider has none."""
        self._unsupported("listing recent orders")

    def cancel(self, order_id: str) -> CancelResult:
        raise NotImplementedError

    def resend(self, order_id: str) -> ResendResult:
        self._unsupported("requesting another code")

    def finish(self, order_id: str) -> None:
        """Tell the provider the order is done; a no-op where there is no such call."""
        return None

    # --- rentals ---------------------------------------------------------------
    def list_rental_offers(self, *, service_id: str = "") -> list[RentalOffer]:
        self._unsupported("rentals")

    def rent(self, request: RentalRequest) -> RentalPurchase:
        self._unsupported("rentals")

    def get_rental(self, rental_id: str) -> RentalState:
        self._unsupported("rentals")

    def list_rentals(self) -> list[RentalState]:
        self._unsupported("rentals")

    def list_rental_messages(self, rental_id: str) -> list[Message]:
        self._unsupported("rentals")

    def extend_rental(self, rental_id: str, duration: int) -> RentalState:
        self._unsupported("extending rentals")

    def refund_rental(self, rental_id: str) -> RentalRefund:
        self._unsupported("refunding rentals")

    def set_rental_auto_extend(self, rental_id: str, enabled: bool) -> bool:
        self._unsupported("auto-extending rentals")

    def wake_rental(self, rental_id: str) -> RentalState:
        """Make the line ready to receive (SMSPool's status call); return its state."""
        self._unsupported("waking rentals")


# --- parsing helpers shared by the protocol modules ------------------------------


def to_decimal(value: Any, *, what: str = "amount") -> Decimal:
    """Parse a provider amount ("0.24", 0.24, 24) into a Decimal, never via float."""
    if isinstance(value, bool) or value is None:
        raise UpstreamUnavailable(f"The provider sent no usable {what}.")
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise UpstreamUnavailable(f"The provider sent an unreadable {what}.") from exc
    if not result.is_finite():
        raise UpstreamUnavailable(f"The provider sent an unreadable {what}.")
    return result


def to_decimal_or_none(value: Any) -> Decimal | None:
    try:
        return to_decimal(value)
    except UpstreamUnavailable:
        return None


def to_int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return int(number) if number.is_finite() else None


def to_text(value: Any) -> str:
    """A provider id or string field as clean text ("1", "ABC"); "" for null."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def plain_text(value: Any) -> str:
    """A string or number field as text; "" for null and for the wrong type (a list, an object)."""
    return to_text(value) if isinstance(value, str | int | float) else ""


_PHONE_NOISE = re.compile(r"[\s()+.\-]")


def phone_text(value: Any) -> str:
    """A phone number as issued, without "+" or separators ("+1 415-555" → "1415555")."""
    return _PHONE_NOISE.sub("", plain_text(value))


def digits(value: Any) -> str:
    """A number that arrived as JSON number or text, never through float:
    1.4155552671E+10 → "14155552671"."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return to_text(value)


def flag(value: Any) -> bool | None:
    """A 0/1 (or true/false) field as a bool; None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    number = to_int_or_none(value)
    return None if number is None else number == 1


def from_timestamp(value: Any) -> datetime | None:
    """Unix seconds (int or numeric string) as an aware UTC datetime."""
    seconds = to_int_or_none(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def from_iso(value: Any) -> datetime | None:
    """An RFC 3339 / ISO 8601 string as an aware datetime (UTC when no zone)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expect(condition: bool, what: str) -> None:
    """Raise UpstreamUnavailable unless the body has the shape the API documents."""
    if not condition:
        raise UpstreamUnavailable(f"The provider sent an unexpected {what}.")


def json_body(response: Response) -> Any:
    return response.json()
