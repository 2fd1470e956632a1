"""A provider key cannot be sent somewhere else from inside, and no part of it leaks.

Issue 11, findings 1 and 2: a manager changed the base URL and pressed "Test",
and the stored key went to a host of their choosing; an upstream error that
echoed 25 of the key's 28 characters reached every member's dashboard.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django.urls import reverse

from audit.models import AuditEvent
from providers import hosts
from providers.errors import InvalidRequest
from providers.http import REDACTED, Call, Transport, redact
from providers.models import ProviderAccount
from providers.services import provider_account_test, provider_account_update
from tests.orders.base import SandboxTestCase

KEY = "sbx_key_safety_0123456789abcd"  # 28 characters


class BaseUrlTestCase(SandboxTestCase):
    def setUp(self):
        super().setUp()
        self.account = self.account("smspool", sync=False)
        self.account.set_api_key(KEY)
        self.account.save()
        self.stolen = []

    def edit(self, user, **fields):
        self.client.force_login(user)
        data = {
            "kind": "smspool",
            "label": self.account.label,
            "base_url": self.account.base_url,
            "api_key": "",
            "currency": "USD",
            "enabled": "on",
            **fields,
        }
        return self.client.post(reverse("provider_edit", args=[self.account.code]), data)

    def test_a_manager_cannot_send_the_stored_key_elsewhere(self):
        r = self.edit(self.mia, base_url="http://127.0.0.1:9/collect")
        self.assertContains(r, "Only an owner can change where this account")
        self.account.refresh_from_db()
        self.assertTrue(self.account.base_url.startswith(self.sandbox.base_url))
        self.assertEqual(self.account.api_key, KEY)

    def test_an_owner_must_type_the_key_again_to_change_the_base_url(self):
        new_url = self.sandbox.base_url.replace("127.0.0.1", "localhost") + "/smspool"
        r = self.edit(self.alice, base_url=new_url)
        self.assertContains(r, "A new base URL needs the key again")
        r = self.edit(self.alice, base_url=new_url, api_key="sbx_key_typed_again_98765")
        self.assertEqual(r.status_code, 302)
        self.account.refresh_from_db()
        self.assertEqual(self.account.base_url, new_url)
        self.assertEqual(self.account.api_key, "sbx_key_typed_again_98765")
        event = AuditEvent.objects.get(action="provider.updated")
        self.assertEqual(event.payload["base_url"]["after"], new_url)
        self.assertTrue(event.payload["base_url"]["before"].startswith(self.sandbox.base_url))
        self.assertEqual(event.payload["api_key"], "replaced")

    def test_a_base_url_changed_without_a_key_clears_the_stored_key(self):
        # Below the form: a service call (the admin, a script) never moves the key either.
        provider_account_update(
            account=self.account, actor=self.alice, base_url="https://api.smspool.net"
        )
        self.account.refresh_from_db()
        self.assertEqual((self.account.api_key, self.account.enabled), ("", False))
        self.assertEqual(
            AuditEvent.objects.get(action="provider.updated").payload["api_key"], "cleared"
        )

    def test_addresses_inside_the_network_and_plain_http_are_refused(self):
        for url, words in (
            ("https://10.1.2.3/api", "inside the network"),
            ("https://169.254.169.254/latest", "inside the network"),
            ("https://[::1]:8443/", "inside the network"),
            ("http://api.provider.example", "https"),
            ("https://user:pw@api.provider.example", "Leave user names"),
            ("https://no-such-host.invalid", "does not resolve"),
            ("ftp://api.provider.example", "full address"),
        ):
            with self.subTest(url=url):
                r = self.edit(self.alice, base_url=url, api_key="sbx_whatever_123456")
                self.assertContains(r, words)
        self.account.refresh_from_db()
        self.assertEqual(self.account.api_key, KEY)


def test_the_documented_host_the_sandbox_and_listed_hosts_are_allowed(settings):
    settings.ALLOWED_PROVIDER_HOSTS = ["proxy.internal:8080"]
    settings.SANDBOX_ENABLED, settings.SANDBOX_URL = True, "http://127.0.0.1:8001"
    assert hosts.base_url_problem("https://api.smspool.net") == ""
    assert hosts.base_url_problem("http://127.0.0.1:8001/smspool") == ""
    assert hosts.base_url_problem("http://proxy.internal:8080/numpool") == ""
    assert "inside the network" in hosts.base_url_problem("https://127.0.0.1:8002")
    settings.SANDBOX_ENABLED = False
    assert hosts.base_url_problem("http://127.0.0.1:8001/smspool") != ""


@override_settings(ALLOWED_PROVIDER_HOSTS=[])
def test_the_chokepoint_never_sends_a_request_inside_the_network():
    transport = Transport(label="t", secrets=(KEY,), budget=None, max_attempts=1)
    with pytest.raises(InvalidRequest) as refused:
        transport.call(Call("GET", "http://10.0.0.7/balance", params={"key": KEY}), lambda r: r)
    assert refused.value.details["not_sent"] and not refused.value.outcome_unknown


def test_any_six_characters_of_a_key_are_redacted():
    text = f"Invalid key {KEY[:25]}... (was {KEY[3:9]}) and {KEY[-5:]}"
    cleaned = redact(text, (KEY,))
    assert KEY[:6] not in cleaned and KEY[3:9] not in cleaned
    assert cleaned.count(REDACTED) == 2
    assert cleaned.endswith(KEY[-5:])  # five characters are not a key
    assert redact("nothing secret here", (KEY,)) == "nothing secret here"


class EchoingProvider(BaseHTTPRequestHandler):
    """An upstream whose error echoes most of the key, as one did in the wild."""

    def do_POST(self):
        body = json.dumps(
            {"success": 0, "message": f"Invalid API key {KEY[:25]}... please check it"}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args):
        pass


class EchoedKeyTestCase(SandboxTestCase):
    def test_a_shortened_key_in_an_upstream_error_reaches_no_page_column_or_audit(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingProvider)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        account = ProviderAccount(
            team=self.team,
            kind="smspool",
            label="Echo",
            base_url=f"http://127.0.0.1:{server.server_port}",
        )
        account.set_api_key(KEY)
        account.save()
        report = provider_account_test(account=account, actor=self.alice)
        self.assertFalse(report.ok)
        account.refresh_from_db()
        seen = [account.last_error, json.dumps(list(AuditEvent.objects.values("payload")))]
        for user in (self.bob, self.alice):
            self.client.force_login(user)
            for name in ("dashboard", "team_settings"):
                seen.append(self.client.get(reverse(name, args=[self.team.code])).content.decode())
        for text in seen:
            for start in range(len(KEY) - 5):
                self.assertNotIn(KEY[start : start + 6], text)
        self.assertIn(REDACTED, account.last_error)


class AdminBaseUrlTestCase(SandboxTestCase):
    def test_the_admin_applies_the_same_rule_and_audits_the_change(self):
        account = self.account("smspool", sync=False)
        admin_user = type(self.alice).objects.create_superuser("root", "r@x.org", "pw")
        self.client.force_login(admin_user)
        url = reverse("admin:providers_provideraccount_change", args=[account.pk])
        data = {
            "team": self.team.pk,
            "kind": "smspool",
            "label": account.label,
            "base_url": "https://10.0.0.9/api",
            "api_key": "",
            "currency": "USD",
            "enabled": "on",
        }
        r = self.client.post(url, data)
        self.assertContains(r, "inside the network")
        new_url = self.sandbox.base_url.replace("127.0.0.1", "localhost") + "/smspool"
        r = self.client.post(url, {**data, "base_url": new_url})
        self.assertContains(r, "A new base URL needs the key again")
        r = self.client.post(url, {**data, "base_url": new_url, "api_key": "sbx_admin_new_key"})
        self.assertEqual(r.status_code, 302)
        account.refresh_from_db()
        self.assertEqual((account.base_url, account.api_key), (new_url, "sbx_admin_new_key"))
        event = AuditEvent.objects.get(action="provider.updated")
        self.assertEqual(event.payload["base_url"]["after"], new_url)
        self.assertEqual(event.actor, admin_user)
