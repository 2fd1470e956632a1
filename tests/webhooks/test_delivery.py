"""Delivery: retries with back-off on 500s and timeouts until a day has passed, one POST per
claim, refused addresses inside the network, and no secret anywhere it is logged."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from unittest import mock

from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from tests.base import BaseTestCase
from tests.webhooks.helpers import documented_verify
from tests.webhooks.receiver import Receiver
from webhooks import services, tasks
from webhooks.models import Attempt, Delivery, DeliveryState


class DeliveryTestCase(BaseTestCase):
    def endpoint(self, url: str, events=("order.completed",)):
        return services.endpoint_create(
            team=self.team, actor=self.alice, url=url, events=list(events)
        )

    def delivery(self, endpoint, created=None) -> Delivery:
        """A queued event, as event_publish leaves it (without its immediate task)."""
        return Delivery.objects.create(
            endpoint=endpoint,
            team=self.team,
            event="order.completed",
            event_id=uuid.uuid4(),
            body=json.dumps({"type": "order.completed", "data": {"order": {"id": "x"}}}),
            next_attempt_at=timezone.now(),
            created=created or timezone.now(),
        )

    def a_minute_passes(self, delivery: Delivery) -> None:
        """Move the retry time into the past, as the clock would."""
        Delivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )

    def test_a_500_is_retried_by_the_minutely_schedule_then_delivered(self):
        with Receiver(answers=[500, 503]) as receiver:
            endpoint, secret = self.endpoint(receiver.url)
            delivery = self.delivery(endpoint)
            tasks.deliver(delivery.pk)
            delivery.refresh_from_db()
            self.assertEqual(delivery.state, DeliveryState.PENDING)
            self.assertEqual(delivery.last_status, 500)
            wait = delivery.next_attempt_at - timezone.now()
            self.assertTrue(timedelta(seconds=55) < wait <= timedelta(seconds=60), wait)

            self.assertEqual(tasks.deliver_due(), 0)  # not due yet: nothing sent
            self.assertEqual(len(receiver.requests), 1)

            self.a_minute_passes(delivery)
            self.assertEqual(tasks.deliver_due(), 1)
            delivery.refresh_from_db()
            self.assertEqual(delivery.last_status, 503)
            wait = delivery.next_attempt_at - timezone.now()
            self.assertTrue(timedelta(seconds=115) < wait <= timedelta(seconds=120), wait)

            self.a_minute_passes(delivery)
            tasks.deliver_due()
        delivery.refresh_from_db()
        self.assertEqual(delivery.state, DeliveryState.DELIVERED)
        self.assertIsNone(delivery.next_attempt_at)
        self.assertEqual(
            list(delivery.tries.values_list("number", "status_code")),
            [(1, 500), (2, 503), (3, 200)],
        )
        self.assertEqual(len(receiver.requests), 3)
        # The same event each time (one body, one event id), each signed afresh.
        self.assertEqual({r.body for r in receiver.requests}, {delivery.body.encode()})
        self.assertEqual(
            {r.headers["Smsdesk-Event-Id"] for r in receiver.requests}, {str(delivery.event_id)}
        )
        verify = documented_verify()
        for request in receiver.requests:
            self.assertTrue(verify(secret, request.headers["Smsdesk-Signature"], request.body))

    def test_the_pauses_double_up_to_three_hours_and_it_gives_up_after_a_day(self):
        minutes = [services.retry_delay(n).total_seconds() / 60 for n in range(1, 12)]
        self.assertEqual(minutes, [1, 2, 4, 8, 16, 32, 64, 128, 180, 180, 180])
        with Receiver(answers=[500, 500]) as receiver:
            endpoint, _ = self.endpoint(receiver.url)
            young = self.delivery(endpoint)
            old = self.delivery(endpoint, created=timezone.now() - timedelta(hours=23, minutes=59))
            tasks.deliver(young.pk)
            tasks.deliver(old.pk)
        young.refresh_from_db()
        old.refresh_from_db()
        self.assertEqual(young.state, DeliveryState.PENDING)
        self.assertEqual(old.state, DeliveryState.FAILED)  # the next try would be past the day
        self.assertIsNone(old.next_attempt_at)
        self.assertEqual(tasks.deliver_due(), 0)

    def test_a_timeout_counts_as_a_failure_and_is_retried(self):
        with Receiver(delay=1.5) as receiver, mock.patch.object(services, "TIMEOUT", (1.0, 0.5)):
            endpoint, _ = self.endpoint(receiver.url)
            delivery = self.delivery(endpoint)
            tasks.deliver(delivery.pk)
        delivery.refresh_from_db()
        attempt = delivery.tries.get()
        self.assertIsNone(attempt.status_code)
        self.assertIn("No answer within", attempt.error)
        self.assertEqual(delivery.state, DeliveryState.PENDING)
        self.assertIsNotNone(delivery.next_attempt_at)

    def test_a_redirect_is_not_followed(self):
        with Receiver(answers=[307]) as receiver:
            endpoint, _ = self.endpoint(receiver.url)
            delivery = self.delivery(endpoint)
            tasks.deliver(delivery.pk)
        delivery.refresh_from_db()
        self.assertEqual(len(receiver.requests), 1)
        self.assertEqual(delivery.last_status, 307)
        self.assertEqual(delivery.state, DeliveryState.PENDING)

    def test_one_claim_one_post(self):
        with Receiver(answers=[500]) as receiver:
            endpoint, _ = self.endpoint(receiver.url)
            delivery = self.delivery(endpoint)
            now = timezone.now()
            self.assertIsNotNone(services.delivery_attempt(delivery_id=delivery.pk, now=now))
            # The schedule and a late task ask at the same moment: neither sends again.
            self.assertIsNone(services.delivery_attempt(delivery_id=delivery.pk, now=now))
            self.assertEqual(len(receiver.requests), 1)

    def test_a_disabled_endpoint_stops_its_retries(self):
        with Receiver(answers=[500]) as receiver:
            endpoint, _ = self.endpoint(receiver.url)
            delivery = self.delivery(endpoint)
            tasks.deliver(delivery.pk)
            endpoint.enabled = False
            endpoint.save()
            self.a_minute_passes(delivery)
            tasks.deliver_due()
        delivery.refresh_from_db()
        self.assertEqual(len(receiver.requests), 1)
        self.assertEqual(delivery.state, DeliveryState.FAILED)
        self.assertIn("disabled", delivery.last_error)


class InsideTheNetworkTestCase(BaseTestCase):
    @override_settings(WEBHOOK_ALLOWED_HOSTS=[])
    def test_addresses_inside_the_network_are_refused(self):
        for url in (
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.10:8443/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://0.0.0.0/hook",
        ):
            with self.subTest(url=url):
                self.assertIn("inside the network", services.url_problem(url))
        self.assertIn("https", services.url_problem("http://93.184.216.34/hook"))
        self.assertIn("full address", services.url_problem("ftp://93.184.216.34/"))
        self.assertIn("full address", services.url_problem("https://[::1/hook"))
        self.assertIn("full address", services.url_problem("https://93.184.216.34:99999/"))
        self.assertIn("passwords", services.url_problem("https://u:p@93.184.216.34/"))
        self.assertEqual(services.url_problem("https://93.184.216.34/hook"), "")

    @override_settings(WEBHOOK_ALLOWED_HOSTS=[])
    def test_a_name_that_resolves_inside_is_refused_like_the_address(self):
        with mock.patch("providers.hosts._addresses", return_value=("10.0.0.7",)):
            self.assertIn(
                "inside the network", services.url_problem("https://hooks.corp.example/x")
            )

    def test_the_form_refuses_it_in_plain_words(self):
        self.client.force_login(self.mia)
        with override_settings(WEBHOOK_ALLOWED_HOSTS=[]):
            r = self.client.post(
                f"/teams/{self.team.code}/webhooks/",
                {"url": "https://127.0.0.1:8000/admin/", "events": ["order.completed"]},
            )
        self.assertContains(r, "inside the network")
        self.assertFalse(self.team.webhook_endpoints.exists())

    def test_an_endpoint_that_now_points_inside_is_not_called(self):
        with Receiver() as receiver:
            endpoint, _ = services.endpoint_create(
                team=self.team, actor=self.alice, url=receiver.url, events=["order.completed"]
            )
            with override_settings(WEBHOOK_ALLOWED_HOSTS=[]):  # the operator withdrew it
                delivery = services.endpoint_send_test(endpoint=endpoint, actor=self.alice)
        self.assertEqual(receiver.requests, [])
        attempt = delivery.tries.get()
        self.assertIsNone(attempt.status_code)
        self.assertIn("Not sent", attempt.error)
        self.assertEqual(delivery.state, DeliveryState.FAILED)  # a test is tried once


class NoSecretTestCase(BaseTestCase):
    def test_the_secret_is_in_no_log_page_attempt_or_audit_event(self):
        log_records: list[str] = []

        class Collect(logging.Handler):
            def emit(self, record):
                log_records.append(record.getMessage())

        handler = Collect(level=0)
        logging.getLogger().addHandler(handler)
        self.addCleanup(logging.getLogger().removeHandler, handler)
        self.client.force_login(self.mia)
        with Receiver(answers=[500, 200]) as receiver:
            r = self.client.post(
                f"/teams/{self.team.code}/webhooks/",
                {"url": receiver.url, "events": ["order.completed"], "enabled": "on"},
            )
            endpoint = self.team.webhook_endpoints.get()
            secret = endpoint.secret
            self.assertContains(r, secret)  # shown once, on the answer that made it
            self.client.post(f"/webhooks/{endpoint.code}/test/")  # 500
            self.client.post(f"/webhooks/{endpoint.code}/test/")  # 200
            pages = [
                self.client.get(f"/teams/{self.team.code}/webhooks/"),
                self.client.get(f"/webhooks/{endpoint.code}/"),
            ]
        self.assertEqual(len(receiver.requests), 2)
        self.assertContains(pages[1], "500")
        self.assertContains(pages[1], " ms")
        stored = [
            *Attempt.objects.values_list("error", "response_excerpt"),
            *Delivery.objects.values_list("body", "last_error"),
        ]
        outputs = [
            *(p.content.decode() for p in pages),
            *log_records,
            *(json.dumps(v) for v in stored),
            *(json.dumps(e) for e in AuditEvent.objects.values_list("payload", flat=True)),
            *(json.dumps(dict(r.headers)) + r.body.decode() for r in receiver.requests),
        ]
        for output in outputs:
            for i in range(len(secret) - 8 + 1):
                self.assertNotIn(secret[i : i + 8], output)  # any 8 characters of it
        self.assertTrue(any("webhook webhook.test delivery" in line for line in log_records))


def test_the_retry_schedule_runs_every_minute(db):
    from django.core.management import call_command
    from django_q.models import Schedule

    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="smsdesk:webhooks.deliver_due")
    assert (schedule.func, schedule.minutes) == ("webhooks.tasks.deliver_due", 1)


class SecretRotationTestCase(BaseTestCase):
    def test_rotate_secrets_re_encrypts_signing_secrets_too(self):
        from io import StringIO

        from cryptography.fernet import Fernet
        from django.conf import settings
        from django.core.management import call_command

        endpoint, secret = services.endpoint_create(
            team=self.team, actor=self.alice, url="http://127.0.0.1:9/x", events=["order.completed"]
        )
        new = Fernet.generate_key().decode()
        with override_settings(FIELD_ENCRYPTION_KEYS=[new, *settings.FIELD_ENCRYPTION_KEYS]):
            out = StringIO()
            call_command("rotate_secrets", stdout=out)
        self.assertIn("Re-encrypted 1 secret", out.getvalue())
        with override_settings(FIELD_ENCRYPTION_KEYS=[new]):  # the old key is gone
            endpoint.refresh_from_db()
            self.assertEqual(endpoint.secret, secret)


class LogRetentionTestCase(DeliveryTestCase):
    def test_finished_deliveries_leave_the_log_after_thirty_days(self):
        endpoint, _ = self.endpoint("http://127.0.0.1:9/x")
        old_done, recent_done, old_pending = (self.delivery(endpoint) for _ in range(3))
        long_ago = timezone.now() - timedelta(days=31)
        Delivery.objects.filter(pk=old_done.pk).update(
            state=DeliveryState.DELIVERED, finished_at=long_ago, next_attempt_at=None
        )
        Delivery.objects.filter(pk=recent_done.pk).update(
            state=DeliveryState.FAILED, finished_at=timezone.now(), next_attempt_at=None
        )
        Delivery.objects.filter(pk=old_pending.pk).update(
            created=long_ago, next_attempt_at=timezone.now() + timedelta(hours=1)
        )
        tasks.deliver_due()
        self.assertEqual(
            set(Delivery.objects.values_list("pk", flat=True)), {recent_done.pk, old_pending.pk}
        )
