"""Orders and rentals through the real stack (sandbox over HTTP) reach a local receiver
as signed webhook events."""

from __future__ import annotations

import json

from orders.models import Order
from rentals.models import Rental
from tests.rentals.test_rentals import RentalTestCase
from tests.webhooks.helpers import documented_verify
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import Delivery, DeliveryState


class WebhookEventsTestCase(RentalTestCase):
    def endpoint(self, receiver: Receiver, events: list[str], team=None):
        return services.endpoint_create(
            team=team or self.team, actor=self.alice, url=receiver.url, events=events
        )

    def place_and_receive(self, account, text="Your WhatsApp code is 482-913") -> Order:
        with self.captureOnCommitCallbacks(execute=True):
            self.place(offer=self.offer_key(account))
        order = Order.objects.get(account=account)
        self.deliver(order, text=text)
        with self.captureOnCommitCallbacks(execute=True):
            self.cycle(account)
        return order

    def test_a_code_reaches_the_receiver_signed_with_the_order(self):
        account = self.account("smspool")
        with Receiver() as receiver:
            _, secret = self.endpoint(receiver, ["order.code_received"])
            order = self.place_and_receive(account)
        (request,) = receiver.requests
        self.assertEqual(request.headers["Smsdesk-Event"], "order.code_received")
        verify = documented_verify()
        self.assertTrue(verify(secret, request.headers["Smsdesk-Signature"], request.body))
        event = json.loads(request.body)
        self.assertEqual(event["type"], "order.code_received")
        self.assertEqual(event["team"], str(self.team.code))
        self.assertEqual(event["data"]["order"]["id"], str(order.code))
        self.assertEqual(event["data"]["order"]["code"], "482913")
        self.assertEqual(
            event["data"]["order"]["messages"][0]["text"], "Your WhatsApp code is 482-913"
        )
        self.assertEqual(event["data"]["order"]["ordered_by"], "bob")
        delivery = Delivery.objects.get()
        self.assertEqual(delivery.state, DeliveryState.DELIVERED)
        self.assertEqual(request.headers["Smsdesk-Event-Id"], str(delivery.event_id))

    def test_done_and_cancel_are_sent_only_to_endpoints_that_want_them(self):
        account = self.account("smspool")
        with Receiver() as finished, Receiver() as codes:
            self.endpoint(finished, ["order.completed", "order.cancelled"])
            self.endpoint(codes, ["order.code_received"])
            order = self.place_and_receive(account)
            self.client.force_login(self.bob)
            with self.captureOnCommitCallbacks(execute=True):
                self.client.post(f"/orders/{order.code}/complete/")
        self.assertEqual(
            [r.headers["Smsdesk-Event"] for r in codes.requests], ["order.code_received"]
        )
        (done,) = finished.requests
        self.assertEqual(done.headers["Smsdesk-Event"], "order.completed")
        self.assertEqual(json.loads(done.body)["data"]["order"]["state"], "completed")

    def test_a_cancel_is_sent_with_the_refunded_order(self):
        account = self.account("numpool")
        with Receiver() as receiver:
            self.endpoint(receiver, ["order.cancelled"])
            with self.captureOnCommitCallbacks(execute=True):
                self.place(offer=self.offer_key(account))
            order = Order.objects.get()
            self.advance(60)  # past the provider's cancel lock
            Order.objects.filter(pk=order.pk).update(cancel_available_at=None)
            with self.captureOnCommitCallbacks(execute=True):
                self.client.post(f"/orders/{order.code}/cancel/")
        order.refresh_from_db()
        self.assertEqual(order.state, "cancelled")
        (request,) = receiver.requests
        self.assertEqual(json.loads(request.body)["data"]["order"]["state"], "cancelled")

    def test_another_teams_endpoint_and_a_disabled_one_hear_nothing(self):
        account = self.account("smspool")
        with Receiver() as theirs, Receiver() as off:
            self.endpoint(theirs, ["order.code_received"], team=self.other_team)
            endpoint, _ = self.endpoint(off, ["order.code_received"])
            endpoint.enabled = False
            endpoint.save()
            self.place_and_receive(account)
        self.assertEqual(theirs.requests, [])
        self.assertEqual(off.requests, [])
        self.assertFalse(Delivery.objects.exists())

    def test_a_rental_message_is_sent_with_the_new_message(self):
        numpool = self.account("numpool")
        with Receiver() as receiver:
            _, secret = self.endpoint(receiver, ["rental.message_received"])
            self.rent(self.offer(numpool))
            rental = Rental.objects.get()
            self.message(rental, "Your Discord code is 123456")
            with self.captureOnCommitCallbacks(execute=True):
                self.refresh(rental)
        (request,) = receiver.requests
        self.assertTrue(
            documented_verify()(secret, request.headers["Smsdesk-Signature"], request.body)
        )
        data = json.loads(request.body)["data"]["rental"]
        self.assertEqual(data["id"], str(rental.code))
        self.assertEqual([m["code"] for m in data["messages"]], ["123456"])
