"""The control API: knobs, accounts, records, clock, reset."""

from __future__ import annotations

from decimal import Decimal


def test_it_reads_and_changes_knobs(api):
    config = api.control("GET", "/config").json()
    assert config["time_scale"] == 1.0 and config["rate_limits"]["smspool"] == [32, 1.0]
    changed = api.control("POST", "/config", {"time_scale": 60, "no_code_share": 0.5}).json()
    assert changed["time_scale"] == 60 and changed["no_code_share"] == 0.5
    bad = api.control("POST", "/config", {"time_scale": 0})
    assert bad.status_code == 400 and api.control("GET", "/config").json()["time_scale"] == 60
    assert api.control("POST", "/config", {"nope": 1}).status_code == 400
    limits = api.control("POST", "/config", {"rate_limits": {"numpool": None}}).json()
    assert limits["rate_limits"]["numpool"] is None  # dict knobs merge per key
    assert limits["rate_limits"]["smspool"] == [32, 1.0]


def test_it_scales_upstream_time(api, key):
    api.control("POST", "/config", {"time_scale": 100})
    order = api.smspool("/purchase/sms", key, country="US", service="WhatsApp").json()
    assert order["expires_in"] == 12  # 1200 upstream seconds at 100x


def test_it_sets_balances_and_keeps_the_ledger(api, key, ledger_holds):
    fresh = api.set_balance("numpool", key, "12.00")  # a new account starts there
    assert fresh["initial_balance"] == "12.00" and fresh["adjustments"] == "0"
    api.numpool("POST", "/buy", key, json={"service": "wa", "country": 187})
    account = api.set_balance("numpool", key, "20.00")  # later changes are adjustments
    assert account["balance"] == "20.00" and Decimal(account["adjustments"]) > 0
    account = api.account("numpool", key)
    assert Decimal(account["charges"]) > 0 and ledger_holds(account)
    assert [e["kind"] for e in account["ledger"]] == ["charge", "adjust"]


def test_it_opens_accounts_for_any_key(api):
    api.control(
        "POST", "/accounts", {"protocol": "smspool", "api_key": "live-looking-key", "balance": "5"}
    )
    assert api.smspool("/request/balance", "live-looking-key").json() == {"balance": "5.00"}
    missing = api.control("POST", "/accounts", {"protocol": "nope", "api_key": "x"})
    assert missing.status_code == 400


def test_it_records_delivery_and_first_fetch(api, key, server):
    order = api.smspool("/purchase/sms", key, country="US", service="WhatsApp").json()
    api.deliver("smspool", order["order_id"])
    row = api.control("GET", "/orders?protocol=smspool").json()[0]
    assert row["delivered_at"] is not None and row["fetched_at"] is None
    server.state.clock.advance(2)
    api.smspool("/request/active", key)
    api.smspool("/sms/check", key, orderid=order["order_id"])  # later reads do not move it
    row = api.control("GET", f"/orders?protocol=smspool&api_key={key}").json()[0]
    assert row["fetched_at"] is not None and 2 <= row["fetch_latency"] < 3


def test_it_counts_requests_per_key_and_endpoint(api, key, server):
    server.limiter.clock = lambda: 10.0
    for _ in range(34):
        api.smspool("/request/balance", key)
    api.sa(key, "getBalance")
    stats = api.control("GET", "/stats").json()
    balance = stats["requests"]["smspool"][key]["/request/balance"]
    assert balance == {"requests": 34, "rate_limited": 2}
    assert stats["requests"]["smsactivate"][key]["getBalance"]["requests"] == 1
    assert stats["totals"]["smspool"]["rate_limited"] == 2
    assert {"deliveries", "orders", "accounts", "failures"} <= set(stats)


def test_it_moves_the_clock(api, key):
    api.numpool("POST", "/buy", key, json={"service": "wa", "country": 187})
    before = api.control("GET", "/clock").json()["now"]
    after = api.control("POST", "/clock", {"advance": 1300}).json()["now"]
    assert after - before >= 1300
    row = api.control("GET", "/orders?protocol=numpool").json()[0]
    assert row["status"] in ("finished", "expired")


def test_it_delivers_rental_messages_on_demand(api, key):
    rented = api.numpool("POST", "/rentals", key, json={"service": "discord", "duration": "oneDay"})
    rental_id = rented.json()["rental_id"]
    api.control("POST", f"/rentals/numpool/{rental_id}/message", {"text": "Discord code 654321"})
    rows = api.control("GET", "/rentals?protocol=numpool").json()
    assert rows[0]["messages"][0]["code"] == "654321"
    assert api.control("POST", "/rentals/numpool/nope/message", {}).status_code == 404


def test_it_refuses_to_deliver_to_a_closed_order(api, key):
    order = api.smspool("/purchase/sms", key, country="US", service="WhatsApp").json()
    api.advance(31)
    api.server.state.orders[("smspool", order["order_id"])].deliver_at = None
    api.smspool("/sms/cancel", key, orderid=order["order_id"])
    response = api.control("POST", f"/orders/smspool/{order['order_id']}/deliver", {})
    assert response.status_code == 409
    assert api.control("POST", "/orders/smspool/NOPE/deliver", {}).status_code == 404


def test_it_resets_everything(api, key):
    api.smspool("/purchase/sms", key, country="US", service="WhatsApp")
    api.fail_next("numpool", "drop")
    assert api.control("POST", "/reset").json() == {"ok": True}
    assert api.control("GET", "/orders").json() == []
    assert api.control("GET", "/stats").json()["requests"] == {}
    assert api.control("GET", "/fail").json()["queued"] == {}
    assert api.smspool("/request/balance", key).json() == {"balance": "100.00"}


def test_it_can_require_a_token(api, server):
    server.state.config.control_token = "s3cret"
    assert api.control("GET", "/config").status_code == 401
    response = api.http.get(f"{api.base}/control/config", headers={"X-Sandbox-Token": "s3cret"})
    assert response.status_code == 200


def test_it_expires_in_scaled_wall_time(key):
    import time

    from tests.sandbox.helpers import Api, make_server

    server = make_server(time_scale=4000, no_code_share=1.0)  # 1200 s upstream = 0.3 s
    try:
        api = Api(server)
        order = api.sa(key, "getNumber", service="wa", country="187").text.split(":")[1]
        assert api.sa(key, "getStatus", id=order).text == "STATUS_WAIT_CODE"
        time.sleep(0.35)
        assert api.sa(key, "getStatus", id=order).text == "STATUS_CANCEL"
        assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"
    finally:
        server.stop()
