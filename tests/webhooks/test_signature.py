"""The verification snippet of docs/API.md, run as written, against real deliveries."""

from __future__ import annotations

import time

from tests.base import BaseTestCase
from tests.webhooks.helpers import documented_verify
from tests.webhooks.receiver import Receiver
from webhooks import services, signing


class DocumentedSnippetTestCase(BaseTestCase):
    def test_the_documented_snippet_accepts_a_delivery_and_refuses_forgeries(self):
        verify = documented_verify()
        with Receiver() as receiver:
            endpoint, secret = services.endpoint_create(
                team=self.team, actor=self.alice, url=receiver.url, events=["order.completed"]
            )
            services.endpoint_send_test(endpoint=endpoint, actor=self.alice)
        (request,) = receiver.requests
        header, body = request.headers["Smsdesk-Signature"], request.body
        self.assertRegex(header, r"^t=\d+,v1=[0-9a-f]{64}$")
        self.assertTrue(verify(secret, header, body))

        self.assertFalse(verify(secret, header, body.replace(b"test", b"tost")))
        self.assertFalse(verify(signing.new_secret(), header, body))
        self.assertFalse(verify(secret, "v1=" + header.split("v1=")[1], body))
        self.assertFalse(verify(secret, "garbage", body))
        stale = int(time.time()) - 3600  # a captured request replayed an hour later
        self.assertFalse(verify(secret, signing.signature(secret, stale, body), body))
        self.assertTrue(verify(secret, signing.signature(secret, int(time.time()), body), body))

    def test_a_new_secret_invalidates_the_old_one(self):
        verify = documented_verify()
        with Receiver() as receiver:
            endpoint, old = services.endpoint_create(
                team=self.team, actor=self.alice, url=receiver.url, events=["order.completed"]
            )
            new = services.endpoint_rotate_secret(endpoint=endpoint, actor=self.alice)
            services.endpoint_send_test(endpoint=endpoint, actor=self.alice)
        (request,) = receiver.requests
        self.assertNotEqual(old, new)
        self.assertTrue(verify(new, request.headers["Smsdesk-Signature"], request.body))
        self.assertFalse(verify(old, request.headers["Smsdesk-Signature"], request.body))
