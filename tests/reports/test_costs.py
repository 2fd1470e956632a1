import csv
import io
from decimal import Decimal

from django.urls import reverse

from orders.models import State
from providers.models import ProviderAccount
from reports import ledger
from reports.models import LedgerKind
from tests.base import BaseTestCase
from tests.orders.test_board_and_history import make_order


class CostReportTestCase(BaseTestCase):
    def setUp(self):
        self.url = reverse("reports", args=[self.team.code])
        self.usd = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        self.usd.set_api_key("k-1234")
        self.usd.save()
        self.idr = ProviderAccount(
            team=self.team,
            kind="smscode",
            label="Code",
            base_url="https://api.smscode.gg",
            currency="IDR",
        )
        self.idr.set_api_key("k-5678")
        self.idr.save()
        a = make_order(self.team, self.usd, self.bob, 1, state=State.COMPLETED)
        b = make_order(self.team, self.usd, self.bob, 2, state=State.EXPIRED)
        c = make_order(
            self.team,
            self.idr,
            self.mia,
            3,
            state=State.RECEIVED,
            cost=Decimal("8000"),
            currency="IDR",
        )
        for order in (a, b, c):
            ledger.book(
                account=order.account,
                kind=LedgerKind.PURCHASE,
                amount=order.cost,
                currency=order.currency,
                member=order.ordered_by,
                order=order,
                dedupe_key=f"p{order.pk}",
            )
        ledger.book(
            account=self.usd,
            kind=LedgerKind.REFUND,
            amount=-b.cost,
            currency="USD",
            member=self.bob,
            order=b,
            dedupe_key="r",
        )

    def test_it_shows_net_spend_per_member_in_each_currency(self):
        self.client.force_login(self.mia)
        r = self.client.get(self.url)
        rows = {row.key: row for row in r.context["rows"]}
        self.assertEqual(rows["bob"].spent, {"USD": Decimal("0.5000")})
        self.assertEqual(rows["mia"].spent, {"IDR": Decimal("8000.0000")})
        self.assertEqual(rows["mia"].usd, Decimal("0.5000"))  # at 16000 IDR per USD
        self.assertEqual(rows["bob"].success_rate, Decimal("50.0"))
        self.assertContains(r, "Spent IDR")

    def test_it_groups_by_provider_and_exports_csv(self):
        self.client.force_login(self.alice)
        r = self.client.get(self.url, {"group": "provider", "format": "csv"})
        rows = list(csv.reader(io.StringIO(r.content.decode())))
        self.assertEqual(rows[0][0], "Provider")
        self.assertEqual({row[0] for row in rows[1:]}, {"Pool", "Code"})

    def test_members_and_viewers_cannot_read_reports(self):
        for user in (self.bob, self.vic):
            self.client.force_login(user)
            self.assertEqual(self.client.get(self.url).status_code, 403)

    def test_outsiders_get_404(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_it_requires_login(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_a_reversed_period_is_explained(self):
        self.client.force_login(self.alice)
        r = self.client.get(self.url, {"since": "2030-02-01", "until": "2030-01-01"})
        self.assertContains(r, "must be on or before")
