"""The admin's order and rental lists: key columns first, and what was really paid."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from orders.models import State
from providers.models import ProviderAccount
from rentals.models import Rental, RentalState
from reports import ledger
from reports.models import LedgerKind
from tests.base import BaseTestCase, make_user
from tests.orders.test_board_and_history import make_order


def headers(html: str) -> list[str]:
    """The changelist's column headings, in order (the selection box left out)."""
    table = html[html.index('id="result_list"') :]
    head = table[: table.index("</thead>")]
    return re.findall(r'<th scope="col" class="[^"]*\bcolumn-([a-z_]+)', head)


class AdminListsTestCase(BaseTestCase):
    def setUp(self):
        self.account = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        self.account.set_api_key("k-1234")
        self.account.save()
        self.client.force_login(make_user("staff", is_staff=True, is_superuser=True))

    def book(self, kind, amount, key, **subject):
        ledger.book(
            account=self.account,
            kind=kind,
            amount=Decimal(amount),
            currency="USD",
            member=self.bob,
            dedupe_key=key,
            **subject,
        )

    def test_the_order_list_puts_key_columns_first_and_shows_the_net_charged(self):
        order = make_order(self.team, self.account, self.bob, 1, state=State.COMPLETED)
        self.book(LedgerKind.PURCHASE, "0.5000", "p1", order=order)
        self.book(LedgerKind.RESEND, "0.1250", "r1", order=order)
        refunded = make_order(self.team, self.account, self.bob, 2, state=State.CANCELLED)
        self.book(LedgerKind.PURCHASE, "0.5000", "p2", order=refunded)
        self.book(LedgerKind.REFUND, "-0.5000", "x2", order=refunded)
        r = self.client.get(reverse("admin:orders_order_changelist"))
        self.assertEqual(
            headers(r.content.decode())[:5],
            ["phone_number", "service_name", "country_name", "state", "charged"],
        )
        self.assertLessEqual(len(headers(r.content.decode())), 9)
        self.assertContains(r, "0.625 USD")  # purchase and a resend
        self.assertContains(r, "0.00 USD")  # bought and refunded
        page = self.client.get(reverse("admin:orders_order_change", args=[order.pk]))
        self.assertContains(
            page, "Number purchase 0.50 USD; Resend charge 0.125 USD; net 0.625 USD"
        )

    def test_the_rental_list_shows_the_total_after_extensions(self):
        rental = Rental.objects.create(
            team=self.team,
            account=self.account,
            rented_by=self.bob,
            idempotency_key="k1",
            upstream_offer_id="6",
            state=RentalState.ACTIVE,
            upstream_id="R1",
            phone_number="15550001111",
            cost=Decimal("20"),
            currency="USD",
            duration=30,
            expires_at=timezone.now() + timedelta(days=30),
        )
        self.book(LedgerKind.RENTAL, "20", "rent1", rental=rental)
        self.book(LedgerKind.EXTENSION, "7.5", "ext1", rental=rental)
        r = self.client.get(reverse("admin:rentals_rental_changelist"))
        self.assertEqual(
            headers(r.content.decode())[:5],
            ["phone_number", "label", "state", "expires", "charged"],
        )
        self.assertContains(r, "27.50 USD")
        self.assertNotContains(r, "20.0000")

    def test_a_row_with_nothing_booked_says_so(self):
        make_order(self.team, self.account, self.bob, 3, state=State.FAILED)
        r = self.client.get(reverse("admin:orders_order_changelist"))
        self.assertContains(r, "nothing booked")
