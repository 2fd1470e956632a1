"""config.sql.KeptRead: the sync engine's hottest reads keep their compiled SQL (issue 13).
Its rows must be the ORM's own, value for value, for whichever id they are run with."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.sql import KeptRead
from orders.models import Order
from providers.models import ProviderAccount
from tests.orders.base import SandboxTestCase


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


class KeptReadTestCase(SandboxTestCase):
    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")
        self.smscode = self.account("smscode")
        self.place()  # on the team's routing: at least one order on an account
        Order.objects.update(cost=Decimal("0.1234"), previous_upstream_ids=["A1", "B2"])
        self.built = []

        def build(account):
            self.built.append(account)
            return Order.objects.filter(account_id=account).order_by()

        self.read = KeptRead(Order, build)

    def test_rows_are_the_orms_value_for_value(self):
        for account in (self.smspool, self.smscode):
            kept = sorted(self.read.rows(account.pk), key=lambda o: o.pk)
            orm = list(Order.objects.filter(account=account).order_by("pk"))
            self.assertEqual([field_values(o) for o in kept], [field_values(o) for o in orm])
        self.assertTrue(Order.objects.exists())
        order = Order.objects.first()
        (kept,) = [o for o in self.read.rows(order.account_id) if o.pk == order.pk]
        self.assertEqual(kept.cost, Decimal("0.1234"))  # a Decimal, converted as the ORM does
        self.assertEqual(kept.previous_upstream_ids, ["A1", "B2"])  # JSON, decoded
        self.assertFalse(kept._state.adding)  # a saved row: save() updates it
        self.assertEqual(kept._state.db, "default")

    def test_the_query_is_built_once_and_run_for_each_value(self):
        self.read.rows(self.smspool.pk)
        with CaptureQueriesContext(connection) as queries:
            self.read.rows(self.smscode.pk)
            self.read.rows(self.smspool.pk)
        self.assertEqual(len(self.built), 1)  # compiled on the first run only
        self.assertEqual(len(queries), 2)
        self.assertIn(str(self.smscode.pk), queries[0]["sql"])
        self.assertIn(str(self.smspool.pk), queries[1]["sql"])

    def test_an_encrypted_field_and_several_values(self):
        read = KeptRead(
            ProviderAccount,
            lambda pk, label: ProviderAccount.objects.filter(pk=pk, label=label).order_by(),
            arity=2,
        )
        (account,) = read.rows(self.smspool.pk, self.smspool.label)
        self.assertEqual(field_values(account), field_values(self.smspool))
        self.assertEqual(account.api_key, self.smspool.api_key)  # the same key once decrypted
        self.assertEqual(read.rows(self.smspool.pk, "another label"), [])

    def test_a_query_that_drops_a_value_is_refused(self):
        read = KeptRead(Order, lambda account: Order.objects.filter(pk=1).order_by())
        with self.assertRaisesMessage(RuntimeError, "lost one of its values"):
            read.rows(self.smspool.pk)
