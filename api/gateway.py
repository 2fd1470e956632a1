"""The SMS-Activate-compatible gateway: `handler_api.php` actions on smsdesk's state.

Every action answers in the wire format of the SMS-Activate protocol
(shared/provider-docs/sms-activate-protocol.md): plain-text tokens, JSON where
the protocol answers JSON, its error tokens. Amounts are US dollars.

- Reads (getStatus, getStatusV2, getFullSms, getActiveActivations, catalogue
  actions, getBalance) answer from smsdesk's database: the sync engine keeps
  orders in step with the providers, so a tool polling getStatus every second
  adds no upstream request.
- getNumber/getNumberV2 buy through orders.services.order_place (the spend
  check, the placement row, failover on out of stock, ledger and audit), and
  setStatus calls order_resend, order_complete and order_cancel.

Countries and services use SMS-Activate's numbering (api/numbering.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from django.utils import timezone

from api import numbering
from api.keys import may
from api.models import ApiKey, ApiOrder, Scope
from api.placement import (
    Refusal,
    activation_number,
    activation_state,
    choices_for,
    find_activation,
    link_order,
    place,
)
from orders import services
from orders.errors import CancelLocked, OrderActionError
from orders.models import ACTIVE_STATES, Order, State
from providers.models import CatalogPrice, Country, Service
from providers.types import Capability
from reports import ledger

CENT = Decimal("0.01")
USD_NUMERIC = 840  # ISO 4217 numeric code, as SMS-Activate's JSON answers carry it
# verificationType of getStatusV2 for an SMS (HeroSMS's library: SMS 1, call 2).
VERIFICATION_SMS = 1
SPEND_REFUSALS = {"spend_limit", "daily_limit", "team_budget", "insufficient_balance"}
CLOSED = (State.CANCELLED, State.EXPIRED, State.REFUNDED, State.FAILED)


@dataclass
class Answer:
    """What the gateway says: a text token, or a JSON body."""

    body: str | dict | list
    status: int = 200

    @property
    def is_json(self) -> bool:
        return not isinstance(self.body, str)

    def content(self) -> str:
        return dumps(self.body) if self.is_json else self.body


def token(text: str) -> Answer:
    return Answer(text)


def dumps(body) -> str:
    """JSON with Decimal amounts written as JSON numbers, digit for digit (no float)."""
    text = json.dumps(body, default=_decimal_marker, ensure_ascii=False, separators=(",", ":"))
    return _MARKER.sub(r"\1", text)


_MARKER = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def _decimal_marker(value):
    if isinstance(value, Decimal):
        return f"\x00{value:f}\x00"
    raise TypeError(f"{type(value).__name__} is not JSON")


# --- dispatch ----------------------------------------------------------------------------------


def polled_activation(action: str, params) -> int | None:
    """The activation a getStatus call asks about, for api.keys.authenticate to read with
    the key (one query per poll); None for every other action."""
    return activation_number(params.get("id")) if action == "getStatus" else None


def handle(key: ApiKey, action: str, params, *, request=None) -> Answer:
    """Run `action` with `params` (a mapping of the request's parameters) for `key`."""
    spec = ACTIONS.get(action)
    if spec is None:
        return token("BAD_ACTION")
    scope, handler = spec
    if not may(key, scope):
        # The protocol has no "forbidden": a key that may not do this is a bad key for it.
        return token("BAD_KEY")
    return handler(key, params, request)


# --- money ------------------------------------------------------------------------------------


def balance_usd(membership) -> Decimal:
    """What the member may still spend, in USD: the least of their daily and monthly
    limits left, the team's monthly budget left (reports.ledger.allowance, in the
    team's reporting currency, converted) and the team's provider balances as last
    seen. 0.00 when none of these is known."""
    left = []
    allowance = ledger.allowance(membership)
    if allowance.left is not None:
        usd = _usd(allowance.left, allowance.currency)
        left.append(usd if usd is not None else Decimal(0))
    funds = _provider_funds_usd(membership.team)
    if funds is not None:
        left.append(funds)
    if not left:
        return Decimal("0.00")
    return max(min(left), Decimal(0)).quantize(CENT, rounding=ROUND_DOWN)


def _provider_funds_usd(team) -> Decimal | None:
    """The sum of the team's enabled provider accounts' last known balances, in USD."""
    rows = team.provider_accounts.filter(enabled=True, balance__isnull=False)
    total, known = Decimal(0), False
    for balance, currency in rows.values_list("balance", "currency"):
        try:
            total += ledger.usd_value(balance, currency)
            known = True
        except ValueError:  # no rate for this currency: leave it out
            continue
    return total if known else None


def _usd(amount: Decimal, currency: str) -> Decimal | None:
    try:
        return ledger.usd_value(amount, currency)
    except ValueError:
        return None


def _money(amount: Decimal | None) -> Decimal:
    """An amount for the wire: 2 places, more only where the amount has them."""
    if amount is None:
        return Decimal("0.00")
    amount = amount.normalize()
    return amount.quantize(CENT) if -amount.as_tuple().exponent <= 2 else amount


def _decimal_param(raw) -> Decimal | str | None:
    """A non-negative Decimal, None when absent, "bad" when unreadable."""
    text = str(raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return "bad"
    return value if value.is_finite() and value >= 0 else "bad"


# --- the team's catalogue in SMS-Activate numbering -----------------------------------------


def _prices(team):
    """Catalogue rows of the team's enabled accounts that map to a canonical service
    and a country SMS-Activate numbers: (slug, name, iso, price, currency, stock)."""
    return CatalogPrice.objects.filter(
        account__team=team,
        account__enabled=True,
        service__service__isnull=False,
        country__country__iso__in=list(numbering.COUNTRY_IDS),
    ).values_list(
        "service__service__slug",
        "service__service__name",
        "country__country__iso",
        "price",
        "currency",
        "stock",
    )


def _country_param(params, *, required: bool):
    """(Country row or None, error Answer or None) for the `country` parameter."""
    raw = params.get("country", "")
    if raw in ("", None):
        if not required:
            return None, None
        raw = "0"  # SMS-Activate's default country
    iso = numbering.iso_for(raw)
    country = Country.objects.filter(iso=iso).first() if iso else None
    return (country, None) if country else (None, token("BAD_COUNTRY"))


def _service_param(params, *, required: bool):
    raw = params.get("service", "")
    if raw in ("", None) and not required:
        return None, None
    slug = numbering.slug_for(raw)
    service = Service.objects.filter(slug=slug).first() if slug else None
    return (service, None) if service else (None, token("BAD_SERVICE"))


def get_balance(key: ApiKey, params, request) -> Answer:
    return token(f"ACCESS_BALANCE:{balance_usd(key.membership):.2f}")


def get_countries(key: ApiKey, params, request) -> Answer:
    isos = {iso for _s, _n, iso, *_ in _prices(key.team)}
    body = {}
    for country in Country.objects.filter(iso__in=isos):
        cid = numbering.country_id(country.iso)
        body[cid] = {
            "id": cid,
            "rus": country.name,
            "eng": country.name,
            "chn": country.name,
            "visible": 1,
            "retry": 1,
            "rent": 0,
            "multiService": 0,
        }
    return Answer({str(cid): body[cid] for cid in sorted(body)})


def get_services_list(key: ApiKey, params, request) -> Answer:
    country, error = _country_param(params, required=False)
    if error:
        return error
    names = {}
    for slug, name, iso, *_ in _prices(key.team):
        if country is None or iso == country.iso:
            names[numbering.service_code(slug)] = name
    services_ = [{"code": c, "name": n} for c, n in sorted(names.items(), key=lambda kv: kv[1])]
    return Answer({"status": "success", "services": services_})


def _offers(key: ApiKey, country, service) -> dict[tuple[int, str], dict]:
    """{(country id, service code): {"cost": cheapest USD in stock, "count": stock}}."""
    found: dict[tuple[int, str], dict] = {}
    for slug, _name, iso, price, currency, stock in _prices(key.team):
        if (country is not None and iso != country.iso) or (
            service is not None and slug != service.slug
        ):
            continue
        usd = _usd(price, currency)
        if usd is None:
            continue
        entry = found.setdefault(
            (numbering.country_id(iso), numbering.service_code(slug)),
            {"cost": None, "count": 0, "any_cost": usd},
        )
        entry["any_cost"] = min(entry["any_cost"], usd)
        if stock is None or stock > 0:
            entry["count"] += stock or 0
            entry["cost"] = usd if entry["cost"] is None else min(entry["cost"], usd)
    return found


def get_prices(key: ApiKey, params, request) -> Answer:
    country, error = _country_param(params, required=False)
    service, error2 = _service_param(params, required=False)
    if error or error2:
        return error or error2
    body: dict[str, dict] = {}
    for (cid, code), entry in sorted(_offers(key, country, service).items()):
        cost = entry["cost"] if entry["cost"] is not None else entry["any_cost"]
        body.setdefault(str(cid), {})[code] = {"cost": _money(cost), "count": entry["count"]}
    return Answer(body)


def get_numbers_status(key: ApiKey, params, request) -> Answer:
    country, error = _country_param(params, required=True)
    if error:
        return error
    offers = _offers(key, country, None)
    return Answer({f"{code}_0": entry["count"] for (_cid, code), entry in sorted(offers.items())})


# --- buying ----------------------------------------------------------------------------------


def _buy(key: ApiKey, params, request) -> ApiOrder | Answer:
    service, error = _service_param(params, required=True)
    if error:
        return error
    country, error = _country_param(params, required=True)
    if error:
        return error
    max_price = _decimal_param(params.get("maxPrice") or params.get("max_price"))
    if max_price == "bad":
        return token("WRONG_MAX_PRICE:0")
    try:
        choices = choices_for(
            key,
            service,
            country,
            max_price_usd=max_price,
            provider=str(params.get("provider") or ""),
        )
    except Refusal as refusal:
        if refusal.reason == "price":
            return token(f"WRONG_MAX_PRICE:{_money(refusal.lowest)}")
        return token("ERROR_SQL" if refusal.reason == "provider" else "NO_NUMBERS")
    try:
        order = place(key, choices, request=request)
    except OrderActionError as exc:
        return _refused(exc)
    link = link_order(
        order,
        key,
        country_code=str(numbering.country_id(country.iso)),
        service_code=numbering.service_code(service.slug),
    )
    if not order.phone_number:
        # The provider's answer was lost: smsdesk finds out (the board shows it
        # meanwhile); the tool is told to try later rather than given a number.
        return token("ERROR_SQL")
    return link


def _refused(exc: OrderActionError) -> Answer:
    if exc.category == "out_of_stock":
        return token("NO_NUMBERS")
    if exc.category in SPEND_REFUSALS:
        return token("NO_BALANCE")
    if exc.category == "price_too_high":
        return token("WRONG_MAX_PRICE:0")
    if exc.category == "forbidden":
        return token("BAD_KEY")
    return token("ERROR_SQL")


def _digits(order: Order) -> str:
    return order.international_number.lstrip("+")


def get_number(key: ApiKey, params, request) -> Answer:
    link = _buy(key, params, request)
    if isinstance(link, Answer):
        return link
    return token(f"ACCESS_NUMBER:{link.activation_id}:{_digits(link.order)}")


def get_number_v2(key: ApiKey, params, request) -> Answer:
    link = _buy(key, params, request)
    if isinstance(link, Answer):
        return link
    order = link.order
    return Answer(
        {
            "activationId": link.activation_id,
            "phoneNumber": _digits(order),
            "activationCost": _money(_cost_usd(order)),
            "currency": USD_NUMERIC,
            "countryCode": link.country_code,
            "canGetAnotherSms": order.account.supports(Capability.RESEND),
            "activationTime": _plain_time(order.created),
            "activationEndTime": _plain_time(order.expires_at),
            "activationOperator": "any",
        }
    )


def _cost_usd(order: Order) -> Decimal | None:
    return _usd(order.cost, order.currency) if order.cost is not None else None


def _plain_time(when) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S") if when else ""


# --- following an activation (from smsdesk's own state) ---------------------------------------


def _status_token(state: str, last_code: str) -> str:
    if state in CLOSED:
        return "STATUS_CANCEL"
    if state == State.RESEND_REQUESTED:
        return f"STATUS_WAIT_RETRY:{last_code}" if last_code else "STATUS_WAIT_RESEND"
    if last_code and state in (State.RECEIVED, State.COMPLETED):
        return f"STATUS_OK:{last_code}"
    if state == State.COMPLETED:
        return "STATUS_CANCEL"  # finished without a code: nothing more will come
    return "STATUS_WAIT_CODE"


def get_status(key: ApiKey, params, request) -> Answer:
    found = activation_state(key, params.get("id"))
    return token(_status_token(*found)) if found else token("NO_ACTIVATION")


def _last_message(order: Order):
    return order.messages.order_by("-received_at", "-id").first()


def get_full_sms(key: ApiKey, params, request) -> Answer:
    link = find_activation(key, params.get("id"))
    if link is None:
        return token("NO_ACTIVATION")
    order = link.order
    if order.state in CLOSED:
        return token("STATUS_CANCEL")
    message = _last_message(order) if order.last_code else None
    if message is None:
        return token("STATUS_WAIT_CODE")
    return token(f"FULL_SMS:{message.text or message.code}")


def get_status_v2(key: ApiKey, params, request) -> Answer:
    link = find_activation(key, params.get("id"))
    if link is None:
        return token("NO_ACTIVATION")
    order = link.order
    message = _last_message(order) if order.last_code else None
    sms = None
    if message is not None and order.state != State.RESEND_REQUESTED:
        sms = {
            "dateTime": _plain_time(message.received_at),
            "code": message.code,
            "text": message.text,
        }
    return Answer({"verificationType": VERIFICATION_SMS, "sms": sms, "call": None})


def get_active_activations(key: ApiKey, params, request) -> Answer:
    links = (
        ApiOrder.objects.filter(team_id=key.team_id, user_id=key.user_id)
        .filter(order__state__in=ACTIVE_STATES)
        .select_related("order__account")
        .prefetch_related("order__messages")
        .order_by("created", "id")
    )
    rows = [_activation_row(link) for link in links]
    if not rows:
        return Answer({"status": "error", "error": "NO_ACTIVATIONS"})
    return Answer({"status": "success", "activeActivations": rows})


def _activation_row(link: ApiOrder) -> dict:
    order = link.order
    messages = list(order.messages.all())
    codes = [m.code for m in messages if m.code]
    return {
        "activationId": str(link.activation_id),
        "serviceCode": link.service_code,
        "phoneNumber": _digits(order),
        "activationCost": f"{_money(_cost_usd(order))}",
        # "4" waits for a code (the documented value); "3" waits for another one.
        "activationStatus": "3" if order.state == State.RESEND_REQUESTED else "4",
        "smsCode": codes or None,
        "smsText": messages[-1].text if messages else None,
        "activationTime": _plain_time(order.created),
        "discount": "0.00",
        "repeated": "0",
        "countryCode": link.country_code,
        "countryName": order.country_name,
        "canGetAnotherSms": "1" if order.account.supports(Capability.RESEND) else "0",
        "currency": USD_NUMERIC,
    }


# --- setStatus --------------------------------------------------------------------------------


def set_status(key: ApiKey, params, request) -> Answer:
    link = find_activation(key, params.get("id"))
    if link is None:
        return token("NO_ACTIVATION")
    handler = STATUS_HANDLERS.get(str(params.get("status") or "").strip())
    if handler is None:
        return token("BAD_STATUS")
    order = Order.objects.select_related("account", "team").get(pk=link.order_id)
    try:
        return handler(order, key, request)
    except OrderActionError:
        return token("BAD_STATUS")


def _ready(order: Order, key: ApiKey, request) -> Answer:
    return token("ACCESS_READY" if order.is_active else "BAD_STATUS")


def _another(order: Order, key: ApiKey, request) -> Answer:
    services.order_resend(order=order, actor=key.user, request=request)
    return token("ACCESS_RETRY_GET")


def _finish(order: Order, key: ApiKey, request) -> Answer:
    if order.state != State.COMPLETED:
        services.order_complete(order=order, actor=key.user, request=request)
    return token("ACCESS_ACTIVATION")


def _cancel(order: Order, key: ApiKey, request) -> Answer:
    if order.state in CLOSED:
        return token("ACCESS_CANCEL")  # already cancelled: answering the same is safe
    try:
        services.order_cancel(order=order, actor=key.user, request=request)
    except CancelLocked:
        return token("EARLY_CANCEL_DENIED")
    return token("ACCESS_CANCEL")


STATUS_HANDLERS: dict[str, Callable] = {
    "1": _ready,
    "3": _another,
    "6": _finish,
    "8": _cancel,
    "-1": _cancel,  # some clones cancel with -1
}

ACTIONS: dict[str, tuple[Scope, Callable]] = {
    "getBalance": (Scope.READ, get_balance),
    "getCountries": (Scope.READ, get_countries),
    "getServicesList": (Scope.READ, get_services_list),
    "getPrices": (Scope.READ, get_prices),
    "getNumbersStatus": (Scope.READ, get_numbers_status),
    "getNumber": (Scope.ORDER, get_number),
    "getNumberV2": (Scope.ORDER, get_number_v2),
    "getStatus": (Scope.READ, get_status),
    "getStatusV2": (Scope.READ, get_status_v2),
    "getFullSms": (Scope.READ, get_full_sms),
    "setStatus": (Scope.ORDER, set_status),
    "getActiveActivations": (Scope.READ, get_active_activations),
}

__all__ = ["ACTIONS", "Answer", "balance_usd", "handle", "polled_activation"]
