"""The generic SMS-Activate protocol over real HTTP: activations and rentals."""

from __future__ import annotations


def get_number(api, key, service="wa", country="187"):
    text = api.sa(key, "getNumber", service=service, country=country).text
    token, order_id, phone = text.split(":")
    assert token == "ACCESS_NUMBER"
    return order_id, phone


def test_it_reports_balance_and_rejects_bad_keys(api, key):
    assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"
    assert api.sa("wrong", "getBalance").text == "BAD_KEY"
    assert api.sa(key, "noSuchAction").text == "BAD_ACTION"


def test_it_serves_the_catalog(api, key):
    countries = api.sa(key, "getCountries").json()
    assert countries["0"]["eng"] == "Russia" and countries["187"]["eng"] == "United States"
    assert countries["16"]["eng"] == "United Kingdom" and countries["6"]["eng"] == "Indonesia"
    services = api.sa(key, "getServicesList", country="6").json()
    assert (
        services["status"] == "success"
        and {"code": "tg", "name": "Telegram"} in services["services"]
    )
    prices = api.sa(key, "getPrices", service="wa", country="187").json()
    assert set(prices["187"]["wa"]) == {"cost", "count"} and isinstance(
        prices["187"]["wa"]["cost"], float
    )
    status = api.sa(key, "getNumbersStatus", country="187").json()
    assert status["wa_0"] > 0


def test_it_sells_polls_and_finishes(api, key):
    order_id, phone = get_number(api, key)
    assert phone.startswith("1") and len(phone) == 11
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_WAIT_CODE"
    assert api.sa(key, "setStatus", id=order_id, status="1").text == "ACCESS_READY"
    api.deliver("smsactivate", order_id, "Your WhatsApp code is 482-913")
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_OK:482913"
    assert api.sa(key, "getFullSms", id=order_id).text == "FULL_SMS:Your WhatsApp code is 482-913"
    assert api.sa(key, "setStatus", id=order_id, status="6").text == "ACCESS_ACTIVATION"
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_OK:482913"
    assert api.sa(key, "getStatus", id="1").text == "NO_ACTIVATION"


def test_it_waits_for_a_retry_code(api, key):
    order_id, _phone = get_number(api, key)
    assert api.sa(key, "setStatus", id=order_id, status="3").text == "BAD_STATUS"  # no code yet
    api.deliver("smsactivate", order_id, "Your WhatsApp code is 111-222")
    assert api.sa(key, "setStatus", id=order_id, status="3").text == "ACCESS_RETRY_GET"
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_WAIT_RETRY:111222"
    api.deliver("smsactivate", order_id, "Your WhatsApp code is 333-444")
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_OK:333444"


def test_it_denies_early_cancel_then_refunds(api, key):
    order_id, _phone = get_number(api, key)
    assert api.sa(key, "setStatus", id=order_id, status="8").text == "EARLY_CANCEL_DENIED"
    api.advance(31)
    api.server.state.orders[("smsactivate", order_id)].deliver_at = None
    assert api.sa(key, "setStatus", id=order_id, status="8").text == "ACCESS_CANCEL"
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_CANCEL"
    assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"


def test_it_expires_with_a_refund(api, key):
    api.server.state.config.no_code_share = 1.0
    order_id, _phone = get_number(api, key)
    api.advance(1201)
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_CANCEL"
    assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"


def test_it_answers_get_number_v2_as_json(api, key):
    body = api.sa(key, "getNumberV2", service="tg", country="16").json()
    assert isinstance(body["activationId"], int) and body["phoneNumber"].startswith("44")
    assert isinstance(body["activationCost"], float) and body["countryCode"] == "16"
    assert body["canGetAnotherSms"] is True and body["activationEndTime"]


def test_it_lists_active_activations_and_the_empty_form(api, key):
    assert api.sa(key, "getActiveActivations").json() == {
        "status": "error",
        "error": "NO_ACTIVATIONS",
    }
    order_id, _phone = get_number(api, key)
    api.deliver("smsactivate", order_id, "Your WhatsApp code is 482-913")
    body = api.sa(key, "getActiveActivations").json()
    row = body["activeActivations"][0]
    assert body["status"] == "success" and row["activationId"] == order_id
    assert row["smsCode"] == ["482913"] and row["activationStatus"] == "4"
    assert row["serviceCode"] == "wa" and row["canGetAnotherSms"] == "1"


def test_it_refuses_orders_it_cannot_fill(api, key):
    assert api.sa(key, "getNumber", service="zz", country="187").text == "BAD_SERVICE"
    assert api.sa(key, "getNumber", service="wa", country="999").text == "BAD_COUNTRY"
    high = api.sa(key, "getNumber", service="wa", country="187", maxPrice="0.01").text
    assert high.startswith("WRONG_MAX_PRICE:")
    api.server.state.config.update({"out_of_stock": {"all": ["US"]}})
    assert api.sa(key, "getNumber", service="wa", country="187").text == "NO_NUMBERS"
    api.set_balance("smsactivate", key, "0.00")
    assert api.sa(key, "getNumber", service="wa", country="16").text == "NO_BALANCE"


def test_it_rents_extends_and_cancels_early(api, key):
    catalog = api.sa(key, "getRentServicesAndCountries", country="187", rent_time="4").json()
    assert "wa" in catalog["services"] and set(catalog["services"]["wa"]) == {"cost", "quant"}
    bad = api.sa(key, "getRentNumber", service="wa", country="187", rent_time="3").json()
    assert bad == {"status": "error", "message": "BAD_TIME"}
    rented = api.sa(key, "getRentNumber", service="wa", country="187", rent_time="4").json()
    assert rented["status"] == "success"
    rent_id = str(rented["phone"]["id"])
    waiting = api.sa(key, "getRentStatus", id=rent_id).json()
    assert waiting == {"status": "error", "message": "STATUS_WAIT_CODE"}
    api.control("POST", f"/rentals/smsactivate/{rent_id}/message", {"text": "Your code is 123456"})
    status = api.sa(key, "getRentStatus", id=rent_id).json()
    assert status["quantity"] == "1" and status["values"]["0"]["text"] == "Your code is 123456"
    listed = api.sa(key, "getRentList").json()
    assert listed["values"]["0"]["id"] == rent_id
    extended = api.sa(key, "continueRentNumber", id=rent_id, rent_time="4").json()
    assert extended["phone"]["endDate"] > rented["phone"]["endDate"]
    assert api.sa(key, "setRentStatus", id=rent_id, status="2").json()["status"] == "success"
    assert api.sa(key, "getRentStatus", id=rent_id).json()["message"] == "STATUS_CANCEL"
    assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"  # everything refunded


def test_it_refuses_rent_cancel_after_20_minutes(api, key):
    rented = api.sa(key, "getRentNumber", service="tg", country="16", rent_time="24").json()
    rent_id = str(rented["phone"]["id"])
    api.advance(20 * 60 + 1)
    late = api.sa(key, "setRentStatus", id=rent_id, status="2").json()
    assert late == {"status": "error", "message": "CANT_CANCEL"}
    assert api.sa(key, "setRentStatus", id=rent_id, status="1").json()["status"] == "success"
    assert api.sa(key, "getRentStatus", id=rent_id).json()["message"] == "STATUS_FINISH"
    assert (
        api.sa(key, "continueRentNumber", id=rent_id, rent_time="4").json()["message"] == "RENT_DIE"
    )


def test_it_limits_to_40_requests_a_second(api, key, server):
    server.limiter.clock = lambda: 1000.0  # every request in the same instant
    statuses = [api.sa(key, "getBalance") for _ in range(41)]
    assert [r.status_code for r in statuses[:40]] == [200] * 40
    limited = statuses[40]
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.text == "TOO_MANY_REQUESTS"  # a plain-text token, like every answer


# --- the minimal dialect: no catalogue or bulk actions ----------------------------------------
CATALOGUE_AND_BULK = [
    "getCountries",
    "getServicesList",
    "getPrices",
    "getNumbersStatus",
    "getActiveActivations",
    "getRentServicesAndCountries",
    "getRentList",
]
STUB = "/smspool"


def minimal(server, scope_or_key):
    server.state.config.update({"dialects": {scope_or_key: "minimal"}})


def test_it_answers_bad_action_to_catalogue_and_bulk_actions_when_minimal(api, key, server):
    minimal(server, "smsactivate")
    for action in CATALOGUE_AND_BULK:
        assert api.sa(key, action, country="187").text == "BAD_ACTION", action


def test_it_still_sells_polls_and_cancels_when_minimal(api, key, server):
    minimal(server, "smsactivate")
    assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"
    body = api.sa(key, "getNumberV2", service="tg", country="16").json()  # V2 stays
    assert body["phoneNumber"].startswith("44") and body["activationCost"] > 0
    order_id, _phone = get_number(api, key)
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_WAIT_CODE"
    assert api.sa(key, "setStatus", id=order_id, status="8").text == "EARLY_CANCEL_DENIED"
    api.deliver("smsactivate", order_id, "Your WhatsApp code is 482-913")
    assert api.sa(key, "getStatus", id=order_id).text == "STATUS_OK:482913"
    assert api.sa(key, "getFullSms", id=order_id).text == "FULL_SMS:Your WhatsApp code is 482-913"
    assert api.sa(key, "setStatus", id=order_id, status="6").text == "ACCESS_ACTIVATION"
    rented = api.sa(key, "getRentNumber", service="wa", country="187", rent_time="4").json()
    assert rented["status"] == "success"  # only the rental catalogue and list are missing


def test_it_keeps_every_action_in_the_full_dialect(api, key):
    for action in CATALOGUE_AND_BULK:
        assert api.sa(key, action, country="187").text != "BAD_ACTION", action


def test_smspools_stub_keeps_only_what_smspool_lists_when_minimal(api, key, server):
    minimal(server, "smspool_stub")
    for action in [*CATALOGUE_AND_BULK, "getNumberV2"]:
        answer = api.sa(key, action, prefix=STUB, service="wa", country="16")
        assert answer.text == "BAD_ACTION", action
    assert api.sa(key, "getBalance", prefix=STUB).text == "ACCESS_BALANCE:100.00"
    token, order_id, phone = api.sa(key, "getNumber", STUB, service="wa", country="16").text.split(
        ":"
    )
    assert token == "ACCESS_NUMBER" and phone.startswith("44")
    assert api.sa(key, "getStatus", STUB, id=order_id).text == "STATUS_WAIT_CODE"
    early = api.sa(key, "setStatus", STUB, id=order_id, status="8").text
    assert early == "EARLY_CANCEL_DENIED"
    api.deliver("smspool", order_id, "Your WhatsApp code is 246-810")
    assert api.sa(key, "getStatus", STUB, id=order_id).text == "STATUS_OK:246810"
    full = api.sa(key, "getFullSms", STUB, id=order_id).text
    assert full == "FULL_SMS:Your WhatsApp code is 246-810"
    assert api.sa(key, "setStatus", STUB, id=order_id, status="6").text == "ACCESS_ACTIVATION"


def test_smspools_stub_in_the_full_dialect_answers_the_catalogue_and_v2(api, key):
    assert api.sa(key, "getCountries", STUB).json()["187"]["eng"] == "United States"
    body = api.sa(key, "getNumberV2", STUB, service="wa", country="16").json()
    assert body["phoneNumber"].startswith("44")
    listed = api.sa(key, "getActiveActivations", STUB).json()
    assert listed["activeActivations"][0]["activationId"] == str(body["activationId"])


def test_the_dialect_is_chosen_per_key(api, key, server):
    minimal(server, key)
    other = key + "_full"
    assert api.sa(key, "getCountries", STUB).text == "BAD_ACTION"
    assert api.sa(key, "getCountries").text == "BAD_ACTION"
    assert api.sa(other, "getCountries", STUB).json()["16"]["eng"] == "United Kingdom"
    assert api.sa(other, "getCountries").json()["16"]["eng"] == "United Kingdom"
