"""The cost report's daily roll-up (reports.rollup): the report made from rolled-up days
and raw rows for the rest is the report made from raw rows alone, table by table and
cell by cell, over a varied history (two teams, two currencies with a changing rate,
refunds the same day and days later, resends, price corrections, rentals, failures
with and without refunds, entries without a member, waits with fractions and exact
halves, a day held open by an order still waiting, today's open orders)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order, State
from providers.models import ExchangeRate, ProviderAccount
from reports import ledger, rollup
from reports.costs import cost_report
from reports.models import (
    DailyFailure,
    DailyOutcome,
    DailyRollup,
    DailySpend,
    DailyWait,
    LedgerEntry,
    LedgerKind,
)
from tests.base import BaseTestCase
from tests.orders.test_board_and_history import make_order

TODAY = timezone.localdate()
DAYS = 10
SINCE = TODAY - timedelta(days=DAYS)
HELD_OPEN = TODAY - timedelta(days=5)  # an order of this day is still waiting


def at(day: date, seconds: float) -> datetime:
    start = datetime.combine(day, datetime.min.time(), timezone.get_current_timezone())
    return start + timedelta(seconds=seconds)


def account(team, kind: str, label: str, currency: str = "USD") -> ProviderAccount:
    acc = ProviderAccount(
        team=team, kind=kind, label=label, base_url="https://x.example", currency=currency
    )
    acc.set_api_key(f"key-{label}-{kind}")
    acc.save()
    return acc


class History:
    """Orders and ledger entries of `team` over the last DAYS days and today."""

    def __init__(self, team, members, *, seed: int, per_day: int = 8) -> None:
        self.team, self.members = team, [*members, None]
        self.rng = random.Random(seed)
        self.accounts = [
            account(team, "smspool", "Pool"),
            account(team, "numpool", "Numbers"),
            account(team, "smscode", "Code", "IDR"),
        ]
        self.n = seed * 10_000
        for offset in range(DAYS, -1, -1):
            day = TODAY - timedelta(days=offset)
            for _ in range(per_day):
                self.order(day)
            self.entry(day, LedgerKind.RENTAL, Decimal("3.50"))
            if offset % 3 == 0:
                self.entry(day, LedgerKind.EXTENSION, Decimal("1.25"))
        self.order(HELD_OPEN, state=State.WAITING)

    def order(self, day: date, state=None, code_after: float | None = None) -> Order:
        rng = self.rng
        self.n += 1
        acc = rng.choice(self.accounts)
        member = rng.choice(self.members)
        if state is None:
            state = rng.choice(
                [State.COMPLETED] * 5 + [State.EXPIRED, State.CANCELLED, State.REFUNDED]
            )
            state = State.FAILED if rng.random() < 0.08 else state
        if day == TODAY and rng.random() < 0.3:
            state = rng.choice([State.WAITING, State.RECEIVED])
        created = at(day, rng.randint(0, 86_000) + rng.choice([0, 0.25, 0.5, 0.731]))
        if created > timezone.now():  # today's, before now (and after midnight)
            created = at(day, 0) + (timezone.now() - at(day, 0)) * rng.random()
        got_code = state in (State.COMPLETED, State.RECEIVED)
        wait = code_after if code_after is not None else rng.choice([20, 30.5, 31.5, 45.2, 90.7])
        cost = (
            Decimal(rng.randrange(2000, 16000, 250))
            if acc.currency == "IDR"
            else Decimal(rng.randint(5, 250)) / 100
        )
        order = make_order(
            self.team,
            acc,
            member,
            self.n,
            state=state,
            service_name=rng.choice(["WhatsApp", "Telegram", "Google"]),
            country_name=rng.choice(["United States", "Indonesia", "Brazil"]),
            cost=None if state == State.FAILED else cost,
            currency=acc.currency,
            created=created,
            code_received_at=created + timedelta(seconds=wait) if got_code else None,
        )
        if state == State.FAILED:
            return order
        self.book(order, LedgerKind.PURCHASE, cost, created + timedelta(seconds=1))
        if got_code and rng.random() < 0.2:
            self.book(order, LedgerKind.RESEND, cost / 2, created + timedelta(minutes=2))
        if got_code and rng.random() < 0.1:
            self.book(order, LedgerKind.ADJUSTMENT, -cost / 4, created + timedelta(minutes=3))
        if state in (State.EXPIRED, State.REFUNDED):
            # Some refunds arrive the next day (or today, for yesterday's orders).
            later = rng.choice([timedelta(minutes=20), timedelta(days=1)])
            when = min(created + later, timezone.now())
            self.book(order, LedgerKind.REFUND, -cost, when)
        return order

    def book(self, order, kind, amount, when, member=...) -> LedgerEntry:
        self.n += 1
        entry = ledger.book(
            account=order.account,
            kind=kind,
            amount=amount,
            currency=order.account.currency,
            member=order.ordered_by if member is ... else member,
            order=order,
            dedupe_key=f"h:{self.n}",
        )
        LedgerEntry.objects.filter(pk=entry.pk).update(created=when)
        return entry

    def entry(self, day: date, kind, amount: Decimal) -> None:
        self.n += 1
        acc = self.rng.choice(self.accounts)
        entry = ledger.book(
            account=acc,
            kind=kind,
            amount=amount * (16000 if acc.currency == "IDR" else 1),
            currency=acc.currency,
            member=self.rng.choice(self.members),
            dedupe_key=f"h:{self.n}",
        )
        when = min(at(day, self.rng.randint(0, 86_000)), timezone.now())
        LedgerEntry.objects.filter(pk=entry.pk).update(created=when)


def rates() -> None:
    for offset, units in ((30, 16000), (6, 16250), (2, 15875)):
        ExchangeRate.objects.create(
            currency="IDR",
            units_per_usd=Decimal(units),
            valid_from=TODAY - timedelta(days=offset),
        )


class RollupTestCase(BaseTestCase):
    def setUp(self):
        rates()
        self.history = History(self.team, [self.bob, self.mia], seed=1)
        History(self.other_team, [self.charlie], seed=2)

    def assert_same_report(self, team, since=SINCE, until=TODAY):
        for originals in (False, True):
            raw = cost_report(team, since=since, until=until, originals=originals, raw=True)
            rolled = cost_report(team, since=since, until=until, originals=originals)
            self.assertEqual(list(raw.tables), list(rolled.tables))
            for name, table in raw.tables.items():
                other = rolled.tables[name]
                self.assertEqual(table.columns, other.columns, name)
                self.assertEqual(len(table.rows), len(other.rows), name)
                for i, (row, other_row) in enumerate(zip(table.rows, other.rows, strict=True)):
                    for j, (cell, other_cell) in enumerate(zip(row, other_row, strict=True)):
                        self.assertEqual(cell, other_cell, f"{name} row {i} cell {j}")
                        self.assertEqual(type(cell), type(other_cell), f"{name} {i} {j}")
                self.assertEqual(table.cells(), other.cells(), name)
                self.assertEqual(table.cells(csv=True), other.cells(csv=True), name)
                self.assertEqual((table.links, table.chart), (other.links, other.chart), name)
            for attr in ("totals", "currencies", "unconverted", "orders", "with_code"):
                self.assertEqual(getattr(raw, attr), getattr(rolled, attr), attr)
            self.assertEqual(raw.without_code, rolled.without_code)
        return raw

    def test_the_report_from_the_rollup_equals_the_report_from_raw_rows(self):
        self.assert_same_report(self.team)  # nothing rolled up yet: all from raw rows
        days = rollup.backfill([self.team, self.other_team])
        rolled = set(DailyRollup.objects.filter(team=self.team).values_list("day", flat=True))
        self.assertGreaterEqual(days, 2 * (DAYS - 2))
        self.assertNotIn(HELD_OPEN, rolled)
        self.assertNotIn(TODAY, rolled)
        self.assertIn(HELD_OPEN - timedelta(days=1), rolled)
        self.assertIn(HELD_OPEN + timedelta(days=1), rolled)
        for model in (DailySpend, DailyOutcome, DailyWait, DailyFailure):
            self.assertTrue(model.objects.filter(team=self.team).exists(), model)

        report = self.assert_same_report(self.team)
        self.assert_same_report(self.other_team)
        self.assertTrue(report.tables["failures"].rows)
        self.assertIn("Rentals", [row[0] for row in report.tables["service"].rows])
        self.assertEqual(len(report.currencies), 2)
        # Periods that start and end on rolled-up days, or hold none.
        self.assert_same_report(self.team, since=SINCE + timedelta(days=2), until=HELD_OPEN)
        self.assert_same_report(self.team, since=SINCE + timedelta(days=1), until=SINCE)
        self.assert_same_report(self.team, since=TODAY, until=TODAY)

        # Rolling up again changes nothing; a renamed account shows its new name.
        counts = [m.objects.count() for m in rollup.ROLLED_MODELS]
        rollup.backfill([self.team])
        self.assertEqual(counts, [m.objects.count() for m in rollup.ROLLED_MODELS])
        ProviderAccount.objects.filter(pk=self.history.accounts[2].pk).update(label="Code 2")
        report = self.assert_same_report(self.team)
        self.assertIn("Code 2", [row[0] for row in report.tables["provider"].rows])

    def test_a_day_is_rolled_up_once_its_orders_are_final(self):
        rollup.backfill([self.team])
        self.assertFalse(DailyRollup.objects.filter(team=self.team, day=HELD_OPEN).exists())
        Order.objects.filter(team=self.team, state=State.WAITING, created__lt=at(TODAY, 0)).update(
            state=State.EXPIRED
        )
        rollup.backfill([self.team])
        self.assertTrue(DailyRollup.objects.filter(team=self.team, day=HELD_OPEN).exists())
        self.assert_same_report(self.team)
        # Yesterday waits until it has been over for an hour.
        now = at(TODAY, 1800)
        yesterday = TODAY - timedelta(days=1)
        self.assertNotIn(yesterday, rollup.closed_days(self.team, SINCE, TODAY, now=now))
        now = at(TODAY, 3601)
        self.assertIn(yesterday, rollup.closed_days(self.team, SINCE, TODAY, now=now))

    def test_a_late_refund_of_an_order_of_a_rolled_up_day_counts(self):
        day = SINCE + timedelta(days=1)
        order = self.history.order(day, state=State.CANCELLED)
        rollup.backfill([self.team])
        before = cost_report(self.team, since=SINCE, until=TODAY)
        failed = [row[0] for row in before.tables["failures"].rows]
        self.assertIn(str(order.code)[:8], failed)
        self.history.book(order, LedgerKind.REFUND, -order.cost, timezone.now())

        after = self.assert_same_report(self.team)
        self.assertNotIn(str(order.code)[:8], [row[0] for row in after.tables["failures"].rows])
        self.assertLess(after.totals.refunds, before.totals.refunds)
        self.assertEqual(after.totals.charges, before.totals.charges)
        # The rolled-up day itself is unchanged: the refund is today's.
        self.assertTrue(DailyRollup.objects.filter(team=self.team, day=day).exists())
        today = {r[0]: r for r in after.tables["day"].rows}[TODAY.isoformat()]
        self.assertLess(
            today[2], {r[0]: r for r in before.tables["day"].rows}[TODAY.isoformat()][2]
        )

    def test_the_query_count_is_constant(self):
        counts = []
        for extra in (0, 40):
            for n in range(extra):
                self.history.order(SINCE + timedelta(days=n % DAYS))
                self.history.order(TODAY)
            rollup.backfill([self.team])
            with CaptureQueriesContext(connection) as queries:
                cost_report(self.team, since=SINCE, until=TODAY)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])
        self.assertLessEqual(counts[0], 20)

    def test_the_schedule_and_the_command(self):
        from config.schedules import declared_schedules
        from reports.tasks import rollup_costs

        names = {s["name"]: s["func"] for s in declared_schedules()}
        self.assertEqual(names["reports.rollup_costs"], "reports.tasks.rollup_costs")
        answer = rollup_costs()  # the last week, both teams
        self.assertRegex(answer, r"^\d+ days of 2 teams, 0 skipped$")
        self.assertFalse(DailyRollup.objects.filter(day__lt=TODAY - timedelta(days=7)).exists())
        self.assertEqual(rollup_costs(), "0 days of 0 teams, 0 skipped")  # nothing left

        out = StringIO()
        call_command("rollup_costs", "--team", str(self.team.code), stdout=out)
        self.assertRegex(out.getvalue(), r"Rolled up \d+ days of 1 teams in")
        self.assertTrue(DailyRollup.objects.filter(team=self.team, day=SINCE).exists())
        self.assertFalse(DailyRollup.objects.filter(team=self.other_team, day=SINCE).exists())
        since = (TODAY - timedelta(days=3)).isoformat()
        call_command("rollup_costs", "--since", since, stdout=StringIO())
        self.assert_same_report(self.team)
        from django.core.management.base import CommandError

        with self.assertRaisesMessage(CommandError, "No team"):
            call_command("rollup_costs", "--team", "not-a-team", stdout=StringIO())
        with self.assertRaisesMessage(CommandError, "YYYY-MM-DD"):
            call_command("rollup_costs", "--since", "yesterday", stdout=StringIO())
