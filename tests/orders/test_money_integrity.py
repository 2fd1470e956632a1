"""Money integrity: one upstream purchase is one order and one charge, whatever the
network does. Real HTTP to the sandbox, which holds, drops or garbles the answer to a
purchase after it has sold the number; threads where the race is the point."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.test import TransactionTestCase
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from audit.models import AuditEvent
from orders import services, sync
from orders.models import Order, State
from providers.types import OrderState, OrderStatus
from reports import ledger
from reports.models import LedgerEntry, LedgerKind, SpendHold
from sync import engine
from tests.base import make_user
from tests.conftest import sandbox_account, start_sandbox
from tests.orders.base import SandboxTestCase

# The sandbox's name for each protocol's purchase request (its stats' endpoint).
PURCHASE_ENDPOINT = {
    "smspool": "/purchase/sms",
    "numpool": "/buy",
    "smscode": "/orders/create",
    "smsactivate": "getNumberV2",
}
PROTOCOL = {"smspool": "smspool", "numpool": "numpool", "smscode": "smscode"}


def whatsapp_choice(account) -> services.Choice:
    """The account's offer for WhatsApp in the United States."""
    from orders import quotes
    from providers.models import Country, Service

    service, country = Service.objects.get(slug="whatsapp"), Country.objects.get(iso="US")
    offers = quotes.offers_for(account.team, service, country)
    return next(o.choice for o in offers if o.account == account)


def sandbox_orders(server, account) -> list:
    """The sandbox's own records of the orders sold to `account`."""
    protocol = PROTOCOL.get(account.kind, "smsactivate")
    with server.state.lock:
        upstream = server.state.accounts.get((protocol, account.api_key))
        return list(upstream.orders.values()) if upstream else []


def sandbox_spent(server, account) -> Decimal:
    """How much the sandbox account's balance went down."""
    protocol = PROTOCOL.get(account.kind, "smsactivate")
    with server.state.lock:
        upstream = server.state.accounts[(protocol, account.api_key)]
        server.state.settle_account(upstream)
        return upstream.initial_balance - upstream.balance


def ledger_total(account) -> Decimal:
    return sum((e.amount for e in LedgerEntry.objects.filter(account=account)), Decimal(0))


def fail_purchase(server, account, mode: str) -> None:
    """Fail the account's next purchase request with `mode`; for SMSCode, whose client
    re-sends a purchase under its idempotency key, every attempt of it."""
    protocol = PROTOCOL.get(account.kind, "smsactivate")
    attempts = 3 if account.kind == "smscode" else 1
    server.faults.enqueue(protocol, mode, attempts, endpoint=PURCHASE_ENDPOINT[account.kind])


class LostAnswersTestCase(SandboxTestCase):
    """The purchase happened upstream; its answer was lost or unreadable."""

    def place_with_fault(self, kind: str, mode: str):
        account = self.account(kind)
        fail_purchase(self.sandbox, account, mode)
        return account, self.place(offer=self.offer_key(account))

    def test_a_lost_answer_is_unconfirmed_never_failed_and_stays_with_its_member(self):
        for kind in ("smspool", "numpool", "smscode", "smsactivate"):
            with self.subTest(kind=kind):
                account, response = self.place_with_fault(kind, "drop_after")
                self.assertRedirects(response, reverse("board", args=[self.team.code]))
                order = Order.objects.get(account=account)
                self.assertEqual(order.state, State.UNCONFIRMED)
                self.assertEqual(order.ordered_by, self.bob)
                board = self.client.get(reverse("board", args=[self.team.code]))
                self.assertContains(board, "Checking with the provider")
                # Its price stays reserved against the member's budget meanwhile.
                self.assertEqual(SpendHold.objects.filter(order=order).count(), 1)
                self.assertGreater(ledger.member_spend_usd(self.team, self.bob), 0)

                self.cycle(account)
                order.refresh_from_db()
                (sold,) = sandbox_orders(self.sandbox, account)
                self.assertEqual(order.state, State.WAITING)
                self.assertEqual(order.upstream_id, str(sold.id))
                self.assertEqual(order.ordered_by, self.bob)
                self.assertEqual(order.service.slug, "whatsapp")
                self.assertEqual(Order.objects.filter(account=account).count(), 1)
                self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))
                self.assertFalse(SpendHold.objects.filter(order=order, released_at=None))

    def test_an_unreadable_answer_is_unconfirmed_too(self):
        for mode in ("malformed", "http_500", "html_200"):
            with self.subTest(mode=mode):
                Order.objects.all().delete()
                account = self.account("numpool", label=f"numpool {mode}")
                fail_purchase(self.sandbox, account, mode)
                self.place(offer=self.offer_key(account))
                self.assertEqual(Order.objects.get(account=account).state, State.UNCONFIRMED)

    def test_a_purchase_that_did_not_happen_is_closed_without_charge(self):
        account, _ = self.place_with_fault("smspool", "drop")  # hangs up before selling
        order = Order.objects.get()
        self.assertEqual(order.state, State.UNCONFIRMED)
        self.cycle(account)  # too soon to tell: the request may still be in progress
        order.refresh_from_db()
        self.assertEqual(order.state, State.UNCONFIRMED)
        self.cycle(account, later=sync.UNCONFIRMED_SETTLE.total_seconds() + 1)
        order.refresh_from_db()
        self.assertEqual(order.state, State.FAILED)
        self.assertIn("nothing was bought or charged", order.error)
        self.assertEqual(sandbox_orders(self.sandbox, account), [])
        self.assertFalse(LedgerEntry.objects.exists())
        self.assertEqual(ledger.member_spend_usd(self.team, self.bob), 0)

    def test_a_late_upstream_order_reopens_the_purchase_closed_as_not_found(self):
        account, _ = self.place_with_fault("numpool", "drop")
        order = Order.objects.get()
        self.cycle(account, later=sync.UNCONFIRMED_SETTLE.total_seconds() + 1)
        order.refresh_from_db()
        self.assertEqual(order.state, State.FAILED)
        self.place(offer=self.offer_key(account))  # another order keeps the poller looking
        # The provider processed the request after all (it was stuck in its queue).
        stray = account.client().purchase(
            services.purchase_request(
                order, services.choice_for(order), services.Options.from_json(order.options)
            )
        )[0]
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
        self.assertEqual(order.upstream_id, stray.order_id)
        self.assertEqual(order.ordered_by, self.bob)
        self.assertFalse(Order.objects.filter(is_orphan=True).exists())
        self.assertEqual(Order.objects.count(), 2)
        self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_smscode_resolves_by_resending_under_the_same_idempotency_key(self):
        account, _ = self.place_with_fault("smscode", "drop_after")
        order = Order.objects.get()
        self.assertEqual(order.state, State.UNCONFIRMED)
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
        self.assertEqual(len(sandbox_orders(self.sandbox, account)), 1)  # bought once
        self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_an_unconfirmed_order_cannot_be_cancelled_yet(self):
        self.place_with_fault("numpool", "drop_after")
        order = Order.objects.get()
        r = self.client.post(reverse("order_cancel", args=[order.code]), follow=True)
        self.assertContains(r, "still checking with the provider")
        self.assertEqual(Order.objects.get().state, State.UNCONFIRMED)

    def test_a_crashed_placement_is_resolved_once_its_deadline_passes(self):
        account = self.account("numpool")
        with self.settings(ORDERS_AUTOSTART_POLLER=False):
            order = services._create_placing_row(
                self.member,
                whatsapp_choice(account),
                services.Options(),
                "crashed",
                "",
                False,
                None,
            )
        choice = services.choice_for(order)
        account.client().purchase(services.purchase_request(order, choice, services.Options()))
        self.cycle(account)  # still within its deadline: left to its own answer
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(Order.objects.get().state, State.PLACING)
        self.cycle(account, later=services.PLACEMENT_DEADLINE.total_seconds() + 1)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
        self.assertEqual(Order.objects.count(), 1)
        self.assertTrue(AuditEvent.objects.filter(action="order.reconciled").exists())


class OneRowPerUpstreamOrderTestCase(SandboxTestCase):
    def test_the_database_refuses_a_second_row_for_an_upstream_order(self):
        account = self.account("numpool", sync=False)
        fields = {
            "team": self.team,
            "account": account,
            "service_upstream_id": "wa",
            "country_upstream_id": "1",
            "upstream_id": "77",
        }
        Order.objects.create(idempotency_key="a", **fields)
        with self.assertRaises(IntegrityError), transaction.atomic():
            Order.objects.create(idempotency_key="b", **fields)

    def test_the_database_refuses_booking_one_money_event_twice(self):
        account = self.account("numpool", sync=False)
        key = ledger.natural_key(account, LedgerKind.PURCHASE, "77")
        entry = {
            "team": self.team,
            "account": account,
            "kind": LedgerKind.PURCHASE,
            "amount": Decimal("0.50"),
            "currency": "USD",
            "dedupe_key": key,
        }
        LedgerEntry.objects.create(**entry)
        with self.assertRaises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(**entry)
        # The booking helper sees the same event and books nothing.
        self.assertIsNone(
            ledger.book(
                account=account,
                kind=LedgerKind.PURCHASE,
                amount=Decimal("0.50"),
                currency="USD",
                dedupe_key=key,
            )
        )


class ThreadedSandboxTestCase(TransactionTestCase):
    """Real threads against a real database: each thread commits for itself."""

    sandbox_knobs: dict = {}

    def setUp(self):
        from accounts.models import Team

        self.sandbox = start_sandbox(**self.sandbox_knobs)
        self.addCleanup(self.sandbox.stop)
        self.team = Team.objects.create(name="Threads")
        self.bob = make_user("bob")
        self.member = Membership.objects.create(team=self.team, user=self.bob, role=Role.MEMBER)

    def place_in_thread(self, account, key: str, results: list) -> threading.Thread:
        choice = whatsapp_choice(account)

        def place():
            try:
                results.append(
                    services.order_place(
                        membership=self.member,
                        choices=[choice],
                        options=services.Options(),
                        idempotency_key=key,
                    )
                )
            except Exception as exc:
                results.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=place)
        thread.start()
        return thread


class HeldAnswerTestCase(ThreadedSandboxTestCase):
    sandbox_knobs = {"slow_seconds": 2.0}

    def test_a_poll_while_the_answer_is_held_makes_no_second_row_or_charge(self):
        for kind in ("numpool", "smspool"):
            with self.subTest(kind=kind):
                account = sandbox_account(self.team, self.sandbox, kind)
                fail_purchase(self.sandbox, account, "slow")
                results: list = []
                thread = self.place_in_thread(account, f"held-{kind}", results)
                deadline = time.monotonic() + 5
                while not sandbox_orders(self.sandbox, account) and time.monotonic() < deadline:
                    time.sleep(0.02)
                engine.run_cycle(account)  # sees the upstream order before its answer lands
                thread.join()
                engine.run_cycle(account)
                self.assertEqual(Order.objects.filter(account=account).count(), 1)
                order = Order.objects.get(account=account)
                self.assertEqual(order.state, State.WAITING)
                self.assertEqual(order.ordered_by, self.bob)
                purchases = LedgerEntry.objects.filter(account=account, kind="purchase")
                self.assertEqual(purchases.count(), 1)
                self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))


class ConcurrentBudgetTestCase(ThreadedSandboxTestCase):
    def test_fifty_concurrent_placements_buy_exactly_what_the_budget_allows(self):
        account = sandbox_account(self.team, self.sandbox, "numpool")
        price = whatsapp_choice(account).price
        self.team.monthly_budget = price * 10
        self.team.save()
        results: list = []
        threads = [self.place_in_thread(account, f"k{n}", results) for n in range(50)]
        for thread in threads:
            thread.join()
        placed = [r for r in results if isinstance(r, list)]
        refused = [r for r in results if isinstance(r, services.OrderActionError)]
        self.assertEqual((len(placed), len(refused)), (10, 40), results)
        self.assertEqual(len(sandbox_orders(self.sandbox, account)), 10)
        self.assertIn("monthly budget", refused[0].message)
        self.assertLessEqual(ledger.team_spend_usd(self.team), self.team.monthly_budget)

    def test_the_member_limit_holds_under_concurrency_too(self):
        account = sandbox_account(self.team, self.sandbox, "numpool")
        price = whatsapp_choice(account).price
        self.member.monthly_spend_limit = price * 2
        self.member.save()
        results: list = []
        threads = [self.place_in_thread(account, f"m{n}", results) for n in range(20)]
        for thread in threads:
            thread.join()
        self.assertEqual(len(sandbox_orders(self.sandbox, account)), 2)
        self.assertEqual(sum(isinstance(r, list) for r in results), 2)


class SmsActivateMoneyTestCase(SandboxTestCase):
    """getNumber carries no price: the quote is booked, marked, and refunds follow it."""

    def sms_activate_without_v2(self):
        account = self.account("smsactivate")
        account.wire_facts = {"bad_actions": ["getNumberV2"]}  # a host with getNumber only
        account.save()
        return account

    def test_a_purchase_without_a_price_is_booked_at_its_quote(self):
        account = self.sms_activate_without_v2()
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        self.assertEqual(order.state, State.WAITING)
        self.assertTrue(order.cost_quoted)
        entry = LedgerEntry.objects.get(order=order)
        self.assertEqual((entry.kind, entry.amount, entry.quoted), ("purchase", order.cost, True))
        self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_the_cancel_refund_is_booked_and_the_books_balance(self):
        account = self.sms_activate_without_v2()
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        self.advance(600)  # past the cancel lock
        services.order_cancel(order=order, actor=self.bob)
        order.refresh_from_db()
        self.assertEqual(order.state, State.CANCELLED)
        refund = LedgerEntry.objects.get(order=order, kind="refund")
        self.assertEqual(refund.amount, -order.cost)
        self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_the_price_reported_later_corrects_the_quote_once(self):
        account = self.sms_activate_without_v2()
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        real = order.cost + Decimal("0.07")
        state = OrderState(
            order_id=order.upstream_id,
            status=OrderStatus.WAITING,
            raw_status="STATUS_WAIT_CODE",
            cost=real,
            currency="USD",
        )
        services.apply_state(order, state)
        services.apply_state(order, state)
        order.refresh_from_db()
        self.assertEqual((order.cost, order.cost_quoted), (real, False))
        adjustment = LedgerEntry.objects.get(order=order, kind="adjustment")
        self.assertEqual(adjustment.amount, Decimal("0.07"))
        self.assertEqual(ledger_total(account), real)


class ForeignNotFoundTestCase(SandboxTestCase):
    def test_a_404_from_another_host_does_not_close_or_refund_an_order(self):
        account = self.account("smspool")
        self.place()
        order = Order.objects.get()
        # A proxy or a wrong base URL answers 404 for every path it does not serve.
        account.base_url = self.sandbox.base_url + "/nothing-here"
        account.save()
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
        self.assertFalse(LedgerEntry.objects.filter(kind="refund").exists())
        with self.assertRaises(services.OrderActionError):
            services.order_refresh(order=order)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
        self.assertFalse(LedgerEntry.objects.filter(kind="refund").exists())


class WhileNobodyLookedTestCase(SandboxTestCase):
    """The poller was down (a crash, an outage) while orders moved on upstream."""

    def test_an_order_that_got_its_code_upstream_is_not_refunded_at_expiry(self):
        for kind in ("smspool", "numpool", "smscode", "smsactivate"):
            with self.subTest(kind=kind):
                account = self.account(kind)
                self.place(offer=self.offer_key(account))
                order = Order.objects.get(account=account)
                self.deliver(order, text="Your code is 771234")
                self.advance(1300)  # past its lifetime upstream: used, closed
                sync.process_expired(account, now=order.expires_at + timedelta(seconds=1))
                order.refresh_from_db()
                self.assertEqual(order.state, State.COMPLETED)
                self.assertEqual(order.last_code, "771234")
                self.assertFalse(LedgerEntry.objects.filter(order=order, kind="refund"))
                self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_an_unconfirmed_purchase_that_ended_before_anyone_looked_is_found_in_history(self):
        for kind in ("smspool", "numpool"):
            with self.subTest(kind=kind):
                account = self.account(kind)
                fail_purchase(self.sandbox, account, "drop_after")
                self.place(offer=self.offer_key(account))
                order = Order.objects.get(account=account)
                self.assertEqual(order.state, State.UNCONFIRMED)
                self.advance(1300)  # expired unused upstream, and refunded there
                self.cycle(account, later=sync.UNCONFIRMED_SETTLE.total_seconds() + 1)
                order.refresh_from_db()
                self.assertIn(order.state, (State.EXPIRED, State.REFUNDED, State.CANCELLED))
                self.assertTrue(order.upstream_id)
                self.assertEqual(order.ordered_by, self.bob)
                kinds = sorted(
                    LedgerEntry.objects.filter(order=order).values_list("kind", flat=True)
                )
                self.assertEqual(kinds, ["purchase", "refund"])
                self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_sms_activate_cannot_confirm_a_purchase_that_ended_unseen_and_says_so(self):
        # SMS-Activate lists only open activations and keeps no history: a purchase
        # that ended before anyone looked cannot be settled from its lists.
        account = self.account("smsactivate")
        fail_purchase(self.sandbox, account, "drop_after")
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        (sold,) = sandbox_orders(self.sandbox, account)
        with self.sandbox.state.lock:
            self.sandbox.state.deliver(sold, text="Code 551100")
        self.advance(1300)
        later = account.client_class.order_lifetime_seconds + 1
        self.cycle(account, later=later)
        order.refresh_from_db()
        self.assertEqual(order.state, State.UNCONFIRMED)  # never "failed"
        self.assertEqual(order.error_category, services.CANNOT_CONFIRM)
        board = self.client.get(reverse("board", args=[self.team.code]))
        self.assertContains(board, "the provider cannot confirm this purchase")
        # Staff, having checked upstream, settle it in the admin.
        self.assertFalse(engine.accounts_with_work().filter(pk=account.pk).exists())
        self.client.force_login(make_user("staff", is_staff=True, is_superuser=True))
        self.client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "settle_as_not_bought", "_selected_action": [order.pk]},
        )
        order.refresh_from_db()
        self.assertEqual((order.state, order.error_category), (State.FAILED, "settled_by_staff"))


class RetriedPurchaseTestCase(SandboxTestCase):
    def test_a_refusal_after_a_lost_attempt_is_unconfirmed_not_failed(self):
        # SMSCode purchases are re-sent under their key: the first attempt sells the
        # number and its answer is lost, the next ones are refused with 429.
        account = self.account("smscode")
        endpoint = PURCHASE_ENDPOINT["smscode"]
        self.sandbox.faults.enqueue("smscode", "drop_after", endpoint=endpoint)
        self.sandbox.faults.enqueue("smscode", "http_429", 2, endpoint=endpoint)
        self.place(offer=self.offer_key(account))
        order = Order.objects.get()
        self.assertEqual(order.state, State.UNCONFIRMED)
        self.cycle(account)
        order.refresh_from_db()
        self.assertEqual(order.state, State.WAITING)
        self.assertEqual(len(sandbox_orders(self.sandbox, account)), 1)
        self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))

    def test_an_orphan_whose_list_row_has_no_price_is_booked_at_its_own_price(self):
        account = self.account("smscode")
        self.place(offer=self.offer_key(account))  # gives the poller a reason to run
        order = Order.objects.get()
        choice = services.choice_for(order)
        request = services.purchase_request(order, choice, services.Options())
        stray = account.client().purchase(replace(request, idempotency_key="stray"))[0]
        self.cycle(account)
        orphan = Order.objects.get(upstream_id=stray.order_id)
        self.assertEqual(orphan.cost, stray.cost)
        self.assertEqual(ledger_total(account), sandbox_spent(self.sandbox, account))
