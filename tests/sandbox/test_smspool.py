"""SMSPool protocol over real HTTP: catalog, orders, errors, rentals, stub."""

from __future__ import annotations

from decimal import Decimal

import pytest


def buy(api, key, country="US", service="WhatsApp", **extra):
    response = api.smspool("/purchase/sms", key, country=country, service=service, **extra)
    assert response.status_code == 200, response.text
    return response.json()


# --- catalog ---------------------------------------------------------------------------
def test_it_lists_countries_with_smspool_ids(api):
    rows = api.smspool("/country/retrieve_all").json()
    by_iso = {r["short_name"]: r for r in rows}
    assert len(rows) >= 30
    assert by_iso["US"]["ID"] == 1 and by_iso["GB"]["ID"] == 2 and by_iso["NL"]["ID"] == 3
    assert set(rows[0]) == {"ID", "name", "short_name", "region"}
    assert "CA" not in by_iso  # SMSPool does not list every country


def test_it_lists_services_pools_and_prices(api):
    services = api.smspool("/service/retrieve_all").json()
    names = {s["name"]: s["ID"] for s in services}
    assert len(services) >= 40 and names["WhatsApp"] == 1012 and names["Telegram"] == 907
    assert services[0]["favourite"] == 0
    pools = api.smspool("/pool/retrieve_all").json()
    assert {"ID": 0, "name": "Default"} in pools and {"ID": 7, "name": "Foxtrot"} in pools
    price = api.smspool("/request/price", country="US", service="1012").json()
    assert isinstance(price["price"], str) and isinstance(price["success_rate"], int)
    pricing = api.smspool("/request/pricing", country="1").json()
    assert pricing and {row["short_name"] for row in pricing} == {"US"}
    assert isinstance(pricing[0]["price"], str)


def test_it_answers_missing_params_with_the_errors_envelope(api):
    response = api.smspool("/request/suggested_countries")
    assert response.status_code == 400
    assert response.json()["errors"][0]["param"] == "service"
    rows = api.smspool("/request/suggested_countries", service="WhatsApp").json()
    assert {"pool", "country_id", "name", "short_name", "price"} <= set(rows[0])
    rates = api.smspool("/request/success_rate", service="1012").json()
    assert isinstance(rates[0]["success_rate"], str)


def test_it_reports_stock(api, key):
    one = api.smspool("/sms/stock", key, country="US", service="WhatsApp").json()
    assert one["success"] == 1 and one["amount"] > 0
    rows = api.smspool("/sms/all_stock", key, country="1").json()
    assert rows and {"pool_name", "stock", "price", "last_update"} <= set(rows[0])


# --- auth ----------------------------------------------------------------------------------
def test_it_rejects_a_bad_key_with_403(api):
    response = api.smspool("/request/balance", "not-a-sandbox-key")
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "message": "Invalid API key",
        "param": "key",
        "description": "Your API key which can be found on your settings page at /my/settings",
    }
    assert api.smspool("/request/balance").status_code == 400


def test_it_accepts_the_key_as_bearer_query_or_multipart(api, key):
    url = f"{api.base}/smspool/request/balance"
    bearer = api.http.post(url, headers={"Authorization": f"Bearer {key}"})
    assert bearer.json() == {"balance": "100.00"}
    assert api.http.get(url, params={"key": key}).json() == {"balance": "100.00"}
    multipart = api.http.post(url, files={"key": (None, key)})
    assert multipart.json() == {"balance": "100.00"}


# --- orders ----------------------------------------------------------------------------------
def test_it_sells_a_number_with_the_documented_types(api, key):
    order = buy(api, key)
    assert order["success"] == 1 and isinstance(order["number"], int)
    assert str(order["number"]) == order["cc"] + order["phonenumber"]
    assert order["expires_in"] == 1200 and isinstance(order["expiration"], int)
    assert isinstance(order["cost"], str) and order["cost_in_cents"] == int(
        Decimal(order["cost"]) * 100
    )
    balance = api.smspool("/request/balance", key).json()["balance"]
    assert Decimal(balance) == Decimal("100.00") - Decimal(order["cost"])


def test_it_reports_pending_then_the_code(api, key):
    order = buy(api, key, service="Telegram")
    pending = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert pending["status"] == 1 and pending["time_left"] > 0 and "sms" not in pending
    active = api.smspool("/request/active", key).json()
    assert active[0]["status"] == "pending" and active[0]["code"] == "0"
    assert active[0]["full_code"] == "" and active[0]["order_code"] == order["order_id"]
    api.deliver("smspool", order["order_id"], "<#> 482913 is your Telegram code")
    done = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert done == {
        "status": 3,
        "sms": "482913",
        "full_sms": "<#> 482913 is your Telegram code",
        "expiration": order["expiration"],
    }
    active = api.smspool("/request/active", key).json()
    assert active[0]["status"] == "completed" and active[0]["code"] == "482913"


def test_it_delivers_on_its_own_after_the_delay(api, key, server):
    order = buy(api, key)
    api.advance(41)  # the default delay lies within 5-40 s
    check = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert check["status"] == 3 and check["sms"].isdigit()


def test_it_extracts_codes_the_way_providers_do(api, key):
    order = buy(api, key)
    api.deliver("smspool", order["order_id"], "Your WhatsApp code is 482-913")
    check = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert check["sms"] == "482913"


def test_it_locks_cancel_then_refunds(api, key):
    order = buy(api, key)
    locked = api.smspool("/sms/cancel", key, orderid=order["order_id"])
    assert locked.status_code == 400 and "cannot be cancelled yet" in locked.json()["message"]
    api.advance(31)
    api.server.state.orders[("smspool", order["order_id"])].deliver_at = None  # keep it waiting
    cancelled = api.smspool("/sms/cancel", key, orderid=order["order_id"])
    assert cancelled.status_code == 200
    assert cancelled.json()["message"].endswith(f"refunded {order['cost']} dollars.")
    check = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert check["status"] == 6 and check["message"] == "This order has been refunded"
    assert api.smspool("/request/balance", key).json() == {"balance": "100.00"}


def test_it_refuses_to_cancel_after_a_code(api, key):
    order = buy(api, key)
    api.deliver("smspool", order["order_id"])
    api.advance(31)
    response = api.smspool("/sms/cancel", key, orderid=order["order_id"])
    assert response.status_code == 400 and "yet" not in response.json()["message"]


def test_it_answers_404_for_unknown_or_foreign_orders(api, key):
    order = buy(api, key)
    for who in ("sbx_someone_else", key):
        orderid = order["order_id"] if who != key else "NOPE1234"
        response = api.smspool("/sms/check", who, orderid=orderid)
        assert response.status_code == 404
        assert response.json() == {"success": 0, "message": "We could not find this order!"}
    assert api.smspool("/sms/cancel", key, orderid="NOPE1234").status_code == 404


def test_it_expires_and_refunds_an_order_without_a_code(api, key):
    api.server.state.config.no_code_share = 1.0  # this one never gets an SMS
    order = buy(api, key)
    api.advance(1201)
    check = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert check["status"] == 6 and check["time_left"] == 0
    assert api.smspool("/request/active", key).json() == []
    assert api.smspool("/request/balance", key).json() == {"balance": "100.00"}
    history = api.smspool("/request/history", key).json()
    assert history[0]["status"] == "refunded"


def test_it_resends_with_a_new_order_id(api, key):
    order = buy(api, key)
    early = api.smspool("/sms/resend", key, orderid=order["order_id"])
    assert early.status_code == 400
    assert (
        early.json()["message"] == "You can only re-send to a phonenumber that has received a SMS"
    )
    api.deliver("smspool", order["order_id"], "Your WhatsApp code is 111-222")
    resent = api.smspool("/sms/resend", key, orderid=order["order_id"]).json()
    assert resent["success"] == 1 and resent["charge"] == 0
    assert resent["order_id"] != order["order_id"]
    old = api.smspool("/sms/check", key, orderid=order["order_id"]).json()
    assert old["status"] == 4 and old["sms"] == "111222"
    new = api.smspool("/sms/check", key, orderid=resent["order_id"]).json()
    assert new["status"] == 1
    api.deliver("smspool", resent["order_id"], "Your WhatsApp code is 333-444")
    assert api.smspool("/sms/check", key, orderid=resent["order_id"]).json()["sms"] == "333444"
    assert api.smspool("/sms/resend", key, orderid=order["order_id"]).status_code == 400


def test_it_fails_purchases_with_422_and_the_pools_object(api, key):
    api.server.state.config.update({"out_of_stock": {"smspool": ["US"]}})
    stock = api.smspool("/purchase/sms", key, country="US", service="WhatsApp")
    body = stock.json()
    assert stock.status_code == 422 and body["type"] == "OUT_OF_STOCK" and body["success"] == 0
    assert "<p>" in body["message"] and body["errors"]
    assert all(pool["type"] == "OUT_OF_STOCK" for pool in body["pools"].values())
    price = api.smspool("/purchase/sms", key, country="GB", service="WhatsApp", max_price="0.01")
    assert price.status_code == 422 and price.json()["type"] == "PRICE_NOT_FOUND"
    api.set_balance("smspool", key, "0.00")
    broke = api.smspool("/purchase/sms", key, country="GB", service="WhatsApp")
    body = broke.json()
    assert broke.status_code == 422 and body["type"] == "BALANCE_ERROR" and "errors" not in body
    assert "while you only have: 0.00" in body["message"]


def test_it_honours_pool_and_pricing_option(api, key):
    pools = api.smspool("/pool/retrieve_valid", service="WhatsApp", country="US").json()
    wanted = pools[-1]
    order = buy(api, key, pool=wanted["name"])
    assert order["pool"] == wanted["pool"] and order["cost"] == wanted["price"]


def test_it_keeps_history_and_archives(api, key):
    first = buy(api, key)
    buy(api, key, service="Telegram")
    history = api.smspool("/request/history", key).json()
    assert len(history) == 2 and history[1]["order_code"] == first["order_id"]
    assert {"pool", "completed_on", "status"} <= set(history[0])
    assert api.smspool("/request/archive", key).json()["success"] == 1
    assert len(api.smspool("/request/history", key).json()) == 2  # both still open


# --- rentals ---------------------------------------------------------------------------------
def rent(api, key, rental_id=2, days=1, **extra):
    response = api.smspool("/purchase/rental", key, id=rental_id, days=days, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_lists_rental_products(api):
    body = api.smspool("/rental/retrieve_all", type="1").json()
    assert body["success"] == 1 and all(isinstance(r["pricing"], dict) for r in body["data"])
    row = next(r for r in body["data"] if r["ID"] == 7)
    assert isinstance(row["single_service"], str) and row["refund_within"] == 12
    assert api.smspool("/rental/retrieve_all", type="3").status_code == 404
    pricing = api.smspool("/rental/retrieve_pricing", id="2").json()
    prices = {"1": 15, "3": 20, "15": 63, "30": 110}
    assert pricing == {"pricing": prices, "extend": prices}


def test_it_rents_wakes_and_delivers_rental_messages(api, key):
    rental = rent(api, key)
    assert rental["days"] == 1 and isinstance(rental["expiry"], int)
    assert Decimal(api.smspool("/request/balance", key).json()["balance"]) == Decimal("85.00")
    api.advance(301)  # activeFor ran out: the line sleeps, nothing arrives
    state = api.server.state.rentals[("smspool", rental["rental_code"])]
    api.server.state.settle_rental(state, api.server.state.now())
    assert not api.server.state.is_available(state)
    status = api.smspool("/rental/retrieve_status", key, rental_code=rental["rental_code"]).json()
    assert status["status"]["available"] == 0  # this call wakes the line...
    status = api.smspool("/rental/retrieve_status", key, rental_code=rental["rental_code"]).json()
    assert status["status"]["available"] == 1 and 0 < status["status"]["activeFor"] <= 300
    api.advance(41)  # ...and messages arrive while it is awake
    messages = api.smspool("/rental/retrieve_messages", key, rental_code=rental["rental_code"])
    body = messages.json()
    assert body["success"] == 1 and body["messages"] and body["messages"][0]["ID"] == 1


def test_it_wakes_the_line_through_the_php_path(api, key):
    rental = rent(api, key)
    response = api.smspool("/rental/retrieve_status.php", key, rental_code=rental["rental_code"])
    assert response.json()["status"]["available"] == 1


def test_it_refunds_a_rental_only_without_messages_and_in_time(api, key, ledger_holds):
    first = rent(api, key)
    refund = api.smspool("/rental/refund", key, rental_code=first["rental_code"])
    assert refund.json() == {"success": 1, "message": "Your rental has been refunded!"}
    again = api.smspool("/rental/refund.php", key, rental_code=first["rental_code"])
    assert again.status_code == 400 and "already have refunded" in again.json()["message"]
    second = rent(api, key)
    api.control("POST", f"/rentals/smspool/{second['rental_code']}/message", {})
    late = api.smspool("/rental/refund", key, rental_code=second["rental_code"])
    assert late.status_code == 400
    assert late.json()["message"] == (
        "You cannot refund a rental after 12 hours or after receiving one message."
    )
    missing = api.smspool("/rental/refund", key, rental_code="nope")
    assert missing.status_code == 404
    assert ledger_holds(api.account("smspool", key))


def test_it_extends_and_auto_extends(api, key):
    rental = rent(api, key)
    api.set_balance("smspool", key, "500.00")
    bad = api.smspool("/rental/extend", key, rental_code=rental["rental_code"], days=2)
    assert bad.status_code == 400 and "available: 1 3 15 30" in bad.json()["message"]
    extended = api.smspool("/rental/extend.php", key, rental_code=rental["rental_code"], days=30)
    assert extended.json()["expiration_date"] == rental["expiry"] + 30 * 86400
    toggled = api.smspool("/rental/auto_extend", key, rental_code=rental["rental_code"]).json()
    assert toggled["auto_extend"] == 1
    before = Decimal(api.smspool("/request/balance", key).json()["balance"])
    api.advance(31 * 86400 + 1)  # past the end: auto-extend renews for the rented 1 day
    status = api.smspool("/rental/retrieve_status", key, rental_code=rental["rental_code"]).json()
    assert status["status"]["expiry"] == rental["expiry"] + 31 * 86400
    after = Decimal(api.smspool("/request/balance", key).json()["balance"])
    assert before - after == Decimal(15)
    info = api.smspool("/rental/info", key, rental_code=rental["rental_code"]).json()
    assert info["auto_extend"] == 1 and info["price"] == "15.00" and info["refund"] == 0
    history = api.smspool("/rental/history", key).json()
    assert [h["action"] for h in history] == ["auto-extend", "extend", "activate"]


def test_it_refuses_rentals_without_balance_or_days(api, key):
    api.set_balance("smspool", key, "1.00")
    broke = api.smspool("/purchase/rental", key, id=2, days=1)
    assert broke.status_code == 400 and "top up your account with 14.00" in broke.json()["message"]
    days = api.smspool("/purchase/rental", key, id=6, days=1)
    assert days.json()["message"].endswith("available: 30")
    assert api.smspool("/purchase/rental", key, id=99, days=1).status_code == 400


def test_it_lists_active_rentals(api, key):
    rental = rent(api, key, rental_id=7, days=7, service_id="1012")
    rows = api.smspool("/rental/retrieve", key).json()
    assert rows[0]["rental_code"] == rental["rental_code"] and rows[0]["country_name"] == "US"
    info = api.smspool("/rental/info", key, rental_code=rental["rental_code"]).json()
    assert (
        info["price"] == "6.00" and info["service_name"] == "WhatsApp"
    )  # single-service half price


# --- the SMS-Activate stub ---------------------------------------------------------------------
def test_it_serves_the_stub_on_the_same_account(api, key):
    number = api.sa(key, "getNumber", prefix="/smspool", service="wa", country="187").text
    token, order_id, phone = number.split(":")
    assert token == "ACCESS_NUMBER" and phone.startswith("1")
    active = api.smspool("/request/active", key).json()
    assert active[0]["order_code"] == order_id  # one account, one set of orders
    balance = api.sa(key, "getBalance", prefix="/smspool").text
    assert balance == "ACCESS_BALANCE:" + api.smspool("/request/balance", key).json()["balance"]
    api.deliver("smspool", order_id, "Your WhatsApp code is 123-456")
    assert api.sa(key, "getStatus", prefix="/smspool", id=order_id).text == "STATUS_OK:123456"


def test_it_takes_smspool_ids_on_the_stub_with_setting(api, key):
    url = f"{api.base}/smspool/stubs/handler_api"
    params = {"api_key": key, "action": "getNumber", "service": "1012", "country": "US"}
    assert api.http.get(url, params=params).text == "BAD_SERVICE"
    text = api.http.get(url, params={**params, "setting": "smspool"}).text
    assert text.startswith("ACCESS_NUMBER:")
    assert api.sa("wrong", "getBalance", prefix="/smspool").text == "BAD_KEY"


# --- 404s: SMSPool's documented wording per endpoint, and a foreign one ---------------------
ORDER_404 = [
    ("/sms/check", "We could not find this order!"),
    ("/sms/cancel", "We could not find this order!"),
    ("/sms/activate", "We could not find this order!"),
    ("/sms/reactivate", "We could not find this order!"),
    ("/sms/check_resend", "We could not find this order."),
    ("/sms/resend", "This order could not be found."),
]
RENTAL_404 = [
    ("/rental/retrieve_messages", "No rental was found!"),
    ("/rental/retrieve_status", "No rental was found!"),
    ("/rental/info", "No rental was found!"),
    ("/rental/reset", "No rental was found!"),
    ("/rental/auto_extend", "No rental was found!"),
    ("/rental/refund", "This rental could not be found."),
    ("/rental/extend", "This rental could not be found."),
]


@pytest.mark.parametrize("dialect", ["postman", "seed"])
def test_it_answers_unknown_orders_and_rentals_with_the_documented_404s(api, key, dialect):
    api.server.state.config.update({"dialects": {key: dialect}})
    for path, message in ORDER_404:
        response = api.smspool(path, key, orderid="NOPE1234")
        assert response.status_code == 404, path
        assert response.json() == {"success": 0, "message": message}, path
    for path, message in RENTAL_404:
        response = api.smspool(path, key, rental_code="nope", days=3)
        assert response.status_code == 404, path
        assert response.json() == {"success": 0, "message": message}, path


def test_it_answers_no_rentals_with_the_documented_404(api):
    response = api.smspool("/rental/retrieve_all", type="3")
    assert response.status_code == 404
    assert response.json() == {
        "success": 0,
        "message": "No available rentals found for your search.",
    }


def test_it_answers_a_path_it_does_not_serve_with_a_foreign_404(api, key):
    # What a client pointed at a wrong base URL meets: not SMSPool's wording.
    response = api.http.post(
        f"{api.base}/nothing-here/sms/check", data={"key": key, "orderid": "X"}
    )
    assert response.status_code == 404
    assert response.json()["error"] == "Unknown sandbox path."
    unknown = api.smspool("/v2/sms/check", key, orderid="X")
    assert unknown.status_code == 404
    assert unknown.json() == {"success": 0, "message": "This endpoint does not exist."}


# --- the seed dialect: the endpoint page's shapes ---------------------------------------------
@pytest.fixture
def seed_key(api, key) -> str:
    api.server.state.config.update({"dialects": {key: "seed"}})
    return key


def test_it_lists_seed_rentals_keyed_by_id_without_refund_fields(api, seed_key):
    body = api.smspool("/rental/retrieve_all", seed_key, type="1").json()
    assert set(body) == {"2", "3", "6", "7"}  # the extendable products, keyed by id
    assert body["3"] == {
        "name": "Netherlands",
        "region": "Europe",
        "pricing": '{"3":10,"7":15,"15":20,"30":30}',
    }
    assert all("is_refundable" not in row and "refund_within" not in row for row in body.values())
    assert set(api.smspool("/rental/retrieve_all", seed_key, type="0").json()) == {"1"}
    missing_type = api.smspool("/rental/retrieve_all", seed_key)
    assert missing_type.status_code == 400
    assert missing_type.json() == {
        "success": 0,
        "message": "Fill in all params! [GET: type, key (optional)]",
    }
    # Other keys still get the collection's shape.
    other = api.smspool("/rental/retrieve_all", "sbx_postman_caller", type="1").json()
    assert other["success"] == 1 and other["data"][0]["is_refundable"] in (0, 1)


def test_it_refunds_seed_rentals_within_12_hours_before_a_message(api, seed_key, ledger_holds):
    # Product 6 says refund_within 2 h and 28 days minimum in the collection;
    # the page's one rule (12 h, no message) applies instead.
    quiet = {"delivery_min_seconds": 86400.0, "delivery_max_seconds": 86400.0}
    quiet |= {"rental_message_min_seconds": 86400.0, "rental_message_max_seconds": 86400.0}
    api.server.state.config.update(quiet)  # no message arrives unless sent
    first = rent(api, seed_key, rental_id=6, days=30)
    api.advance(11 * 3600)
    refund = api.smspool("/rental/refund", seed_key, rental_code=first["rental_code"])
    assert refund.json() == {"success": 1, "message": "Your rental has been refunded!"}

    late = rent(api, seed_key, rental_id=3, days=3)
    api.advance(12 * 3600 + 1)
    refused = api.smspool("/rental/refund", seed_key, rental_code=late["rental_code"])
    assert refused.status_code == 400
    assert refused.json() == {
        "success": 0,
        "message": "TYou cannot refund a rental after 12 hours or after receiving one message.",
    }

    used = rent(api, seed_key, rental_id=3, days=3)
    api.control("POST", f"/rentals/smspool/{used['rental_code']}/message", {})
    after_message = api.smspool("/rental/refund", seed_key, rental_code=used["rental_code"])
    assert after_message.status_code == 400

    account = api.account("smspool", seed_key)
    assert Decimal(account["refunds"]) == Decimal(20)  # the first rental only
    assert Decimal(account["charges"]) == Decimal(40)
    assert ledger_holds(account)


def test_it_resends_on_the_same_order_in_the_seed_dialect(api, seed_key, ledger_holds):
    order = buy(api, seed_key)
    early = api.smspool("/sms/resend", seed_key, orderid=order["order_id"])
    assert early.status_code == 400
    assert early.json() == {
        "success": 0,
        "message": "Phonenumber could not be requested again, try later again.",
        "resend": 0,
    }
    api.deliver("smspool", order["order_id"], "Your WhatsApp code is 111-222")

    resent = api.smspool("/sms/resend", seed_key, orderid=order["order_id"])
    assert resent.status_code == 200
    assert resent.json() == {
        "success": 1,
        "message": "Number has been requested again",
        "resend": 0,
    }
    waiting = api.smspool("/sms/check", seed_key, orderid=order["order_id"]).json()
    assert waiting == {
        "status": 4,
        "message": "resend",
        "resend": 0,
        "expiration": order["expiration"],
    }
    assert api.smspool("/sms/resend", seed_key, orderid=order["order_id"]).status_code == 400

    api.deliver("smspool", order["order_id"], "Your WhatsApp code is 333-444")
    done = api.smspool("/sms/check", seed_key, orderid=order["order_id"]).json()
    assert (done["status"], done["sms"]) == (3, "333444")
    active = api.smspool("/request/active", seed_key).json()
    assert [row["order_code"] for row in active] == [order["order_id"]]  # no second order

    account = api.account("smspool", seed_key)
    assert Decimal(account["charges"]) == Decimal(order["cost"])  # the resend was free
    assert ledger_holds(account)


def test_it_reopens_a_finished_order_for_a_seed_resend(api, seed_key):
    order = buy(api, seed_key)
    api.deliver("smspool", order["order_id"], "Your WhatsApp code is 111-222")
    api.advance(1201)  # the order closed with its SMS
    assert api.smspool("/request/active", seed_key).json() == []
    resent = api.smspool("/sms/resend", seed_key, orderid=order["order_id"])
    assert resent.json()["success"] == 1
    check = api.smspool("/sms/check", seed_key, orderid=order["order_id"]).json()
    assert check["status"] == 4 and check["expiration"] > order["expiration"]
    active = api.smspool("/request/active", seed_key).json()
    assert [row["order_code"] for row in active] == [order["order_id"]]
