"""One money format everywhere: the currency's own precision in pages and in CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from django.template import Context, Template
from django.test import SimpleTestCase
from django.urls import reverse

from config.money import amount_text, money_text
from orders.models import State
from providers.models import ExchangeRate, ProviderAccount
from reports import ledger
from reports.models import LedgerKind
from tests.base import BaseTestCase
from tests.orders.test_board_and_history import make_order


class MoneyRuleTestCase(SimpleTestCase):
    def test_it_shows_the_currency_precision(self):
        self.assertEqual(money_text(Decimal("100.0000"), "USD"), "100.00 USD")
        self.assertEqual(money_text(Decimal("100"), "USD"), "100.00 USD")
        self.assertEqual(money_text(Decimal("15000.0000"), "IDR"), "15,000 IDR")
        self.assertEqual(money_text(Decimal("36.2700000000000"), "USD"), "36.27 USD")

    def test_it_keeps_the_places_a_provider_price_really_has(self):
        self.assertEqual(money_text(Decimal("0.0125"), "USD"), "0.0125 USD")
        self.assertEqual(money_text(Decimal("0.1250"), "USD"), "0.125 USD")
        # The database keeps 4 places; a longer sum rounds there.
        self.assertEqual(money_text(Decimal("1.23456"), "USD"), "1.2346 USD")

    def test_estimates_round_to_the_currency(self):
        self.assertEqual(money_text(Decimal("0.0125"), "USD", approx=True), "≈ 0.01 USD")
        self.assertEqual(amount_text(Decimal("0.5049"), "USD", approx=True), "0.50")

    def test_nothing_is_a_dash_and_never_a_crash(self):
        for value in (None, "", "abc", float("nan"), True):
            self.assertEqual(money_text(value, "USD"), "—")
        self.assertEqual(money_text(Decimal("-0.00001"), "USD"), "0.00 USD")

    def test_csv_numbers_have_no_grouping(self):
        self.assertEqual(amount_text(Decimal("1234567.0000"), "IDR"), "1234567")
        self.assertEqual(amount_text(Decimal("1234.5"), "USD"), "1234.50")

    def test_the_template_filters(self):
        html = Template(
            "{% load money %}{{ a|money:c }}|{{ b|money_approx:'USD' }}|{{ a|amount:c }}"
        ).render(Context({"a": Decimal("15000.0000"), "c": "IDR", "b": Decimal("0.937")}))
        self.assertEqual(html, "15,000 IDR|≈ 0.94 USD|15,000")


class MoneyOnPagesTestCase(BaseTestCase):
    def setUp(self):
        self.account = ProviderAccount(
            team=self.team,
            kind="smspool",
            label="Pool",
            base_url="https://api.smspool.net",
            balance=Decimal("100.0000"),
        )
        self.account.set_api_key("k-1234")
        self.account.save()

    def test_the_dashboard_and_settings_show_a_balance_alike(self):
        self.login(self.alice)
        for name in ("dashboard", "team_settings"):
            r = self.client.get(reverse(name, args=[self.team.code]))
            self.assertContains(r, "100.00 USD", msg_prefix=name)
            self.assertNotContains(r, "100.0000", msg_prefix=name)

    def test_history_shows_costs_in_the_currency_precision(self):
        make_order(self.team, self.account, self.bob, 1, state=State.COMPLETED)
        self.login(self.alice)
        r = self.client.get(reverse("order_history", args=[self.team.code]))
        self.assertContains(r, "0.50 USD")

    def test_the_cost_csv_has_the_pages_precision(self):
        idr = ProviderAccount(
            team=self.team,
            kind="smscode",
            label="Code",
            base_url="https://api.smscode.gg",
            currency="IDR",
        )
        idr.set_api_key("k-5678")
        idr.save()
        amounts = [(self.account, "12.09", "USD")] * 3 + [(idr, "8000", "IDR")]
        for n, (account, amount, currency) in enumerate(amounts):
            order = make_order(
                self.team, account, self.bob, n, cost=Decimal(amount), currency=currency
            )
            ledger.book(
                account=account,
                kind=LedgerKind.PURCHASE,
                amount=order.cost,
                currency=currency,
                member=self.bob,
                order=order,
                dedupe_key=f"p{n}",
            )
        ExchangeRate.objects.create(
            currency="IDR", units_per_usd=16000, valid_from=date(2000, 1, 1)
        )
        self.login(self.alice)
        url = reverse("reports", args=[self.team.code])
        r = self.client.get(url, {"table": "member", "originals": "on", "format": "csv"})
        head, bob = list(csv.reader(io.StringIO(r.content.decode())))[:2]
        row = dict(zip(head, bob, strict=True))
        self.assertEqual(row["Net USD (original)"], "36.27")
        self.assertEqual(row["Net IDR (original)"], "8000")
        self.assertEqual(row["Net USD"], "36.77")  # 8000 IDR at 16000 per USD
        page = self.client.get(url, {"originals": "on"})
        self.assertContains(page, "36.27")
        self.assertContains(page, "8,000")
