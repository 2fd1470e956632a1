"""End to end: the portal, the real clients and the sandbox over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

from django.urls import reverse

from audit.models import AuditEvent
from orders import services
from orders.models import Order, State
from reports.models import LedgerEntry
from tests.orders.base import SandboxTestCase


class PlaceAndReceiveTestCase(SandboxTestCase):
    def test_it_places_and_shows_the_code_on_the_board(self):
        account = self.account("smspool")
        r = self.place()
        self.assertRedirects(r, reverse("board", args=[self.team.code]))
        order = Order.objects.get()
        self.assertEqual(order.state, State.WAITING)
        self.assertEqual(order.account, account)
        self.assertEqual(order.ordered_by, self.bob)
        self.assertTrue(order.phone_number.startswith("1"))
        self.assertEqual(LedgerEntry.objects.get(order=order).amount, order.cost)
        self.assertTrue(AuditEvent.objects.filter(action="order.placed", actor=self.bob).exists())

        self.deliver(order, text="Your WhatsApp code is 482-913")
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.state, State.RECEIVED)
        self.assertEqual(order.last_code, "482913")
        self.assertEqual(order.messages.get().text, "Your WhatsApp code is 482-913")

        self.client.force_login(self.vic)  # a viewer sees the same live board
        r = self.client.get(reverse("board_fragment", args=[self.team.code]))
        self.assertContains(r, "482913")
        self.assertContains(r, order.international_number)

    def test_each_provider_delivers_codes_through_the_sync_engine(self):
        for kind in ("numpool", "smscode", "smsactivate"):
            with self.subTest(kind=kind):
                account = self.account(kind)
                r = self.place(offer=self.offer_key(account))
                self.assertEqual(r.status_code, 302, r.content[:2000])
                order = Order.objects.get(account=account)
                self.deliver(order, text="<#> 551234 is your WhatsApp code")
                self.cycle(account)
                order.refresh_from_db()
                self.assertEqual(order.last_code, "551234", kind)
                self.assertEqual(order.state, State.RECEIVED)

    def test_mark_as_done_completes_the_order(self):
        account = self.account("smscode")
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        self.deliver(order)
        self.cycle(account)
        r = self.client.post(reverse("order_complete", args=[order.code]))
        self.assertEqual(r.status_code, 302)
        order.refresh_from_db()
        self.assertEqual(order.state, State.COMPLETED)
        self.assertEqual(self.upstream(order).status, "finished")


class IdempotencyTestCase(SandboxTestCase):
    def test_two_identical_posts_buy_one_number(self):
        account = self.account("smspool")
        form = self.order_form()
        self.client.force_login(self.bob)
        url = reverse("order_new", args=[self.team.code])
        self.client.post(url, form)
        self.client.post(url, form)
        self.assertEqual(Order.objects.count(), 1)
        upstream_orders = [
            o for o in self.sandbox.state.orders.values() if o.api_key == account.api_key
        ]
        self.assertEqual(len(upstream_orders), 1)
        self.assertEqual(LedgerEntry.objects.count(), 1)


class CancelTestCase(SandboxTestCase):
    def test_cancel_during_the_lock_then_cancel_when_allowed_completes(self):
        account = self.account("smspool")
        self.place()
        order = Order.objects.get()
        url = reverse("order_cancel", args=[order.code])

        r = self.client.post(url, follow=True)
        self.assertContains(r, "can be cancelled in")
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)

        self.client.post(url, {"when_allowed": "1"})
        order.refresh_from_db()
        self.assertTrue(order.cancel_requested)

        self.advance(60)  # the provider's lock is over
        self.cycle(account, later=60)
        order.refresh_from_db()
        self.assertEqual(order.state, State.CANCELLED)
        self.assertFalse(order.cancel_requested)
        refund = LedgerEntry.objects.get(order=order, kind="refund")
        self.assertEqual(refund.amount, -order.cost)
        self.assertEqual(self.upstream(order).status, "cancelled")
        event = AuditEvent.objects.get(action="order.cancelled")
        self.assertIsNone(event.actor)  # the system did it, as asked

    def test_a_cancel_after_the_lock_refunds_at_once(self):
        account = self.account("numpool")
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        self.advance(60)
        order.cancel_available_at = None
        order.save()
        self.client.post(reverse("order_cancel", args=[order.code]))
        order.refresh_from_db()
        self.assertEqual(order.state, State.CANCELLED)
        self.assertEqual(sum(e.amount for e in LedgerEntry.objects.filter(order=order)), 0)


class ResendTestCase(SandboxTestCase):
    def test_resend_records_a_second_code(self):
        account = self.account("smspool")
        self.place()
        order = Order.objects.get()
        first_id = order.upstream_id
        self.deliver(order, text="Your WhatsApp code is 111-222")
        self.cycle(account)

        r = self.client.post(reverse("order_resend", args=[order.code]), follow=True)
        self.assertContains(r, "Another code requested")
        order.refresh_from_db()
        self.assertEqual(order.state, State.RESEND_REQUESTED)
        self.assertNotEqual(order.upstream_id, first_id)  # SMSPool re-sends under a new id
        self.assertEqual(order.previous_upstream_ids, [first_id])

        self.deliver(order, text="Your WhatsApp code is 333-444")
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.last_code, "333444")
        self.assertEqual([m.code for m in order.messages.all()], ["111222", "333444"])

    def test_resend_on_the_sms_activate_protocol_keeps_the_id(self):
        account = self.account("smsactivate")
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        self.deliver(order, text="Your code: 7788")
        self.cycle(account)
        self.client.post(reverse("order_resend", args=[order.code]))
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.state, State.RESEND_REQUESTED)  # the old code is not "new"
        self.deliver(order, text="Your code: 9911")
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual([m.code for m in order.messages.all()], ["7788", "9911"])


class ExpiryTestCase(SandboxTestCase):
    def test_expiry_refunds_and_places_the_automatic_replacement(self):
        account = self.account("smspool")
        self.place(auto_replace="on", note="staging WhatsApp #3")
        order = Order.objects.get()
        self.advance(1300)  # past SMSPool's 1200 s
        self.cycle(account, later=1300)
        order.refresh_from_db()
        self.assertEqual(order.state, State.EXPIRED)
        self.assertEqual(LedgerEntry.objects.get(order=order, kind="refund").amount, -order.cost)
        replacement = Order.objects.get(replaces=order)
        self.assertEqual(replacement.state, State.WAITING)
        self.assertEqual(replacement.note, "staging WhatsApp #3")
        self.assertEqual(replacement.ordered_by, self.bob)
        self.assertEqual(replacement.replace_count, 1)
        self.assertTrue(AuditEvent.objects.filter(action="order.auto_replaced").exists())
        self.assertTrue(AuditEvent.objects.filter(action="order.expired", actor=None).exists())

    def test_replacement_stops_at_the_limit(self):
        account = self.account("smspool")
        self.place(auto_replace="on")
        with self.settings(ORDERS_AUTO_REPLACE_LIMIT=2):
            for round_ in range(1, 4):
                self.advance(1300)
                self.cycle(account, later=1300 * round_)
        self.assertEqual(Order.objects.count(), 3)  # the first and two replacements
        self.assertEqual(Order.objects.filter(state=State.EXPIRED).count(), 3)


class FailoverTestCase(SandboxTestCase):
    sandbox_knobs = {"out_of_stock": {"smspool": ["US"]}}

    def test_out_of_stock_fails_over_to_the_next_provider(self):
        smspool = self.account("smspool")
        numpool = self.account("numpool")
        r = self.place(offer=self.offer_key(smspool), failover="on")
        self.assertEqual(r.status_code, 302)
        order = Order.objects.get()
        self.assertEqual(order.account, numpool)
        self.assertEqual(order.state, State.WAITING)
        self.assertTrue(AuditEvent.objects.filter(action="order.failover").exists())

    def test_without_failover_it_explains_and_suggests_stock(self):
        smspool = self.account("smspool")
        self.account("numpool")
        r = self.place(offer=self.offer_key(smspool))
        self.assertContains(r, "has no numbers for WhatsApp in United States")
        self.assertContains(r, "numpool sandbox: WhatsApp / United States")
        self.assertEqual(Order.objects.get().state, State.FAILED)
        self.assertEqual(LedgerEntry.objects.count(), 0)


class InsufficientBalanceTestCase(SandboxTestCase):
    def test_it_names_the_account_and_its_balance(self):
        account = self.account("smspool")
        with self.sandbox.state.lock:
            upstream = self.sandbox.state.account("smspool", account.api_key)
            self.sandbox.state.set_balance(upstream, Decimal("0.05"))
        r = self.place(offer=self.offer_key(account))
        self.assertContains(r, "smspool sandbox has 0.05")
        self.assertContains(r, "Top up that provider account")
        self.assertEqual(LedgerEntry.objects.count(), 0)


class CrashRecoveryTestCase(SandboxTestCase):
    def test_a_crash_after_purchase_is_reconciled_within_one_cycle(self):
        account = self.account("smspool")
        crash = mock.patch.object(services, "record_purchases", side_effect=SystemExit("crash"))
        with crash, self.assertRaises(SystemExit):
            self.place()
        order = Order.objects.get()
        self.assertEqual(order.state, State.PLACING)
        self.assertEqual(order.upstream_id, "")
        # While the purchase may still be in flight, its upstream order is left to it.
        self.cycle(account)
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(Order.objects.get().state, State.PLACING)
        # Past its deadline the process is gone: the next cycle attaches the order.
        self.cycle(account, later=services.PLACEMENT_DEADLINE.total_seconds() + 1)
        order.refresh_from_db()
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(order.state, State.WAITING)
        self.assertTrue(order.upstream_id)
        self.assertTrue(order.phone_number)
        self.assertEqual(LedgerEntry.objects.filter(order=order, kind="purchase").count(), 1)
        self.assertTrue(AuditEvent.objects.filter(action="order.reconciled").exists())

    def test_an_upstream_order_nobody_placed_is_recorded_as_an_orphan(self):
        account = self.account("smscode")
        self.place(offer=self.offer_key(account))  # gives the poller a reason to run
        client = account.client()
        from providers.types import PurchaseRequest

        order = Order.objects.get()
        stray = client.purchase(
            PurchaseRequest(
                service_id=order.service_upstream_id, country_id=order.country_upstream_id
            )
        )[0]
        self.cycle(account)
        orphan = Order.objects.get(upstream_id=stray.order_id)
        self.assertTrue(orphan.is_orphan)
        self.assertIsNone(orphan.ordered_by)
        self.assertTrue(AuditEvent.objects.filter(action="order.orphan_found").exists())


class AccessTestCase(SandboxTestCase):
    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")
        self.place()
        self.order = Order.objects.get()

    def test_a_viewer_reads_but_cannot_order_or_cancel(self):
        self.client.force_login(self.vic)
        self.assertEqual(self.client.get(reverse("board", args=[self.team.code])).status_code, 200)
        self.assertEqual(
            self.client.get(reverse("order_detail", args=[self.order.code])).status_code, 200
        )
        r = self.client.post(reverse("order_new", args=[self.team.code]), self.order_form())
        self.assertEqual(r.status_code, 403)
        r = self.client.post(reverse("order_cancel", args=[self.order.code]))
        self.assertEqual(r.status_code, 403)
        self.assertEqual(Order.objects.count(), 1)

    def test_outsiders_get_404_everywhere(self):
        self.client.force_login(self.charlie)
        for name in ("order_detail", "order_row"):
            self.assertEqual(
                self.client.get(reverse(name, args=[self.order.code])).status_code, 404
            )
        for name in (
            "order_cancel",
            "order_resend",
            "order_complete",
            "order_replace",
            "order_note",
        ):
            self.assertEqual(
                self.client.post(reverse(name, args=[self.order.code])).status_code, 404
            )
        for name in ("board", "board_fragment", "order_new", "order_offers", "order_history"):
            self.assertEqual(self.client.get(reverse(name, args=[self.team.code])).status_code, 404)

    def test_any_member_acts_on_the_teams_orders(self):
        self.client.force_login(self.mia)
        self.client.post(reverse("order_note", args=[self.order.code]), {"note": "mine now"})
        self.order.refresh_from_db()
        self.assertEqual(self.order.note, "mine now")

    def test_actions_reject_get(self):
        self.client.force_login(self.bob)
        for name in (
            "order_cancel",
            "order_resend",
            "order_complete",
            "order_replace",
            "order_note",
        ):
            self.assertEqual(
                self.client.get(reverse(name, args=[self.order.code])).status_code, 405
            )

    def test_pages_require_login(self):
        self.client.logout()
        url = reverse("board", args=[self.team.code])
        self.assertRedirects(self.client.get(url), f"{reverse('login')}?next={url}")


class LongCancelLockTestCase(SandboxTestCase):
    """SMSPool's cancel lock has been seen to last over two minutes."""

    sandbox_knobs = {"cancel_lock_by_protocol": {"smspool": 130}}

    def test_cancel_when_allowed_keeps_trying_through_a_130_second_lock(self):
        account = self.account("smspool")
        self.place()
        order = Order.objects.get()
        self.client.post(reverse("order_cancel", args=[order.code]), {"when_allowed": "1"})
        order.refresh_from_db()
        self.assertTrue(order.cancel_requested)
        elapsed = 0
        while elapsed < 300 and order.state != State.CANCELLED:
            elapsed += 5
            self.advance(5)
            self.cycle(account, later=elapsed)
            order.refresh_from_db()
            if 60 <= elapsed < 65:  # still locked: the board says so and what comes next
                board = self.client.get(reverse("board", args=[self.team.code]))
                self.assertContains(board, "still refuses to cancel")
                self.assertContains(board, "next try in")
        self.assertEqual(order.state, State.CANCELLED)
        self.assertGreaterEqual(elapsed, 130)
        self.assertLess(elapsed, 200)  # backs off, but not for ever
        self.assertEqual(LedgerEntry.objects.get(order=order, kind="refund").amount, -order.cost)
        # One audit event for scheduling it, however often the provider refused.
        self.assertEqual(AuditEvent.objects.filter(action="order.cancel_scheduled").count(), 1)
        self.assertFalse(order.cancel_requested)
