"""SMSCode protocol over real HTTP: envelope, v1/v2 money, orders, idempotency."""

from __future__ import annotations

import threading
import time

import pytest
import requests

CAPABILITIES = {
    "can_finish",
    "can_resend",
    "can_cancel",
    "can_replace",
    "can_reactivate",
    "resend_available_at",
    "cancel_available_at",
    "replace_available_at",
}
WHATSAPP_ID = 10601  # catalog product: WhatsApp in Indonesia


def create(api, key, body=None, version="v1", **headers):
    body = body or {"catalog_product_id": WHATSAPP_ID}
    response = api.smscode("POST", f"/{version}/orders/create", key, json=body, **headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["orders"][0]


def test_it_reports_balance_in_idr_and_usd(api, key):
    v1 = api.smscode("GET", "/v1/balance", key).json()
    assert v1 == {"success": True, "data": {"currency": "IDR", "balance": 1600000}}
    v2 = api.smscode("GET", "/v2/balance", key).json()
    assert v2["data"]["balance"] == {
        "amount": "100.00",
        "currency": "USD",
        "canonical_amount": 1600000,
        "canonical_currency": "IDR",
    }
    assert v2["meta"]["fx"]["pair"] == "USD/IDR" and v2["meta"]["fx"]["rate"] == 16000


def test_it_rejects_a_bad_token(api):
    response = api.smscode("GET", "/v1/balance", "nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_it_serves_the_catalog(api, key):
    countries = api.smscode("GET", "/v1/catalog/countries", key).json()["data"]
    indonesia = next(c for c in countries if c["id"] == 6)
    assert indonesia["code"] == "id" and indonesia["dial_code"] == "62"
    services = api.smscode("GET", "/v1/catalog/services?country_id=6", key).json()["data"]
    assert {"id": 1, "code": "whatsapp", "name": "WhatsApp", "active": True} in services
    products = api.smscode("GET", "/v1/catalog/products?country_id=6&platform_id=1", key).json()
    first = products["data"][0]
    assert first["name"] == "WhatsApp - Indonesia" and isinstance(first["price"], int)
    assert first["available"] == first["available_count"] and "fx" not in products.get("meta", {})
    assert products["meta"]["count"] == len(products["data"])
    v2 = api.smscode("GET", "/v2/catalog/products?country_id=6&limit=2&page=2", key).json()
    assert v2["meta"]["page"] == 2 and len(v2["data"]) == 2 and v2["meta"]["fx"]["rate"] == 16000
    assert isinstance(v2["data"][0]["price"]["amount"], str)
    operators = api.smscode("GET", "/v1/catalog/operators?country_id=6&platform_id=1", key).json()
    assert operators["data"][0] == {
        "operator_id": None,
        "code": "any",
        "name": None,
        "local_name": None,
    }
    assert api.smscode("GET", "/v1/catalog/operators?country_id=6", key).status_code == 422
    rate = api.smscode("GET", "/v1/catalog/exchange-rate", key).json()["data"]
    assert rate["rate"] == 16000 and rate["base_currency"] == "USD"
    assert api.smscode("GET", "/v1/catalog/exchange-rate?pair=EUR/IDR", key).status_code == 404


def test_it_creates_with_every_capability_key(api, key):
    order = create(api, key)
    assert isinstance(order["id"], int) and order["status"] == "ACTIVE"
    assert order["phone_number"].startswith("+62") and isinstance(order["amount"], int)
    assert set(order) >= CAPABILITIES and order["can_cancel"] is False
    assert order["cancel_available_at"] == order["replace_available_at"] is not None
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert set(view) >= CAPABILITIES and view["sms_revision"] == 0 and view["otp_code"] is None
    active = api.smscode("GET", "/v1/orders/active", key).json()["data"]
    assert set(active[0]) >= CAPABILITIES
    assert not {"phone_number", "amount", "product_id", "created_at"} & set(active[0])


def test_it_creates_on_v2_with_money_objects(api, key):
    response = api.smscode(
        "POST", "/v2/orders/create", key, json={"catalog_product_id": WHATSAPP_ID}
    )
    body = response.json()
    amount = body["data"]["orders"][0]["amount"]
    assert amount["currency"] == "USD" and isinstance(amount["canonical_amount"], int)
    assert len(amount["amount"].split(".")[1]) == 4 and body["meta"]["fx"]["rate"] == 16000


def test_it_serves_the_guides_create_and_cancel(api, key):
    response = api.smscode("POST", "/v1/orders", key, json={"country_id": 6, "platform_id": 1})
    data = response.json()["data"]
    assert data["order_id"] == data["orders"][0]["id"] and data["status"] == "ACTIVE"
    cheapest = api.smscode("GET", "/v1/catalog/products?country_id=6&platform_id=1", key).json()
    assert data["orders"][0]["product_id"] == cheapest["data"][0]["id"]
    locked = api.smscode("DELETE", f"/v1/orders/{data['order_id']}", key)
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "CANCEL_TOO_EARLY"


def test_it_validates_the_create_body(api, key):
    for body in ({}, {"product_id": 106010, "catalog_product_id": WHATSAPP_ID}, {"x": 1}):
        response = api.smscode("POST", "/v1/orders/create", key, json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    priced = {"product_id": 106010, "max_price": 1}
    assert api.smscode("POST", "/v1/orders/create", key, json=priced).status_code == 422
    cheap = {"catalog_product_id": WHATSAPP_ID, "max_price": 100}
    offer = api.smscode("POST", "/v1/orders/create", key, json=cheap)
    assert offer.status_code == 422 and offer.json()["error"]["code"] == "NO_OFFER_AVAILABLE"


def test_it_locks_cancel_until_cancel_available_at_then_refunds(api, key):
    order = create(api, key)
    early = api.smscode("POST", "/v1/orders/cancel", key, json={"id": order["id"]})
    assert early.status_code == 409 and early.json()["error"]["code"] == "CANCEL_TOO_EARLY"
    api.advance(31)
    api.server.state.orders[("smscode", str(order["id"]))].deliver_at = None
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert view["can_cancel"] is True and view["cancel_available_at"] is None
    done = api.smscode("POST", "/v2/orders/cancel", key, json={"id": order["id"]}).json()
    assert done["data"]["order_id"] == order["id"] and done["data"]["status"] == "CANCELED"
    assert done["data"]["refund_amount"]["canonical_amount"] == order["amount"]
    assert done["data"]["new_balance"]["amount"] == "100.00" and "fx" in done["meta"]
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert view["status"] == "CANCELED" and view["canceled_at"]


def test_it_answers_conflict_for_cancel_after_an_sms(api, key):
    order = create(api, key)
    api.deliver("smscode", str(order["id"]), "Your WhatsApp code is 482-913")
    api.advance(31)
    response = api.smscode("POST", "/v1/orders/cancel", key, json={"id": order["id"]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "CONFLICT"


def test_it_receives_finishes_and_resends(api, key):
    order = create(api, key)
    api.deliver("smscode", str(order["id"]), "Your WhatsApp code is 111-222")
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert view["status"] == "OTP_RECEIVED" and view["otp_code"] == "111222"
    assert view["sms_revision"] == 1 and view["can_finish"] is True and view["can_resend"] is True
    resent = api.smscode("POST", "/v1/orders/resend", key, json={"id": order["id"]}).json()["data"]
    assert resent == {"order_id": order["id"], "status": "ACTIVE", "resent": True}
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert view["can_resend"] is False and view["resend_available_at"] and view["can_finish"]
    api.deliver("smscode", str(order["id"]), "Your WhatsApp code is 333-444")
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert view["otp_code"] == "333444" and view["sms_revision"] == 2
    done = api.smscode("POST", "/v1/orders/finish", key, json={"id": order["id"]}).json()["data"]
    assert done == {"order_id": order["id"], "status": "COMPLETED"}
    again = api.smscode("POST", "/v1/orders/finish", key, json={"id": order["id"]})
    assert again.status_code == 409


def test_it_expires_with_a_refund(api, key):
    api.server.state.config.no_code_share = 1.0
    order = create(api, key)
    api.advance(1201)
    view = api.smscode("GET", f"/v1/orders/{order['id']}", key).json()["data"]
    assert view["status"] == "EXPIRED" and view["can_cancel"] is False
    assert api.smscode("GET", "/v1/balance", key).json()["data"]["balance"] == 1600000


def test_it_replays_an_idempotency_key(api, key):
    headers = {"Idempotency-Key": "create-123"}
    first = api.smscode(
        "POST", "/v1/orders/create", key, json={"catalog_product_id": WHATSAPP_ID}, **headers
    )
    again = api.smscode(
        "POST", "/v1/orders/create", key, json={"catalog_product_id": WHATSAPP_ID}, **headers
    )
    assert first.json() == again.json()
    assert len(api.smscode("GET", "/v1/orders", key).json()["data"]) == 1
    reused = api.smscode(
        "POST", "/v1/orders/create", key, json={"catalog_product_id": 10602}, **headers
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    bad = api.smscode("POST", "/v1/orders/create", key, json={}, **{"Idempotency-Key": "no spaces"})
    assert bad.status_code == 422


def test_it_answers_request_in_progress_while_a_key_settles(api, key, server):
    server.state.config.smscode_settle_seconds = 0.5
    url = f"{api.base}/smscode/v1/orders/create"
    headers = {"Authorization": f"Bearer {key}", "idempotency-key": "slow-1"}
    body = {"catalog_product_id": WHATSAPP_ID}
    results = []
    worker = threading.Thread(
        target=lambda: results.append(requests.post(url, json=body, headers=headers))
    )
    worker.start()
    deadline = time.monotonic() + 5
    while not _registered(server, key) and time.monotonic() < deadline:
        time.sleep(0.005)  # until the first request has registered its key
    second = requests.post(url, json=body, headers=headers)
    worker.join()
    assert second.status_code == 409 and second.json()["error"]["code"] == "REQUEST_IN_PROGRESS"
    assert results[0].status_code == 200


def test_it_reports_insufficient_balance_as_409(api, key):
    api.set_balance("smscode", key, "100")
    response = api.smscode(
        "POST", "/v1/orders/create", key, json={"catalog_product_id": WHATSAPP_ID}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "INSUFFICIENT_BALANCE"


def test_it_creates_several_and_counts_failures(api, key):
    api.set_balance("smscode", key, "8000")  # two WhatsApp-Indonesia numbers at 3,800
    body = {"catalog_product_id": WHATSAPP_ID, "quantity": 3}
    data = api.smscode("POST", "/v1/orders/create", key, json=body).json()["data"]
    assert len(data["orders"]) == 2 and data["failed_count"] == 1


def test_it_reactivates_a_completed_order(api, key):
    order = create(api, key)
    api.deliver("smscode", str(order["id"]))
    api.smscode("POST", "/v1/orders/finish", key, json={"id": order["id"]})
    options = api.smscode("GET", f"/v1/orders/{order['id']}/reactivate-options", key).json()
    assert options["data"]["cost"] == order["amount"]
    child = api.smscode(
        "POST",
        "/v1/orders/reactivate",
        key,
        json={"id": order["id"]},
        **{"idempotency-key": "re-1"},
    ).json()["data"]["orders"][0]
    assert child["id"] != order["id"] and child["phone_number"] == order["phone_number"]


def test_it_lists_orders_with_status_filter(api, key):
    first = create(api, key)
    create(api, key)
    api.deliver("smscode", str(first["id"]))
    rows = api.smscode("GET", "/v1/orders?status=otp_received", key).json()["data"]
    assert [r["id"] for r in rows] == [first["id"]]
    v2 = api.smscode("GET", "/v2/orders?limit=1", key).json()
    assert len(v2["data"]) == 1 and "fx" in v2["meta"]


def test_it_answers_413_without_an_envelope(api, key):
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    response = api.http.post(
        f"{api.base}/smscode/v1/orders/create",
        data=big,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and not response.text.startswith("{")


def test_it_limits_with_retry_after(api, key, server):
    server.state.config.update({"rate_limits": {"smscode": [5, 60]}})
    statuses = [api.smscode("GET", "/v1/balance", key) for _ in range(6)]
    limited = statuses[-1]
    assert [r.status_code for r in statuses[:5]] == [200] * 5 and limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def _registered(server, key) -> bool:
    account = server.state.accounts.get(("smscode", key))
    return bool(account and account.idempotency)


# --- the integration guide's dialect (config.dialects, per key) --------------------------------
GUIDE_ROW = {"country_id", "country", "platform_id", "platform", "price", "available_count"}
WA_INDONESIA = {"country_id": 6, "platform_id": 1}


@pytest.fixture
def guide(server, key) -> str:
    """A key served in the guide's dialect (a per-key entry: other keys stay on the SDK's)."""
    server.state.config.update({"dialects": {key: "guide"}})
    return key


def guide_create(api, key, body=None, **headers):
    response = api.smscode("POST", "/v1/orders", key, json=body or WA_INDONESIA, **headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def guide_order(api, key, order_id) -> dict:
    response = api.smscode("GET", f"/v1/orders/{order_id}", key)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_the_guide_dialect_is_chosen_per_key(api, guide):
    other = "sbx_sdk_" + guide[4:]
    assert "id" in api.smscode("GET", "/v1/catalog/countries", other).json()["data"][0]
    assert api.smscode("GET", "/v1/catalog/countries", guide).json()["data"][0] == {
        "country_id": 0,
        "name": "Russia",
    }


def test_the_guide_dialect_serves_its_balance_envelope(api, guide):
    body = api.smscode("GET", "/v1/balance", guide).json()
    assert body == {"success": True, "data": {"currency": "IDR", "balance": 1600000}}


def test_the_guide_dialect_lists_a_row_per_country_and_platform(api, guide):
    rows = api.smscode("GET", "/v1/catalog/products?country_id=6", guide).json()["data"]
    assert rows and all(set(row) == GUIDE_ROW and row["country_id"] == 6 for row in rows)
    whatsapp = next(row for row in rows if row["platform_id"] == 1)
    assert (whatsapp["country"], whatsapp["platform"]) == ("Indonesia", "WhatsApp")
    assert isinstance(whatsapp["price"], int) and whatsapp["available_count"] > 0
    # The guide filters by country only; platform_id and paging are not its parameters.
    unfiltered = api.smscode("GET", "/v1/catalog/products?country_id=6&platform_id=1", guide)
    assert unfiltered.json()["data"] == rows
    assert "meta" not in unfiltered.json()
    bad = api.smscode("GET", "/v1/catalog/products?country_id=six", guide)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_PARAMETERS"


def test_the_guide_dialect_lists_sold_out_pairs_at_zero(api, guide, server):
    server.state.config.update({"out_of_stock": {"smscode": ["ID"]}})
    rows = api.smscode("GET", "/v1/catalog/products?country_id=6", guide).json()["data"]
    assert rows and all(row["available_count"] == 0 for row in rows)
    refused = api.smscode("POST", "/v1/orders", guide, json=WA_INDONESIA)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "PRODUCT_UNAVAILABLE"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/catalog/services"),
        ("GET", "/v1/catalog/operators?country_id=6&platform_id=1"),
        ("GET", "/v1/catalog/exchange-rate"),
        ("GET", "/v1/orders"),
        ("POST", "/v1/orders/create"),
        ("POST", "/v1/orders/cancel"),
        ("POST", "/v1/orders/finish"),
        ("POST", "/v1/orders/resend"),
        ("POST", "/v1/orders/reactivate"),
        ("GET", "/v1/orders/5000001/reactivate-options"),
        ("GET", "/v1/webhook"),
        ("GET", "/v2/balance"),
        ("GET", "/v2/catalog/products"),
    ],
)
def test_the_guide_dialect_does_not_serve_the_sdks_paths(api, guide, method, path):
    api.smscode("GET", "/v1/balance", guide)  # opens the account
    response = api.smscode(method, path, guide, json={"catalog_product_id": WHATSAPP_ID})
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "Route not found."},
    }
    assert api.account("smscode", guide)["orders"] == 0


def test_the_guide_dialect_reads_the_active_list_as_an_order_id(api, guide):
    # A guide host reads /orders/active as GET /orders/{id}: no such order.
    response = api.smscode("GET", "/v1/orders/active", guide)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ORDER_NOT_FOUND"


def test_the_guide_dialect_creates_flat_and_completes_with_the_code(api, guide, server):
    listed = api.smscode("GET", "/v1/catalog/products?country_id=6", guide).json()["data"]
    price = next(row["price"] for row in listed if row["platform_id"] == 1)
    created = guide_create(api, guide)
    assert set(created) == {"order_id", "phone_number", "status", "expires_at"}
    assert isinstance(created["order_id"], str) and created["status"] == "pending"
    assert created["phone_number"].startswith("+62")
    assert api.account("smscode", guide)["charges"] == str(price)
    server.state.orders[("smscode", created["order_id"])].deliver_at = None
    waiting = guide_order(api, guide, created["order_id"])
    assert waiting == created | {"otp_code": None}
    api.advance(31)
    assert guide_order(api, guide, created["order_id"])["status"] == "active"
    api.deliver("smscode", created["order_id"], "Your WhatsApp code is 482-913")
    done = guide_order(api, guide, created["order_id"])
    assert (done["status"], done["otp_code"]) == ("completed", "482913")


def test_the_guide_dialect_cancels_by_delete_after_the_lock(api, guide, server, ledger_holds):
    created = guide_create(api, guide)
    server.state.orders[("smscode", created["order_id"])].deliver_at = None  # no SMS comes
    locked = api.smscode("DELETE", f"/v1/orders/{created['order_id']}", guide)
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "CANCEL_TOO_EARLY"
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    api.advance(31)
    done = api.smscode("DELETE", f"/v1/orders/{created['order_id']}", guide)
    assert done.json() == {
        "success": True,
        "data": {"order_id": created["order_id"], "status": "cancelled"},
    }
    assert guide_order(api, guide, created["order_id"])["status"] == "cancelled"
    account = api.account("smscode", guide)
    assert account["balance"] == "1600000" and ledger_holds(account)
    again = api.smscode("DELETE", f"/v1/orders/{created['order_id']}", guide)
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"


def test_the_guide_dialect_refuses_to_cancel_a_completed_order(api, guide):
    created = guide_create(api, guide)
    api.deliver("smscode", created["order_id"], "Your WhatsApp code is 555-666")
    api.advance(31)
    response = api.smscode("DELETE", f"/v1/orders/{created['order_id']}", guide)
    assert response.status_code == 409 and response.json()["error"]["code"] == "CONFLICT"


def test_the_guide_dialect_expires_with_a_refund(api, guide, server):
    server.state.config.no_code_share = 1.0
    created = guide_create(api, guide)
    api.advance(1201)
    assert guide_order(api, guide, created["order_id"])["status"] == "expired"
    assert api.smscode("GET", "/v1/balance", guide).json()["data"]["balance"] == 1600000


def test_the_guide_dialect_answers_its_error_codes(api, guide):
    for body in ({}, {"country_id": "6", "platform_id": 1}, {"product_id": 106010}):
        response = api.smscode("POST", "/v1/orders", guide, json=body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_PARAMETERS"
    unknown = api.smscode("POST", "/v1/orders", guide, json={"country_id": 6, "platform_id": 999})
    assert unknown.json()["error"]["code"] == "PRODUCT_UNAVAILABLE"
    for method in ("GET", "DELETE"):
        missing = api.smscode(method, "/v1/orders/4999999", guide)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "ORDER_NOT_FOUND"
    api.set_balance("smscode", guide, "100")
    poor = api.smscode("POST", "/v1/orders", guide, json=WA_INDONESIA)
    assert poor.status_code == 402
    assert poor.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert api.smscode("GET", "/v1/balance", "nope").json()["error"]["code"] == "UNAUTHORIZED"


def test_the_guide_dialect_replays_an_idempotency_key(api, guide):
    first = guide_create(api, guide, **{"Idempotency-Key": "guide-1"})
    again = guide_create(api, guide, **{"Idempotency-Key": "guide-1"})
    assert first == again and api.account("smscode", guide)["orders"] == 1


def test_the_guide_dialect_counts_requests_under_their_paths(api, guide, server):
    guide_create(api, guide)
    api.smscode("GET", "/v1/catalog/services", guide)
    requests_made = server.state.stats.snapshot()["smscode"][guide]
    assert requests_made["POST /orders"]["requests"] == 1
    assert requests_made["/catalog/services"]["requests"] == 1
