"""The SMS-Activate text protocol (`handler_api`), spoken by SMS-Activate and its clones.

Wire format: sms-activate-protocol.md in ../shared/provider-docs. One GET to
the handler URL (the account's base URL is the FULL handler URL, e.g.
https://api.smspool.net/stubs/handler_api) with `api_key`, `action` and the
action's parameters as query parameters. Answers are plain text `TOKEN` or
`TOKEN:data`, or JSON for the newer actions; some clones answer errors with
HTTP 4xx and `{title, details}`, rentals with `{"status": "error", "message":
TOKEN}`. Every error token maps to one taxonomy class below; an HTML page or
an empty body is UpstreamUnavailable.

Clones differ in small ways and all of these are accepted: NO_MEANS /
NO_MONEY / LOW_BALANCE for NO_BALANCE, NO_NUMBER for NO_NUMBERS, cancel by
status -1 when 8 is refused, amounts with any number of decimals, the active
list under `data`, no getNumberV2 (fall back to getNumber).

Some hosts lack whole actions and answer BAD_ACTION (SMSPool's stub may keep
only getBalance, getNumber, getStatus, setStatus, getFullSms). A BAD_ACTION to
an optional action is learned once per account (`ProviderClient.learn`) and
the client does without it from then on: the catalogue comes from the
protocol's standard numbering (../data/smsactivate_standard.json) with
`Catalog.prices_known=False`, a purchase costs None (getNumber carries no
price), and the active list raises Unsupported so the caller polls getStatus.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from providers.clients.base import (
    ProviderClient,
    digits,
    expect,
    flag,
    from_iso,
    from_timestamp,
    to_decimal,
    to_decimal_or_none,
    to_int_or_none,
    to_text,
)
from providers.errors import (
    AuthFailed,
    CancelTooEarly,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    OutOfStock,
    PriceTooHigh,
    ProviderError,
    RateLimited,
    UpstreamUnavailable,
    clean_message,
)
from providers.http import Call, Response
from providers.types import (
    ActivationType,
    Balance,
    CancelResult,
    Capability,
    Catalog,
    Country,
    Message,
    OrderState,
    OrderStatus,
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

log = logging.getLogger(__name__)

# setStatus values and the answer each one expects.
STATUS_READY = "1"  # the number was used, the SMS has been sent
STATUS_RETRY = "3"  # ask for another code
STATUS_FINISH = "6"
STATUS_CANCEL = "8"
STATUS_CANCEL_LEGACY = "-1"  # clones that answer BAD_STATUS to 8

# setRentStatus values.
RENT_FINISH = "1"
RENT_CANCEL = "2"

MIN_RENT_HOURS, MAX_RENT_HOURS = 4, 1344
# The lengths the portal offers: four hours, a day, three days, a week.
STANDARD_RENT_HOURS = (4, 24, 72, 168)

# SMS-Activate refuses a cancel during the first two minutes.
CANCEL_RETRY_AFTER = 30.0
# A BANNED answer without a readable end time.
BAN_RETRY_AFTER = 60.0

TOKEN_ERRORS: dict[str, tuple[type[ProviderError], str]] = {
    "BAD_KEY": (AuthFailed, "The provider rejected the API key."),
    "NO_KEY": (AuthFailed, "The provider did not receive an API key."),
    "NO_BALANCE": (InsufficientBalance, ""),
    "NO_MEANS": (InsufficientBalance, ""),
    "NO_MONEY": (InsufficientBalance, ""),
    "LOW_BALANCE": (InsufficientBalance, ""),
    "NO_NUMBERS": (OutOfStock, ""),
    "NO_NUMBER": (OutOfStock, ""),
    "NOT_AVAILABLE": (OutOfStock, ""),
    "WRONG_MAX_PRICE": (PriceTooHigh, ""),
    "NO_ACTIVATION": (NotFound, "The provider does not know this activation."),
    "WRONG_ACTIVATION_ID": (NotFound, "The provider does not know this activation."),
    "NO_ACTIVATIONS": (NotFound, "The provider has no active activations."),
    "INVALID_PHONE": (NotFound, "The provider does not know this rental."),
    "BAD_SERVICE": (InvalidRequest, "The provider does not know this service."),
    "WRONG_SERVICE": (InvalidRequest, "The provider does not know this service."),
    "BAD_ACTION": (InvalidRequest, "The provider does not support this action."),
    "WRONG_ACTION": (InvalidRequest, "The provider does not support this action."),
    "NO_ACTION": (InvalidRequest, "The provider did not receive an action."),
    "BAD_COUNTRY": (InvalidRequest, "The provider does not serve this country."),
    "WRONG_COUNTRY_ID": (InvalidRequest, "The provider does not serve this country."),
    "WRONG_OPERATOR": (InvalidRequest, "The provider does not know this operator."),
    "BAD_STATUS": (InvalidRequest, "The provider refused this status change."),
    "INCORECT_STATUS": (InvalidRequest, "The provider refused this status change."),
    "ALREADY_FINISH": (InvalidRequest, "The rental is already finished."),
    "ALREADY_CANCEL": (InvalidRequest, "The rental is already cancelled."),
    "NO_ID_RENT": (InvalidRequest, "The provider did not receive a rental id."),
    "CANT_CANCEL": (
        InvalidRequest,
        "The rental can no longer be cancelled: only the first 20 minutes allow it.",
    ),
    "RENT_DIE": (InvalidRequest, "The rental can no longer be extended."),
    "EARLY_CANCEL_DENIED": (CancelTooEarly, "The provider does not allow cancelling yet."),
    "BANNED": (RateLimited, "The provider has blocked the account for a while."),
    "ERROR_SQL": (UpstreamUnavailable, "The provider reported an internal error."),
    "SQL_ERROR": (UpstreamUnavailable, "The provider reported an internal error."),
}

TOKEN_LIKE = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
BAN_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T_](\d{1,2})[-:](\d{1,2})[-:](\d{1,2})")

# getNumberV2 reports ISO 4217 numeric codes; clones may send letters.
NUMERIC_CURRENCIES = {"840": "USD", "643": "RUB", "978": "EUR", "156": "CNY", "980": "UAH"}

# Any of these inside a parser means the answer is not what the API sends.
MALFORMED = (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError)

# "activationStatus" of getActiveActivations mirrors the setStatus numbers;
# everything else is decided by whether a code is present.
ACTIVE_STATUSES = {
    STATUS_RETRY: OrderStatus.RESEND_REQUESTED,
    STATUS_FINISH: OrderStatus.COMPLETED,
    STATUS_CANCEL: OrderStatus.CANCELLED,
}

GET_STATUS_ANSWERS = {
    "STATUS_WAIT_CODE": OrderStatus.WAITING,
    "STATUS_WAIT_RETRY": OrderStatus.RESEND_REQUESTED,
    "STATUS_WAIT_RESEND": OrderStatus.RESEND_REQUESTED,
    "STATUS_CANCEL": OrderStatus.CANCELLED,
    "STATUS_OK": OrderStatus.RECEIVED,
    "STATUS_FINISH": OrderStatus.COMPLETED,
}

RENT_STATUS_ANSWERS = {
    "STATUS_WAIT_CODE": "active",
    "STATUS_CANCEL": "cancelled",
    "STATUS_FINISH": "finished",
}

# The answers of a host that does not have an action at all.
MISSING_ACTION = {"BAD_ACTION", "WRONG_ACTION"}
# Actions that are a capability's only way: a host without one lacks the capability.
ACTION_CAPABILITY = {
    "getActiveActivations": Capability.BULK_ACTIVE,
    "getRentServicesAndCountries": Capability.RENTALS,  # no offers, nothing to rent
}
# Where the facts keep the other actions the host answered BAD_ACTION to.
BAD_ACTIONS_FACT = "bad_actions"
NATIVE_PRICES_FACT = "native_prices"
# SMSPool's stub lives at <SMSPool API>/stubs/handler_api (api.smspool.net).
STUB_PATH = re.compile(r"/stubs/handler_api(\.php)?$")

STANDARD_NUMBERING = Path(__file__).resolve().parent.parent / "data" / "smsactivate_standard.json"


class SmsActivateClient(ProviderClient):
    kind = "smsactivate"
    name = "SMS-Activate protocol"
    default_base_url = "https://api.sms-activate.ae/stubs/handler_api.php"
    default_currency = "USD"
    rate_limit = (20, 1.0)  # no published limit; conservative
    # setRentStatus 2 (cancel, refunded) is allowed only in the first 20 minutes.
    rental_refund_window = timedelta(minutes=20)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.BULK_ACTIVE,
            Capability.RESEND,
            Capability.FINISH,
            Capability.MAX_PRICE,
            Capability.OPERATOR,
            Capability.RENTALS,
            Capability.RENTAL_EXTEND,
            Capability.RENTAL_REFUND,
        }
    )

    # --- transport -----------------------------------------------------------------

    def _get[T](
        self,
        action: str,
        params: dict[str, Any] | None = None,
        *,
        parse: Callable[[str | Any], T],
        idempotent: bool = True,
    ) -> T:
        """Send `action` and return `parse(answer)` (text or JSON); raise the taxonomy only."""
        query: dict[str, str] = {"api_key": self.api_key, "action": action}
        query.update({k: str(v) for k, v in (params or {}).items() if v not in (None, "")})
        call = Call("GET", self.base_url, params=query, idempotent=idempotent)
        return self._send(call, lambda response: read(response, parse, (self.api_key,)))

    def _optional[T](
        self,
        action: str,
        params: dict[str, Any] | None = None,
        *,
        parse: Callable[[str | Any], T],
        idempotent: bool = True,
    ) -> T | None:
        """`_get` for an action not every host has: None when this host lacks it.

        A BAD_ACTION answer is learned, so no client of the account asks again.
        Raises the taxonomy for every other failure.
        """
        if self._lacks(action):
            return None
        try:
            return self._get(action, params, parse=parse, idempotent=idempotent)
        except InvalidRequest as exc:
            if exc.provider_code not in MISSING_ACTION:
                raise
        self._learn_lacking(action)
        return None

    def _lacks(self, action: str) -> bool:
        """Whether this account's host was found to answer BAD_ACTION to `action`."""
        capability = ACTION_CAPABILITY.get(action)
        if capability is not None:
            return not self.supports(capability)
        return action in self._bad_actions()

    def _learn_lacking(self, action: str) -> None:
        capability = ACTION_CAPABILITY.get(action)
        if capability is not None:
            self.learn_missing(capability)
        else:
            self.learn(BAD_ACTIONS_FACT, sorted({*self._bad_actions(), action}))

    def _bad_actions(self) -> list[str]:
        known = self.facts.get(BAD_ACTIONS_FACT)
        return [str(action) for action in known] if isinstance(known, list) else []

    # --- account -------------------------------------------------------------------

    def get_balance(self) -> Balance:
        """The balance from `ACCESS_BALANCE:<amount>` (any number of decimals)."""

        def parse(answer: Any) -> Balance:
            amount = token_data(answer, "ACCESS_BALANCE")
            return Balance(to_decimal(amount, what="balance"), self.currency)

        return self._get("getBalance", parse=parse)

    # --- catalog -------------------------------------------------------------------

    def list_countries(self) -> list[Country]:
        """Every country from getCountries (keyed by id; the English name is used), or
        the standard numbering's where the host has no getCountries."""

        def country(pair: tuple[str, Any]) -> Country:
            key, row = pair
            country_id = to_text(row.get("id")) or key
            expect(bool(country_id), "country id")
            name = row.get("eng") or row.get("name") or row.get("rus")
            return Country(id=country_id, name=" ".join(to_text(name).split()))

        countries = self._optional(
            "getCountries", parse=lambda answer: catalog(keyed_rows(answer), country, "countries")
        )
        return list(standard_countries()) if countries is None else countries

    def list_services(self, country_id: str = "") -> list[Service]:
        """Every service (code and name), optionally for one country; the standard
        numbering's (for every country) where the host has no getServicesList."""

        def service(row: Any) -> Service:
            code = to_text(row.get("code"))
            expect(bool(code), "service code")
            name = " ".join(to_text(row.get("name")).split()) or code
            return Service(id=code, name=name, code=code)

        services = self._optional(
            "getServicesList",
            {"country": country_id},
            parse=lambda answer: catalog(service_rows(answer), service, "services"),
        )
        return list(standard_services()) if services is None else services

    def get_quotes(self, *, service_id: str = "", country_id: str = "") -> list[Quote]:
        """Price and stock per country and service from getPrices (filters optional);
        [] where the host publishes no prices (see fetch_catalog)."""

        def parse(answer: Any) -> list[Quote]:
            ok_json(answer, dict, "price list")
            quotes: list[Quote] = []
            for country, services in answer.items():
                if isinstance(services, dict):
                    quotes.extend(self._country_quotes(str(country), services))
            return quotes

        params = {"service": service_id, "country": country_id}
        quotes = self._optional("getPrices", params, parse=parse)
        return [] if quotes is None else quotes

    def fetch_catalog(self) -> Catalog:
        """Countries, services and quotes; `prices_known` is False where the host has
        no getPrices, so every service may be ordered anywhere at a price learned
        after purchase."""
        found = super().fetch_catalog()
        return replace(found, prices_known=not self._lacks("getPrices"))

    def number_counts(self, country_id: str = "", operator: str = "") -> dict[str, int]:
        """Numbers available per service code (getNumbersStatus), without forwarding.

        The answer keys are "<service>_<0|1>", 1 meaning numbers with call
        forwarding, which smsdesk never orders. Raises Unsupported where the host
        has no getNumbersStatus.
        """

        def parse(answer: Any) -> dict[str, int]:
            ok_json(answer, dict, "number counts")
            counts = {}
            for key, count in answer.items():
                service, _, forwarding = str(key).rpartition("_")
                number = to_int_or_none(count)
                if forwarding != "1" and number is not None:
                    counts[service or forwarding] = number
            return counts

        params = {"country": country_id, "operator": operator}
        counts = self._optional("getNumbersStatus", params, parse=parse)
        if counts is None:
            self._unsupported("stock counts per service")
        return counts

    def _country_quotes(self, country: str, services: dict) -> list[Quote]:
        """{"tg": {"cost": 0.5, "count": 120}} (or clones' {"tg": {"0.5": 120}}) as quotes."""
        quotes = []
        for service, offer in services.items():
            if not isinstance(offer, dict):
                continue
            tiers = [(offer.get("cost"), offer.get("count"))] if "cost" in offer else offer.items()
            for cost, count in tiers:
                price = to_decimal_or_none(cost)
                if price is not None:
                    quotes.append(
                        Quote(
                            service_id=str(service),
                            country_id=country,
                            price=price,
                            currency=self.currency,
                            stock=to_int_or_none(count),
                        )
                    )
        return quotes

    # --- activations ---------------------------------------------------------------

    def purchase(self, request: PurchaseRequest) -> list[Purchase]:
        """Buy one number: getNumberV2 (JSON, with its cost), or getNumber on hosts
        without it (learned once), whose Purchase has cost None.

        Raises Unsupported for options the protocol lacks (quantity, area
        codes, carrier, voice, pricing option), and the taxonomy for refusals.
        """
        params = self._purchase_params(request)
        purchase = self._optional("getNumberV2", params, parse=self._purchase, idempotent=False)
        if purchase is None:
            # BAD_ACTION means nothing was bought, so asking the old way is safe.
            purchase = self._get("getNumber", params, parse=self._purchase, idempotent=False)
        if purchase.cost is None:
            purchase = replace(purchase, cost=self._native_price(purchase.order_id))
        return [purchase]

    def _native_price(self, order_id: str) -> Decimal | None:
        """What SMSPool charged for an activation bought through its stub, or None.

        SMSPool's stub is SMSPool itself: the same key reads the order, with its
        cost, from SMSPool's own active list (`<host>/request/active`). Tried once
        per account; a host that does not answer like SMSPool is remembered as
        one without (`native_prices: false`). Never raises: the number is bought.
        """
        root = STUB_PATH.sub("", self.base_url)
        if root == self.base_url or "smspool" not in root.lower():
            return None  # not SMSPool's stub
        if self.facts.get(NATIVE_PRICES_FACT) is False:
            return None
        call = Call("POST", f"{root}/request/active", data={"key": self.api_key})
        try:
            rows = self._send(call, parse=lambda response: response.json())
        except (AuthFailed, NotFound, InvalidRequest):
            rows = None  # not SMSPool, or not this key's: do not ask again
        except ProviderError:
            return None  # passing trouble: ask next time
        if not isinstance(rows, list):
            self.learn(NATIVE_PRICES_FACT, False)
            return None
        self.learn(NATIVE_PRICES_FACT, True)
        for row in rows:
            if isinstance(row, dict) and to_text(row.get("order_code")) == order_id:
                return to_decimal_or_none(row.get("cost"))
        return None

    def _purchase_params(self, request: PurchaseRequest) -> dict[str, str]:
        if request.quantity != 1:
            self._unsupported("buying several numbers in one request")
        if request.area_codes or request.carrier or request.pricing_option is not None:
            self._unsupported("area codes, carriers or pricing options")
        if request.activation_type != ActivationType.SMS:
            self._unsupported("voice or flash-call activations")
        params = {
            "service": request.service_id,
            "country": request.country_id,
            "operator": request.operator,
            "pool": request.pool,  # SMSPool's stub reads it, others ignore it
        }
        if request.max_price is not None:
            params["maxPrice"] = format(request.max_price, "f")
        return params

    def _purchase(self, answer: Any) -> Purchase:
        if isinstance(answer, str) and answer.startswith("ACCESS_NUMBER:"):
            order_id, _, phone = answer.removeprefix("ACCESS_NUMBER:").partition(":")
            expect(bool(order_id and phone), "number answer")
            return Purchase(
                order_id=order_id.strip(),
                phone_number=phone.strip(),
                cost=None,
                currency=self.currency,
                expires_at=self._default_expiry(),
            )
        ok_json(answer, dict, "number answer")
        order_id = to_text(answer.get("activationId"))
        expect(bool(order_id), "number answer (no activationId)")
        return Purchase(
            order_id=order_id,
            phone_number=digits(answer.get("phoneNumber")),
            cost=to_decimal_or_none(answer.get("activationCost")),
            currency=self._currency(answer.get("currency")),
            expires_at=wire_time(answer.get("activationEndTime")) or self._default_expiry(),
        )

    def _default_expiry(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.order_lifetime_seconds)

    def _currency(self, value: Any) -> str:
        """The answer's currency (ISO letters or number), else the account's."""
        text = to_text(value).upper()
        if re.fullmatch(r"[A-Z]{3}", text):
            return text
        return NUMERIC_CURRENCIES.get(text, self.currency)

    def get_order(self, order_id: str) -> OrderState:
        """The activation's state from getStatus; the full SMS is fetched once a code is in.

        Raises NotFound for an unknown activation.
        """

        def parse(answer: Any) -> OrderState:
            token, _, data = answer.partition(":") if isinstance(answer, str) else ("", "", "")
            status = GET_STATUS_ANSWERS.get(token)
            if status is None:
                if not token.startswith("STATUS_"):
                    raise error_for(answer)
                status = OrderStatus.UNKNOWN
            return OrderState(order_id=order_id, status=status, raw_status=token, code=data)

        state = self._get("getStatus", {"id": order_id}, parse=parse)
        if state.status is OrderStatus.RECEIVED:
            state = replace(state, full_text=self._full_sms(order_id))
        return state

    def _full_sms(self, order_id: str) -> str:
        """The whole SMS text (`FULL_SMS:<text>`), or "" when the provider will not say."""

        def parse(answer: Any) -> str:
            if isinstance(answer, str) and answer.startswith("FULL_SMS:"):
                return answer.split(":", 1)[1]
            if isinstance(answer, str) and answer.startswith("STATUS_"):
                return ""  # STATUS_WAIT_CODE and friends: no text yet
            raise error_for(answer)

        try:
            return self._optional("getFullSms", {"id": order_id}, parse=parse) or ""
        except ProviderError as exc:
            # The code is what matters; the full text is a nicety.
            log.info("SMS-Activate full SMS unavailable: %s", exc.category)
            return ""

    def list_active_orders(self) -> list[OrderState]:
        """Every open activation with its code (getActiveActivations), in one request.

        Raises Unsupported where the host has no such list; the account then
        lacks Capability.BULK_ACTIVE and its orders are polled with getStatus.
        """

        def parse(answer: Any) -> list[OrderState]:
            if isinstance(answer, dict) and error_token(answer) == "NO_ACTIVATIONS":
                return []
            return [self._active_order(row) for row in active_rows(answer)]

        states = self._optional("getActiveActivations", parse=parse)
        if states is None:
            self._unsupported("listing active orders in one request")
        return states

    def _active_order(self, row: dict) -> OrderState:
        order_id = to_text(row.get("activationId"))
        expect(bool(order_id), "activation id")
        code, text = last_text(row.get("smsCode")), last_text(row.get("smsText"))
        raw_status = to_text(row.get("activationStatus"))
        status = ACTIVE_STATUSES.get(raw_status)
        if status is None:
            status = OrderStatus.RECEIVED if code else OrderStatus.WAITING
        started = wire_time(row.get("activationTime"))
        expires_at = wire_time(row.get("activationEndTime")) or (
            started + timedelta(seconds=self.order_lifetime_seconds) if started else None
        )
        return OrderState(
            order_id=order_id,
            status=status,
            raw_status=raw_status,
            code=code,
            full_text=text,
            phone_number=digits(row.get("phoneNumber")),
            expires_at=expires_at,
            cost=to_decimal_or_none(row.get("activationCost")),
            currency=self._currency(row.get("currency")),
            can_resend=flag(row.get("canGetAnotherSms")),
            service=to_text(row.get("serviceCode")),
            country=to_text(row.get("countryCode")),
        )

    def _set_status(self, order_id: str, status: str, expected: str) -> str:
        """setStatus `status`; returns the answer, which starts with `expected`."""

        def parse(answer: Any) -> str:
            if isinstance(answer, str) and answer.startswith(expected):
                return answer
            raise error_for(answer)

        params = {"id": order_id, "status": status}
        return self._get("setStatus", params, parse=parse, idempotent=False)

    def cancel(self, order_id: str) -> CancelResult:
        """Cancel (and get refunded for) an activation.

        Raises CancelTooEarly (EARLY_CANCEL_DENIED) in the first minutes and
        NotFound for an unknown activation. Clones that refuse status 8 with
        BAD_STATUS are asked once more with -1.
        """
        try:
            self._set_status(order_id, STATUS_CANCEL, "ACCESS_CANCEL")
        except InvalidRequest as exc:
            if exc.provider_code != "BAD_STATUS":
                raise
            self._set_status(order_id, STATUS_CANCEL_LEGACY, "ACCESS_CANCEL")
        return CancelResult(order_id=order_id, currency=self.currency)

    def resend(self, order_id: str) -> ResendResult:
        """Ask for another code on the same number (same activation id)."""
        self._set_status(order_id, STATUS_RETRY, "ACCESS_RETRY_GET")
        return ResendResult(order_id=order_id, currency=self.currency)

    def finish(self, order_id: str) -> None:
        """Tell the provider the activation is done (status 6)."""
        self._set_status(order_id, STATUS_FINISH, "ACCESS_ACTIVATION")

    def mark_ready(self, order_id: str) -> None:
        """Tell the provider the SMS has been sent to the number (status 1)."""
        self._set_status(order_id, STATUS_READY, "ACCESS_READY")

    # --- rentals -------------------------------------------------------------------

    def list_rental_offers(
        self, *, service_id: str = "", country_id: str = "", hours: int | None = None
    ) -> list[RentalOffer]:
        """One offer per rentable service (in `country_id`), priced for `hours`, or
        for each of STANDARD_RENT_HOURS when `hours` is not given.

        getRentServicesAndCountries prices a single length per request, so a
        table of lengths costs one request per length. The offer id is the
        service code. Raises Unsupported where the host has no rental catalogue
        (the account then lacks Capability.RENTALS).
        """
        lengths = (hours,) if hours else STANDARD_RENT_HOURS
        merged: dict[str, RentalOffer] = {}
        for length in lengths:
            for offer in self._rental_offers_for(service_id, country_id, length):
                known = merged.get(offer.id)
                if known is None:
                    merged[offer.id] = offer
                else:
                    durations = {**known.durations, **offer.durations}
                    merged[offer.id] = replace(known, durations=durations)
        return list(merged.values())

    def _rental_offers_for(self, service_id: str, country_id: str, hours: int) -> list[RentalOffer]:
        def offer(pair: tuple[str, Any]) -> RentalOffer:
            code, row = pair
            price = to_decimal(row.get("cost"), what="rental price")
            return RentalOffer(
                id=code,
                name=code,
                durations={hours: price},
                currency=self.currency,
                unit="hour",
                extendable=True,
                refundable=True,  # within the first 20 minutes: rental_refund_window
                service_id=code,
                stock=to_int_or_none(row.get("quant")),
            )

        def parse(answer: Any) -> list[RentalOffer]:
            ok_json(answer, dict, "rental offers")
            services = answer.get("services")
            expect(isinstance(services, dict), "rental offers")
            pairs = [(str(code), row) for code, row in services.items()]
            if service_id:
                pairs = [pair for pair in pairs if pair[0] == service_id]
            return catalog(pairs, offer, "rental offers")

        params = {"rent_time": hours, "country": country_id}
        offers = self._optional("getRentServicesAndCountries", params, parse=parse)
        if offers is None:
            self._unsupported("rentals")
        return offers

    def rent(self, request: RentalRequest) -> RentalPurchase:
        """Rent a number for `request.duration` hours (4-1344) for the offer's service."""
        hours = request.duration
        if not MIN_RENT_HOURS <= hours <= MAX_RENT_HOURS:
            raise InvalidRequest(
                f"Rentals last {MIN_RENT_HOURS} to {MAX_RENT_HOURS} hours.",
                field_errors={"duration": str(hours)},
            )

        def parse(answer: Any) -> RentalPurchase:
            phone = rent_phone(answer)
            return RentalPurchase(
                rental_id=phone["id"],
                phone_number=phone["number"],
                expires_at=phone["end"],
                cost=None,
                currency=self.currency,
                duration=hours,
                unit="hour",
            )

        params = {
            "service": request.service_id or request.offer_id,
            "country": request.country_id,
            "rent_time": hours,
        }
        return self._get("getRentNumber", params, parse=parse, idempotent=False)

    def _rent_status(self, rental_id: str) -> tuple[str, list[Message]]:
        """(status word, messages) from getRentStatus."""

        def parse(answer: Any) -> tuple[str, list[Message]]:
            token = answer.strip() if isinstance(answer, str) else error_token(answer)
            if token in RENT_STATUS_ANSWERS:
                return RENT_STATUS_ANSWERS[token], []
            ok_json(answer, dict, "rental status")
            if answer.get("status") != "success":
                raise error_for(answer)
            return "active", [rent_message(row) for row in values_of(answer)]

        return self._get("getRentStatus", {"id": rental_id}, parse=parse)

    def get_rental(self, rental_id: str) -> RentalState:
        """The rental's status: active, cancelled or finished (getRentStatus)."""
        status, _ = self._rent_status(rental_id)
        return RentalState(rental_id=rental_id, status=status)

    def list_rental_messages(self, rental_id: str) -> list[Message]:
        """Messages the rental received; empty while none has arrived or once it ended."""
        return self._rent_status(rental_id)[1]

    def list_rentals(self) -> list[RentalState]:
        """Every current rental (getRentList); an empty list when there are none.

        Raises Unsupported where the host has no getRentList.
        """

        def rental(row: dict) -> RentalState:
            rental_id = to_text(row.get("id"))
            expect(bool(rental_id), "rental id")
            return RentalState(
                rental_id=rental_id,
                phone_number=digits(row.get("phone", row.get("number"))),
                expires_at=wire_time(row.get("endDate")),
                status="active",
            )

        def parse(answer: Any) -> list[RentalState]:
            if error_token(answer) in {"NO_NUMBERS", "NO_ACTIVATIONS", "NO_RENTS"}:
                return []
            ok_json(answer, dict, "rental list")
            if answer.get("status") != "success":
                raise error_for(answer)
            return [rental(row) for row in values_of(answer)]

        rentals = self._optional("getRentList", parse=parse)
        if rentals is None:
            self._unsupported("listing rentals")
        return rentals

    def extend_rental(self, rental_id: str, duration: int) -> RentalState:
        """Extend by `duration` hours (continueRentNumber); RENT_DIE is InvalidRequest."""

        def parse(answer: Any) -> RentalState:
            phone = rent_phone(answer)
            return RentalState(
                rental_id=phone["id"] or rental_id,
                phone_number=phone["number"],
                expires_at=phone["end"],
                status="active",
            )

        params = {"id": rental_id, "rent_time": duration}
        return self._get("continueRentNumber", params, parse=parse, idempotent=False)

    def _set_rent_status(self, rental_id: str, status: str) -> None:
        def parse(answer: Any) -> None:
            ok_json(answer, dict, "rental answer")
            if answer.get("status") != "success":
                raise error_for(answer)

        params = {"id": rental_id, "status": status}
        self._get("setRentStatus", params, parse=parse, idempotent=False)

    def refund_rental(self, rental_id: str) -> RentalRefund:
        """Cancel a rental for a refund (first 20 minutes only: CANT_CANCEL otherwise)."""
        self._set_rent_status(rental_id, RENT_CANCEL)
        return RentalRefund(
            rental_id=rental_id, currency=self.currency, message="The rental was cancelled."
        )

    def finish_rental(self, rental_id: str) -> None:
        """End a rental early (no refund)."""
        self._set_rent_status(rental_id, RENT_FINISH)


# --- answers and errors -----------------------------------------------------------


def read[T](response: Response, parse: Callable[[Any], T], secrets: tuple[str, ...]) -> T:
    """`parse(answer)` for a response; raises the taxonomy for failures and odd bodies."""
    try:
        return parse(answer_of(response))
    except MALFORMED as exc:
        # Not chained: the original error may quote answer values, and an
        # answer can echo the key.
        raise UpstreamUnavailable(
            f"The provider sent an answer smsdesk cannot read ({response.url_path}, "
            f"{type(exc).__name__})."
        ) from None


def answer_of(response: Response) -> str | Any:
    """The answer as stripped text, or JSON when it looks like JSON.

    Raises UpstreamUnavailable for an empty body or an HTML page, and the
    mapped error for any answer that comes with HTTP 4xx.
    """
    text = response.text.strip()
    status = response.status
    if not text:
        raise UpstreamUnavailable(f"The provider answered HTTP {status} with an empty body.")
    if text.startswith("<"):
        raise UpstreamUnavailable(f"The provider answered HTTP {status} with an HTML page.")
    answer: Any = text
    if text[0] in "{[":
        try:
            answer = json.loads(text, parse_float=Decimal)
        except ValueError:
            raise UpstreamUnavailable(
                f"The provider answered HTTP {status} with broken JSON."
            ) from None
    if response.status >= 400:
        raise error_for(answer, status=response.status)
    return answer


def error_token(answer: Any) -> str:
    """The error token of an answer: the text itself, or `title` / `error` / `message`."""
    if isinstance(answer, str):
        return answer.strip()
    if not isinstance(answer, dict):
        return ""
    if answer.get("title"):
        return to_text(answer.get("title"))
    if answer.get("status") == "error" or answer.get("error"):
        return to_text(answer.get("error") or answer.get("message")) or "ERROR"
    return ""


def error_for(answer: Any, *, status: int = 200) -> ProviderError:
    """The taxonomy error for an answer that is not the expected success."""
    token = error_token(answer)
    name, _, data = token.partition(":")
    if name in TOKEN_ERRORS:
        return known_error(name, data.strip())
    details = clean_message(answer.get("details")) if isinstance(answer, dict) else ""
    if status in (401, 403):
        return AuthFailed(details or token, provider_code=name)
    if TOKEN_LIKE.match(name) or (isinstance(answer, dict) and token):
        # A refusal we have no mapping for: keep the provider's word.
        return InvalidRequest(details or f"The provider answered {token}.", provider_code=name)
    return UpstreamUnavailable(f"The provider sent an unexpected answer (HTTP {status}).")


def known_error(name: str, data: str) -> ProviderError:
    cls, message = TOKEN_ERRORS[name]
    if name == "WRONG_MAX_PRICE":
        return PriceTooHigh(
            f"No number at or below the maximum price; the lowest on offer is {data}.",
            provider_code=name,
            details={"min_price": data},
        )
    if name == "BANNED":
        return RateLimited(message, provider_code=name, retry_after=ban_seconds(data))
    if cls is CancelTooEarly:
        return CancelTooEarly(message, provider_code=name, retry_after=CANCEL_RETRY_AFTER)
    return cls(message, provider_code=name)


def ban_seconds(data: str) -> float:
    """Seconds until a BANNED:<until> ban ends ('2024-1-12 13-45-01' or unix seconds)."""
    until = from_timestamp(data) if data.strip("'\" ").isdigit() else None
    match = BAN_TIME.search(data)
    if until is None and match:
        try:
            until = datetime(*(int(part) for part in match.groups()), tzinfo=UTC)
        except ValueError:
            until = None
    if until is None:
        return BAN_RETRY_AFTER
    return max(0.0, (until - datetime.now(UTC)).total_seconds())


def token_data(answer: Any, token: str) -> str:
    """The data after `TOKEN:`; any other answer raises its error."""
    if isinstance(answer, str) and answer.startswith(f"{token}:"):
        return answer.split(":", 1)[1]
    raise error_for(answer)


def ok_json(answer: Any, kind: type, what: str) -> None:
    """Raise the answer's error unless it is JSON of `kind` (and no error object)."""
    if isinstance(answer, str) or (isinstance(answer, dict) and error_token(answer)):
        raise error_for(answer)
    expect(isinstance(answer, kind), what)


# --- parsing helpers --------------------------------------------------------------


def catalog[T](items: list, parse_one: Callable[[Any], T], what: str) -> list[T]:
    """Parse every catalog row, skipping (and logging) unreadable ones."""
    parsed, skipped = [], 0
    for item in items:
        try:
            parsed.append(parse_one(item))
        except (UpstreamUnavailable, *MALFORMED):
            skipped += 1
    if skipped:
        log.warning("SMS-Activate %s: skipped %d unreadable row(s)", what, skipped)
    return parsed


def keyed_rows(answer: Any) -> list[tuple[str, Any]]:
    """(key, row) pairs of an object keyed by id, or of a plain list."""
    if isinstance(answer, list):
        return [("", row) for row in answer]
    ok_json(answer, dict, "list")
    return [(str(key), row) for key, row in answer.items()]


def service_rows(answer: Any) -> list[Any]:
    """Service rows from {"status":"success","services":[...]}, a bare list, or {code: name}."""
    if isinstance(answer, dict):
        ok_json(answer, dict, "service list")
        expect("services" in answer or "status" not in answer, "service list")
        answer = answer.get("services", answer)
    if isinstance(answer, dict):
        return [{"code": code, "name": name} for code, name in answer.items()]
    ok_json(answer, list, "service list")
    return answer


def active_rows(answer: Any) -> list[dict]:
    """The activation rows under `activeActivations` (or `data`), list or keyed object."""
    if isinstance(answer, list):
        found: Any = answer
    else:
        ok_json(answer, dict, "active activations")
        found = answer.get("activeActivations", answer.get("data"))
    if isinstance(found, dict):
        found = list(found.values())
    expect(isinstance(found, list), "active activations")
    expect(all(isinstance(row, dict) for row in found), "active activations")
    return found


def values_of(answer: dict) -> list[dict]:
    """The rows under `values` (an object keyed "0", "1"... or a list)."""
    values = answer.get("values") or []
    if isinstance(values, dict):
        values = list(values.values())
    expect(isinstance(values, list), "rental values")
    expect(all(isinstance(row, dict) for row in values), "rental values")
    return values


def rent_phone(answer: Any) -> dict[str, Any]:
    """id, number and end of `{"status":"success","phone":{id,endDate,number}}`."""
    ok_json(answer, dict, "rental answer")
    if answer.get("status") != "success":
        raise error_for(answer)
    phone = answer.get("phone")
    expect(isinstance(phone, dict), "rental answer")
    rental_id = to_text(phone.get("id"))
    expect(bool(rental_id), "rental answer (no id)")
    return {
        "id": rental_id,
        "number": digits(phone.get("number")),
        "end": wire_time(phone.get("endDate")),
    }


def rent_message(row: dict) -> Message:
    return Message(
        text=to_text(row.get("text")),
        sender=to_text(row.get("phoneFrom")),
        received_at=wire_time(row.get("date")),
    )


def wire_time(value: Any) -> datetime | None:
    """A protocol time ("2024-01-06 18:03:15", ISO, or unix seconds) as aware UTC.

    Zone-less strings are read as UTC: the protocol does not say, and clones differ.
    """
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return from_timestamp(value)
    text = to_text(value)
    if text.isdigit():
        return from_timestamp(text)
    return from_iso(text)


def last_text(value: Any) -> str:
    """The latest of a code field that may be a string, null or a list ["123456"]."""
    if isinstance(value, list):
        value = next((item for item in reversed(value) if to_text(item)), "")
    return to_text(value)


# --- the protocol's standard numbering ------------------------------------------------------


@cache
def standard_numbering() -> dict[str, Any]:
    """The standard country ids and service codes (smsactivate_standard.json)."""
    return json.loads(STANDARD_NUMBERING.read_text(encoding="utf-8"))


@cache
def standard_countries() -> tuple[Country, ...]:
    """Every country of the standard numbering, with its ISO code and calling code."""
    return tuple(
        Country(id=country_id, name=row["name"], iso=row["iso"], dial_code=row["dial"])
        for country_id, row in standard_numbering()["countries"].items()
    )


@cache
def standard_services() -> tuple[Service, ...]:
    """Every service code of the standard numbering, with its name."""
    return tuple(
        Service(id=code, name=name, code=code)
        for code, name in standard_numbering()["services"].items()
    )
