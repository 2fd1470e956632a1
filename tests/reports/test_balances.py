"""Balances (issue 15): every balance read is stored; a low balance alerts managers once
per crossing (banner, email when mail is configured) and re-arms above the level; the
forecast reads the week's ledger; exchange rates come from SMSCode's endpoint (real
HTTP to the sandbox) and staff rates win; reconciliation flags exactly what differs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import requests
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from providers.balances import refresh_exchange_rates
from providers.models import BalanceReading, ExchangeRate, RateSource
from providers.services import provider_account_refresh_balance
from reports import ledger
from reports.balances import forecasts, reconcile
from reports.models import LedgerEntry, LedgerKind
from tests.base import BaseTestCase
from tests.orders.base import SandboxTestCase
from tests.orders.test_board_and_history import make_order
from tests.reports import fixture


class LowBalanceTestCase(SandboxTestCase):
    def set_upstream_balance(self, account, amount: str) -> None:
        r = requests.post(
            f"{self.sandbox.base_url}/control/accounts",
            json={"protocol": "smspool", "api_key": account.api_key, "balance": amount},
            timeout=5,
        )
        r.raise_for_status()

    @override_settings(EMAIL_ENABLED=True)
    def test_one_alert_per_crossing_banner_for_managers_and_rearming(self):
        account = self.account("smspool")
        self.set_upstream_balance(account, "50.00")
        self.login(self.mia)
        r = self.client.post(
            reverse("balance_threshold", args=[self.team.code, account.code]),
            {"low_balance_threshold": "20"},
        )
        self.assertRedirects(r, reverse("balances", args=[self.team.code]))
        self.assertTrue(AuditEvent.objects.filter(action="provider.low_balance_threshold_changed"))
        account.refresh_from_db()
        self.assertEqual(provider_account_refresh_balance(account=account), Decimal("50.00"))
        self.assertEqual(len(mail.outbox), 0)

        self.set_upstream_balance(account, "19.99")
        for _ in range(3):  # the schedule reads it again and again: one alert
            provider_account_refresh_balance(account=account)
        self.assertEqual(len(mail.outbox), 1)
        self.assertIn("19.99 USD", mail.outbox[0].subject)
        self.assertEqual(sorted(mail.outbox[0].to), ["alice@example.org", "mia@example.org"])
        self.assertEqual(AuditEvent.objects.filter(action="provider.low_balance").count(), 1)
        self.assertEqual(
            list(BalanceReading.objects.filter(account=account).values_list("amount", flat=True)),
            [Decimal("19.99")] * 3 + [Decimal("50.00")],
        )

        dashboard = reverse("dashboard", args=[self.team.code])
        r = self.client.get(dashboard)
        self.assertContains(r, "data-low-balance")
        self.assertContains(r, "smspool sandbox has 19.99 USD")
        self.login(self.bob)
        self.assertNotContains(self.client.get(dashboard), "data-low-balance")

        self.set_upstream_balance(account, "25.00")  # topped up: re-armed
        provider_account_refresh_balance(account=account)
        account.refresh_from_db()
        self.assertIsNone(account.low_balance_alerted_at)
        self.login(self.mia)
        self.assertNotContains(self.client.get(dashboard), "data-low-balance")
        self.set_upstream_balance(account, "5.00")
        provider_account_refresh_balance(account=account)
        self.assertEqual(len(mail.outbox), 2)

    def test_without_mail_the_banner_still_shows(self):
        account = self.account("smspool")
        self.set_upstream_balance(account, "3.00")
        from providers.balances import provider_account_set_low_balance

        provider_account_set_low_balance(account=account, threshold=Decimal(10), actor=self.alice)
        provider_account_refresh_balance(account=account)
        self.assertEqual(len(mail.outbox), 0)
        self.login(self.alice)
        r = self.client.get(reverse("balances", args=[self.team.code]))
        self.assertContains(r, "data-low-balance")
        self.assertContains(r, "3.00 USD")

    def test_members_cannot_set_the_alert_level(self):
        account = self.account("smspool")
        self.login(self.bob)
        r = self.client.post(
            reverse("balance_threshold", args=[self.team.code, account.code]),
            {"low_balance_threshold": "20"},
        )
        self.assertEqual(r.status_code, 403)
        account.refresh_from_db()
        self.assertIsNone(account.low_balance_threshold)


class ExchangeRateTestCase(SandboxTestCase):
    def test_smscode_publishes_its_rate_and_staff_rates_win(self):
        self.account("smscode")  # connects and syncs: the rate is read on the way
        rate = ExchangeRate.objects.get(currency="IDR")
        self.assertEqual(rate.units_per_usd, Decimal(16000))
        self.assertEqual(rate.source, RateSource.PROVIDER)
        self.assertEqual(rate.valid_from, timezone.localdate())

        self.sandbox.state.config.smscode_fx_rate = 16400
        self.assertEqual(refresh_exchange_rates(), 1)
        rate.refresh_from_db()
        self.assertEqual(rate.units_per_usd, Decimal(16400))

        ExchangeRate.objects.filter(pk=rate.pk).update(source=RateSource.STAFF, units_per_usd=16111)
        self.sandbox.state.config.smscode_fx_rate = 17000
        self.assertEqual(refresh_exchange_rates(), 0)
        rate.refresh_from_db()
        self.assertEqual(rate.units_per_usd, Decimal(16111))

    def test_providers_without_a_rate_endpoint_store_none(self):
        self.account("smspool")
        self.assertEqual(refresh_exchange_rates(), 0)
        self.assertFalse(ExchangeRate.objects.exists())


class ForecastTestCase(BaseTestCase):
    def test_at_this_weeks_rate(self):
        pool, _code = fixture.accounts(self.team)
        pool.balance = Decimal("4.00")
        pool.save()
        for n, days_ago in enumerate((1, 2, 3, 9)):  # the 9-day-old one is not this week
            entry = ledger.book(
                account=pool,
                kind=LedgerKind.PURCHASE,
                amount=Decimal("2.3333") if days_ago != 9 else Decimal(50),
                currency="USD",
                dedupe_key=f"f{n}",
            )
            LedgerEntry.objects.filter(pk=entry.pk).update(
                created=timezone.now() - timedelta(days=days_ago)
            )
        forecast = next(f for f in forecasts(self.team) if f.account == pool)
        self.assertEqual(
            forecast.text, "At this week's rate (1.00 USD a day), Pool runs out in 4 days."
        )
        self.login(self.mia)
        r = self.client.get(reverse("balances", args=[self.team.code]))
        self.assertContains(r, "Pool runs out in 4 days")


class ReconciliationTestCase(BaseTestCase):
    """Readings and ledger movements planted by hand: one interval is a cent short."""

    def setUp(self):
        self.pool, _code = fixture.accounts(self.team)
        self.t0 = timezone.now() - timedelta(hours=5)

    def reading(self, hours: float, amount: str):
        BalanceReading.objects.create(
            account=self.pool,
            amount=Decimal(amount),
            currency="USD",
            read_at=self.t0 + timedelta(hours=hours),
        )

    def charge(self, hours: float, amount: str, n: int, kind=LedgerKind.PURCHASE):
        order = (
            make_order(self.team, self.pool, self.bob, n)
            if kind == LedgerKind.PURCHASE
            else (self.first)
        )
        entry = ledger.book(
            account=self.pool,
            kind=kind,
            amount=Decimal(amount),
            currency="USD",
            member=self.bob,
            order=order,
            dedupe_key=f"rec{n}{kind}",
        )
        LedgerEntry.objects.filter(pk=entry.pk).update(created=self.t0 + timedelta(hours=hours))
        return order

    def plant(self, last_balance: str):
        self.reading(0, "10.00")
        self.first = self.charge(0.5, "0.50", 1)
        self.charge(0.7, "0.30", 2)
        self.reading(1, "9.20")
        self.reading(1.5, "9.20")  # nothing happened
        self.late = self.charge(2, "1.00", 3)
        self.reading(3, last_balance)
        self.charge(3.5, "-0.50", 1, kind=LedgerKind.REFUND)
        self.reading(4, str(Decimal(last_balance) + Decimal("0.50")))

    def test_a_planted_cent_is_flagged_and_nothing_else(self):
        self.plant("8.19")  # the provider took 1.01 where the ledger booked 1.00
        today = timezone.localdate()
        rec = reconcile(self.pool, today - timedelta(days=1), today)
        self.assertEqual(len(rec.intervals), 4)
        self.assertEqual(len(rec.flagged), 1)
        flagged = rec.flagged[0]
        self.assertEqual(flagged.difference, Decimal("0.01"))
        self.assertEqual(list(flagged.movements), [str(self.late.code)])
        self.assertEqual(rec.unexplained, Decimal("0.01"))
        self.login(self.mia)
        r = self.client.get(reverse("reconciliation", args=[self.team.code, self.pool.code]))
        self.assertContains(r, "data-flagged", count=1)
        self.assertContains(r, f'href="/orders/{self.late.code}/"')
        self.assertContains(r, "0.01 USD")

    def test_books_that_agree_show_zero_unexplained(self):
        self.plant("8.20")
        today = timezone.localdate()
        rec = reconcile(self.pool, today - timedelta(days=1), today)
        self.assertEqual((rec.flagged, rec.unexplained), ([], Decimal(0)))
        self.assertEqual(rec.provider_spent, Decimal("1.30"))
        self.login(self.mia)
        r = self.client.get(reverse("reconciliation", args=[self.team.code, self.pool.code]))
        self.assertContains(r, "explains every change")
        self.assertNotContains(r, "data-flagged")

    def test_bad_dates_are_explained(self):
        self.login(self.mia)
        url = reverse("reconciliation", args=[self.team.code, self.pool.code])
        r = self.client.get(url, {"since": "2026-01-01", "until": "2026-06-01"})
        self.assertContains(r, "at most 31 days")
        r = self.client.get(url, {"since": "x"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(date.today().year > 2000, True)
