"""SMSCode push (issue 13): webhook registration, signed deliveries applied through the
poll's idempotent path, and polling that slows while pushes arrive.

The sandbox is real (over HTTP); deliveries are posted to the view by the test client,
signed as SMSCode signs them, with the data the sandbox itself would push
(`SmsCode.webhook_data`). The end-to-end test, where the sandbox pushes to a live
server on its own, is in test_push_live.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderMessage, State
from providers import leases, webhooks
from providers.clients.smscode import webhook_signature
from providers.models import ProviderAccount
from providers.services import catalog_sync
from reports.models import LedgerEntry
from sync import engine
from tests.orders.base import SandboxTestCase

PUBLIC = "https://desk.example.com"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@override_settings(PUBLIC_BASE_URL=PUBLIC)
class PushTestCase(SandboxTestCase):
    """An SMSCode account whose webhook is registered, and one order of it."""

    def setUp(self):
        super().setUp()
        self.sandbox.state.config.smscode_webhooks = False  # the test posts the events itself
        self.smscode = self.account("smscode")
        self.smscode.refresh_from_db()
        self.place(offer=self.offer_key(self.smscode))
        self.order = Order.objects.get(account=self.smscode)

    # --- helpers -----------------------------------------------------------------------
    @property
    def hook(self) -> str:
        return reverse("smscode_hook", args=[self.smscode.code])

    def event(self, name: str, *, sent=None) -> bytes:
        """The body SMSCode would push for the order as the sandbox has it now."""
        protocol = next(a for a in self.sandbox.apps if a.name == "smscode")
        upstream = self.upstream(self.order)
        with self.sandbox.state.lock:
            data = protocol.webhook_data(upstream, name)
        stamp = iso(sent or timezone.now())
        return json.dumps({"event": name, "timestamp": stamp, "data": data}).encode()

    def post(self, body: bytes, signature: str | None = "sign", **extra):
        headers = dict(extra)
        if signature == "sign":
            signature = webhook_signature(self.smscode.webhook_secret, body)
        if signature is not None:
            headers["HTTP_X_WEBHOOK_SIGNATURE"] = signature
        return self.client.generic(
            "POST", self.hook, body, content_type="application/json", **headers
        )

    def messages(self) -> int:
        return OrderMessage.objects.filter(order=self.order).count()

    def refunds(self) -> int:
        return LedgerEntry.objects.filter(order=self.order, kind="refund").count()

    def state(self) -> str:
        self.order.refresh_from_db()
        return self.order.state


class SignatureTestCase(PushTestCase):
    def test_the_account_registered_its_webhook_with_a_secret_of_its_own(self):
        hook = self.sandbox.state.account("smscode", self.smscode.api_key).webhook
        self.assertEqual(hook["url"], PUBLIC + self.hook)
        self.assertEqual(hook["secret"], self.smscode.webhook_secret)
        self.assertEqual(len(self.smscode.webhook_secret), 64)
        self.assertNotIn(self.smscode.webhook_secret, self.smscode.webhook_secret_encrypted)

    def test_a_delivery_signed_with_the_accounts_secret_is_applied(self):
        self.deliver(self.order, text="<#> 551234 is your WhatsApp code")
        r = self.post(self.event("order.otp_received"))
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(self.state(), State.RECEIVED)
        self.assertEqual(self.order.last_code, "551234")

    def test_a_wrong_signature_is_refused_and_changes_nothing(self):
        self.deliver(self.order)
        body = self.event("order.otp_received")
        forged = webhook_signature("not-the-secret", body)
        for signature in (forged, forged[:-2], "sha256=zz" + forged[9:], forged[7:], "", " "):
            with self.subTest(signature=signature[:12]):
                r = self.post(body, signature=signature)
                self.assertIn(r.status_code, (401, 403))
        # A body changed after signing: the signature no longer matches.
        r = self.post(body.replace(b"otp_received", b"completed"), signature=forged)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(self.messages(), 0)
        self.assertEqual(self.state(), State.WAITING)

    def test_a_missing_signature_is_refused(self):
        self.deliver(self.order)
        r = self.post(self.event("order.otp_received"), signature=None)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(self.messages(), 0)

    def test_the_secret_is_the_utf8_string_not_hex_decoded(self):
        self.deliver(self.order)
        body = self.event("order.otp_received")
        import hashlib
        import hmac

        hex_decoded = hmac.new(bytes.fromhex(self.smscode.webhook_secret), body, hashlib.sha256)
        r = self.post(body, signature="sha256=" + hex_decoded.hexdigest())
        self.assertEqual(r.status_code, 403)

    def test_a_replayed_delivery_changes_nothing_and_an_old_one_is_no_sign_of_life(self):
        self.deliver(self.order)
        body = self.event("order.otp_received")
        self.assertEqual(self.post(body).status_code, 200)
        for _ in range(3):
            self.assertEqual(self.post(body).status_code, 200)
        self.assertEqual(self.messages(), 1)
        # Captured an hour ago and replayed: applied idempotently, but polling is not
        # slowed by it (the signed timestamp is old).
        ProviderAccount.objects.filter(pk=self.smscode.pk).update(last_push_at=None)
        old = self.event("order.otp_received", sent=timezone.now() - timedelta(hours=1))
        self.assertEqual(self.post(old).status_code, 200)
        self.smscode.refresh_from_db()
        self.assertIsNone(self.smscode.last_push_at)
        self.assertEqual(self.messages(), 1)

    def test_bad_input_is_a_4xx_never_a_500(self):
        cases = {
            b"not json": 400,
            b"[]": 400,
            b'{"event": "order.exploded", "data": {"order_id": 1}}': 400,
            b'{"event": "order.completed", "data": "x"}': 400,
            b'{"event": "order.completed", "data": {"order_id": null}}': 400,
            b'{"event": 7}': 400,
        }
        for body, status in cases.items():
            with self.subTest(body=body):
                self.assertEqual(self.post(body).status_code, status)
        self.assertEqual(self.client.get(self.hook).status_code, 405)
        too_big = b'{"event": "webhook.test", "pad": "' + b"x" * 70_000 + b'"}'
        self.assertEqual(self.post(too_big).status_code, 413)
        other = reverse("smscode_hook", args=["00000000-0000-0000-0000-000000000000"])
        r = self.client.post(other, b"{}", content_type="application/json")
        self.assertEqual(r.status_code, 404)

    def test_a_test_event_is_acknowledged(self):
        client = self.smscode.client()
        self.sandbox.state.config.smscode_webhooks = True
        body = json.dumps({"event": "webhook.test", "timestamp": iso(timezone.now()), "data": {}})
        r = self.post(body.encode())
        self.assertEqual(r.json(), {"ok": True, "outcome": "test"})
        # (The sandbox's own webhook.test goes to desk.example.com, which is not us.)
        self.assertIsInstance(client.get_webhook().url, str)

    def test_an_event_for_an_order_not_recorded_yet_polls_the_account(self):
        ProviderAccount.objects.filter(pk=self.smscode.pk).update(sync_due_at=None)
        body = json.dumps(
            {
                "event": "order.otp_received",
                "timestamp": iso(timezone.now()),
                "data": {"order_id": 999999999, "otp_code": "1", "sms_revision": 1},
            }
        ).encode()
        r = self.post(body)
        self.assertEqual(r.json()["outcome"], "unknown")
        self.smscode.refresh_from_db()
        self.assertIsNotNone(self.smscode.sync_due_at)


class OncePushedAndPolledTestCase(PushTestCase):
    """Each event type, pushed and polled in either order: one message, one refund."""

    def test_otp_received_push_then_poll(self):
        self.deliver(self.order, text="<#> 551234 is your WhatsApp code")
        self.post(self.event("order.otp_received"))
        self.cycle(self.smscode)
        self.post(self.event("order.otp_received"))  # a duplicate delivery
        self.assertEqual(self.messages(), 1)
        self.assertEqual(self.state(), State.RECEIVED)
        self.assertEqual(self.order.sms_revision, 1)
        self.assertEqual(LedgerEntry.objects.filter(order=self.order).count(), 1)  # purchase

    def test_otp_received_poll_then_push(self):
        self.deliver(self.order)
        self.cycle(self.smscode)
        self.post(self.event("order.otp_received"))
        self.assertEqual(self.messages(), 1)

    def test_a_second_sms_after_resend_is_a_second_message_and_an_old_push_is_dropped(self):
        self.deliver(self.order, text="<#> 111111 is your WhatsApp code")
        first = self.event("order.otp_received")
        self.post(first)
        with self.sandbox.state.lock:
            self.sandbox.state.request_another(self.upstream(self.order))
        self.deliver(self.order, text="<#> 222222 is your WhatsApp code")
        self.post(self.event("order.otp_received"))
        self.post(first)  # out of order: the older revision arrives last
        self.cycle(self.smscode)
        self.assertEqual(self.messages(), 2)
        self.assertEqual(self.state(), State.RECEIVED)
        self.assertEqual(self.order.last_code, "222222")

    def test_completed_push_then_poll(self):
        self.deliver(self.order)
        self.post(self.event("order.otp_received"))
        with self.sandbox.state.lock:
            self.sandbox.state.finish(self.upstream(self.order))
        self.post(self.event("order.completed"))
        self.assertEqual(self.state(), State.COMPLETED)
        self.cycle(self.smscode)
        self.post(self.event("order.completed"))
        self.assertEqual(self.state(), State.COMPLETED)
        self.assertEqual(self.messages(), 1)
        self.assertEqual(self.refunds(), 0)

    def test_completed_overtaking_its_code_reads_the_order_and_keeps_the_code(self):
        self.deliver(self.order, text="<#> 551234 is your WhatsApp code")
        with self.sandbox.state.lock:
            self.sandbox.state.finish(self.upstream(self.order))
        otp = self.event("order.otp_received")
        self.assertEqual(self.post(self.event("order.completed")).json()["outcome"], "read")
        self.post(otp)  # arrives late
        self.cycle(self.smscode)
        self.assertEqual(self.state(), State.COMPLETED)
        self.assertEqual(self.messages(), 1)
        self.assertEqual(self.order.last_code, "551234")

    def test_expired_push_then_poll_refunds_once(self):
        self.advance(1300)  # past the order's lifetime: the sandbox expires and refunds it
        self.post(self.event("order.expired"))
        self.assertEqual(self.state(), State.EXPIRED)
        self.cycle(self.smscode, later=1300)
        self.post(self.event("order.expired"))
        self.assertEqual(self.state(), State.EXPIRED)
        self.assertEqual(self.refunds(), 1)
        self.assertEqual(self.messages(), 0)

    def test_expired_poll_then_push_refunds_once(self):
        self.advance(1300)
        self.cycle(self.smscode, later=1300)
        self.assertEqual(self.state(), State.EXPIRED)
        self.post(self.event("order.expired"))
        self.assertEqual(self.refunds(), 1)

    def test_canceled_push_then_poll_refunds_once(self):
        self.advance(60)  # past the cancel lock
        with self.sandbox.state.lock:
            self.sandbox.state.cancel(self.upstream(self.order))
        self.post(self.event("order.canceled"))
        self.assertEqual(self.state(), State.CANCELLED)
        self.cycle(self.smscode, later=60)
        self.post(self.event("order.canceled"))
        self.assertEqual(self.refunds(), 1)
        entry = LedgerEntry.objects.get(order=self.order, kind="refund")
        self.assertEqual(-entry.amount, self.order.cost)  # refunds are booked negative

    def test_our_own_cancel_and_its_push_refund_once(self):
        self.advance(60)
        Order.objects.filter(pk=self.order.pk).update(cancel_available_at=None)  # our clock
        self.client.force_login(self.bob)
        r = self.client.post(reverse("order_cancel", args=[self.order.code]))
        self.assertIn(r.status_code, (200, 302))
        self.assertEqual(self.state(), State.CANCELLED)
        self.post(self.event("order.canceled"))
        self.cycle(self.smscode, later=60)
        self.assertEqual(self.refunds(), 1)


class PushAwarePollingTestCase(PushTestCase):
    def next_interval(self, now=None) -> float:
        now = now or timezone.now()
        self.smscode.refresh_from_db()
        cycle = engine.Cycle(awaiting=1, active=1)
        return (engine.next_due(self.smscode, cycle, now) - now).total_seconds()

    def test_polling_slows_while_pushes_arrive_and_returns_when_they_stop(self):
        normal = self.next_interval()
        self.deliver(self.order)
        self.assertEqual(self.post(self.event("order.otp_received")).status_code, 200)
        slowed = self.next_interval()
        self.assertAlmostEqual(
            slowed, min(normal * leases.PUSH_SLOWDOWN, leases.PUSH_MAX_INTERVAL), delta=0.5
        )
        self.assertGreater(slowed, normal * 2)
        # No push for PUSH_QUIET: back to normal.
        later = timezone.now() + leases.PUSH_QUIET + timedelta(seconds=1)
        self.assertAlmostEqual(self.next_interval(later), normal, delta=0.01)
        # Shortly before: never scheduled past the moment pushes count as stopped.
        almost = timezone.now() + leases.PUSH_QUIET - timedelta(seconds=2)
        self.assertLessEqual(self.next_interval(almost), normal + 2.5)

    def test_the_slowed_interval_is_bounded(self):
        account = ProviderAccount(last_push_at=timezone.now())
        self.assertEqual(leases.push_interval(account, 1.0), leases.PUSH_SLOWDOWN)
        self.assertEqual(leases.push_interval(account, 100.0), 100.0)  # never faster
        self.assertEqual(leases.push_interval(account, 10.0), leases.PUSH_MAX_INTERVAL)

    def test_a_webhook_switched_off_upstream_brings_normal_polling_back_at_the_check(self):
        normal = self.next_interval()
        self.deliver(self.order)
        self.post(self.event("order.otp_received"))
        self.assertGreater(self.next_interval(), normal * 2)
        upstream = self.sandbox.state.account("smscode", self.smscode.api_key)
        with self.sandbox.state.lock:
            upstream.webhook["disabled_at"] = self.sandbox.state.now() + 1
            upstream.webhook["disabled_reason"] = "consecutive_failed_user_endpoint"
        # The next cycle after CHECK_EVERY reads the registration and sees it.
        self.cycle(self.smscode, later=webhooks.CHECK_EVERY.total_seconds() + 1)
        self.assertAlmostEqual(self.next_interval(), normal, delta=0.01)
        self.smscode.refresh_from_db()
        self.assertEqual(self.smscode.webhook_disabled_reason, "consecutive_failed_user_endpoint")
        # ... and asked for delivery again (a PATCH re-enables it).
        self.assertNotIn("disabled_at", upstream.webhook)
        # New pushes after that count again.
        self.post(self.event("order.otp_received", sent=timezone.now() + timedelta(seconds=5)))
        ProviderAccount.objects.filter(pk=self.smscode.pk).update(
            last_push_at=timezone.now() + timedelta(seconds=5)
        )
        self.assertGreater(self.next_interval(timezone.now() + timedelta(seconds=6)), normal * 2)

    def test_polling_goes_on_while_pushes_arrive(self):
        # A push lost on the way: the (slower) poll still brings the code.
        self.deliver(self.order, text="<#> 777777 is your WhatsApp code")
        self.cycle(self.smscode)
        self.assertEqual(self.state(), State.RECEIVED)
        self.assertEqual(self.order.last_code, "777777")


class RegistrationTestCase(SandboxTestCase):
    def upstream_hook(self, account) -> dict:
        return self.sandbox.state.account("smscode", account.api_key).webhook

    @override_settings(PUBLIC_BASE_URL=PUBLIC)
    def test_account_setup_registers_the_webhook_when_the_portal_has_a_public_url(self):
        account = self.account("smscode")
        account.refresh_from_db()
        url = f"{PUBLIC}/hooks/smscode/{account.code}/"
        self.assertEqual(account.webhook_url, url)
        self.assertEqual(self.upstream_hook(account)["url"], url)
        self.assertEqual(self.upstream_hook(account)["secret"], account.webhook_secret)
        self.assertIsNotNone(account.webhook_checked_at)
        # A second sync keeps the same secret (deliveries in flight stay valid).
        secret = account.webhook_secret
        catalog_sync(account=account)
        account.refresh_from_db()
        self.assertEqual(account.webhook_secret, secret)

    def test_nothing_is_registered_without_a_public_url(self):
        account = self.account("smscode")
        account.refresh_from_db()
        self.assertEqual(account.webhook_url, "")
        self.assertEqual(account.webhook_secret, "")
        self.assertEqual(self.upstream_hook(account), {})
        self.assertEqual(webhooks.check_if_due(account), "")
        engine.run_cycle(account)
        self.assertEqual(self.upstream_hook(account), {})

    @override_settings(PUBLIC_BASE_URL="http://desk.example.com", PUSH_ALLOW_HTTP=False)
    def test_an_http_public_url_is_not_registered_unless_allowed(self):
        account = self.account("smscode")
        self.assertEqual(self.upstream_hook(account), {})
        self.assertIn("https", webhooks.public_url_problem())

    @override_settings(PUBLIC_BASE_URL=PUBLIC)
    def test_other_providers_and_the_guide_dialect_register_nothing(self):
        pool = self.account("smspool")
        self.assertEqual(webhooks.webhook_register(account=pool), "off")
        self.sandbox.state.config.dialects = {"smscode": "guide"}
        guide = self.account("smscode", label="guide host")
        guide.refresh_from_db()
        self.assertEqual(guide.wire_facts.get("dialect"), "guide")
        self.assertEqual(guide.webhook_url, "")

    @override_settings(PUBLIC_BASE_URL=PUBLIC)
    def test_a_registration_missing_upstream_is_made_again_at_the_next_check(self):
        account = self.account("smscode")
        account.refresh_from_db()
        self.upstream_hook(account).clear()
        soon = timezone.now() + timedelta(seconds=5)
        self.assertEqual(webhooks.check_if_due(account, soon), "")  # checked a moment ago
        later = timezone.now() + webhooks.CHECK_EVERY + timedelta(seconds=1)
        self.assertEqual(webhooks.check_if_due(account, later), "registered")
        self.assertEqual(self.upstream_hook(account)["url"], account.webhook_url)
        self.assertEqual(self.upstream_hook(account)["secret"], account.webhook_secret)
        later += webhooks.CHECK_EVERY + timedelta(seconds=1)
        self.assertEqual(webhooks.check_if_due(account, later), "ok")

    @override_settings(PUBLIC_BASE_URL=PUBLIC)
    def test_the_secret_never_reaches_a_page_a_log_or_the_audit_trail(self):
        from audit.models import AuditEvent

        account = self.account("smscode")
        account.refresh_from_db()
        secret = account.webhook_secret
        payloads = json.dumps(list(AuditEvent.objects.values_list("payload", flat=True)))
        self.assertIn(
            "provider.webhook_registered", set(AuditEvent.objects.values_list("action", flat=True))
        )
        self.assertNotIn(secret[:8], payloads)
        self.client.force_login(self.mia)
        page = self.client.get(reverse("provider_edit", args=[account.code]))
        self.assertNotIn(secret[:8], page.content.decode())


class SecretRotationTestCase(PushTestCase):
    def test_rotate_secrets_re_encrypts_the_webhook_secret(self):
        from io import StringIO

        from cryptography.fernet import Fernet
        from django.conf import settings
        from django.core.management import call_command

        secret = self.smscode.webhook_secret
        new = Fernet.generate_key().decode()
        with override_settings(FIELD_ENCRYPTION_KEYS=[new, *settings.FIELD_ENCRYPTION_KEYS]):
            call_command("rotate_secrets", stdout=StringIO())
        with override_settings(FIELD_ENCRYPTION_KEYS=[new]):  # the old key is gone
            self.smscode.refresh_from_db()
            self.assertEqual(self.smscode.webhook_secret, secret)
            self.deliver(self.order)
            self.assertEqual(self.post(self.event("order.otp_received")).status_code, 200)

    def test_a_secret_under_a_lost_key_refuses_deliveries_with_a_4xx(self):
        from cryptography.fernet import Fernet

        self.deliver(self.order)
        body = self.event("order.otp_received")
        signature = webhook_signature(self.smscode.webhook_secret, body)
        with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
            self.assertEqual(self.post(body, signature=signature).status_code, 403)
        self.assertEqual(self.messages(), 0)


@pytest.mark.django_db
def test_no_part_of_the_webhook_secret_leaves_smsdesk(no_key_leaves, sandbox, client, settings):
    """Registration, a refused PATCH, good and forged deliveries and a sync cycle: no
    page, log line or audit payload carries 6 characters of the secret."""
    from accounts.models import Team
    from tests.conftest import sandbox_account

    settings.PUBLIC_BASE_URL = PUBLIC
    account = sandbox_account(Team.objects.create(name="Leak"), sandbox, "smscode")
    account.refresh_from_db()
    secret = account.webhook_secret
    no_key_leaves.keys.add(secret)
    # SMSCode refuses a re-registration with an error that echoes the body.
    sandbox.state.account("smscode", account.api_key).webhook.clear()
    protocol = next(a for a in sandbox.apps if a.name == "smscode")
    routes = protocol.router.routes
    index = next(i for i, route in enumerate(routes) if route[3] == "PATCH /webhook")

    def echoing(request, upstream):
        from providers.sandbox.protocols.smscode import err

        return err(422, "VALIDATION_ERROR", f"Bad webhook: {request.body.decode()}")

    routes[index] = (*routes[index][:2], echoing, routes[index][3])
    later = timezone.now() + webhooks.CHECK_EVERY + timedelta(seconds=1)
    assert webhooks.check_if_due(account, later) == "failed"
    account.refresh_from_db()
    assert account.webhook_secret == secret  # unchanged: SMSCode did not take a new one
    body = json.dumps({"event": "webhook.test", "timestamp": iso(timezone.now())}).encode()
    url = reverse("smscode_hook", args=[account.code])
    for signature in (webhook_signature(secret, body), webhook_signature(secret[::-1], body)):
        client.generic(
            "POST", url, body, content_type="application/json", HTTP_X_WEBHOOK_SIGNATURE=signature
        )
    engine.run_cycle(account)
