"""Personal webhooks: a member adds one for their API key on the API page; it hears the
events of that key's orders and of the member's rentals, signed, through the real stack
(the gateway, the sandbox over HTTP, a sync cycle, a local receiver)."""

from __future__ import annotations

import json

from django.test import override_settings
from django.urls import reverse

from api import key_webhooks
from api.models import ApiKey, Scope
from api.services import ApiKeyError, api_key_create, api_key_revoke
from audit.models import AuditEvent
from orders.models import Order
from rentals.models import Rental
from tests.api.test_rest import BASE, RestTestCase
from tests.rentals.test_rentals import RentalTestCase
from tests.webhooks.helpers import documented_verify
from tests.webhooks.receiver import Receiver
from webhooks import services as webhook_services
from webhooks.events import EVENTS
from webhooks.models import Delivery, Endpoint

GATEWAY = "/api/handler_api.php"


class KeyWebhookTestCase(RentalTestCase):
    def setUp(self):
        super().setUp()
        self.sa = self.account("smsactivate")
        self.key, self.raw = api_key_create(
            membership=self.member, name="pipeline", scope=Scope.ORDER, actor=self.bob
        )

    def page(self):
        return reverse("api_keys", args=[self.team.code])

    def add_webhook(self, receiver, key=None, events=("order.code_received",), user=None):
        self.login(user or self.bob)
        return self.client.post(
            self.page(),
            {
                "webhook-key": str((key or self.key).code),
                "webhook-url": receiver.url if receiver else "ftp://nowhere",
                "webhook-events": list(events),
            },
        )

    def order_through(self, raw) -> Order:
        """getNumber with `raw`, then a code arrives and a cycle stores it."""
        with self.captureOnCommitCallbacks(execute=True):
            answer = self.client.get(
                GATEWAY, {"api_key": raw, "action": "getNumber", "service": "wa", "country": "187"}
            ).content.decode()
        self.assertTrue(answer.startswith("ACCESS_NUMBER:"), answer)
        order = Order.objects.get(api_link__activation_id=int(answer.split(":")[1]))
        self.deliver(order, text="Your WhatsApp code is 482-913")
        with self.captureOnCommitCallbacks(execute=True):
            self.cycle(self.sa)
        return order


class PersonalWebhookFlowTests(KeyWebhookTestCase):
    def test_the_keys_orders_reach_its_webhook_signed_and_other_orders_do_not(self):
        _other, other_raw = api_key_create(
            membership=self.member, name="laptop", scope=Scope.ORDER, actor=self.bob
        )
        with Receiver() as mine, Receiver() as team_wide:
            response = self.add_webhook(mine)
            self.assertEqual(response.status_code, 200)
            endpoint = Endpoint.objects.get(audience=self.key.webhook_audience)
            secret = response.context["secret"]
            self.assertContains(response, secret)  # shown on this answer, once
            self.assertNotContains(self.client.get(self.page()), secret)
            webhook_services.endpoint_create(
                team=self.team, actor=self.alice, url=team_wide.url, events=["order.code_received"]
            )
            ours = self.order_through(self.raw)
            theirs = self.order_through(other_raw)
        (request,) = mine.requests
        self.assertTrue(
            documented_verify()(secret, request.headers["Smsdesk-Signature"], request.body)
        )
        event = json.loads(request.body)
        self.assertEqual(event["type"], "order.code_received")
        self.assertEqual(event["data"]["order"]["id"], str(ours.code))
        self.assertEqual(event["data"]["order"]["code"], "482913")
        # The team's endpoint hears both; the personal one only its key's order.
        heard = {json.loads(r.body)["data"]["order"]["id"] for r in team_wide.requests}
        self.assertEqual(heard, {str(ours.code), str(theirs.code)})
        self.assertEqual(Delivery.objects.filter(endpoint=endpoint).count(), 1)
        self.assertEqual(endpoint.owner, self.bob)
        self.assertIn("pipeline", endpoint.description)

    def test_a_revoked_key_s_webhook_is_disabled_and_hears_nothing_more(self):
        with Receiver() as mine, Receiver() as team_wide:
            self.add_webhook(mine, events=["order.code_received", "order.completed"])
            webhook_services.endpoint_create(
                team=self.team, actor=self.alice, url=team_wide.url, events=["order.completed"]
            )
            order = self.order_through(self.raw)
            self.assertEqual(len(mine.requests), 1)
            api_key_revoke(key=self.key, membership=self.member)
            endpoint = Endpoint.objects.get(audience=self.key.webhook_audience)
            self.assertFalse(endpoint.enabled)
            # Re-enabled by hand, it still hears nothing: the key is no longer usable.
            endpoint.enabled = True
            endpoint.save()
            self.login(self.bob)
            with self.captureOnCommitCallbacks(execute=True):
                self.client.post(reverse("order_complete", args=[order.code]))
        self.assertEqual(len(team_wide.requests), 1)  # the event was published
        self.assertEqual(len(mine.requests), 1)
        self.assertEqual(
            key_webhooks.key_audiences(self.team.pk, "order.completed", str(order.code)), set()
        )

    def test_a_rental_message_reaches_the_webhooks_of_the_renters_keys(self):
        numpool = self.account("numpool")
        with Receiver() as mine:
            self.add_webhook(mine, events=["rental.message_received"])
            self.rent(self.offer(numpool))
            rental = Rental.objects.get()
            self.message(rental, "Your Discord code is 123456")
            with self.captureOnCommitCallbacks(execute=True):
                self.refresh(rental)
        (request,) = mine.requests
        data = json.loads(request.body)["data"]["rental"]
        self.assertEqual(data["id"], str(rental.code))
        self.assertEqual(
            key_webhooks.key_audiences(self.team.pk, "rental.message_received", str(rental.code)),
            {self.key.webhook_audience},
        )


class PersonalWebhookAccessTests(KeyWebhookTestCase):
    def test_the_owner_and_managers_manage_it_other_members_do_not(self):
        with Receiver() as mine:
            self.add_webhook(mine)
        endpoint = Endpoint.objects.get()
        detail = reverse("webhook_detail", args=[endpoint.code])
        self.login(self.bob)  # a member, not a manager: their own endpoint
        page = self.client.get(detail)
        self.assertContains(page, "Personal endpoint of bob")
        self.assertContains(page, self.page())  # back to their API page
        self.assertEqual(
            self.client.get(reverse("webhooks", args=[self.team.code])).status_code, 403
        )
        self.login(self.mia)  # a manager sees it on the team's list
        self.assertContains(
            self.client.get(reverse("webhooks", args=[self.team.code])), "personal · bob"
        )
        self.assertEqual(self.client.get(detail).status_code, 200)
        self.login(self.vic)  # another member of the team
        self.assertEqual(self.client.get(detail).status_code, 403)
        self.assertEqual(
            self.client.post(reverse("webhook_test", args=[endpoint.code])).status_code, 403
        )
        self.login(self.charlie)  # another team
        self.assertEqual(self.client.get(detail).status_code, 404)
        self.login(self.bob)
        response = self.client.post(reverse("webhook_delete", args=[endpoint.code]))
        self.assertRedirects(response, self.page(), fetch_redirect_response=False)
        self.assertFalse(Endpoint.objects.exists())

    def test_the_owner_sends_a_test_event_and_reads_the_log(self):
        with Receiver() as mine:
            self.add_webhook(mine)
            endpoint = Endpoint.objects.get()
            self.client.post(reverse("webhook_test", args=[endpoint.code]))
        self.assertEqual(mine.requests[0].headers["Smsdesk-Event"], "webhook.test")
        self.assertContains(
            self.client.get(reverse("webhook_detail", args=[endpoint.code])), "webhook.test"
        )

    def test_only_the_member_s_own_usable_keys_take_a_webhook(self):
        mias_key, _ = api_key_create(
            membership=self.manager, name="mia's", scope=Scope.ORDER, actor=self.mia
        )
        with Receiver() as receiver:
            response = self.add_webhook(receiver, key=mias_key)
            self.assertEqual(response.status_code, 400)
            self.assertContains(response, "Select a valid choice", status_code=400)
            api_key_revoke(key=self.key, membership=self.member)
            self.assertEqual(self.add_webhook(receiver).status_code, 400)
            with self.assertRaisesMessage(ApiKeyError, "your own keys"):
                key_webhooks.key_webhook_create(
                    key=mias_key,
                    membership=self.member,
                    url=receiver.url,
                    events=["order.completed"],
                )
        self.assertFalse(Endpoint.objects.exists())

    def test_a_bad_address_is_explained_in_plain_words(self):
        response = self.add_webhook(None)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Enter a full address", status_code=400)
        self.assertFalse(Endpoint.objects.exists())
        self.assertTrue(ApiKey.objects.filter(pk=self.key.pk, revoked_at__isnull=True).exists())


class RestWebhookTests(RestTestCase):
    """/api/v1/webhooks: a pipeline registers its receiver with its key and hears its
    orders' events; it sees and removes only its own key's webhooks."""

    def test_a_pipeline_registers_its_webhook_and_hears_its_order_s_code(self):
        with Receiver() as receiver:
            created = self.post(
                "/webhooks", {"url": receiver.url, "events": ["order.code_received"]}
            )
            self.assertEqual(created.status_code, 201, created.content)
            hook = created.json()
            self.assertEqual(hook["events"], ["order.code_received"])
            listed = self.get("/webhooks").json()["data"]
            self.assertEqual([h["id"] for h in listed], [hook["id"]])
            self.assertNotIn("secret", listed[0])  # returned once, at creation
            with self.captureOnCommitCallbacks(execute=True):
                order = Order.objects.get(code=self.order().json()["id"])
            self.deliver(order, text="Your WhatsApp code is 482-913")
            with self.captureOnCommitCallbacks(execute=True):
                self.cycle(self.smspool)
            tested = self.post(f"/webhooks/{hook['id']}/test").json()
        self.assertEqual(tested, {"delivered": True, "status_code": 200, "error": ""})
        code_event, test_event = receiver.requests
        self.assertTrue(
            documented_verify()(
                hook["secret"], code_event.headers["Smsdesk-Signature"], code_event.body
            )
        )
        self.assertEqual(json.loads(code_event.body)["data"]["order"]["code"], "482913")
        self.assertEqual(test_event.headers["Smsdesk-Event"], "webhook.test")
        endpoint = Endpoint.objects.get(code=hook["id"])
        self.assertEqual((endpoint.owner, endpoint.audience), (self.bob, self.key.webhook_audience))
        created_event = AuditEvent.objects.get(action="webhook.created")
        self.assertEqual(created_event.payload["via"]["via"], "rest")
        self.assertNotIn(hook["secret"], json.dumps(created_event.payload))

    def test_by_default_every_order_and_rental_event_and_a_bad_url_is_422(self):
        with Receiver() as receiver:
            hook = self.post("/webhooks", {"url": receiver.url}).json()
        self.assertEqual(hook["events"], list(EVENTS))
        self.assertError(
            self.post("/webhooks", {"url": "http://10.0.0.7/hook"}), 422, "invalid_webhook"
        )
        with Receiver() as receiver:
            response = self.post("/webhooks", {"url": receiver.url, "events": ["order.nope"]})
        self.assertError(response, 422, "invalid_webhook")
        self.assertEqual(Endpoint.objects.count(), 1)

    def test_another_key_s_webhooks_are_not_found_and_delete_removes_one(self):
        with Receiver() as receiver:
            hook = self.post("/webhooks", {"url": receiver.url}).json()
        other = self.key_for(self.member, name="laptop")
        manager = self.key_for(self.manager, name="boss")
        for raw in (other, manager):
            self.assertEqual(self.get("/webhooks", raw=raw).json()["data"], [])
            response = self.api.delete(BASE + f"/webhooks/{hook['id']}", headers=self.headers(raw))
            self.assertError(response, 404, "not_found")
            self.assertError(self.post(f"/webhooks/{hook['id']}/test", raw=raw), 404, "not_found")
        response = self.api.delete(BASE + f"/webhooks/{hook['id']}", headers=self.headers())
        self.assertEqual(response.status_code, 204)
        self.assertFalse(Endpoint.objects.exists())
        self.assertTrue(AuditEvent.objects.filter(action="webhook.deleted").exists())


class PersonalWebhookLimitsTests(KeyWebhookTestCase):
    """What the review of personal webhooks asked for: the operator's allow-list is not
    every member's, a gone key's webhook stays off, and nobody else manages it."""

    @override_settings(WEBHOOK_PERSONAL_ALLOWED_HOSTS=[])
    def test_the_managers_allowed_hosts_are_not_a_members(self):
        with Receiver() as receiver:
            refused = self.add_webhook(receiver)
            self.assertContains(refused, "https", status_code=400)
            self.assertFalse(Endpoint.objects.exists())
            webhook_services.endpoint_create(  # the same URL, for the team: allowed
                team=self.team, actor=self.alice, url=receiver.url, events=["order.completed"]
            )
            with self.assertRaisesMessage(webhook_services.WebhookError, "https"):
                key_webhooks.key_webhook_create(
                    key=self.key,
                    membership=self.member,
                    url=receiver.url,
                    events=["order.completed"],
                )

    def test_a_revoked_key_s_webhook_cannot_be_enabled_tested_or_resent(self):
        with Receiver() as receiver:
            self.add_webhook(receiver)
            endpoint = Endpoint.objects.get()
            self.client.post(reverse("webhook_test", args=[endpoint.code]))
            delivery = Delivery.objects.get()
            api_key_revoke(key=self.key, membership=self.member)
            detail = reverse("webhook_detail", args=[endpoint.code])
            edit = {"url": receiver.url, "events": ["order.code_received"], "enabled": "on"}
            self.assertContains(self.client.post(detail, edit), "revoked or expired")
            tested = self.client.post(reverse("webhook_test", args=[endpoint.code]), follow=True)
            self.assertContains(tested, "revoked or expired")
            resent = self.client.post(
                reverse("webhook_redeliver", args=[delivery.code]), follow=True
            )
            self.assertContains(resent, "revoked or expired")
        self.assertEqual(len(receiver.requests), 1)  # the test before the revocation
        self.assertFalse(Endpoint.objects.get().enabled)

    def test_a_member_who_leaves_the_team_leaves_their_webhooks_off(self):
        from accounts.services import member_remove

        with Receiver() as receiver:
            self.add_webhook(receiver)
        member_remove(acting=self.owner, membership=self.member)
        endpoint = Endpoint.objects.get()
        self.assertFalse(endpoint.enabled)
        self.assertFalse(key_webhooks.key_is_live(self.team.pk, endpoint.audience))
        self.login(self.bob)  # no longer a member: not theirs to open
        self.assertEqual(
            self.client.get(reverse("webhook_detail", args=[endpoint.code])).status_code, 404
        )

    def test_the_owner_edits_and_replaces_the_secret_others_cannot_resend(self):
        with Receiver() as receiver:
            response = self.add_webhook(receiver)
            old_secret = response.context["secret"]
            endpoint = Endpoint.objects.get()
            detail = reverse("webhook_detail", args=[endpoint.code])
            edit = {"url": receiver.url, "events": ["order.completed"], "enabled": "on"}
            self.assertRedirects(self.client.post(detail, edit), detail)
            replaced = self.client.post(reverse("webhook_secret", args=[endpoint.code]))
            self.client.post(reverse("webhook_test", args=[endpoint.code]))
        new_secret = replaced.context["secret"]
        self.assertNotEqual(new_secret, old_secret)
        endpoint.refresh_from_db()
        self.assertEqual((endpoint.events, endpoint.secret), (["order.completed"], new_secret))
        delivery = Delivery.objects.get()
        self.login(self.vic)
        response = self.client.post(reverse("webhook_redeliver", args=[delivery.code]))
        self.assertEqual(response.status_code, 403)
        self.assertEqual(len(receiver.requests), 1)


class RestWebhookLimitsTests(RestTestCase):
    def hook(self, url, **body):
        return self.post("/webhooks", {"url": url, **body})

    def test_one_webhook_per_url_at_most_five_and_at_least_one_event(self):
        first = self.hook("http://127.0.0.1:9/a").json()
        again = self.assertError(self.hook("http://127.0.0.1:9/a"), 409, "webhook_exists")
        self.assertEqual(again["id"], first["id"])
        for n in range(4):
            self.assertEqual(self.hook(f"http://127.0.0.1:9/b{n}").status_code, 201)
        self.assertError(self.hook("http://127.0.0.1:9/c"), 409, "too_many_webhooks")
        self.assertError(self.hook("http://127.0.0.1:9/d", events=[]), 422, "invalid_request")
        self.assertEqual(Endpoint.objects.count(), 5)

    def test_a_key_tests_its_webhooks_at_most_once_in_thirty_seconds(self):
        with Receiver() as receiver:
            first = self.hook(receiver.url).json()
            second = self.hook(receiver.url + "/2").json()
            self.assertTrue(self.post(f"/webhooks/{first['id']}/test").json()["delivered"])
            response = self.post(f"/webhooks/{second['id']}/test")
        error = self.assertError(response, 429, "rate_limited")
        self.assertTrue(1 <= error["retry_after"] <= 30)
        self.assertEqual(int(response["Retry-After"]), error["retry_after"])
        self.assertEqual(len(receiver.requests), 1)

    def test_a_rest_call_is_the_keys_audited_use(self):
        self.get("/balance")
        event = AuditEvent.objects.get(action="api_key.used")
        self.assertEqual(event.payload["call"], "GET /api/v1/balance")
        self.assertEqual(event.actor, self.bob)
        self.assertEqual(event.ip_address, "127.0.0.1")

    def test_one_url_per_key_is_a_constraint_not_a_timing(self):
        """Two registrations at once both pass the look-up; the database keeps one."""
        from unittest import mock

        url = "http://127.0.0.1:9/hook"
        self.assertEqual(self.hook(url).status_code, 201)
        looked_up = mock.patch.object(
            key_webhooks, "endpoints_of", return_value=Endpoint.objects.none()
        )
        with looked_up, self.assertRaises(ApiKeyError) as refused:
            key_webhooks.key_webhook_create(
                key=self.key, membership=self.member, url=url, events=["order.completed"]
            )
        self.assertEqual(refused.exception.category, "webhook_exists")
        self.assertEqual(Endpoint.objects.count(), 1)
