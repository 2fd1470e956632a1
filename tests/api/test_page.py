"""The member's API page: keys shown once, revoke, scopes by role, examples."""

from __future__ import annotations

import shlex
import uuid
from html import unescape
from itertools import pairwise

from django.urls import reverse

from api import keys
from api.models import ApiKey, Scope
from api.services import api_key_create
from orders.models import Order
from tests.base import BaseTestCase
from tests.orders.base import SandboxTestCase


class ApiPageTests(BaseTestCase):
    def url(self):
        return reverse("api_keys", args=[self.team.code])

    def create(self, user, **data):
        self.login(user)
        return self.client.post(self.url(), {"name": "laptop", "scope": "order", **data})

    def test_it_requires_login_and_membership(self):
        self.assertEqual(self.client.get(self.url()).status_code, 302)
        self.login(self.charlie)
        self.assertEqual(self.client.get(self.url()).status_code, 404)

    def test_the_new_key_is_shown_once_and_works(self):
        response = self.create(self.bob, expires="30")
        self.assertEqual(response.status_code, 200)
        self.assertIn("no-store", response["Cache-Control"])
        key = ApiKey.objects.get(user=self.bob)
        raw = response.context["raw_key"]
        self.assertContains(response, raw)
        self.assertEqual(keys.authenticate(raw), key)
        self.assertEqual(key.scope, Scope.ORDER)
        self.assertIsNotNone(key.expires_at)
        again = self.client.get(self.url())
        self.assertNotContains(again, keys.split(raw)[1])
        self.assertContains(again, key.prefix)
        self.assertContains(again, "laptop")

    def test_the_page_shows_the_tool_settings_and_examples(self):
        self.login(self.bob)
        response = self.client.get(self.url())
        self.assertContains(response, "http://testserver/api/handler_api.php")
        self.assertContains(response, "curl ")
        self.assertContains(response, "import time, requests")
        self.assertContains(response, reverse("api_keys", args=[self.team.code]))  # nav link

    def test_a_viewer_may_make_only_read_only_keys(self):
        response = self.create(self.vic)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(ApiKey.objects.filter(user=self.vic).exists())
        response = self.create(self.vic, scope="read")
        self.assertEqual(ApiKey.objects.get(user=self.vic).scope, Scope.READ)

    def test_a_taken_or_empty_name_is_refused_in_plain_words(self):
        self.create(self.bob)
        response = self.create(self.bob)
        self.assertContains(response, "already have a key named", status_code=400)
        response = self.create(self.bob, name="   ")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(ApiKey.objects.filter(user=self.bob).count(), 1)

    def test_revoke_own_key_and_not_another_members(self):
        key, raw = api_key_create(
            membership=self.member, name="ci", scope=Scope.READ, actor=self.bob
        )
        theirs, _ = api_key_create(
            membership=self.manager, name="m", scope=Scope.READ, actor=self.mia
        )
        self.login(self.bob)
        response = self.client.post(self.url(), {"revoke": str(theirs.code)})
        self.assertEqual(response.status_code, 404)
        self.assertIsNone(ApiKey.objects.get(pk=theirs.pk).revoked_at)
        response = self.client.post(self.url(), {"revoke": str(key.code)})
        self.assertRedirects(response, self.url())
        self.assertIsNone(keys.authenticate(raw))
        self.assertEqual(self.client.post(self.url(), {"revoke": "not-a-uuid"}).status_code, 404)

    def test_a_manager_sees_and_revokes_other_members_keys(self):
        key, _ = api_key_create(membership=self.member, name="ci", scope=Scope.READ, actor=self.bob)
        self.login(self.mia)
        self.assertContains(self.client.get(self.url()), "Other members")
        self.client.post(self.url(), {"revoke": str(key.code)})
        self.assertIsNotNone(ApiKey.objects.get(pk=key.pk).revoked_at)

    def test_another_teams_key_is_not_found(self):
        other = self.other_team.memberships.get(user=self.charlie)
        key, _ = api_key_create(membership=other, name="c", scope=Scope.READ, actor=self.charlie)
        self.login(self.alice)
        self.assertEqual(self.client.post(self.url(), {"revoke": str(key.code)}).status_code, 404)
        self.assertIsNone(ApiKey.objects.get(pk=key.pk).revoked_at)


class RestExampleTests(SandboxTestCase):
    """The page's REST example, run as written (each curl line through the test client):
    a pipeline that copies it gets answers, not errors."""

    def test_every_line_of_the_rest_example_works(self):
        self.account("smspool")
        self.login(self.bob)
        page = self.client.post(
            reverse("api_keys", args=[self.team.code]), {"name": "ci", "scope": "order"}
        )
        raw = page.context["raw_key"]
        html = page.content.decode()
        block = html.split('id="example-rest">', 1)[1].split("</pre>", 1)[0]
        lines = unescape(block).replace("\\\n", " ").splitlines()
        self.assertEqual(len(lines), 4)
        self.client.logout()  # the key alone authenticates
        order_id = None
        for line in lines:
            args = shlex.split(line.replace("ORDER_ID", str(order_id)))
            url, headers, body, method = args[-1], {}, None, "GET"
            for flag, value in pairwise(args):
                if flag == "-H":
                    name, _, content = value.partition(": ")
                    headers[name] = content
                elif flag == "-d":
                    body = value
                elif flag == "-X":
                    method = value
            self.assertIn(f"Bearer {raw}", headers["Authorization"])
            response = self.client.generic(
                method,
                url.removeprefix("http://testserver"),
                data=body or "",
                content_type=headers.get("Content-Type", ""),
                headers={k: v for k, v in headers.items() if k != "Content-Type"},
            )
            self.assertIn(response.status_code, (200, 201), (line, response.content))
            if method == "POST":
                order_id = response.json()["id"]
        self.assertEqual(Order.objects.get().code, uuid.UUID(order_id))
