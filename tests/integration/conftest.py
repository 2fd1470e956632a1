"""The real provider clients against the built-in sandbox, over real HTTP.

No mocks: every test starts a sandbox on an ephemeral port, builds the real
client for one protocol with a real Transport, and drives it. Time moves with
the sandbox clock (never sleeps), codes arrive when a test delivers them, and
every flow ends by checking the sandbox's books against what the client said.

`Upstream` wraps one server: clients, the simulated state (deliver, advance,
accounts and ledgers) and the control API (failure queue, stats, knobs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from providers.clients import client_class
from providers.clients.base import ProviderClient
from providers.errors import RateLimited
from providers.http import Transport
from providers.sandbox import SandboxServer
from providers.sandbox.state import Account, LedgerEntry, Order, Rental
from tests.conftest import SANDBOX_PREFIXES, start_sandbox

CONTROL_TIMEOUT = 5


def no_sleep(seconds: float) -> None:
    """The Transport's and wake_rental's pause, skipped: tests move the sandbox clock."""


class Upstream:
    """One running sandbox and the helpers the integration tests share."""

    def __init__(self, server: SandboxServer):
        self.server = server
        self.state = server.state
        self.http = requests.Session()

    # --- clients -------------------------------------------------------------------------
    def key(self, label: str = "") -> str:
        return f"sbx_{label}{uuid.uuid4().hex[:10]}"

    def base_url(self, kind: str) -> str:
        return self.server.base_url + SANDBOX_PREFIXES[kind]

    def client(
        self,
        kind: str,
        key: str | None = None,
        *,
        currency: str = "",
        **transport: Any,
    ) -> ProviderClient:
        """The real client for `kind` at the sandbox; one attempt, no budget, no sleeping.

        Pass Transport options (max_attempts, timeout, sleep) to change that.
        """
        key = key or self.key(kind)
        options: dict[str, Any] = {"budget": None, "max_attempts": 1, "sleep": no_sleep}
        options.update(transport)
        return client_class(kind)(
            base_url=self.base_url(kind),
            api_key=key,
            currency=currency,
            transport=Transport(label=kind, secrets=(key,), **options),
        )

    # --- the simulated upstream -------------------------------------------------------------
    def account(self, protocol: str, key: str) -> Account:
        with self.state.lock:
            account = self.state.accounts[(protocol, key)]
            self.state.settle_account(account)
            return account

    def orders(self, protocol: str, key: str) -> list[Order]:
        """Every order of the account, oldest first; [] when it was never opened."""
        with self.state.lock:
            account = self.state.accounts.get((protocol, key))
            return list(account.orders.values()) if account else []

    def order(self, protocol: str, key: str, order_id: str) -> Order:
        with self.state.lock:
            order = self.state.order(protocol, key, order_id)
        assert order is not None, f"the sandbox has no {protocol} order {order_id}"
        return order

    def expires_at(self, protocol: str, key: str, order_id: str) -> datetime:
        """The order's upstream expiry, to the second, as the wire carries it."""
        return datetime.fromtimestamp(int(self.order(protocol, key, order_id).expires_at), UTC)

    def rental(self, protocol: str, key: str, rental_id: str) -> Rental:
        with self.state.lock:
            rental = self.state.rental(protocol, key, rental_id)
        assert rental is not None, f"the sandbox has no {protocol} rental {rental_id}"
        return rental

    def deliver(self, protocol: str, key: str, order_id: str, text: str) -> str:
        """The SMS `text` arrives on the order now; returns the code the sandbox extracted."""
        with self.state.lock:
            order = self.order(protocol, key, order_id)
            return self.state.deliver(order, text=text).code

    def rental_message(self, protocol: str, key: str, rental_id: str, text: str) -> None:
        with self.state.lock:
            self.state.rental_message(self.rental(protocol, key, rental_id), text=text)

    def advance(self, upstream_seconds: float) -> None:
        """Move the sandbox clock by `upstream_seconds` of upstream time."""
        with self.state.lock:
            self.state.clock.advance(self.state.scaled(upstream_seconds))

    def set_balance(self, protocol: str, key: str, balance: str | Decimal) -> None:
        with self.state.lock:
            account = self.state.account(protocol, key)
            assert account is not None
            self.state.set_balance(account, Decimal(str(balance)))

    def ledger(self, protocol: str, key: str, ref: str = "", kind: str = "") -> list[LedgerEntry]:
        entries = self.account(protocol, key).ledger
        return [e for e in entries if (not ref or e.ref == ref) and (not kind or e.kind == kind)]

    def charged(self, protocol: str, key: str, ref: str) -> Decimal:
        return sum((e.amount for e in self.ledger(protocol, key, ref, "charge")), Decimal(0))

    def refunded(self, protocol: str, key: str, ref: str) -> Decimal:
        return sum((e.amount for e in self.ledger(protocol, key, ref, "refund")), Decimal(0))

    def assert_books(
        self,
        protocol: str,
        key: str,
        *,
        charges: list[Decimal] | tuple[Decimal, ...] = (),
        refunds: list[Decimal] | tuple[Decimal, ...] = (),
        reported: Decimal | None = None,
    ) -> Decimal:
        """Balance == initial + adjustments - charges + refunds, and the ledger holds
        exactly `charges` and `refunds`. `reported` is the balance the client read.
        Returns the balance."""
        account = self.account(protocol, key)
        totals = account.totals()
        assert account.balance == (
            account.initial_balance + totals["adjustments"] - totals["charges"] + totals["refunds"]
        )
        assert totals["charges"] == sum(charges, Decimal(0))
        assert totals["refunds"] == sum(refunds, Decimal(0))
        assert sorted(e.amount for e in account.ledger if e.kind == "charge") == sorted(charges)
        assert sorted(e.amount for e in account.ledger if e.kind == "refund") == sorted(refunds)
        if reported is not None:
            assert reported == account.balance
        return account.balance

    # --- the control API -----------------------------------------------------------------
    def control(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(
            method, f"{self.server.base_url}/control{path}", json=json, timeout=CONTROL_TIMEOUT
        )
        assert response.status_code == 200, response.text
        return response.json()

    def configure(self, **knobs: Any) -> dict:
        return self.control("POST", "/config", knobs)

    def fail_next(self, protocol: str, mode: str, count: int = 1) -> None:
        self.control("POST", "/fail", {"protocol": protocol, "mode": mode, "count": count})

    def requests_made(self, protocol: str, key: str, endpoint: str = "") -> int:
        """Requests the sandbox counted for `key` (on one endpoint, or all)."""
        per_key = self.control("GET", "/stats")["requests"].get(protocol, {}).get(key, {})
        if endpoint:
            return per_key.get(endpoint, {}).get("requests", 0)
        return sum(row["requests"] for row in per_key.values())

    @staticmethod
    def until_rate_limited(call: Callable[[], Any], most: int = 50) -> tuple[int, RateLimited]:
        """Call until the sandbox answers 429; (calls that got through, the RateLimited)."""
        for done in range(most):
            try:
                call()
            except RateLimited as exc:
                return done, exc
        raise AssertionError(f"no 429 after {most} requests")

    def injected(self, protocol: str) -> dict[str, int]:
        return self.control("GET", "/fail")["injected"].get(protocol, {})

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., Upstream]]:
    """Start a sandbox with extra knobs; every one started is stopped afterwards."""
    started: list[Upstream] = []

    def make(**knobs: Any) -> Upstream:
        upstream = Upstream(start_sandbox(**knobs))
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        upstream.stop()


@pytest.fixture
def upstream(make_upstream) -> Upstream:
    """A deterministic sandbox: codes and rental messages arrive only when delivered."""
    return make_upstream()
