"""The sandbox's SMSCode webhooks: stored configuration, and order events pushed,
signed, retried and switched off as smscode-wire-facts.md section 10 describes."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.sandbox.helpers import Api, make_server
from tests.sandbox.test_smscode import CAPABILITIES

EVENT_KEYS = CAPABILITIES | {
    "order_id",
    "phone_number",
    "otp_code",
    "otp_message",
    "sms_revision",
    "product_id",
    "catalog_product_id",
    "country",
    "platform",
    "operator_id",
    "operator_name",
}


class Receiver:
    """A webhook endpoint on a loopback port: records every delivery; answers 500 to the
    next `refuse` deliveries, 200 after."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict, bytes]] = []
        self.refuse = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.deliveries.append((dict(self.headers), raw))
                    status = 500 if receiver.refuse > 0 else 200
                    receiver.refuse -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def events(self, name: str | None = None) -> list[dict]:
        with self.lock:
            found = [json.loads(raw) for _, raw in self.deliveries]
        return [e for e in found if name is None or e["event"] == name]

    def wait(self, name: str, count: int = 1, seconds: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.events(name)) < count:
            time.sleep(0.02)
        return self.events(name)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def server():
    # Codes arrive only when a test delivers them.
    srv = make_server(
        smscode_webhook_retry_seconds=0.002,  # ten retries in about 2 s
        delivery_min_seconds=86400.0,
        delivery_max_seconds=86400.0,
    )
    yield srv
    srv.stop()


KEY = "sbx_hooks_1"
SECRET = "a1b2c3d4" * 8


def register(api: Api, url: str, secret: str | None = SECRET) -> dict:
    body = (
        {"webhook_url": url} if secret is None else {"webhook_url": url, "webhook_secret": secret}
    )
    r = api.smscode("PATCH", "/v1/webhook", KEY, json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def buy(api: Api) -> int:
    r = api.smscode("POST", "/v1/orders/create", KEY, json={"catalog_product_id": 10601})
    assert r.status_code == 200, r.text
    return r.json()["data"]["orders"][0]["id"]


def test_a_code_is_pushed_signed_with_every_documented_key(server, receiver):
    api = Api(server)
    register(api, receiver.url)
    order_id = buy(api)
    api.deliver("smscode", str(order_id), "<#> 482913 is your WhatsApp code")
    (event,) = receiver.wait("order.otp_received")
    assert set(event["data"]) == EVENT_KEYS
    assert "status" not in event["data"] and "amount" not in event["data"]
    assert event["data"]["order_id"] == order_id
    assert event["data"]["otp_code"] == "482913"
    assert event["data"]["sms_revision"] == 1
    assert event["timestamp"].endswith("Z")
    headers, raw = receiver.deliveries[-1]
    expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={expected}"


def test_completed_canceled_and_expired_are_pushed_with_no_revision(server, receiver):
    api = Api(server)
    register(api, receiver.url)
    finished, cancelled, expiring = buy(api), buy(api), buy(api)
    api.deliver("smscode", str(finished))
    assert api.smscode("POST", "/v1/orders/finish", KEY, json={"id": finished}).status_code == 200
    (done,) = receiver.wait("order.completed")
    assert done["data"]["order_id"] == finished and done["data"]["sms_revision"] is None
    server.state.clock.advance(31)  # past the cancel lock
    assert api.smscode("POST", "/v1/orders/cancel", KEY, json={"id": cancelled}).status_code == 200
    (gone,) = receiver.wait("order.canceled")
    assert gone["data"]["order_id"] == cancelled
    # Expiry needs no request: the pusher settles accounts with a webhook on its own.
    server.state.clock.advance(1300)
    (expired,) = receiver.wait("order.expired")
    assert expired["data"]["order_id"] == expiring
    assert expired["data"]["otp_code"] is None


def test_a_code_due_later_is_pushed_when_it_arrives_without_any_read(receiver):
    server = make_server(delivery_min_seconds=0.3, delivery_max_seconds=0.3)
    try:
        api = Api(server)
        register(api, receiver.url)
        buy(api)
        started = time.monotonic()
        (event,) = receiver.wait("order.otp_received", seconds=5)
        assert 0.25 <= time.monotonic() - started < 4.0
        assert event["data"]["otp_code"]
    finally:
        server.stop()


def test_a_resent_code_has_a_higher_revision(server, receiver):
    api = Api(server)
    register(api, receiver.url)
    order_id = buy(api)
    api.deliver("smscode", str(order_id), "<#> 111111 is your WhatsApp code")
    receiver.wait("order.otp_received")
    assert api.smscode("POST", "/v1/orders/resend", KEY, json={"id": order_id}).status_code == 200
    api.deliver("smscode", str(order_id), "<#> 222222 is your WhatsApp code")
    events = receiver.wait("order.otp_received", count=2)
    assert [e["data"]["sms_revision"] for e in events] == [1, 2]
    assert events[-1]["data"]["otp_code"] == "222222"


def test_a_url_set_without_a_secret_gets_a_generated_one(server, receiver):
    api = Api(server)
    config = register(api, receiver.url, secret=None)
    assert len(config["webhook_secret"]) == 64
    order_id = buy(api)
    api.deliver("smscode", str(order_id))
    receiver.wait("order.otp_received")
    headers, raw = receiver.deliveries[-1]
    signed = hmac.new(config["webhook_secret"].encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={signed}"


def test_refused_deliveries_are_retried_and_ten_in_a_row_switch_delivery_off(server, receiver):
    api = Api(server)
    register(api, receiver.url)
    receiver.refuse = 10**6
    order_id = buy(api)
    api.deliver("smscode", str(order_id))
    deadline = time.monotonic() + 20
    config = {}
    while time.monotonic() < deadline:
        config = api.smscode("GET", "/v1/webhook", KEY).json()["data"]
        if config["webhook_disabled_at"]:
            break
        time.sleep(0.05)
    assert config["webhook_disabled_reason"] == "consecutive_failed_user_endpoint"
    assert config["webhook_consecutive_failures"] == 10
    assert len(receiver.events("order.otp_received")) == 10  # the same event, retried
    # Switched off: nothing more is sent until a PATCH re-enables delivery.
    receiver.refuse = 0
    second = buy(api)
    api.deliver("smscode", str(second))
    time.sleep(0.3)
    assert len(receiver.events("order.otp_received")) == 10
    config = register(api, receiver.url)
    assert config["webhook_disabled_at"] is None and config["webhook_consecutive_failures"] == 0
    third = buy(api)
    api.deliver("smscode", str(third))
    assert receiver.wait("order.otp_received", count=11)[-1]["data"]["order_id"] == third


def test_a_failure_then_success_is_delivered_once_retried(server, receiver):
    api = Api(server)
    register(api, receiver.url)
    receiver.refuse = 2
    order_id = buy(api)
    api.deliver("smscode", str(order_id))
    assert len(receiver.wait("order.otp_received", count=3)) == 3  # two refused, then taken
    time.sleep(0.2)
    assert len(receiver.events("order.otp_received")) == 3  # and not sent again
    config = api.smscode("GET", "/v1/webhook", KEY).json()["data"]
    assert config["webhook_consecutive_failures"] == 0
    assert config["webhook_disabled_at"] is None


def test_nothing_is_pushed_with_the_knob_off_or_without_a_webhook(server, receiver):
    api = Api(server)
    order_id = buy(api)  # no webhook yet
    api.deliver("smscode", str(order_id))
    register(api, receiver.url)
    server.state.config.smscode_webhooks = False
    second = buy(api)
    api.deliver("smscode", str(second))
    time.sleep(0.3)
    assert receiver.events() == []


def test_the_pusher_threads_stop_with_the_server(receiver):
    server = make_server(delivery_min_seconds=86400.0, delivery_max_seconds=86400.0)
    api = Api(server)
    register(api, receiver.url)
    app = next(a for a in server.apps if a.name == "smscode")
    assert app.pusher.threads and all(t.is_alive() for t in app.pusher.threads)
    server.stop()
    assert not any(t.is_alive() for t in app.pusher.threads)
