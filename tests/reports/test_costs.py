"""The cost report against a fixture whose every figure is computed by hand
(tests/reports/fixture.py): refunds, two currencies, an exchange-rate change."""

import csv
import io
import re
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports.costs import cost_report
from tests.base import BaseTestCase
from tests.reports import fixture

PERIOD = {"period": "custom", "since": "2026-03-01", "until": "2026-03-31"}


def usd(text: str) -> Decimal:
    return Decimal(text)


class CostReportTestCase(BaseTestCase):
    def setUp(self):
        self.pool, self.code, self.orders = fixture.build(self.team, self.bob, self.mia)
        self.url = reverse("reports", args=[self.team.code])

    def report(self, **kwargs):
        return cost_report(self.team, since=fixture.SINCE, until=fixture.UNTIL, **kwargs)

    def test_totals_equal_the_hand_computed_sums(self):
        report = self.report()
        # charges 1.20 + 0.80 + 8000/16000 + 16500/16500 + 4950/16500 = 3.80 USD
        self.assertEqual(report.totals.charges.quantize(Decimal("0.0001")), usd("3.8000"))
        self.assertEqual(report.totals.refunds, usd("-0.80"))
        self.assertEqual(report.totals.net.quantize(Decimal("0.0001")), usd("3.0000"))
        self.assertEqual(report.totals.original, {"USD": usd("1.20"), "IDR": Decimal(29450)})
        self.assertEqual((report.orders, report.with_code, report.without_code), (5, 3, 2))
        self.assertEqual(report.success_rate, Decimal("60.0"))
        self.assertEqual(report.cost_per_success.quantize(Decimal("0.01")), usd("1.00"))

    def test_each_entry_converts_with_the_rate_of_its_day(self):
        rows = {row[0]: row for row in self.report().tables["provider"].rows}
        # One rate for the month would give (8000 + 16500 + 4950) / 16000 = 1.8406.
        self.assertEqual(rows["Code"][3].quantize(Decimal("0.0001")), usd("1.8000"))
        self.assertEqual(rows["Pool"][1:4], [usd("2.00"), usd("-0.80"), usd("1.20")])

    def test_breakdowns_by_member_service_country_and_day(self):
        tables = self.report().tables
        net = {
            name: {r[0]: r[3].quantize(Decimal("0.01")) for r in tables[name].rows}
            for name in ("member", "service", "country", "day")
        }
        self.assertEqual(net["member"], {"bob": usd("1.20"), "mia": usd("1.80")})
        self.assertEqual(net["service"], {"WhatsApp": usd("2.70"), "Telegram": usd("0.30")})
        self.assertEqual(net["country"], {"United States": usd("1.20"), "Indonesia": usd("1.80")})
        self.assertEqual(
            net["day"],
            {
                "2026-03-03": usd("1.20"),
                "2026-03-04": usd("0.00"),
                "2026-03-10": usd("0.50"),
                "2026-03-20": usd("1.30"),
            },
        )

    def test_success_time_to_code_and_failures(self):
        tables = self.report().tables
        success = {r[0]: r[1:] for r in tables["success_provider"].rows}
        self.assertEqual(success["Pool"][:4], [2, 1, 1, Decimal("50.0")])
        self.assertEqual(success["Code"][:4], [3, 2, 1, Decimal("66.7")])
        # Code spent 1.80 USD on orders and got 2 codes.
        self.assertEqual(success["Code"][4].quantize(Decimal("0.01")), usd("0.90"))
        waits = {r[0]: r[1:] for r in tables["wait_provider"].rows}
        self.assertEqual(waits["Pool"], [1, 30.0, 30.0])
        self.assertEqual(waits["Code"], [2, 90.0, 300.0])  # nearest rank
        waits = {r[0]: r[1:] for r in tables["wait_service"].rows}
        self.assertEqual(waits["WhatsApp"], [2, 30.0, 90.0])
        failures = tables["failures"].rows
        # B was refunded: it cost nothing. D cost 16500 IDR, 1.00 USD on the 20th.
        self.assertEqual(len(failures), 1)
        self.assertEqual(failures[0][7], "16500 IDR")
        self.assertEqual(failures[0][8].quantize(Decimal("0.01")), usd("1.00"))

    def test_the_page_shows_originals_when_asked(self):
        self.login(self.mia)
        r = self.client.get(self.url, {**PERIOD, "originals": "on"})
        self.assertContains(r, "Net IDR (original)")
        self.assertContains(r, "29,450")
        r = self.client.get(self.url, PERIOD)
        self.assertNotContains(r, "Net IDR (original)")
        self.assertContains(r, "3.00 USD")

    def test_every_csv_matches_its_table_on_the_page(self):
        self.login(self.mia)
        page = self.client.get(self.url, {**PERIOD, "originals": "on"}).content.decode()
        for name in (
            "totals",
            "provider",
            "service",
            "country",
            "member",
            "day",
            "success_provider",
            "success_service",
            "success_country",
            "wait_provider",
            "wait_service",
            "failures",
        ):
            with self.subTest(table=name):
                r = self.client.get(
                    self.url, {**PERIOD, "originals": "on", "format": "csv", "table": name}
                )
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r["Content-Type"], "text/csv; charset=utf-8")
                rows = list(csv.reader(io.StringIO(r.content.decode())))
                self.assertEqual(rows[1:], page_rows(page, name), name)

    def test_csv_amounts_use_the_currency_precision(self):
        self.login(self.mia)
        r = self.client.get(
            self.url, {**PERIOD, "originals": "on", "format": "csv", "table": "provider"}
        )
        rows = {row[0]: row for row in csv.reader(io.StringIO(r.content.decode()))}
        self.assertEqual(
            rows["Provider account"],
            [
                "Provider account",
                "Charges USD",
                "Refunds USD",
                "Net USD",
                "Net IDR (original)",
                "Net USD (original)",
            ],
        )
        self.assertEqual(rows["Code"], ["Code", "1.80", "0.00", "1.80", "29450", ""])
        self.assertEqual(rows["Pool"], ["Pool", "2.00", "-0.80", "1.20", "", "1.20"])

    def test_charts_are_svg_beside_their_tables(self):
        self.login(self.mia)
        page = self.client.get(self.url, PERIOD).content.decode()
        for name in ("provider", "service", "country", "member", "day"):
            section = re.search(rf'id="t-{name}".*?</section>', page, re.S).group(0)
            self.assertIn('<svg class="chart" role="img"', section)
            self.assertIn(f'data-table="{name}"', section)
        self.assertNotIn("style=", page)

    def test_the_query_count_does_not_grow_with_the_orders(self):
        counts = []
        for extra in (0, 30):
            for n in range(extra):
                fixture.make_order(
                    self.team, self.pool, self.bob, 1000 + n, created=fixture.at(5 + n % 20)
                )
            with CaptureQueriesContext(connection) as queries:
                self.report()
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])

    def test_every_join_to_orders_reads_only_this_teams_orders(self):
        # Restricted, the join is read through the team's index; unrestricted,
        # PostgreSQL scans every team's orders (docs/BENCHMARKS.md, reports at 1 M).
        with CaptureQueriesContext(connection) as queries:
            self.report()
        joins = [q["sql"] for q in queries if re.search(r'JOIN "orders_order"', q["sql"])]
        self.assertTrue(joins)
        for sql in joins:
            on, _, where = sql.split('JOIN "orders_order"', 1)[1].partition(" WHERE ")
            team_bound = '"team_id"' in on or re.search(r'"orders_order"\."team_id" = ', where)
            self.assertTrue(team_bound, sql)

    def test_a_currency_without_any_rate_stays_out_of_the_totals_and_says_so(self):
        from providers.models import ExchangeRate

        ExchangeRate.objects.all().delete()
        report = self.report()
        self.assertEqual(report.unconverted, ["IDR"])
        self.assertEqual(report.totals.net, usd("1.20"))
        self.login(self.mia)
        r = self.client.get(self.url, PERIOD)
        self.assertContains(r, "No exchange rate is known for IDR")
        self.assertNotContains(r, "FX_PER_USD")

    def test_periods(self):
        from datetime import date, timedelta

        from django.utils import timezone

        from reports.forms import ReportForm

        today = timezone.localdate()
        for period, since in (
            ("7", today - timedelta(days=6)),
            ("30", today - timedelta(days=29)),
            ("90", today - timedelta(days=89)),
            ("this_month", today.replace(day=1)),
        ):
            self.assertEqual(ReportForm({"period": period}).dates(), (since, today))
        last = today.replace(day=1) - timedelta(days=1)
        self.assertEqual(ReportForm({"period": "last_month"}).dates(), (last.replace(day=1), last))
        form = ReportForm({"period": "custom", "since": "2026-03-01"})
        self.assertFalse(form.is_valid())
        self.assertEqual(ReportForm(PERIOD).dates(), (date(2026, 3, 1), date(2026, 3, 31)))

    def test_bad_dates_are_explained_never_a_500(self):
        self.login(self.alice)
        for query in (
            {"since": "2030-02-01", "until": "2030-01-01"},
            {"period": "custom", "since": "9999-12-31", "until": "9999-12-31"},
            {"period": "custom", "since": "2020-01-01", "until": "2026-01-01"},
            {"period": "nonsense"},
            {"since": "yesterday"},
        ):
            with self.subTest(query=query):
                r = self.client.get(self.url, query)
                self.assertEqual(r.status_code, 200)
                self.assertTrue(r.context["form"].errors)
                r = self.client.get(self.url, {**query, "format": "csv"})
                self.assertEqual(r.status_code, 400)
        r = self.client.get(self.url, {**PERIOD, "format": "csv", "table": "nope"})
        self.assertEqual(r.status_code, 400)


class ReportAccessTestCase(BaseTestCase):
    """accounts/roles.py: VIEW_REPORTS is for owners and managers; CSV included."""

    def test_roles(self):
        from accounts.roles import Permission, can

        url = reverse("reports", args=[self.team.code])
        for user, membership in (
            (self.alice, self.owner),
            (self.mia, self.manager),
            (self.bob, self.member),
            (self.vic, self.viewer),
        ):
            allowed = can(membership.role, Permission.VIEW_REPORTS)
            self.login(user)
            for query in ({}, {"format": "csv", "table": "member"}):
                with self.subTest(user=user.username, query=query):
                    status = self.client.get(url, query).status_code
                    self.assertEqual(status, 200 if allowed else 403)
        self.login(self.charlie)
        self.assertEqual(self.client.get(url, {"format": "csv"}).status_code, 404)
        self.client.logout()
        self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}")


def page_rows(page: str, name: str) -> list[list[str]]:
    """The table's body cells as text, commas of thousands removed (the CSV has none)."""
    table = re.search(rf'<table[^>]*data-table="{name}".*?</table>', page, re.S).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td([^>]*)>(.*?)</td>", tr, re.S)
        rows.append([csv_form(re.sub(r"<[^>]+>", "", text), attrs) for attrs, text in cells])
    return rows


def csv_form(text: str, attrs: str = "") -> str:
    """A cell as the CSV writes it: no thousands commas, no % sign, "" for "—", and a
    duration's seconds (its data-value) rather than its words."""
    value = re.search(r'data-value="([^"]*)"', attrs)
    if value:
        return value.group(1)
    text = text.strip().replace(",", "")
    if text == "—":
        return ""
    if text.endswith("%"):
        return text[:-1]
    return text
