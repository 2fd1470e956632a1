"""Failure injection: each mode, the queue, random rates, and SMSPool's 429."""

from __future__ import annotations

import time

import pytest
import requests


def test_it_fails_the_next_request_with_http_500(api, key):
    api.fail_next("smspool", "http_500")
    response = api.smspool("/request/balance", key)
    assert response.status_code == 500 and response.headers["X-Smsdesk-Sandbox"] == "1"
    assert api.smspool("/request/balance", key).status_code == 200  # only the next one


def test_it_answers_500_with_the_smscode_envelope(api, key):
    api.fail_next("smscode", "http_500")
    response = api.smscode("GET", "/v1/balance", key)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"


@pytest.mark.parametrize(("mode", "status"), [("html_200", 200), ("html_503", 503)])
def test_it_serves_an_html_error_page(api, key, mode, status):
    api.fail_next("numpool", mode)
    response = api.numpool("GET", "/balance", key)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.lstrip().startswith("<!DOCTYPE html>")


def test_it_picks_200_or_503_for_plain_html(api, key):
    api.fail_next("smsactivate", "html", count=4)
    statuses = {api.sa(key, "getBalance").status_code for _ in range(4)}
    assert statuses <= {200, 503}


def test_it_truncates_json(api, key):
    api.fail_next("smspool", "malformed")
    response = api.smspool("/request/active", key)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_it_drops_the_connection(api, key):
    api.fail_next("smscode", "drop")
    with pytest.raises(requests.ConnectionError):
        api.smscode("GET", "/v1/balance", key)
    assert api.smscode("GET", "/v1/balance", key).status_code == 200


def test_it_times_out_after_doing_the_work(api, key, server):
    server.state.config.failure_timeout_seconds = 1.0
    api.fail_next("numpool", "timeout")
    with pytest.raises(requests.Timeout):
        api.http.post(
            f"{api.base}/numpool/api/v1/buy",
            json={"service": "wa", "country": 187},
            headers={"X-API-Key": key},
            timeout=0.2,
        )
    orders = api.control("GET", f"/orders?protocol=numpool&api_key={key}").json()
    assert len(orders) == 1  # the upstream sold the number; only the answer was lost


def test_it_applies_random_failure_rates(api, key, server):
    server.state.config.update({"failures": {"numpool": {"http_500": 1.0}}})
    assert api.numpool("GET", "/balance", key).status_code == 500
    server.state.config.update({"failures": {"numpool": {"http_500": 0.0}}})
    assert api.numpool("GET", "/balance", key).status_code == 200
    assert api.control("GET", "/fail").json()["injected"]["numpool"] == {"http_500": 1}


def test_it_leaves_control_alone(api):
    api.fail_next("smspool", "http_500", count=5)
    assert api.control("GET", "/health").status_code == 200
    queued = api.control("GET", "/fail").json()["queued"]
    assert queued == {"smspool": ["http_500"] * 5}
    api.fail_next("smspool", "http_500", count=0)
    assert api.control("GET", "/fail").json()["queued"] == {}


def test_it_refuses_unknown_modes(api):
    response = api.control("POST", "/fail", {"protocol": "smspool", "mode": "fire", "count": 1})
    assert response.status_code == 400


def test_it_limits_smspool_to_32_a_second_without_retry_after(api, key, server):
    server.limiter.clock = lambda: 500.0  # all in the same instant
    statuses = [api.smspool("/request/balance", key) for _ in range(33)]
    assert [r.status_code for r in statuses[:32]] == [200] * 32
    limited = statuses[32]
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.json() == {"success": 0, "message": "Too many requests"}
    server.limiter.clock = lambda: 501.01  # the window slid past the first requests
    assert api.smspool("/request/balance", key).status_code == 200


def test_it_switches_rate_limits_off(api, key, server):
    server.state.config.update({"rate_limits_enabled": False})
    server.limiter.clock = lambda: 500.0
    assert all(api.smspool("/request/balance", key).status_code == 200 for _ in range(40))


def test_it_answers_slowly_after_doing_the_work(api, key, server):
    server.state.config.slow_seconds = 0.6
    api.fail_next("numpool", "slow")
    started = time.monotonic()
    response = api.numpool("POST", "/buy", key, json={"service": "wa", "country": 187})
    assert response.status_code == 200 and time.monotonic() - started >= 0.6
    orders = api.control("GET", f"/orders?protocol=numpool&api_key={key}").json()
    assert [o["order_id"] for o in orders] == [str(response.json()["order_id"])]


def test_it_hangs_up_after_doing_the_work(api, key):
    api.fail_next("numpool", "drop_after")
    with pytest.raises(requests.ConnectionError):
        api.numpool("POST", "/buy", key, json={"service": "wa", "country": 187})
    orders = api.control("GET", f"/orders?protocol=numpool&api_key={key}").json()
    assert len(orders) == 1  # sold and charged; only the answer was lost


def test_a_queued_failure_can_wait_for_its_endpoint(api, key):
    api.control(
        "POST", "/fail", {"protocol": "smspool", "mode": "http_500", "endpoint": "/purchase/sms"}
    )
    assert api.smspool("/request/balance", key).status_code == 200  # not the purchase
    assert api.smspool("/purchase/sms", key, service=1, country=1).status_code == 500
    assert api.control("GET", "/fail").json()["queued"] == {}


def test_random_failures_can_be_limited_to_some_endpoints(api, key, server):
    server.state.config.update(
        {
            "failures": {"smspool": {"http_500": 1.0}},
            "failure_endpoints": {"smspool": ["/purchase/sms"]},
        }
    )
    assert api.smspool("/request/balance", key).status_code == 200
    assert api.smspool("/purchase/sms", key, service=1, country=1).status_code == 500


def test_dialects_are_chosen_per_key_before_per_protocol(server):
    config = server.state.config
    config.update({"dialects": {"smscode": "guide", "sbx_sdk_one": "sdk"}})
    assert config.dialect("smscode", "sbx_other") == "guide"
    assert config.dialect("smscode", "sbx_sdk_one") == "sdk"
    assert config.dialect("smspool", "sbx_other") == "postman"  # the default


def test_an_unknown_dialect_is_refused(server):
    from providers.sandbox.config import ConfigError

    with pytest.raises(ConfigError):
        server.state.config.update({"dialects": {"smscode": "klingon"}})


def test_it_refuses_with_the_protocols_own_429(api, key):
    api.fail_next("smscode", "http_429")
    response = api.smscode("GET", "/v1/balance", key)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
