"""The board fragment and the history page, on orders made directly in the database."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderMessage, State
from providers.models import ProviderAccount
from tests.base import BaseTestCase


def make_order(team, account, user, n: int, state=State.WAITING, **fields) -> Order:
    values = {
        "team": team,
        "account": account,
        "ordered_by": user,
        "idempotency_key": f"k{n}",
        "service_upstream_id": "1",
        "country_upstream_id": "1",
        "service_name": "WhatsApp",
        "country_name": "United States",
        "state": state,
        "upstream_id": f"U{n}",
        "phone_number": f"1555000{n:04d}",
        "dial_code": "1",
        "cost": Decimal("0.50"),
        "currency": "USD",
        "expires_at": timezone.now() + timedelta(minutes=20),
    }
    return Order.objects.create(**{**values, **fields})


class BoardTestCase(BaseTestCase):
    def setUp(self):
        self.account = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        self.account.set_api_key("key-1234")
        self.account.save()

    def test_the_query_count_does_not_grow_with_the_number_of_orders(self):
        self.client.force_login(self.bob)
        url = reverse("board_fragment", args=[self.team.code])
        counts = []
        for total in (5, 50):
            while Order.objects.count() < total:
                order = make_order(self.team, self.account, self.bob, Order.objects.count())
                OrderMessage.objects.create(
                    order=order,
                    upstream_order_id=order.upstream_id,
                    code="123456",
                    text="code 123456",
                    fingerprint="f",
                )
            self.client.get(url)  # warm the session and caches
            with CaptureQueriesContext(connection) as queries:
                r = self.client.get(url)
            self.assertEqual(r.status_code, 200)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1])

    def test_it_answers_204_while_nothing_changed(self):
        make_order(self.team, self.account, self.bob, 1)
        self.client.force_login(self.bob)
        url = reverse("board_fragment", args=[self.team.code])
        r = self.client.get(url)
        version = r.content.decode().split("?v=")[1].split('"')[0]
        self.assertEqual(self.client.get(url, {"v": version}).status_code, 204)
        Order.objects.filter(team=self.team).update(last_code="999", updated=timezone.now())
        self.assertEqual(self.client.get(url, {"v": version}).status_code, 200)

    def test_it_shows_only_active_orders_of_the_team(self):
        make_order(self.team, self.account, self.bob, 1, phone_number="15550001111")
        make_order(
            self.team, self.account, self.bob, 2, state=State.CANCELLED, phone_number="15550002222"
        )
        self.client.force_login(self.vic)
        r = self.client.get(reverse("board", args=[self.team.code]))
        self.assertContains(r, "+15550001111")
        self.assertNotContains(r, "+15550002222")
        self.assertNotContains(r, "Cancel")  # a viewer gets no buttons


class HistoryTestCase(BaseTestCase):
    def setUp(self):
        self.account = ProviderAccount(
            team=self.team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
        )
        self.account.set_api_key("key-1234")
        self.account.save()
        self.url = reverse("order_history", args=[self.team.code])

    def test_it_filters_and_searches(self):
        make_order(self.team, self.account, self.bob, 1, phone_number="15550001111")
        make_order(
            self.team, self.account, self.mia, 2, phone_number="15550002222", state=State.EXPIRED
        )
        self.client.force_login(self.vic)
        r = self.client.get(self.url, {"member": self.mia.pk})
        self.assertContains(r, "+15550002222")
        self.assertNotContains(r, "+15550001111")
        r = self.client.get(self.url, {"q": "555-000-1111"})
        self.assertContains(r, "+15550001111")
        self.assertNotContains(r, "+15550002222")
        r = self.client.get(self.url, {"status": "expired"})
        self.assertContains(r, "+15550002222")
        self.assertNotContains(r, "+15550001111")

    def test_it_pages_by_keyset(self):
        for n in range(55):
            order = make_order(self.team, self.account, self.bob, n)
            Order.objects.filter(pk=order.pk).update(created=timezone.now() - timedelta(minutes=n))
        self.client.force_login(self.bob)
        r = self.client.get(self.url)
        self.assertEqual(len(r.context["orders"]), 50)
        cursor = r.context["next_cursor"]
        self.assertTrue(cursor)
        r = self.client.get(self.url, {"before": cursor})
        self.assertEqual(len(r.context["orders"]), 5)
        self.assertEqual(r.context["next_cursor"], "")

    def test_a_malformed_cursor_is_ignored(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url, {"before": "garbage"}).status_code, 200)

    def test_it_exports_the_filtered_set_as_csv(self):
        make_order(self.team, self.account, self.bob, 1, phone_number="15550001111")
        make_order(self.team, self.account, self.mia, 2, phone_number="15550002222")
        self.client.force_login(self.bob)
        r = self.client.get(self.url, {"member": self.bob.pk, "format": "csv"})
        rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
        self.assertEqual(rows[0][:3], ["created", "order", "member"])
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][6], "+15550001111")

    def test_it_checks_membership(self):
        self.client.force_login(self.charlie)
        self.assertEqual(self.client.get(self.url).status_code, 404)

    def test_it_explains_a_reversed_date_range(self):
        self.client.force_login(self.bob)
        r = self.client.get(self.url, {"since": "2030-01-02", "until": "2030-01-01"})
        self.assertContains(r, "must be on or before")
