"""Budgets and limits (issue 15): set by owners and managers, audited, enforced in
reserve() under the team's row lock, daily limits included, refusals saying what is
left in plain words; members see what they have left."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from orders import services
from orders.models import Order
from providers.models import ExchangeRate
from reports import ledger
from reports.models import LedgerEntry, LedgerKind
from tests.base import BaseTestCase
from tests.orders.base import SandboxTestCase
from tests.orders.test_money_integrity import (
    ThreadedSandboxTestCase,
    sandbox_orders,
    whatsapp_choice,
)
from tests.reports import fixture


class BudgetSettingsTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("budgets", args=[self.team.code])

    def limits_url(self, membership):
        return reverse("member_limits", args=[self.team.code, membership.code])

    def test_a_manager_sets_a_members_daily_and_monthly_limits_audited(self):
        self.login(self.mia)
        r = self.client.post(
            self.limits_url(self.member), {"daily_spend_limit": "5", "monthly_spend_limit": "50"}
        )
        self.assertRedirects(r, self.url)
        self.member.refresh_from_db()
        self.assertEqual(
            (self.member.daily_spend_limit, self.member.monthly_spend_limit),
            (Decimal("5.00"), Decimal("50.00")),
        )
        event = AuditEvent.objects.get(action="member.spend_limits_changed")
        self.assertEqual(event.actor, self.mia)
        self.assertEqual(event.payload["after"], {"daily": "5.00", "monthly": "50.00"})
        self.assertEqual(event.payload["before"], {"daily": None, "monthly": None})
        # Saving the same again records nothing new.
        self.client.post(
            self.limits_url(self.member), {"daily_spend_limit": "5", "monthly_spend_limit": "50"}
        )
        self.assertEqual(AuditEvent.objects.filter(action="member.spend_limits_changed").count(), 1)

    def test_bad_limits_are_refused_in_plain_words(self):
        self.login(self.alice)
        for data, words in (
            ({"daily_spend_limit": "60", "monthly_spend_limit": "50"}, "cannot be more"),
            ({"daily_spend_limit": "-1"}, "greater than or equal to 0"),
            ({"daily_spend_limit": "abc"}, "Enter a number"),
        ):
            with self.subTest(data=data):
                r = self.client.post(self.limits_url(self.member), data, follow=True)
                self.assertContains(r, words)
        self.member.refresh_from_db()
        self.assertIsNone(self.member.daily_spend_limit)

    def test_the_team_budget_is_set_by_managers_and_audited(self):
        self.login(self.mia)
        r = self.client.post(self.url, {"monthly_budget": "300", "reporting_currency": "USD"})
        self.assertRedirects(r, self.url)
        self.team.refresh_from_db()
        self.assertEqual(self.team.monthly_budget, Decimal("300.00"))
        event = AuditEvent.objects.get(action="team.budget_changed")
        self.assertEqual(event.payload["after"], {"monthly_budget": "300.00", "currency": "USD"})
        r = self.client.post(self.url, {"monthly_budget": "1", "reporting_currency": "XYZ"})
        self.assertEqual(r.status_code, 400)
        self.assertContains(r, "Select a valid choice", status_code=400)

    def test_members_and_viewers_cannot_change_budgets_or_limits(self):
        from accounts.roles import Permission, can

        for user, membership in ((self.bob, self.member), (self.vic, self.viewer)):
            self.login(user)
            status = self.client.get(self.url).status_code
            self.assertEqual(status, 200 if can(membership.role, Permission.VIEW_REPORTS) else 403)
            r = self.client.post(self.url, {"monthly_budget": "1", "reporting_currency": "USD"})
            self.assertEqual(r.status_code, 403)
            r = self.client.post(self.limits_url(self.member), {"daily_spend_limit": "999"})
            self.assertEqual(r.status_code, 403)
        self.team.refresh_from_db()
        self.member.refresh_from_db()
        self.assertIsNone(self.team.monthly_budget)
        self.assertIsNone(self.member.daily_spend_limit)
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)


class ReserveTestCase(BaseTestCase):
    """reserve() itself, with booked spend today, earlier this month, and in IDR."""

    def setUp(self):
        self.pool, self.code = fixture.accounts(self.team)
        ExchangeRate.objects.create(
            currency="IDR", units_per_usd=16000, valid_from=date(2000, 1, 1)
        )

    def book(self, account, amount, *, days_ago=0, key):
        entry = ledger.book(
            account=account,
            kind=LedgerKind.PURCHASE,
            amount=Decimal(amount),
            currency=account.currency,
            member=self.bob,
            dedupe_key=key,
        )
        if days_ago:
            LedgerEntry.objects.filter(pk=entry.pk).update(
                created=timezone.now() - timedelta(days=days_ago)
            )

    def reserve(self, amount, currency="USD"):
        with transaction.atomic():
            return ledger.reserve(self.member, Decimal(amount), currency, purpose="order")

    def test_the_daily_limit_refuses_saying_what_is_left_today(self):
        self.member.daily_spend_limit = Decimal("1.00")
        self.member.save()
        self.book(self.pool, "0.40", key="a")
        self.book(self.code, "4800", key="b")  # 0.30 USD at 16000 IDR per USD
        with self.assertRaises(ledger.SpendRefused) as refused:
            self.reserve("0.50")
        self.assertEqual(
            str(refused.exception),
            "This would take you over your daily limit of 1.00 USD: you have 0.30 USD left "
            "today, and this costs about 0.50 USD.",
        )
        self.assertEqual(refused.exception.category, "daily_limit")
        self.assertIsNotNone(self.reserve("0.30"))  # exactly what is left fits

    def test_yesterdays_spend_does_not_count_against_today(self):
        self.member.daily_spend_limit = Decimal("1.00")
        self.member.save()
        if timezone.localdate().day == 1:
            return  # yesterday was last month: nothing to tell apart
        self.book(self.pool, "0.90", days_ago=1, key="y")
        self.assertIsNotNone(self.reserve("0.90"))
        self.assertEqual(ledger.allowance(self.member).day_left, Decimal("0.10"))

    def test_an_idr_price_converts_with_todays_rate(self):
        self.member.daily_spend_limit = Decimal("1.00")
        self.member.save()
        ExchangeRate.objects.create(
            currency="IDR", units_per_usd=20000, valid_from=timezone.localdate()
        )
        hold = self.reserve("20000", "IDR")
        self.assertEqual((hold.amount, hold.currency), (Decimal(1), "USD"))
        with self.assertRaises(ledger.SpendRefused) as refused:
            self.reserve("200", "IDR")
        self.assertIn("you have 0.00 USD left today", str(refused.exception))

    def test_no_rate_at_all_refuses_only_where_a_limit_applies(self):
        ExchangeRate.objects.all().delete()
        self.assertIsNone(self.reserve("8000", "IDR"))  # nothing to check against
        self.member.monthly_spend_limit = Decimal("10")
        self.member.save()
        with self.assertRaises(ledger.SpendRefused) as refused:
            self.reserve("8000", "IDR")
        self.assertIn("no exchange rate for IDR", str(refused.exception))
        self.assertNotIn("FX_PER_USD", str(refused.exception))

    def test_limits_and_budget_are_in_the_reporting_currency(self):
        ExchangeRate.objects.create(
            currency="EUR", units_per_usd=Decimal("0.5"), valid_from=date(2000, 1, 1)
        )
        self.team.reporting_currency = "EUR"
        self.team.monthly_budget = Decimal("1.00")  # EUR: 2 USD
        self.team.save()
        self.member.refresh_from_db()
        hold = self.reserve("1.50")  # 0.75 EUR
        self.assertEqual((hold.amount, hold.currency), (Decimal("0.75"), "EUR"))
        with self.assertRaises(ledger.SpendRefused) as refused:
            self.reserve("0.60")  # 0.30 EUR more than the 0.25 left
        self.assertIn("monthly budget of 1.00 EUR", str(refused.exception))
        self.assertIn("the team has 0.25 EUR left this month", str(refused.exception))


class DailyLimitThroughThePortalTestCase(SandboxTestCase):
    """Real HTTP to the sandbox: the member is refused with the amount left, and sees it
    on the order form and the dashboard before trying."""

    def test_the_member_is_refused_with_the_remaining_amount(self):
        account = self.account("numpool")
        price = whatsapp_choice(account).price
        self.member.daily_spend_limit = (price * 3 / 2).quantize(Decimal("0.01"))
        self.member.save()
        r = self.place()
        self.assertEqual(Order.objects.filter(account=account).count(), 1, r.content[:500])
        left = ledger.words(self.member.daily_spend_limit - price, "USD")
        self.login(self.bob)
        page = self.client.get(reverse("order_new", args=[self.team.code]))
        self.assertContains(page, "left to spend")
        self.assertContains(page, f"≈ {left}")
        dashboard = self.client.get(reverse("dashboard", args=[self.team.code]))
        self.assertContains(dashboard, "you have left today")
        r = self.place()
        self.assertContains(r, f"you have {left} left today", status_code=r.status_code)
        self.assertEqual(Order.objects.filter(account=account).count(), 1)
        self.assertEqual(len(sandbox_orders(self.sandbox, account)), 1)


class ConcurrentDailyLimitTestCase(ThreadedSandboxTestCase):
    def test_the_daily_limit_holds_under_concurrency(self):
        account = sandbox_account_for(self)
        price = whatsapp_choice(account).price
        self.member.daily_spend_limit = price * 3
        self.member.save()
        results: list = []
        threads = [self.place_in_thread(account, f"d{n}", results) for n in range(20)]
        for thread in threads:
            thread.join()
        placed = [r for r in results if isinstance(r, list)]
        refused = [r for r in results if isinstance(r, services.OrderActionError)]
        self.assertEqual((len(placed), len(refused)), (3, 17), results)
        self.assertEqual(len(sandbox_orders(self.sandbox, account)), 3)
        self.assertIn("daily limit", refused[0].message)
        self.assertLessEqual(
            ledger.member_spend(self.team, self.bob, ledger.day_start()),
            self.member.daily_spend_limit,
        )


def sandbox_account_for(case):
    from tests.conftest import sandbox_account

    return sandbox_account(case.team, case.sandbox, "numpool")
