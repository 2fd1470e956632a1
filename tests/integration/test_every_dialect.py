"""Every documented provider dialect, end to end through the portal.

A new account of each kind (SMSPool, NumPool, SMSCode in either dialect,
SMS-Activate on a full clone and on SMSPool's stub, with or without its
catalogue actions) is added by a manager, shows a catalogue, is ordered from,
receives a code, cancels another number, and its money reconciles with the
sandbox's books to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from orders import services
from orders.models import Order, State
from providers.models import ProviderAccount
from reports.models import LedgerEntry
from tests.orders.base import SandboxTestCase


@dataclass(frozen=True)
class Dialect:
    name: str
    kind: str
    path: str  # base URL after the sandbox's address
    protocol: str  # the sandbox account family
    knobs: dict


DIALECTS = [
    Dialect("SMSPool", "smspool", "/smspool", "smspool", {}),
    Dialect("SMSPool (seed)", "smspool", "/smspool", "smspool", {"smspool": "seed"}),
    Dialect("NumPool", "numpool", "/numpool/api/v1", "numpool", {}),
    Dialect("SMSCode (SDK)", "smscode", "/smscode", "smscode", {}),
    Dialect("SMSCode (guide)", "smscode", "/smscode", "smscode", {"smscode": "guide"}),
    Dialect(
        "SMS-Activate clone",
        "smsactivate",
        "/smsactivate/stubs/handler_api.php",
        "smsactivate",
        {},
    ),
    Dialect(
        "SMS-Activate clone without catalogue",
        "smsactivate",
        "/smsactivate/stubs/handler_api.php",
        "smsactivate",
        {"smsactivate": "minimal"},
    ),
    Dialect("SMSPool's stub", "smsactivate", "/smspool/stubs/handler_api", "smspool", {}),
    Dialect(
        "SMSPool's stub without catalogue",
        "smsactivate",
        "/smspool/stubs/handler_api",
        "smspool",
        {"smspool_stub": "minimal"},
    ),
]


class EveryDialectTestCase(SandboxTestCase):
    def test_each_dialect_connects_orders_receives_cancels_and_reconciles(self):
        for number, dialect in enumerate(DIALECTS):
            with self.subTest(dialect=dialect.name):
                key = f"sbx_dialect_{number}"
                # The dialect is the key's own, as a real host speaks one to everyone.
                _scope, value = next(iter(dialect.knobs.items()), ("", ""))
                if value:
                    self.sandbox.state.config.update({"dialects": {key: value}})
                account = self.add_account(dialect, key)
                self.order_receive_and_cancel(dialect, account)

    def add_account(self, dialect: Dialect, key: str) -> ProviderAccount:
        self.client.force_login(self.mia)
        r = self.client.post(
            reverse("provider_add", args=[self.team.code]),
            {
                "kind": dialect.kind,
                "label": dialect.name,
                "base_url": self.sandbox.base_url + dialect.path,
                "api_key": key,
                "currency": "",
                "enabled": "on",
            },
            follow=True,
        )
        self.assertContains(r, "Connected")
        account = ProviderAccount.objects.get(label=dialect.name)
        self.assertEqual(account.health, "ok")
        return account

    def order_receive_and_cancel(self, dialect: Dialect, account: ProviderAccount) -> None:
        offer = self.offer_key(account)  # the catalogue offers WhatsApp in the US
        self.place(offer=offer)
        first = Order.objects.filter(account=account).latest("created")
        self.assertEqual(first.state, State.WAITING, first.error)
        with self.sandbox.state.lock:
            sold = self.sandbox.state.order(dialect.protocol, account.api_key, first.upstream_id)
            self.sandbox.state.deliver(sold, text="Your WhatsApp code is 482-913")
        self.cycle(account)
        first.refresh_from_db()
        self.assertEqual(first.last_code, "482913")
        if first.state == State.RECEIVED:  # SMSCode's guide dialect completes it itself
            services.order_complete(order=first, actor=self.bob)

        self.place(offer=offer, idempotency_key=f"second-{account.pk}")
        second = Order.objects.filter(account=account).latest("created")
        self.advance(900)  # past every provider's cancel lock
        # Our clock catches up with the sandbox's (which the test moved on).
        later = timezone.now() + timedelta(seconds=self.sandbox.state.clock.offset)
        services.order_cancel(order=second, actor=self.bob, now=later)
        second.refresh_from_db()
        self.assertEqual(second.state, State.CANCELLED)

        booked = sum((e.amount for e in LedgerEntry.objects.filter(account=account)), Decimal(0))
        with self.sandbox.state.lock:
            upstream = self.sandbox.state.account(dialect.protocol, account.api_key)
            self.sandbox.state.settle_account(upstream)
            spent = upstream.initial_balance - upstream.balance
        self.assertEqual(booked, spent)
        self.assertGreater(booked, 0)
