"""NumPool protocol over real HTTP: catalog, verifications, orders, rentals, errors."""

from __future__ import annotations

from decimal import Decimal


def buy(api, key, service="wa", country=187):
    response = api.numpool("POST", "/buy", key, json={"service": service, "country": country})
    assert response.status_code == 200, response.text
    return response.json()


def test_it_lists_services_and_countries(api, key):
    services = api.numpool("GET", "/services", key).json()
    assert {"id": "wa", "name": "WhatsApp", "domain": "whatsapp.com"} in services
    assert len(services) == 28  # exactly the documented list
    countries = api.numpool("GET", "/countries", key).json()
    ids = {c["id"]: c["name"] for c in countries}
    assert ids[187] == "USA" and ids[28] == "United Kingdom" and ids[5] == "Indonesia"
    priced = api.numpool("GET", "/countries", key, params={"service": "wa"}).json()
    usa = next(c for c in priced if c["id"] == 187)
    assert isinstance(usa["price"], float) and usa["stock"] > 0 and usa["currency"] == "USD"
    assert usa["flag"] == "US"


def test_it_needs_an_api_key(api):
    response = api.numpool("GET", "/balance", "wrong")
    assert response.status_code == 401 and "error" in response.json()


def test_it_buys_polls_and_receives(api, key):
    order = buy(api, key)
    assert order["status"] == "pending" and order["number"].startswith("+1")
    assert isinstance(order["cost"], float)
    assert order["poll_url"].endswith(f"/numpool/api/v1/sms/{order['order_id']}")
    poll = api.http.get(order["poll_url"], headers={"X-API-Key": key}).json()
    assert poll == {
        "order_id": order["order_id"],
        "status": "waiting",
        "code": None,
        "full_sms": None,
        "number": order["number"],
    }
    api.deliver("numpool", order["order_id"], "G-482913 is your Google verification code.")
    poll = api.numpool("GET", f"/sms/{order['order_id']}", key).json()
    assert poll["status"] == "received" and poll["code"] == "482913"
    assert poll["full_sms"] == "G-482913 is your Google verification code."
    balance = api.numpool("GET", "/balance", key).json()
    assert balance["currency"] == "USD"
    assert Decimal(str(balance["balance"])) == Decimal("100") - Decimal(str(order["cost"]))


def test_it_locks_cancel_then_refunds(api, key):
    order = buy(api, key)
    locked = api.numpool("POST", f"/cancel/{order['order_id']}", key)
    assert locked.status_code == 400
    assert locked.json()["error"] == "Order cannot be cancelled yet, try again in 30 seconds"
    api.advance(31)
    api.server.state.orders[("numpool", order["order_id"])].deliver_at = None
    done = api.numpool("POST", f"/cancel/{order['order_id']}", key).json()
    assert done == {"ok": True, "order_id": order["order_id"], "refunded": order["cost"]}
    poll = api.numpool("GET", f"/sms/{order['order_id']}", key).json()
    assert poll["status"] == "cancelled"
    assert api.numpool("GET", "/balance", key).json()["balance"] == 100.0


def test_it_refuses_cancel_after_a_code(api, key):
    order = buy(api, key)
    api.deliver("numpool", order["order_id"])
    api.advance(31)
    response = api.numpool("POST", f"/cancel/{order['order_id']}", key)
    assert response.status_code == 400 and "yet" not in response.json()["error"]


def test_it_expires_with_a_refund(api, key):
    api.server.state.config.no_code_share = 1.0
    order = buy(api, key)
    api.advance(1201)
    poll = api.numpool("GET", f"/sms/{order['order_id']}", key).json()
    assert poll["status"] == "cancelled" and poll["code"] is None
    assert api.numpool("GET", "/balance", key).json()["balance"] == 100.0


def test_it_lists_orders_newest_first(api, key):
    first = buy(api, key)
    second = buy(api, key, service="tg", country=28)
    api.deliver("numpool", first["order_id"], "Your WhatsApp code is 123-456")
    rows = api.numpool("GET", "/orders", key, params={"limit": 20, "offset": 0}).json()
    assert [r["order_id"] for r in rows] == [second["order_id"], first["order_id"]]
    assert set(rows[0]) == {
        "order_id", "number", "service", "country", "status", "code", "full_sms", "cost",
        "created_at", "expires_at",
    }  # fmt: skip
    assert rows[0]["code"] is None and rows[0]["status"] == "waiting"
    assert rows[1]["code"] == "123456" and rows[1]["country"] == 187 and rows[1]["service"] == "wa"
    assert rows[0]["created_at"].endswith("Z")
    page = api.numpool("GET", "/orders", key, params={"limit": 1, "offset": 1}).json()
    assert [r["order_id"] for r in page] == [first["order_id"]]


def test_it_answers_errors_as_documented(api, key):
    missing = api.numpool("POST", "/buy", key, json={"service": "wa"})
    assert missing.status_code == 400 and "error" in missing.json()
    assert api.numpool("GET", "/sms/nope", key).status_code == 404
    api.server.state.config.update({"out_of_stock": {"numpool": ["US"]}})
    stock = api.numpool("POST", "/buy", key, json={"service": "wa", "country": 187})
    assert stock.status_code == 400 and "out of stock" in stock.json()["error"].lower()
    api.set_balance("numpool", key, "0.10")
    broke = api.numpool("POST", "/buy", key, json={"service": "wa", "country": 28})
    assert broke.status_code == 402


def test_it_rents_us_numbers_without_refund_or_extension(api, key):
    services = api.numpool("GET", "/rentals/services", key).json()
    assert {"service": "discord", "name": "Discord"} in services
    prices = api.numpool("GET", "/rentals/prices", key, params={"service": "discord"}).json()
    assert [d["duration"] for d in prices["durations"]] == [
        "oneDay", "threeDay", "sevenDay", "fourteenDay", "thirtyDay",
    ]  # fmt: skip
    seven = next(d for d in prices["durations"] if d["duration"] == "sevenDay")
    rental = api.numpool(
        "POST", "/rentals", key, json={"service": "discord", "duration": "sevenDay"}
    )
    body = rental.json()
    assert body["days"] == 7 and body["cost"] == seven["price"] and body["number"].startswith("+1")
    assert body["inbox_url"].endswith(f"/rentals/{body['rental_id']}/sms")
    api.control(
        "POST", f"/rentals/numpool/{body['rental_id']}/message", {"text": "Your code is 777888"}
    )
    inbox = api.numpool("GET", f"/rentals/{body['rental_id']}/sms", key).json()
    assert inbox["messages"][0]["code"] == "777888" and inbox["messages"][0]["body"]
    listed = api.numpool("GET", "/rentals", key).json()
    assert listed[0]["rental_id"] == body["rental_id"]
    assert api.numpool("POST", f"/rentals/{body['rental_id']}/refund", key).status_code == 404


def test_it_limits_to_60_requests_a_minute(api, key):
    statuses = [api.numpool("GET", "/balance", key).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    response = api.numpool("GET", "/balance", key)
    assert response.json() == {"error": "Too many requests (max 60/min)"}
    assert api.numpool("GET", "/balance", "sbx_other").status_code == 200  # per key
