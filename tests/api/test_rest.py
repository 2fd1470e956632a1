"""The REST API (/api/v1/) through Django's test client, with the real provider clients and
the sandbox over HTTP behind it: idempotent purchase, what each key sees, spend refusals,
the error envelope, cursor pagination, the order and rental actions, the OpenAPI schema."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

from django.test import Client, override_settings
from django.utils import timezone
from openapi_spec_validator import validate

from accounts.models import Membership
from accounts.roles import Role
from api.models import ApiOrder, Scope
from api.services import api_key_create
from audit.models import AuditEvent
from orders.models import Order, State
from rentals import services as rental_services
from rentals.models import Rental, RentalOffer
from tests.base import make_user
from tests.conftest import sandbox_account
from tests.orders.base import SandboxTestCase
from webhooks.models import Endpoint

BASE = "/api/v1"


class RestTestCase(SandboxTestCase):
    def setUp(self):
        super().setUp()
        self.smspool = self.account("smspool")
        self.key, self.raw = api_key_create(
            membership=self.member, name="pipeline", scope=Scope.ORDER, actor=self.bob
        )
        # Bearer keys, no session and no CSRF token: as a pipeline calls it.
        self.api = Client(enforce_csrf_checks=True)

    def headers(self, raw=None, **extra) -> dict:
        return {"Authorization": f"Bearer {raw or self.raw}", **extra}

    def get(self, path, raw=None, **params):
        return self.api.get(BASE + path, params, headers=self.headers(raw))

    def post(self, path, body=None, raw=None, **headers):
        return self.api.post(
            BASE + path,
            body or {},
            content_type="application/json",
            headers=self.headers(raw, **headers),
        )

    def order(self, raw=None, key=None, **body):
        headers = {"Idempotency-Key": key} if key else {}
        return self.post(
            "/orders", {"service": "whatsapp", "country": "US", **body}, raw=raw, **headers
        )

    def key_for(self, membership, scope=Scope.ORDER, name="ci") -> str:
        return api_key_create(membership=membership, name=name, scope=scope, actor=membership.user)[
            1
        ]

    def upstream_orders(self, account) -> int:
        state = self.sandbox.state
        with state.lock:
            return sum(1 for o in state.orders.values() if o.api_key == account.api_key)

    def assertError(self, response, status: int, code: str):
        self.assertEqual(response.status_code, status, response.content[:500])
        self.assertEqual(response["Content-Type"], "application/json")
        body = response.json()
        self.assertEqual(set(body), {"error"})
        self.assertEqual(body["error"]["code"], code)
        self.assertTrue(body["error"]["message"])
        return body["error"]


class IdempotencyTests(RestTestCase):
    def test_two_creates_with_one_idempotency_key_buy_one_number(self):
        first = self.order(key="build-4711")
        self.assertEqual(first.status_code, 201, first.content)
        again = self.order(key="build-4711")
        self.assertEqual(again.status_code, 200, again.content)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(self.upstream_orders(self.smspool), 1)  # one purchase upstream
        self.assertEqual(Order.objects.get().ledger.count(), 1)
        # Without the header (or with another key) every call buys.
        self.assertEqual(self.order(key="build-4712").status_code, 201)
        self.assertEqual(self.order().status_code, 201)
        self.assertEqual(self.upstream_orders(self.smspool), 3)

    def test_the_key_is_the_members_own_and_refuses_another_order(self):
        self.assertEqual(self.order(key="same").status_code, 201)
        error = self.assertError(
            self.order(key="same", country="GB"), 409, "idempotency_key_reused"
        )
        self.assertIn("another order", error["message"])
        # Another member's key with the same Idempotency-Key buys their own number.
        other = self.key_for(self.manager)
        self.assertEqual(self.order(raw=other, key="same").status_code, 201)
        self.assertEqual(Order.objects.count(), 2)

    def test_an_order_is_labelled_attributed_and_on_the_board(self):
        body = self.order(key="k1").json()
        order = Order.objects.get(code=body["id"])
        self.assertEqual(body["state"], "waiting")
        self.assertEqual(body["phone_number"], order.international_number)
        self.assertEqual(body["ordered_by"], "bob")
        self.assertEqual(order.placed_via, "API: pipeline")
        self.assertTrue(ApiOrder.objects.filter(order=order, key=self.key).exists())
        placed = AuditEvent.objects.get(action="order.placed", target_code=order.code)
        self.assertEqual(placed.payload["via"]["via"], "rest")
        self.assertEqual(placed.actor, self.bob)


class VisibilityTests(RestTestCase):
    def setUp(self):
        super().setUp()
        self.bobs = self.order().json()["id"]
        self.mia_raw = self.key_for(self.manager, name="mia's")
        self.mias = self.order(raw=self.mia_raw).json()["id"]
        other_account = sandbox_account(self.other_team, self.sandbox, "smspool")
        charlie = Membership.objects.get(team=self.other_team)
        self.charlie_raw = self.key_for(charlie)
        self.charlies = self.order(raw=self.charlie_raw).json()["id"]
        self.assertEqual(Order.objects.get(code=self.charlies).account, other_account)

    def ids(self, raw) -> set[str]:
        return {o["id"] for o in self.get("/orders", raw=raw).json()["data"]}

    def test_a_members_key_sees_only_the_members_own_orders(self):
        self.assertEqual(self.ids(self.raw), {self.bobs})
        self.assertError(self.get(f"/orders/{self.mias}"), 404, "not_found")
        self.assertError(self.get(f"/orders/{self.charlies}"), 404, "not_found")
        self.assertError(self.post(f"/orders/{self.mias}/cancel"), 404, "not_found")
        self.assertError(self.get("/orders", member="mia"), 403, "forbidden")

    def test_a_managers_key_sees_the_team_but_never_another_team(self):
        self.assertEqual(self.ids(self.mia_raw), {self.bobs, self.mias})
        self.assertEqual(self.get(f"/orders/{self.bobs}", raw=self.mia_raw).status_code, 200)
        self.assertError(self.get(f"/orders/{self.charlies}", raw=self.mia_raw), 404, "not_found")
        only_bob = self.get("/orders", raw=self.mia_raw, member="bob").json()["data"]
        self.assertEqual([o["id"] for o in only_bob], [self.bobs])
        self.assertEqual(self.ids(self.charlie_raw), {self.charlies})

    def test_a_member_demoted_to_viewer_reads_but_cannot_order(self):
        self.member.role = Role.VIEWER
        self.member.save()
        self.assertEqual(self.ids(self.raw), {self.bobs})
        self.assertError(self.order(), 403, "forbidden")
        self.assertError(self.post(f"/orders/{self.bobs}/done"), 403, "forbidden")

    def test_a_read_only_key_cannot_order(self):
        read = self.key_for(self.member, scope=Scope.READ, name="dashboards")
        self.assertEqual(self.get("/orders", raw=read).status_code, 200)
        error = self.assertError(self.order(raw=read), 403, "forbidden")
        self.assertIn("read only", error["message"])


class BudgetTests(RestTestCase):
    def test_a_members_monthly_limit_refuses_with_what_is_left(self):
        self.member.monthly_spend_limit = Decimal("0.01")
        self.member.save()
        error = self.assertError(self.order(), 402, "spend_limit")
        self.assertEqual(Decimal(error["remaining"]), Decimal("0.01"))
        self.assertEqual(error["currency"], "USD")
        self.assertIn("you have 0.01 USD left this month", error["message"])
        self.assertFalse(Order.objects.exists())

    def test_a_members_daily_limit_refuses_with_what_is_left_today(self):
        placed = self.order().json()
        self.member.daily_spend_limit = Decimal(placed["cost"]) + Decimal("0.02")
        self.member.save()
        error = self.assertError(self.order(), 402, "daily_limit")
        self.assertEqual(Decimal(error["remaining"]), Decimal("0.02"))
        self.assertEqual(error["currency"], "USD")
        self.assertIn("0.02 USD left today", error["message"])
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(Decimal(self.get("/balance").json()["left"]), Decimal("0.02"))

    def test_the_teams_budget_refuses_with_what_the_team_has_left(self):
        placed = self.order().json()
        self.team.monthly_budget = Decimal(placed["cost"]) + Decimal("0.01")
        self.team.save()
        error = self.assertError(self.order(), 402, "team_budget")
        self.assertEqual(Decimal(error["remaining"]), Decimal("0.01"))
        self.assertIn("the team has 0.01 USD left", error["message"])
        balance = self.get("/balance").json()
        self.assertEqual(Decimal(balance["team_left"]), Decimal("0.01"))
        self.assertEqual(Decimal(balance["left"]), Decimal("0.01"))
        self.assertEqual(Decimal(balance["spent_month"]), Decimal(placed["cost"]))

    def test_a_max_price_below_every_offer_names_the_cheapest(self):
        error = self.assertError(self.order(max_price="0.0001"), 409, "price_too_high")
        self.assertGreater(Decimal(error["lowest_price"]), Decimal("0.0001"))
        self.assertEqual(Order.objects.count(), 0)


class ErrorEnvelopeTests(RestTestCase):
    def test_every_error_is_one_envelope(self):
        self.assertError(self.api.get(BASE + "/orders"), 401, "unauthorized")
        response = self.get("/orders", raw="smsd" + "x" * 40)
        self.assertError(response, 401, "unauthorized")
        self.assertEqual(response["WWW-Authenticate"], 'Bearer realm="smsdesk"')
        self.assertError(self.get(f"/orders/{uuid.uuid4()}"), 404, "not_found")
        self.assertError(self.get("/no/such/thing"), 404, "not_found")
        self.assertError(self.api.get(BASE + "/"), 404, "not_found")
        self.assertError(self.get("/orders/not-a-uuid"), 422, "invalid_request")
        error = self.assertError(self.order(country=None), 422, "invalid_request")
        self.assertEqual(error["details"][0]["field"], "body.country")
        self.assertError(self.order(service="no-such-service"), 422, "unknown_service")
        self.assertError(self.order(max_price="-1"), 422, "invalid_request")
        bad_json = self.api.post(
            BASE + "/orders", "{nope", content_type="application/json", headers=self.headers()
        )
        self.assertError(bad_json, 400, "bad_request")
        self.assertError(
            self.api.delete(BASE + "/orders", headers=self.headers()), 405, "method_not_allowed"
        )
        self.assertError(self.get("/orders", cursor="garbage!"), 422, "invalid_cursor")
        self.assertError(self.get("/orders", limit=1000), 422, "invalid_request")
        self.assertError(self.get("/orders", since="9999-12-31"), 422, "invalid_request")
        self.assertEqual(self.get("/orders", since="2020-01-01").status_code, 200)
        # A NUL character (PostgreSQL refuses it in any query) is invalid wherever it comes.
        self.assertError(self.order(note="a\x00b"), 422, "invalid_request")
        self.assertError(self.order(provider="x\x00"), 422, "invalid_request")
        self.assertError(self.order(key="k\x00"), 422, "invalid_request")
        self.assertError(self.get("/orders", member="a\x00"), 422, "invalid_request")
        self.assertError(self.get("/orders", service="a\x00"), 422, "invalid_request")
        self.assertError(self.get("/offers", service="a\x00", country="US"), 422, "invalid_request")
        self.assertFalse(Order.objects.exists())

    @override_settings(API_KEY_RATE_LIMIT=3, API_KEY_RATE_PERIOD=60)
    def test_over_the_keys_rate_limit_429_with_retry_after(self):
        for _ in range(3):
            self.assertEqual(self.get("/balance").status_code, 200)
        response = self.get("/balance")
        error = self.assertError(response, 429, "rate_limited")
        self.assertGreater(int(response["Retry-After"]), 0)
        self.assertEqual(error["retry_after"], int(response["Retry-After"]))

    def test_a_revoked_key_is_refused(self):
        from api.services import api_key_revoke

        api_key_revoke(key=self.key, membership=self.member)
        self.assertError(self.get("/orders"), 401, "unauthorized")


class PaginationTests(RestTestCase):
    def test_cursor_pages_cover_every_order_once_newest_first(self):
        now = timezone.now()
        for i in range(7):
            Order.objects.create(
                team=self.team,
                account=self.smspool,
                ordered_by=self.bob,
                idempotency_key=f"seed-{i}",
                service_name="WhatsApp",
                country_name="United States",
                state=State.COMPLETED,
                # Two share a timestamp: the id breaks the tie.
                created=now - timedelta(minutes=i if i != 3 else 2),
            )
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            body = self.get("/orders", **params).json()
            seen += [o["id"] for o in body["data"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        expected = Order.objects.order_by("-created", "-id").values_list("code", flat=True)
        self.assertEqual(seen, [str(c) for c in expected])
        self.assertEqual(pages, 3)
        # A new order does not shift the pages after the first.
        body = self.get("/orders", limit=3).json()
        Order.objects.create(
            team=self.team, account=self.smspool, ordered_by=self.bob, idempotency_key="new"
        )
        later = self.get("/orders", limit=3, cursor=body["next_cursor"]).json()
        self.assertEqual([o["id"] for o in later["data"]], seen[3:6])

    def test_filters(self):
        self.order()
        done = Order.objects.create(
            team=self.team,
            account=self.smspool,
            ordered_by=self.bob,
            idempotency_key="old",
            state=State.COMPLETED,
        )
        states = {o["state"] for o in self.get("/orders", active="true").json()["data"]}
        self.assertEqual(states, {"waiting"})
        closed = self.get("/orders", state="completed").json()["data"]
        self.assertEqual([o["id"] for o in closed], [str(done.code)])
        self.assertEqual(
            len(self.get("/orders", service="whatsapp", country="US").json()["data"]), 1
        )
        self.assertError(self.get("/orders", state="exploded"), 422, "invalid_request")


class OrderActionTests(RestTestCase):
    def test_code_another_code_and_done(self):
        body = self.order().json()
        order = Order.objects.get(code=body["id"])
        self.deliver(order, text="Your WhatsApp code is 482-913")
        self.cycle(self.smspool)
        got = self.get(f"/orders/{order.code}").json()
        self.assertEqual((got["state"], got["code"]), ("received", "482913"))
        self.assertEqual(got["messages"][0]["text"], "Your WhatsApp code is 482-913")
        again = self.post(f"/orders/{order.code}/another-code")
        self.assertEqual(again.status_code, 200, again.content)
        self.assertEqual(again.json()["state"], "resend_requested")
        order.refresh_from_db()
        self.deliver(order, text="Your WhatsApp code is 551-234")
        self.cycle(self.smspool)
        done = self.post(f"/orders/{order.code}/done")
        self.assertEqual(done.status_code, 200, done.content)
        self.assertEqual(done.json()["state"], "completed")
        self.assertEqual([m["code"] for m in done.json()["messages"]], ["482913", "551234"])
        self.assertError(self.post(f"/orders/{order.code}/done"), 409, "refused")

    def test_cancel_inside_the_lock_and_cancel_when_allowed(self):
        body = self.order().json()
        url = f"/orders/{body['id']}/cancel"
        response = self.post(url)
        error = self.assertError(response, 409, "cancel_locked")
        self.assertGreater(error["retry_after"], 0)
        self.assertEqual(response["Retry-After"], str(error["retry_after"]))
        scheduled = self.post(url, {"when_allowed": True})
        self.assertEqual(scheduled.status_code, 202, scheduled.content)
        self.assertIs(scheduled.json()["cancel_requested"], True)
        self.advance(60)
        self.cycle(self.smspool, later=60)
        self.assertEqual(self.get(f"/orders/{body['id']}").json()["state"], "cancelled")

    def test_a_cancel_after_the_lock_refunds_at_once(self):
        numpool = self.account("numpool")
        body = self.order(provider=str(numpool.code)).json()
        self.advance(60)
        Order.objects.filter(code=body["id"]).update(cancel_available_at=None)
        response = self.post(f"/orders/{body['id']}/cancel")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["state"], "cancelled")
        order = Order.objects.get(code=body["id"])
        self.assertEqual(sum(e.amount for e in order.ledger.all()), 0)


class OffersAndRentalsTests(RestTestCase):
    def test_offers_name_their_provider_and_price_and_order_picks_one(self):
        numpool = self.account("numpool")
        offers = self.get("/offers", service="whatsapp", country="US").json()["data"]
        self.assertEqual({o["provider"] for o in offers}, {"smspool sandbox", "numpool sandbox"})
        pick = next(o for o in offers if o["provider_id"] == str(numpool.code))
        self.assertRegex(pick["price"], r"^\d+(\.\d+)?$")
        body = self.order(offer=pick["id"]).json()
        self.assertEqual(body["provider"], "numpool sandbox")
        self.assertError(
            self.get("/offers", service="whatsapp", country="XX"), 422, "unknown_country"
        )

    def rent(self, account) -> Rental:
        offer = RentalOffer.objects.filter(account=account, country__iso="US").order_by("pk")[0]
        self.client.force_login(self.bob)
        data = {
            "choice": f"{offer.pk}:{offer.durations()[0][0]}",
            "idempotency_key": f"r-{account.pk}",
            "label": "QA line",
            "note": "",
            "service": "",
        }
        url = f"/teams/{self.team.code}/rentals/new/"
        self.client.post(url, data)
        self.client.post(url, {**data, "confirm": "1"})
        self.client.logout()
        return Rental.objects.get(account=account)

    def test_rentals_list_get_with_messages_and_extend(self):
        rental = self.rent(self.smspool)
        with self.sandbox.state.lock:
            upstream = self.sandbox.state.rental(
                "smspool", self.smspool.api_key, rental.upstream_id
            )
            self.sandbox.state.rental_message(upstream, text="Your Discord code is 123456")
        rental_services.rental_refresh(rental=rental)
        listed = self.get("/rentals").json()
        self.assertEqual([r["id"] for r in listed["data"]], [str(rental.code)])
        detail = self.get(f"/rentals/{rental.code}").json()
        self.assertEqual([m["code"] for m in detail["messages"]], ["123456"])
        self.assertError(
            self.post(f"/rentals/{rental.code}/extend", {"duration": 999}), 409, "refused"
        )
        option = detail["extend_options"][0]
        self.assertRegex(option["price"], r"^\d+(\.\d+)?$")
        extended = self.post(f"/rentals/{rental.code}/extend", {"duration": option["duration"]})
        self.assertEqual(extended.status_code, 200, extended.content)
        self.assertGreater(extended.json()["expires_at"], detail["expires_at"])
        self.assertTrue(rental.ledger.filter(kind="extension").exists())
        self.assertError(
            self.post(f"/rentals/{rental.code}/extend", {"duration": 0}), 422, "invalid_request"
        )

    def test_a_provider_that_cannot_extend_is_a_refusal_not_a_500(self):
        rental = self.rent(self.account("numpool"))
        error = self.assertError(
            self.post(f"/rentals/{rental.code}/extend", {"duration": 1}), 409, "refused"
        )
        self.assertIn("cannot be extended", error["message"])

    def test_rentals_follow_the_same_visibility(self):
        rental = self.rent(self.smspool)
        mia = self.key_for(self.manager)
        self.assertEqual(len(self.get("/rentals", raw=mia).json()["data"]), 1)
        nora = Membership.objects.create(team=self.team, user=make_user("nora"), role=Role.MEMBER)
        self.assertEqual(self.get("/rentals", raw=self.key_for(nora)).json()["data"], [])
        other = self.key_for(nora, name="b")
        self.assertError(self.get(f"/rentals/{rental.code}", raw=other), 404, "not_found")


class OpenApiTests(RestTestCase):
    def test_the_schema_is_valid_openapi_3_and_lists_every_endpoint(self):
        response = self.api.get(BASE + "/openapi.json")
        self.assertEqual(response.status_code, 200)
        spec = response.json()
        validate(spec)
        self.assertTrue(spec["openapi"].startswith("3."))
        paths = set(spec["paths"])
        for path in (
            "/api/v1/offers",
            "/api/v1/balance",
            "/api/v1/orders",
            "/api/v1/orders/{order_id}",
            "/api/v1/orders/{order_id}/cancel",
            "/api/v1/orders/{order_id}/another-code",
            "/api/v1/orders/{order_id}/done",
            "/api/v1/rentals",
            "/api/v1/rentals/{rental_id}",
            "/api/v1/rentals/{rental_id}/extend",
        ):
            self.assertIn(path, paths)
        create = spec["paths"]["/api/v1/orders"]["post"]
        self.assertIn("Idempotency-Key", [p["name"] for p in create["parameters"]])
        # Every operation takes the personal key as a bearer token.
        self.assertEqual(
            spec["components"]["securitySchemes"],
            {"KeyAuth": {"type": "http", "scheme": "bearer"}},
        )
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                with self.subTest(operation=f"{method.upper()} {path}"):
                    self.assertEqual(operation["security"], [{"KeyAuth": []}])
        self.assertEqual(
            spec["components"]["schemas"]["ErrorOut"]["properties"]["error"]["$ref"],
            "#/components/schemas/ErrorBody",
        )

    def test_the_docs_page_uses_only_local_files(self):
        page = self.api.get(BASE + "/docs")
        self.assertEqual(page.status_code, 200)
        html = page.content.decode()
        self.assertIn("/static/ninja/swagger-ui-bundle.js", html)
        self.assertNotIn("cdn.", html)
        self.assertNotIn("<script>", html.replace(" ", ""))  # no inline script to run


class WebhookShapeTests(RestTestCase):
    def test_a_webhook_event_carries_the_order_as_the_api_answers_it(self):
        import json

        from tests.webhooks.receiver import Receiver
        from webhooks import services as webhook_services

        with Receiver() as receiver:
            webhook_services.endpoint_create(
                team=self.team, actor=self.alice, url=receiver.url, events=["order.code_received"]
            )
            body = self.order().json()
            order = Order.objects.get(code=body["id"])
            self.deliver(order, text="Your WhatsApp code is 482-913")
            with self.captureOnCommitCallbacks(execute=True):
                self.cycle(self.smspool)
        (request,) = receiver.requests
        pushed = json.loads(request.body)["data"]["order"]
        self.assertEqual(pushed, self.get(f"/orders/{order.code}").json())


class DocsTests(RestTestCase):
    def test_every_endpoint_the_docs_list_is_in_the_schema(self):
        import re
        from pathlib import Path

        text = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
        section = text.split("## REST API", 1)[1].split("## Webhooks", 1)[0]
        listed = set(re.findall(r"`(GET|POST|DELETE) (/api/v1/[^` ?]+)", section))
        spec = self.api.get(BASE + "/openapi.json").json()["paths"]
        documented = {
            (method.upper(), re.sub(r"\{\w+_id\}", "{id}", path))
            for path, operations in spec.items()
            for method in operations
        }
        self.assertEqual(listed, documented)


class HostileInputTests(RestTestCase):
    """Every hostile value of the portal's fuzz list in every parameter: never a 500,
    always the envelope."""

    def test_no_parameter_answers_a_500(self):
        from tests.security.test_fuzz_forms import HOSTILE

        self.member.monthly_spend_limit = Decimal("0")  # whatever gets through buys nothing
        self.member.save()
        order = self.order(raw=self.key_for(self.manager)).json()["id"]
        checked = 0
        for value in HOSTILE:
            for field in ("state", "active", "service", "country", "since", "until", "cursor"):
                checked += self.calm(self.get("/orders", **{field: value}))
            checked += self.calm(self.get("/offers", service=value, country=value))
            checked += self.calm(self.get("/rentals", state=value, cursor=value))
            for field in ("service", "country", "offer", "provider", "max_price", "note"):
                body = {"service": "whatsapp", "country": "US", field: value}
                checked += self.calm(self.post("/orders", body))
            checked += self.calm(
                self.post("/orders", {"service": "whatsapp"}, **{"Idempotency-Key": value})
            )
            checked += self.calm(self.post(f"/orders/{order}/cancel", {"when_allowed": value}))
            checked += self.calm(self.post("/webhooks", {"url": value}))
            hook = {"url": "http://127.0.0.1:9/hook", "events": [value]}
            checked += self.calm(self.post("/webhooks", hook))
            checked += self.calm(self.post(f"/webhooks/{quote(str(value), safe='')}/test"))
        self.assertGreater(checked, 700)
        self.assertEqual(Order.objects.count(), 1)
        self.assertFalse(Endpoint.objects.exists())

    def calm(self, response) -> int:
        self.assertLess(response.status_code, 500, response.content[:300])
        if response.status_code >= 400:
            self.assertIn("error", response.json())
        return 1
