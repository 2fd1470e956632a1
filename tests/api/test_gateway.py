"""The SMS-Activate-compatible gateway through Django's test client, with the real
provider clients and the sandbox behind it: every action's wire format, the error
tokens, scopes, isolation, the board label, attribution and the per-key rate limit."""

from __future__ import annotations

import json
from decimal import Decimal

from django.test import SimpleTestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from api import keys
from api.models import ApiKey, ApiOrder, Scope
from api.services import api_key_create, api_key_revoke
from audit.models import AuditEvent
from orders.models import Order, State
from providers.models import RateCounter
from providers.ratelimit import DatabaseStore
from tests.base import smsdesk_clock_ahead
from tests.orders.base import SandboxTestCase

URL = "/api/handler_api.php"


def upstream_requests(sandbox) -> int:
    snapshot = sandbox.state.stats.snapshot()
    return sum(
        e["requests"]
        for keys_ in snapshot.values()
        for ends in keys_.values()
        for e in ends.values()
    )


class GatewayTestCase(SandboxTestCase):
    def setUp(self):
        super().setUp()
        self.sa = self.account("smsactivate")
        self.key, self.raw = api_key_create(
            membership=self.member, name="qa bot", scope=Scope.ORDER, actor=self.bob
        )

    def call(self, action, raw=None, method="get", path=URL, **params):
        data = {"api_key": raw or self.raw, "action": action, **params}
        response = getattr(self.client, method)(path, data)
        return response

    def text(self, action, **params) -> str:
        response = self.call(action, **params)
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def json(self, action, **params):
        response = self.call(action, **params)
        self.assertEqual(response["Content-Type"], "application/json")
        return json.loads(response.content)

    def number(self, **params) -> tuple[int, str]:
        answer = self.text("getNumber", service="wa", country="187", **params)
        self.assertTrue(answer.startswith("ACCESS_NUMBER:"), answer)
        _, activation, phone = answer.split(":")
        return int(activation), phone


class WireFormatTests(GatewayTestCase):
    def test_a_bad_or_missing_key_is_bad_key_and_an_unknown_action_bad_action(self):
        self.assertEqual(self.text("getBalance", raw="nope"), "BAD_KEY")
        self.assertEqual(self.client.get(URL).content, b"BAD_KEY")
        self.assertEqual(self.text("launchRocket"), "BAD_ACTION")
        self.assertEqual(self.client.get(URL, {"api_key": self.raw}).content, b"BAD_ACTION")

    def test_both_paths_and_both_methods_answer(self):
        for path in ("/api/handler_api.php", "/api/handler_api"):
            for method in ("get", "post"):
                answer = self.call("getBalance", method=method, path=path).content.decode()
                self.assertRegex(answer, r"^ACCESS_BALANCE:\d+\.\d\d$")

    def test_get_balance_is_the_smaller_of_member_limit_and_team_budget_left(self):
        self.member.monthly_spend_limit = Decimal("7.50")
        self.member.save()
        self.assertEqual(self.text("getBalance"), "ACCESS_BALANCE:7.50")
        self.member.daily_spend_limit = Decimal("5.00")
        self.member.save()
        self.assertEqual(self.text("getBalance"), "ACCESS_BALANCE:5.00")
        self.team.monthly_budget = Decimal("3.25")
        self.team.save()
        self.assertEqual(self.text("getBalance"), "ACCESS_BALANCE:3.25")
        activation, _phone = self.number()
        order = ApiOrder.objects.get(activation_id=activation).order
        left = (Decimal("3.25") - order.cost).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
        self.assertEqual(self.text("getBalance"), f"ACCESS_BALANCE:{left}")

    def test_catalogue_actions_use_sms_activate_numbering(self):
        countries = self.json("getCountries")
        self.assertEqual(countries["187"]["eng"], "United States")
        self.assertEqual(countries["16"]["id"], 16)
        services = self.json("getServicesList")
        self.assertEqual(services["status"], "success")
        self.assertIn({"code": "wa", "name": "WhatsApp"}, services["services"])
        prices = self.json("getPrices", service="wa", country="187")
        entry = prices["187"]["wa"]
        self.assertIsInstance(entry["cost"], float)
        self.assertGreater(entry["count"], 0)
        self.assertEqual(list(prices), ["187"])
        status = self.json("getNumbersStatus", country="187")
        self.assertEqual(status["wa_0"], entry["count"])
        self.assertEqual(self.text("getPrices", country="99999"), "BAD_COUNTRY")

    def test_get_number_v2_answers_json(self):
        body = self.json("getNumberV2", service="tg", country="16")
        order = ApiOrder.objects.get(activation_id=body["activationId"]).order
        self.assertEqual(body["phoneNumber"], order.international_number.lstrip("+"))
        self.assertEqual(body["countryCode"], "16")
        self.assertEqual(body["currency"], 840)
        self.assertEqual(Decimal(str(body["activationCost"])), order.cost.quantize(Decimal("0.01")))
        self.assertRegex(body["activationTime"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertIs(body["canGetAnotherSms"], True)

    def test_unknown_service_and_country_are_bad_service_and_bad_country(self):
        self.assertEqual(self.text("getNumber", service="zz9", country="187"), "BAD_SERVICE")
        self.assertEqual(self.text("getNumber", service="wa", country="4242"), "BAD_COUNTRY")
        self.assertEqual(self.text("getNumber", service="wa", country="x'; --"), "BAD_COUNTRY")
        self.assertEqual(Order.objects.count(), 0)


class ActivationTests(GatewayTestCase):
    def test_an_order_lands_on_the_board_labelled_with_the_key_and_attributed(self):
        activation, phone = self.number()
        link = ApiOrder.objects.select_related("order").get(activation_id=activation)
        order = link.order
        self.assertEqual(order.ordered_by, self.bob)
        self.assertEqual(order.placed_via, "API: qa bot")
        self.assertEqual(phone, order.international_number.lstrip("+"))
        placed = AuditEvent.objects.get(action="order.placed", target_code=order.code)
        self.assertEqual(placed.payload["via"]["api_key"], "qa bot")
        self.assertEqual(placed.actor, self.bob)
        self.client.force_login(self.vic)
        board = self.client.get(reverse("board", args=[self.team.code]))
        self.assertContains(board, "API: qa bot")

    def test_status_comes_from_smsdesk_without_asking_the_provider(self):
        activation, _phone = self.number()
        order = ApiOrder.objects.get(activation_id=activation).order
        before = upstream_requests(self.sandbox)
        for _ in range(5):
            self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_CODE")
        self.assertEqual(self.json("getStatusV2", id=activation)["sms"], None)
        self.assertEqual(self.text("getFullSms", id=activation), "STATUS_WAIT_CODE")
        self.assertEqual(upstream_requests(self.sandbox), before)
        self.deliver(order, text="Your WhatsApp code is 482-913")
        self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_CODE")  # not synced
        self.cycle(self.sa)
        self.assertEqual(self.text("getStatus", id=activation), "STATUS_OK:482913")
        self.assertEqual(
            self.text("getFullSms", id=activation), "FULL_SMS:Your WhatsApp code is 482-913"
        )
        v2 = self.json("getStatusV2", id=activation)
        self.assertEqual(v2["verificationType"], 1)
        self.assertEqual(v2["sms"]["code"], "482913")

    def test_a_status_poll_costs_one_query_and_no_write(self):
        activation, _phone = self.number()
        self.call("getStatus", id=activation)  # the key's last use is written once a minute
        # The key and the activation together (the rate count: in the cache).
        with self.assertNumQueries(1):
            self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_CODE")
        with override_settings(RATE_BUDGET_STORE="database"), self.assertNumQueries(2):
            self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_CODE")

    def test_a_revoked_or_expired_key_stops_polling_at_once(self):
        activation, _phone = self.number()
        self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_CODE")
        api_key_revoke(key=self.key, membership=self.member)
        self.assertEqual(self.text("getStatus", id=activation), "BAD_KEY")
        key, raw = api_key_create(
            membership=self.member, name="later", scope=Scope.READ, actor=self.bob
        )
        self.assertEqual(self.text("getStatus", raw=raw, id=activation), "STATUS_WAIT_CODE")
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now())
        self.assertEqual(self.text("getStatus", raw=raw, id=activation), "BAD_KEY")

    def test_active_activations_list_the_members_open_api_orders(self):
        self.assertEqual(
            self.json("getActiveActivations"), {"status": "error", "error": "NO_ACTIVATIONS"}
        )
        activation, phone = self.number()
        body = self.json("getActiveActivations")
        self.assertEqual(body["status"], "success")
        (row,) = body["activeActivations"]
        self.assertEqual(row["activationId"], str(activation))
        self.assertEqual(
            (row["phoneNumber"], row["serviceCode"], row["countryCode"]), (phone, "wa", "187")
        )
        self.assertEqual(row["activationStatus"], "4")
        self.assertIsNone(row["smsCode"])

    def test_another_member_or_team_cannot_see_an_activation(self):
        activation, _phone = self.number()
        _key, other = api_key_create(
            membership=self.manager, name="m", scope=Scope.ORDER, actor=self.mia
        )
        self.assertEqual(self.text("getStatus", raw=other, id=activation), "NO_ACTIVATION")
        self.assertEqual(
            self.text("setStatus", raw=other, id=activation, status="8"), "NO_ACTIVATION"
        )
        self.assertEqual(self.json("getActiveActivations", raw=other)["status"], "error")
        self.assertEqual(self.text("getStatus", id="12"), "NO_ACTIVATION")
        self.assertEqual(self.text("getStatus", id="-1"), "NO_ACTIVATION")
        self.assertEqual(self.text("getStatus"), "NO_ACTIVATION")

    def test_set_status_ready_another_code_and_finish(self):
        activation, _phone = self.number()
        order = ApiOrder.objects.get(activation_id=activation).order
        self.assertEqual(self.text("setStatus", id=activation, status="1"), "ACCESS_READY")
        self.assertEqual(
            self.text("setStatus", id=activation, status="3"), "BAD_STATUS"
        )  # no code yet
        self.deliver(order, text="code 111222")
        self.cycle(self.sa)
        self.assertEqual(self.text("setStatus", id=activation, status="3"), "ACCESS_RETRY_GET")
        self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_RETRY:111222")
        self.deliver(order, text="code 333444")
        self.cycle(self.sa)
        self.assertEqual(self.text("getStatus", id=activation), "STATUS_OK:333444")
        self.assertEqual(self.text("setStatus", id=activation, status="6"), "ACCESS_ACTIVATION")
        order.refresh_from_db()
        self.assertEqual(order.state, State.COMPLETED)
        self.assertEqual(self.text("setStatus", id=activation, status="6"), "ACCESS_ACTIVATION")
        self.assertEqual(self.text("setStatus", id=activation, status="9"), "BAD_STATUS")
        done = AuditEvent.objects.get(action="order.completed", target_code=order.code)
        self.assertEqual(done.payload["via"]["api_key"], "qa bot")


class RefusalTests(GatewayTestCase):
    def test_a_read_only_key_never_orders(self):
        _key, read = api_key_create(
            membership=self.member, name="ro", scope=Scope.READ, actor=self.bob
        )
        self.assertEqual(self.text("getNumber", raw=read, service="wa", country="187"), "BAD_KEY")
        self.assertTrue(self.text("getBalance", raw=read).startswith("ACCESS_BALANCE:"))
        self.assertEqual(Order.objects.count(), 0)

    def test_a_demoted_member_s_order_key_stops_ordering(self):
        self.member.role = Role.VIEWER
        self.member.save()
        self.assertEqual(self.text("getNumber", service="wa", country="187"), "BAD_KEY")

    def test_no_balance_when_the_member_limit_is_spent(self):
        self.member.monthly_spend_limit = Decimal("0.01")
        self.member.save()
        self.assertEqual(self.text("getNumber", service="wa", country="187"), "NO_BALANCE")
        self.assertEqual(Order.objects.filter(state=State.WAITING).count(), 0)

    def test_out_of_stock_is_no_numbers(self):
        self.sandbox.state.config.out_of_stock = {"all": ["US"]}
        self.assertEqual(self.text("getNumber", service="wa", country="187"), "NO_NUMBERS")

    def test_max_price_below_every_offer_names_the_lowest(self):
        answer = self.text("getNumber", service="wa", country="187", maxPrice="0.0001")
        self.assertRegex(answer, r"^WRONG_MAX_PRICE:\d+\.\d+$")
        self.assertEqual(Order.objects.count(), 0)
        self.number(maxPrice="100")

    def test_provider_pins_an_account_and_failover_moves_on(self):
        pool = self.account("smspool", label="Pool")
        activation, _phone = self.number(provider="pool")
        self.assertEqual(ApiOrder.objects.get(activation_id=activation).order.account, pool)
        activation, _phone = self.number(provider=str(self.sa.code))
        self.assertEqual(ApiOrder.objects.get(activation_id=activation).order.account, self.sa)
        self.assertEqual(
            self.text("getNumber", service="wa", country="187", provider="nope"), "ERROR_SQL"
        )

    def test_cancel_inside_and_after_the_lock(self):
        activation, _phone = self.number()
        order = ApiOrder.objects.get(activation_id=activation).order
        self.assertEqual(self.text("setStatus", id=activation, status="8"), "EARLY_CANCEL_DENIED")
        self.advance(600)  # ten minutes on, for the provider and for smsdesk
        with smsdesk_clock_ahead(600):
            self.assertEqual(self.text("setStatus", id=activation, status="8"), "ACCESS_CANCEL")
            self.assertEqual(self.text("getStatus", id=activation), "STATUS_CANCEL")
            self.assertEqual(self.text("setStatus", id=activation, status="8"), "ACCESS_CANCEL")
        order.refresh_from_db()
        self.assertEqual(order.state, State.CANCELLED)


@override_settings(API_KEY_RATE_LIMIT=3, API_KEY_RATE_PERIOD=3600)
class RateLimitTests(GatewayTestCase):
    def test_a_key_over_its_budget_gets_429_with_retry_after(self):
        for _ in range(3):
            self.assertEqual(self.call("getBalance").status_code, 200)
        response = self.call("getBalance")
        self.assertEqual(response.status_code, 429)
        self.assertGreaterEqual(int(response["Retry-After"]), 1)
        # Another key has its own budget.
        _key, other = api_key_create(
            membership=self.member, name="2", scope=Scope.READ, actor=self.bob
        )
        self.assertEqual(self.call("getBalance", raw=other).status_code, 200)
        # A bad key is not counted against anyone.
        self.assertEqual(self.call("getBalance", raw="x" * 44).content, b"BAD_KEY")

    def test_status_polls_count_against_the_key(self):
        activation, _phone = self.number()  # the first of the three
        for _ in range(2):
            self.assertEqual(self.text("getStatus", id=activation), "STATUS_WAIT_CODE")
        response = self.call("getStatus", id=activation)
        self.assertEqual((response.status_code, response.content), (429, b"TOO_MANY_REQUESTS"))
        self.assertGreaterEqual(int(response["Retry-After"]), 1)

    def test_the_database_store_counts_the_same_way(self):
        with override_settings(RATE_BUDGET_STORE="database"):
            for _ in range(3):
                self.assertEqual(self.call("getBalance").status_code, 200)
            response = self.call("getBalance")
            self.assertEqual(response.status_code, 429)
            self.assertGreaterEqual(int(response["Retry-After"]), 1)
        row = RateCounter.objects.get(key__startswith=f"ak:{self.key.prefix}:")
        self.assertEqual(row.count, 4)
        self.assertGreater(row.expires, timezone.now())
        self.assertEqual(DatabaseStore.purge_expired(), 0)  # the purge reads the expiry

    def test_retry_after_is_the_rest_of_the_window(self):
        from api.keys import retry_after

        start = 7200.0 * 1000  # the start of a window
        for _ in range(3):
            self.assertEqual(retry_after(self.key, now=start + 10), 0)
        self.assertEqual(retry_after(self.key, now=start + 10), 3590)
        self.assertEqual(retry_after(self.key, now=start + 3600), 0)  # the next window

    def test_keys_never_reach_a_log_line(self):
        with self.assertLogs(level="DEBUG") as logs:
            self.number()
            self.call("getBalance", raw=self.raw[:-1] + "Z")
        secret = keys.split(self.raw)[1]
        self.assertFalse([line for line in logs.output if secret[:8] in line])


@override_settings(API_KEY_RATE_LIMIT=100_000)
class HostileInputTests(GatewayTestCase):
    def test_no_parameter_value_gives_a_500(self):
        weird = [
            "",
            "\x00",
            "wa\x00",
            "٣",
            "²",
            "9" * 40,
            "-1",
            "1e999",
            "NaN",
            "Infinity",
            "' OR 1=1 --",
            "x" * 5000,
            "%00",
            "\u202e",
            "0.0.1",
            " 187 ",
        ]
        actions = [
            "getBalance",
            "getCountries",
            "getServicesList",
            "getPrices",
            "getNumbersStatus",
            "getNumber",
            "getNumberV2",
            "getStatus",
            "getStatusV2",
            "getFullSms",
            "setStatus",
            "getActiveActivations",
        ]
        self.sandbox.state.config.out_of_stock = {"all": ["US", "GB", "RU"]}  # buy nothing
        for action in actions:
            for value in weird:
                params = {
                    p: value for p in ("service", "country", "id", "status", "maxPrice", "provider")
                }
                for method in ("get", "post"):
                    response = self.call(action, method=method, **params)
                    self.assertEqual(response.status_code, 200, (action, value))
        self.assertEqual(self.call("getBalance", raw="\x00" * 44).content, b"BAD_KEY")


class GatewayUrlTests(SimpleTestCase):
    def test_the_gateway_is_the_first_url_tried(self):
        # Tools poll it hundreds of times a second: no portal pattern is tried before it.
        from django.urls import resolve

        for path in (URL, "/api/handler_api"):
            match = resolve(path)
            self.assertEqual(match.func.__name__, "handler_api")
            self.assertLessEqual(len(match.tried), 2, match.tried)
