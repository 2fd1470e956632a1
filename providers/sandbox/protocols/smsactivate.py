"""The SMS-Activate text protocol (handler_api), generic and as SMSPool's stub.

Mounted twice: under /smsactivate for a generic SMS-Activate clone with its
own accounts and rentals, and inside /smspool at /stubs/handler_api where it
shares the SMSPool account, balance and orders (SMS-Activate country and
service ids unless `setting=smspool`; no rentals there).

Each mount speaks a dialect (`config.dialect`): "full" answers every action;
"minimal" answers BAD_ACTION, as the protocol does for an action a host lacks,
to the catalogue and bulk actions. SMSPool's stub in "minimal" keeps only what
SMSPool lists (smspool-api-overview-status-codes.txt: pool, maxPrice, action,
country, service; no getNumberV2).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from providers.sandbox import catalog
from providers.sandbox.http import Reply, Request, json_reply, text_reply
from providers.sandbox.protocols.base import (
    Protocol,
    iso_time,
    money2,
    plain_time,
    retry_after_header,
)
from providers.sandbox.state import (
    CANCELLED,
    EXPIRED,
    RENTAL_ACTIVE,
    RENTAL_REFUNDED,
    WAITING,
    Account,
    Order,
    Rental,
    SandboxError,
)

USD_NUMERIC = 840  # ISO 4217 numeric code, as SMS-Activate reports currency
HOUR = 3600

# What a "minimal" SMS-Activate host lacks: the catalogue and the bulk lists.
CATALOGUE_AND_BULK = frozenset(
    {
        "getCountries",
        "getServicesList",
        "getPrices",
        "getNumbersStatus",
        "getActiveActivations",
        "getRentServicesAndCountries",
        "getRentList",
    }
)
# All that SMSPool's stub answers in "minimal": buying, polling, status, balance.
STUB_MINIMAL = frozenset({"getBalance", "getNumber", "getStatus", "setStatus", "getFullSms"})


def token(text: str) -> Reply:
    return text_reply(200, text)


def rent_error(message: str) -> Reply:
    return json_reply(200, {"status": "error", "message": message})


class SmsActivate(Protocol):
    """handler_api for one account family (`smsactivate`, or `smspool` as the stub)."""

    prefix = "/smsactivate"

    def __init__(self, state, family: str = "smsactivate", stub: bool = False):
        self.family = family
        self.name = family
        self.stub = stub
        super().__init__(state)

    def setup_routes(self) -> None:
        self.router.add(
            "GET POST", r"(?:/stubs)?/handler_api(?:\.php)?", self.dispatch, "handler_api"
        )
        self.actions = {
            "getBalance": self.get_balance,
            "getCountries": self.get_countries,
            "getServicesList": self.get_services,
            "getPrices": self.get_prices,
            "getNumbersStatus": self.get_numbers_status,
            "getNumber": self.get_number,
            "getNumberV2": self.get_number_v2,
            "getStatus": self.get_status,
            "getFullSms": self.get_full_sms,
            "setStatus": self.set_status,
            "getActiveActivations": self.get_active,
        }
        if not self.stub:  # SMSPool rents through its own API, not the stub
            self.actions.update(
                {
                    "getRentServicesAndCountries": self.rent_catalog,
                    "getRentNumber": self.rent_number,
                    "getRentStatus": self.rent_status,
                    "setRentStatus": self.set_rent_status,
                    "getRentList": self.rent_list,
                    "continueRentNumber": self.continue_rent,
                }
            )

    def api_key(self, request: Request) -> str:
        return request.value("api_key")

    def endpoint(self, request: Request) -> str:
        if self.router.match(request.method, request.path) is None:
            return "?"
        return request.value("action") or "-"

    def not_found(self, request: Request) -> Reply:
        return text_reply(404, "BAD_ACTION")

    def rate_limited(self, request: Request, retry_after: float) -> Reply:
        reply = text_reply(429, "TOO_MANY_REQUESTS")
        reply.headers.update(retry_after_header(retry_after))
        return reply

    def malformed(self, request: Request) -> Reply:
        return Reply(
            200, b'{"status":"success","activeActivations":[{"activationId":"63', "application/json"
        )

    def dispatch(self, request: Request) -> Reply:
        account = self.state.account(self.family, self.api_key(request))
        if account is None:
            return token("BAD_KEY")
        name = request.value("action")
        action = self.actions.get(name)
        if action is None or not self._speaks(name, account.api_key):
            return token("BAD_ACTION")
        return action(request, account)

    def _speaks(self, action: str, api_key: str) -> bool:
        """Whether the dialect this key is served in has `action`."""
        scope = "smspool_stub" if self.stub else "smsactivate"
        if self.state.config.dialect(scope, api_key) != "minimal":
            return True
        return action in STUB_MINIMAL if self.stub else action not in CATALOGUE_AND_BULK

    # --- id mapping -------------------------------------------------------------------
    def _smspool_ids(self, request: Request) -> bool:
        return self.stub and request.value("setting").lower() == "smspool"

    def _offers_of(self) -> str:
        return "smspool" if self.stub else "smsactivate"

    def _country(self, request: Request, raw: str) -> catalog.CountryInfo | None:
        if self._smspool_ids(request):
            return catalog.smspool_country(raw)
        return catalog.smsactivate_country(raw)

    def _service(self, request: Request, raw: str) -> catalog.ServiceInfo | None:
        if self._smspool_ids(request):
            return catalog.smspool_service(raw)
        return catalog.smsactivate_service(raw)

    def _country_id(self, request: Request, country: catalog.CountryInfo) -> int | None:
        return country.smspool_id if self._smspool_ids(request) else country.smsactivate_id

    def _service_code(self, request: Request, service: catalog.ServiceInfo) -> str:
        if self._smspool_ids(request):
            return str(service.smspool_id)
        return service.smsactivate_code or service.slug

    # --- catalog ------------------------------------------------------------------------
    def get_balance(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        return token(f"ACCESS_BALANCE:{money2(account.balance)}")

    def _countries(self, request: Request) -> list[catalog.CountryInfo]:
        return [c for c in catalog.COUNTRIES if self._country_id(request, c) is not None]

    def get_countries(self, request: Request, account: Account) -> Reply:
        rentable = set(catalog.SMSACTIVATE_RENT_COUNTRIES) if not self.stub else set()
        body = {}
        for country in sorted(self._countries(request), key=lambda c: self._country_id(request, c)):
            cid = self._country_id(request, country)
            body[str(cid)] = {
                "id": cid,
                "rus": country.name,
                "eng": country.name,
                "chn": country.name,
                "visible": 1,
                "retry": 1,
                "rent": int(country.iso in rentable),
                "multiService": 1,
            }
        return json_reply(200, body)

    def _offers(self, request: Request, country: catalog.CountryInfo | None, service=None):
        for (slug, iso), offer in catalog.offers(self._offers_of()).items():
            if (country is None or iso == country.iso) and (
                service is None or slug == service.slug
            ):
                yield catalog.SERVICE_BY_SLUG[slug], catalog.COUNTRY_BY_ISO[iso], offer

    def _stock(self, offer: catalog.Offer) -> int:
        return 0 if self.state.config.is_out_of_stock(self.family, offer.country) else offer.stock

    def get_services(self, request: Request, account: Account) -> Reply:
        country = (
            self._country(request, request.value("country")) if request.value("country") else None
        )
        seen: dict[str, str] = {}
        for service, _country, _offer in self._offers(request, country):
            seen.setdefault(self._service_code(request, service), service.name)
        services = [
            {"code": code, "name": name}
            for code, name in sorted(seen.items(), key=lambda kv: kv[1])
        ]
        return json_reply(200, {"status": "success", "services": services})

    def get_prices(self, request: Request, account: Account) -> Reply:
        country = (
            self._country(request, request.value("country")) if request.value("country") else None
        )
        service = (
            self._service(request, request.value("service")) if request.value("service") else None
        )
        body: dict[str, dict] = {}
        for svc, where, offer in self._offers(request, country, service):
            cid = str(self._country_id(request, where))
            entry = {"cost": float(offer.price), "count": self._stock(offer)}
            body.setdefault(cid, {})[self._service_code(request, svc)] = entry
        return json_reply(200, body)

    def get_numbers_status(self, request: Request, account: Account) -> Reply:
        country = self._country(request, request.value("country") or "0")
        if country is None:
            return token("BAD_COUNTRY")
        body = {
            f"{self._service_code(request, svc)}_0": self._stock(offer)
            for svc, _where, offer in self._offers(request, country)
        }
        return json_reply(200, body)

    # --- activations --------------------------------------------------------------------
    def _buy(self, request: Request, account: Account) -> Order | Reply:
        service = self._service(request, request.value("service"))
        if service is None:
            return token("BAD_SERVICE")
        country = self._country(request, request.value("country") or "0")
        if country is None:
            return token("BAD_COUNTRY")
        offer = catalog.offer(self._offers_of(), service.slug, country.iso)
        if offer is None or self._stock(offer) <= 0:
            return token("NO_NUMBERS")
        price, pool = offer.price, None
        if self.stub:
            pools = [p for p in offer.pools if p[2] > 0]
            wanted = catalog.smspool_pool(request.value("pool")) if request.value("pool") else None
            if wanted is not None:
                pools = [p for p in pools if p[0] == wanted]
            if not pools:
                return token("NO_NUMBERS")
            pool, price = pools[0][0], pools[0][1]
        cap = _decimal(request.value("maxPrice") or request.value("max_price"))
        if cap is not None and price > cap:
            return token(f"WRONG_MAX_PRICE:{money2(price)}")
        try:
            return self.state.create_order(
                account,
                service=service.slug,
                country=country.iso,
                price=price,
                pool=pool,
                via="stub" if self.stub else "api",
            )
        except SandboxError:
            return token("NO_BALANCE")

    def get_number(self, request: Request, account: Account) -> Reply:
        order = self._buy(request, account)
        if isinstance(order, Reply):
            return order
        return token(f"ACCESS_NUMBER:{order.id}:{order.e164}")

    def get_number_v2(self, request: Request, account: Account) -> Reply:
        order = self._buy(request, account)
        if isinstance(order, Reply):
            return order
        country = catalog.COUNTRY_BY_ISO[order.country]
        return json_reply(
            200,
            {
                "activationId": int(order.id) if order.id.isdigit() else order.id,
                "phoneNumber": order.e164,
                "activationCost": float(order.price),
                "currency": USD_NUMERIC,
                "countryCode": str(self._country_id(request, country)),
                "canGetAnotherSms": True,
                "activationTime": plain_time(order.created_at),
                "activationEndTime": plain_time(order.expires_at),
                "activationOperator": "any",
            },
        )

    def _order(self, request: Request, account: Account) -> Order | None:
        order_id = request.value("id")
        return self.state.order(self.family, account.api_key, order_id) if order_id else None

    def get_status(self, request: Request, account: Account) -> Reply:
        order = self._order(request, account)
        if order is None:
            return token("NO_ACTIVATION")
        if order.status in (CANCELLED, EXPIRED):
            return token("STATUS_CANCEL")
        if order.status == WAITING:
            return token("STATUS_WAIT_CODE")
        self.state.mark_fetched(order)
        code = order.code or order.last_message.text
        if order.retry_pending:
            return token(f"STATUS_WAIT_RETRY:{code}")
        return token(f"STATUS_OK:{code}")

    def get_full_sms(self, request: Request, account: Account) -> Reply:
        order = self._order(request, account)
        if order is None:
            return token("NO_ACTIVATION")
        if order.status in (CANCELLED, EXPIRED):
            return token("STATUS_CANCEL")
        if not order.messages:
            return token("STATUS_WAIT_CODE")
        self.state.mark_fetched(order)
        return token(f"FULL_SMS:{order.last_message.text}")

    def set_status(self, request: Request, account: Account) -> Reply:
        order = self._order(request, account)
        if order is None:
            return token("NO_ACTIVATION")
        status = request.value("status").strip()
        handlers = {
            "1": self._ready,
            "3": self._retry,
            "6": self._finish,
            "8": self._cancel,
            "-1": self._cancel,
        }
        handler = handlers.get(status)
        return handler(order) if handler else token("BAD_STATUS")

    def _ready(self, order: Order) -> Reply:
        if not order.is_open:
            return token("BAD_STATUS")
        order.ready = True
        return token("ACCESS_READY")

    def _retry(self, order: Order) -> Reply:
        try:
            self.state.request_another(order)
        except SandboxError:
            return token("BAD_STATUS")
        return token("ACCESS_RETRY_GET")

    def _finish(self, order: Order) -> Reply:
        if order.status == "finished":
            return token("ACCESS_ACTIVATION")
        try:
            self.state.finish(order)
        except SandboxError:
            return token("BAD_STATUS")
        return token("ACCESS_ACTIVATION")

    def _cancel(self, order: Order) -> Reply:
        if order.status in (CANCELLED, EXPIRED):
            return token("ACCESS_CANCEL")  # already refunded; answering the same is safe
        try:
            self.state.cancel(order)
        except SandboxError as exc:
            return token("EARLY_CANCEL_DENIED" if exc.reason == "locked" else "BAD_STATUS")
        return token("ACCESS_CANCEL")

    def get_active(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        rows = [self._activation(request, o) for o in reversed(account.open_orders.values())]
        if not rows:
            return json_reply(200, {"status": "error", "error": "NO_ACTIVATIONS"})
        return json_reply(200, {"status": "success", "activeActivations": rows})

    def _activation(self, request: Request, order: Order) -> dict:
        service = catalog.SERVICE_BY_SLUG[order.service]
        country = catalog.COUNTRY_BY_ISO[order.country]
        if order.messages:
            self.state.mark_fetched(order)
        codes = [m.code for m in order.messages if m.code]
        return {
            "activationId": order.id,
            "serviceCode": self._service_code(request, service),
            "phoneNumber": order.e164,
            "activationCost": money2(order.price),
            # "4" waits for a code (the documented value); "3" waits for another one.
            "activationStatus": "3" if order.retry_pending else "4",
            "smsCode": codes or None,
            "smsText": order.last_message.text if order.messages else None,
            "activationTime": plain_time(order.created_at),
            "discount": "0.00",
            "repeated": "0",
            "countryCode": str(self._country_id(request, country)),
            "countryName": country.name,
            "canGetAnotherSms": "1",
            "currency": USD_NUMERIC,
        }

    # --- rentals (generic SMS-Activate only) ----------------------------------------------
    def _hours(self, request: Request) -> int | None:
        raw = request.value("rent_time") or request.value("hours") or "4"
        low, high = catalog.SMSACTIVATE_RENT_HOURS
        return int(raw) if raw.isdigit() and low <= int(raw) <= high else None

    def rent_catalog(self, request: Request, account: Account) -> Reply:
        hours = self._hours(request) or 4
        country = catalog.smsactivate_country(request.value("country") or "187")
        rentable = [catalog.COUNTRY_BY_ISO[iso] for iso in catalog.SMSACTIVATE_RENT_COUNTRIES]
        services = {}
        if country is not None and country.iso in catalog.SMSACTIVATE_RENT_COUNTRIES:
            for slug in catalog.SMSACTIVATE_RENT_SERVICES:
                code = catalog.SERVICE_BY_SLUG[slug].smsactivate_code
                services[code] = {
                    "cost": float(catalog.smsactivate_rent_price(slug, country.iso, hours)),
                    "quant": catalog.smsactivate_rent_stock(slug, country.iso),
                }
        return json_reply(
            200,
            {
                "countries": {str(i): c.smsactivate_id for i, c in enumerate(rentable)},
                "operators": {"0": "any"},
                "services": services,
                "currency": USD_NUMERIC,
            },
        )

    def rent_number(self, request: Request, account: Account) -> Reply:
        service = catalog.smsactivate_service(request.value("service"))
        if service is None or service.slug not in catalog.SMSACTIVATE_RENT_SERVICES:
            return rent_error("BAD_SERVICE")
        country = catalog.smsactivate_country(request.value("country") or "187")
        if country is None or country.iso not in catalog.SMSACTIVATE_RENT_COUNTRIES:
            return rent_error("BAD_COUNTRY")
        hours = self._hours(request)
        if hours is None:
            return rent_error("BAD_TIME")
        if self.state.config.is_out_of_stock(self.family, country.iso):
            return rent_error("NO_NUMBERS")
        price = catalog.smsactivate_rent_price(service.slug, country.iso, hours)
        try:
            rental = self.state.create_rental(
                account,
                country=country.iso,
                service=service.slug,
                price=price,
                duration=hours * HOUR,
                product=str(hours),
                hours=hours,
            )
        except SandboxError:
            return rent_error("NO_BALANCE")
        return json_reply(200, {"status": "success", "phone": self._phone(rental)})

    def _phone(self, rental: Rental) -> dict:
        return {
            "id": int(rental.id),
            "endDate": iso_time(rental.expires_at)[:-1],
            "number": rental.e164,
        }

    def _rental(self, request: Request, account: Account) -> Rental | None:
        rental_id = request.value("id")
        return self.state.rental(self.family, account.api_key, rental_id) if rental_id else None

    def rent_status(self, request: Request, account: Account) -> Reply:
        rental = self._rental(request, account)
        if rental is None:
            return rent_error("NO_ID_RENT")
        if rental.status == RENTAL_REFUNDED:
            return rent_error("STATUS_CANCEL")
        if rental.status != RENTAL_ACTIVE:
            return rent_error("STATUS_FINISH")
        if not rental.messages:
            return rent_error("STATUS_WAIT_CODE")
        self.state.mark_rental_fetched(rental)
        values = {
            str(i): {
                "phoneFrom": m.sender,
                "text": m.text,
                "service": catalog.SERVICE_BY_SLUG[rental.service].smsactivate_code,
                "date": plain_time(m.delivered_at),
            }
            for i, m in enumerate(reversed(rental.messages))
        }
        return json_reply(
            200, {"status": "success", "quantity": str(len(values)), "values": values}
        )

    def set_rent_status(self, request: Request, account: Account) -> Reply:
        rental = self._rental(request, account)
        if rental is None:
            return rent_error("NO_ID_RENT")
        status = request.value("status").strip()
        if status not in ("1", "2"):
            return rent_error("BAD_STATUS")
        if rental.status != RENTAL_ACTIVE:
            return rent_error(
                "ALREADY_CANCEL" if rental.status == RENTAL_REFUNDED else "ALREADY_FINISH"
            )
        if status == "1":
            self.state.finish_rental(rental)
            return json_reply(200, {"status": "success"})
        window = self.state.scaled(self.state.config.smsactivate_rent_cancel_seconds)
        if self.state.now() - rental.created_at > window:
            return rent_error("CANT_CANCEL")
        self.state.refund_rental(rental, "rent cancelled")
        return json_reply(200, {"status": "success"})

    def rent_list(self, request: Request, account: Account) -> Reply:
        self.state.settle_account(account)
        active = [r for r in account.rentals.values() if r.status == RENTAL_ACTIVE]
        values = {
            str(i): {"id": r.id, "phone": r.e164, "endDate": iso_time(r.expires_at)[:-1]}
            for i, r in enumerate(active)
        }
        return json_reply(200, {"status": "success", "values": values})

    def continue_rent(self, request: Request, account: Account) -> Reply:
        rental = self._rental(request, account)
        if rental is None:
            return rent_error("NO_ID_RENT")
        hours = self._hours(request)
        if hours is None:
            return rent_error("BAD_TIME")
        if rental.status != RENTAL_ACTIVE:
            return rent_error("RENT_DIE")
        price = catalog.smsactivate_rent_price(rental.service, rental.country, hours)
        try:
            self.state.extend_rental(rental, price, hours * HOUR, "rent extended")
        except SandboxError as exc:
            return rent_error("NO_BALANCE" if exc.reason == "balance" else "RENT_DIE")
        return json_reply(200, {"status": "success", "phone": self._phone(rental)})


def _decimal(raw: str) -> Decimal | None:
    if not raw:
        return None
    try:
        return Decimal(raw.strip())
    except InvalidOperation:
        return None
