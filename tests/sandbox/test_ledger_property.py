"""Property: whatever customers do, every account's money adds up.

Random sequences of purchases, cancels, deliveries, resends, finishes, clock
jumps (which expire orders and rentals), rentals, extensions, refunds and
balance changes run over real HTTP against all four protocols. Afterwards,
for every account: balance == initial + adjustments - charges + refunds, the
balance the protocol reports is the ledger's, no order or rental is refunded
more than it was charged, and no balance is negative.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.sandbox import SandboxServer
from tests.sandbox.helpers import Api, make_server

PROTOCOLS = ("smspool", "numpool", "smscode", "smsactivate")
OPS = (
    "buy",
    "buy",
    "cancel",
    "deliver",
    "resend",
    "finish",
    "advance",
    "rent",
    "extend",
    "refund",
    "auto",
    "balance",
)
JUMPS = (5, 31, 300, 1250, 2 * 86400)


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    server = make_server(rate_limits_enabled=False, no_code_share=0.3)
    yield server
    server.stop()


class Customer:
    """Drives one key per protocol and remembers its order and rental ids."""

    def __init__(self, server: SandboxServer):
        self.api = Api(server)
        self.server = server
        self.key = f"sbx_prop_{uuid.uuid4().hex[:10]}"
        self.orders: dict[str, list[str]] = defaultdict(list)
        self.rentals: dict[str, list[str]] = defaultdict(list)

    def pick(self, ids: list[str], index: int) -> str | None:
        return ids[index % len(ids)] if ids else None

    # --- operations ------------------------------------------------------------------
    def buy(self, protocol: str, index: int) -> None:
        api, key = self.api, self.key
        if protocol == "smspool":
            country = ("US", "GB", "NL")[index % 3]
            body = api.smspool("/purchase/sms", key, country=country, service="WhatsApp").json()
            found = body.get("order_id")
        elif protocol == "numpool":
            found = (
                api.numpool("POST", "/buy", key, json={"service": "tg", "country": 28})
                .json()
                .get("order_id")
            )
        elif protocol == "smscode":
            data = api.smscode(
                "POST", "/v1/orders/create", key, json={"catalog_product_id": 10601}
            ).json()
            found = data["data"]["orders"][0]["id"] if data.get("success") else None
        else:
            text = api.sa(key, "getNumber", service="wa", country="187").text
            found = text.split(":")[1] if text.startswith("ACCESS_NUMBER") else None
        if found:
            self.orders[protocol].append(str(found))

    def cancel(self, protocol: str, index: int) -> None:
        order = self.pick(self.orders[protocol], index)
        if order is None:
            return
        api, key = self.api, self.key
        if protocol == "smspool":
            api.smspool("/sms/cancel", key, orderid=order)
        elif protocol == "numpool":
            api.numpool("POST", f"/cancel/{order}", key)
        elif protocol == "smscode":
            api.smscode("POST", "/v1/orders/cancel", key, json={"id": int(order)})
        else:
            api.sa(key, "setStatus", id=order, status="8")

    def deliver(self, protocol: str, index: int) -> None:
        order = self.pick(self.orders[protocol], index)
        if order is not None:
            self.api.control("POST", f"/orders/{protocol}/{order}/deliver", {})

    def resend(self, protocol: str, index: int) -> None:
        order = self.pick(self.orders[protocol], index)
        if order is None:
            return
        api, key = self.api, self.key
        if protocol == "smspool":
            body = api.smspool("/sms/resend", key, orderid=order).json()
            if body.get("success") == 1:
                self.orders[protocol].append(body["order_id"])
        elif protocol == "smscode":
            api.smscode("POST", "/v1/orders/resend", key, json={"id": int(order)})
        elif protocol == "smsactivate":
            api.sa(key, "setStatus", id=order, status="3")

    def finish(self, protocol: str, index: int) -> None:
        order = self.pick(self.orders[protocol], index)
        if order is None:
            return
        if protocol == "smscode":
            self.api.smscode("POST", "/v1/orders/finish", self.key, json={"id": int(order)})
        elif protocol == "smsactivate":
            self.api.sa(self.key, "setStatus", id=order, status="6")

    def advance(self, protocol: str, index: int) -> None:
        self.api.advance(JUMPS[index % len(JUMPS)])

    def rent(self, protocol: str, index: int) -> None:
        api, key = self.api, self.key
        if protocol == "smspool":
            found = (
                api.smspool("/purchase/rental", key, id=(2, 3)[index % 2], days=(1, 3)[index % 2])
                .json()
                .get("rental_code")
            )
        elif protocol == "numpool":
            body = {"service": "discord", "duration": "oneDay"}
            found = api.numpool("POST", "/rentals", key, json=body).json().get("rental_id")
        elif protocol == "smsactivate":
            body = api.sa(key, "getRentNumber", service="wa", country="187", rent_time="4").json()
            found = body["phone"]["id"] if body.get("status") == "success" else None
        else:
            found = None
        if found:
            self.rentals[protocol].append(str(found))

    def extend(self, protocol: str, index: int) -> None:
        rental = self.pick(self.rentals[protocol], index)
        if rental is None:
            return
        if protocol == "smspool":
            days = ("30", "7")[index % 2]
            self.api.smspool("/rental/extend", self.key, rental_code=rental, days=days)
        elif protocol == "smsactivate":
            self.api.sa(self.key, "continueRentNumber", id=rental, rent_time="4")

    def refund(self, protocol: str, index: int) -> None:
        rental = self.pick(self.rentals[protocol], index)
        if rental is None:
            return
        if protocol == "smspool":
            self.api.smspool("/rental/refund", self.key, rental_code=rental)
        elif protocol == "smsactivate":
            self.api.sa(self.key, "setRentStatus", id=rental, status="2")

    def auto(self, protocol: str, index: int) -> None:
        rental = self.pick(self.rentals["smspool"], index)
        if rental is not None:
            self.api.smspool("/rental/auto_extend", self.key, rental_code=rental)

    def balance(self, protocol: str, index: int) -> None:
        amount = "3800" if protocol == "smscode" else ("0.50", "25.00", "150.00")[index % 3]
        self.api.set_balance(protocol, self.key, amount)

    # --- checks ------------------------------------------------------------------------
    def reported_balance(self, protocol: str) -> Decimal:
        api, key = self.api, self.key
        if protocol == "smspool":
            return Decimal(api.smspool("/request/balance", key).json()["balance"])
        if protocol == "numpool":
            return Decimal(str(api.numpool("GET", "/balance", key).json()["balance"]))
        if protocol == "smscode":
            return Decimal(api.smscode("GET", "/v1/balance", key).json()["data"]["balance"])
        return Decimal(api.sa(key, "getBalance").text.split(":")[1])


def check_account(customer: Customer, protocol: str) -> None:
    reported = customer.reported_balance(protocol)
    account = customer.api.account(protocol, customer.key)
    balance = Decimal(account["balance"])
    expected = (
        Decimal(account["initial_balance"])
        + Decimal(account["adjustments"])
        - Decimal(account["charges"])
        + Decimal(account["refunds"])
    )
    assert balance == expected
    assert reported == balance
    assert balance >= 0
    per_ref: dict[str, Decimal] = defaultdict(Decimal)
    for entry in account["ledger"]:
        if entry["kind"] == "charge":
            per_ref[entry["ref"]] += Decimal(entry["amount"])
        elif entry["kind"] == "refund":
            per_ref[entry["ref"]] -= Decimal(entry["amount"])
    assert all(left >= 0 for left in per_ref.values()), per_ref


operation = st.tuples(st.sampled_from(OPS), st.sampled_from(PROTOCOLS), st.integers(0, 50))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=1, max_size=25))
def test_it_keeps_every_balance_equal_to_its_ledger(shared, steps):
    customer = Customer(shared)
    for op, protocol, index in steps:
        getattr(customer, op)(protocol, index)
    for protocol in PROTOCOLS:
        check_account(customer, protocol)
