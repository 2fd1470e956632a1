"""The webhook pages: managers only, the secret shown once, send test, the delivery log."""

from __future__ import annotations

import uuid

from django.urls import reverse

from audit.models import AuditEvent
from tests.base import BaseTestCase
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import Delivery, Endpoint


class WebhookPagesTestCase(BaseTestCase):
    def make(self, url="http://127.0.0.1:9/hook", team=None) -> Endpoint:
        return services.endpoint_create(
            team=team or self.team, actor=self.alice, url=url, events=["order.completed"]
        )[0]

    def test_only_owners_and_managers_open_them(self):
        endpoint = self.make()
        pages = [
            ("get", reverse("webhooks", args=[self.team.code])),
            ("get", reverse("webhook_detail", args=[endpoint.code])),
            ("post", reverse("webhook_test", args=[endpoint.code])),
            ("post", reverse("webhook_secret", args=[endpoint.code])),
            ("post", reverse("webhook_delete", args=[endpoint.code])),
        ]
        for user, status in ((self.bob, 403), (self.vic, 403), (self.charlie, 404)):
            self.client.force_login(user)
            for method, url in pages:
                with self.subTest(user=user.username, url=url):
                    self.assertEqual(getattr(self.client, method)(url).status_code, status)
        self.client.force_login(self.mia)
        self.assertEqual(self.client.get(pages[0][1]).status_code, 200)
        self.assertEqual(self.client.get(pages[1][1]).status_code, 200)
        self.assertFalse(Delivery.objects.exists())
        self.client.logout()
        self.assertEqual(self.client.get(pages[0][1]).status_code, 302)

    def test_add_shows_the_secret_once(self):
        self.client.force_login(self.mia)
        url = reverse("webhooks", args=[self.team.code])
        r = self.client.post(
            url,
            {
                "url": "http://127.0.0.1:9/hook",
                "description": "CI pipeline",
                "events": ["order.code_received", "order.completed"],
                "enabled": "on",
            },
        )
        endpoint = Endpoint.objects.get()
        self.assertEqual(endpoint.events, ["order.code_received", "order.completed"])
        self.assertContains(r, endpoint.secret)
        self.assertNotContains(self.client.get(url), endpoint.secret)
        self.assertNotContains(
            self.client.get(reverse("webhook_detail", args=[endpoint.code])), endpoint.secret
        )
        event = AuditEvent.objects.get(action="webhook.created")
        self.assertEqual(event.actor, self.mia)

    def test_bad_input_is_explained_not_a_500(self):
        self.client.force_login(self.mia)
        url = reverse("webhooks", args=[self.team.code])
        r = self.client.post(url, {"url": "not a url", "events": ["order.nonsense"]})
        self.assertEqual(r.status_code, 200)
        self.assertContains(r, "full address")
        self.assertContains(r, "not one of the available choices")
        r = self.client.post(url, {"url": "https://93.184.216.34/x"})
        self.assertContains(r, "Choose at least one event.")
        self.assertFalse(Endpoint.objects.exists())

    def test_send_test_reports_the_answer_and_logs_it(self):
        with Receiver(answers=[200]) as receiver:
            endpoint = self.make(url=receiver.url)
            self.client.force_login(self.alice)
            r = self.client.post(reverse("webhook_test", args=[endpoint.code]), follow=True)
        self.assertContains(r, "Test event delivered: 200 in")
        self.assertContains(r, "webhook.test")
        self.assertEqual(receiver.requests[0].headers["Smsdesk-Event"], "webhook.test")
        delivery = Delivery.objects.get()
        self.assertEqual(delivery.tries.get().status_code, 200)

    def test_a_refused_test_says_what_the_endpoint_answered(self):
        with Receiver(answers=[500]) as receiver:
            endpoint = self.make(url=receiver.url)
            self.client.force_login(self.alice)
            r = self.client.post(reverse("webhook_test", args=[endpoint.code]), follow=True)
        self.assertContains(r, "Test event not accepted: 500")
        self.assertContains(r, "receiver says no")  # the start of its answer, in the log

    def test_edit_disable_and_delete(self):
        endpoint = self.make()
        self.client.force_login(self.mia)
        url = reverse("webhook_detail", args=[endpoint.code])
        r = self.client.post(
            url,
            {"url": "http://127.0.0.1:9/other", "events": ["order.expired"], "description": "x"},
        )
        self.assertRedirects(r, url)
        endpoint.refresh_from_db()
        self.assertEqual(
            (endpoint.url, endpoint.events, endpoint.enabled),
            ("http://127.0.0.1:9/other", ["order.expired"], False),
        )
        r = self.client.post(reverse("webhook_delete", args=[endpoint.code]))
        self.assertRedirects(r, reverse("webhooks", args=[self.team.code]))
        self.assertFalse(Endpoint.objects.exists())
        self.assertTrue(AuditEvent.objects.filter(action="webhook.deleted").exists())

    def test_another_teams_endpoint_is_a_404(self):
        theirs = self.make(team=self.other_team)
        self.client.force_login(self.mia)
        self.assertEqual(
            self.client.get(reverse("webhook_detail", args=[theirs.code])).status_code, 404
        )
        self.assertNotContains(
            self.client.get(reverse("webhooks", args=[self.team.code])), str(theirs.code)
        )

    def test_a_new_secret_is_shown_once(self):
        endpoint = self.make()
        old = endpoint.secret
        self.client.force_login(self.mia)
        r = self.client.post(reverse("webhook_secret", args=[endpoint.code]))
        endpoint.refresh_from_db()
        self.assertNotEqual(endpoint.secret, old)
        self.assertContains(r, endpoint.secret)
        self.assertNotContains(r, old)


class SettingsLinkTestCase(BaseTestCase):
    def test_managers_find_webhooks_on_the_settings_page(self):
        link = reverse("webhooks", args=[self.team.code])
        self.client.force_login(self.mia)
        self.assertContains(self.client.get(reverse("team_settings", args=[self.team.code])), link)
        self.client.force_login(self.bob)
        page = self.client.get(reverse("team_settings", args=[self.team.code]))
        self.assertNotContains(page, link)


class RedeliverTestCase(BaseTestCase):
    def test_a_delivery_that_gave_up_is_sent_again_with_the_same_event(self):
        with Receiver(answers=[500, 200]) as receiver:
            endpoint = services.endpoint_create(
                team=self.team, actor=self.alice, url=receiver.url, events=["order.completed"]
            )[0]
            failed = services.endpoint_send_test(endpoint=endpoint, actor=self.alice)
            self.assertEqual(failed.state, "failed")
            self.client.force_login(self.mia)
            url = reverse("webhook_redeliver", args=[failed.code])
            self.assertContains(
                self.client.get(reverse("webhook_detail", args=[endpoint.code])), url
            )
            r = self.client.post(url, follow=True)
        self.assertContains(r, "Sent again: 200")
        failed.refresh_from_db()
        self.assertEqual(failed.state, "delivered")
        self.assertEqual(list(failed.tries.values_list("status_code", flat=True)), [500, 200])
        self.assertEqual(
            {req.headers["Smsdesk-Event-Id"] for req in receiver.requests}, {str(failed.event_id)}
        )
        self.assertTrue(AuditEvent.objects.filter(action="webhook.redelivered").exists())

    def test_only_managers_of_the_team_may(self):
        endpoint = services.endpoint_create(
            team=self.team, actor=self.alice, url="http://127.0.0.1:9/x", events=["order.completed"]
        )[0]
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            team=self.team,
            event="webhook.test",
            event_id=uuid.uuid4(),
            body="{}",
            state="failed",
        )
        url = reverse("webhook_redeliver", args=[delivery.code])
        for user, status in ((self.bob, 403), (self.charlie, 404)):
            self.client.force_login(user)
            self.assertEqual(self.client.post(url).status_code, status)
        self.client.force_login(self.mia)
        self.assertEqual(self.client.get(url).status_code, 405)
        delivery.refresh_from_db()
        self.assertEqual(delivery.tries.count(), 0)

    def test_a_pending_delivery_is_left_to_its_retries(self):
        endpoint = services.endpoint_create(
            team=self.team, actor=self.alice, url="http://127.0.0.1:9/x", events=["order.completed"]
        )[0]
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            team=self.team,
            event="webhook.test",
            event_id=uuid.uuid4(),
            body="{}",
        )
        self.client.force_login(self.mia)
        r = self.client.post(reverse("webhook_redeliver", args=[delivery.code]), follow=True)
        self.assertContains(r, "still being retried")
