"""The server itself: lifecycle, header, routing, logging, keys, persistence."""

from __future__ import annotations

import logging

import pytest
import requests

from providers.sandbox import SandboxConfig, SandboxServer


def test_it_starts_in_process_on_an_ephemeral_port():
    server = SandboxServer(config=SandboxConfig(log_requests=False)).start()
    try:
        assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
        assert requests.get(server.base_url + "/control/health", timeout=5).json()["ok"] is True
        assert server.url("numpool") == server.base_url + "/numpool/api/v1"
    finally:
        server.stop()


def test_it_marks_every_response(api, key):
    responses = [
        api.smspool("/request/balance", key),
        api.numpool("GET", "/nope", key),
        api.smscode("GET", "/v1/balance", "bad"),
        api.sa(key, "getBalance"),
        api.control("GET", "/config"),
        api.http.get(api.base + "/unknown"),
    ]
    assert all(r.headers["X-Smsdesk-Sandbox"] == "1" for r in responses)
    assert responses[-1].status_code == 404


def test_it_logs_one_line_per_request_without_keys(api, server, caplog):
    server.state.config.log_requests = True
    with caplog.at_level(logging.DEBUG, logger="providers.sandbox"):
        api.sa("sbx_secret_key_123", "getBalance")
    lines = [r.getMessage() for r in caplog.records if r.name == "providers.sandbox"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /smsactivate/stubs/handler_api.php 200")
    assert "sbx_secret_key_123" not in lines[0] and "?" not in lines[0]


def test_it_opens_sandbox_keys_and_rejects_others_per_protocol(api, key):
    assert api.smspool("/request/balance", key).json() == {"balance": "100.00"}
    assert api.numpool("GET", "/balance", key).json()["balance"] == 100.0
    assert api.smscode("GET", "/v1/balance", key).json()["data"]["balance"] == 1600000
    assert api.sa(key, "getBalance").text == "ACCESS_BALANCE:100.00"
    assert api.smspool("/request/balance", "live_key").status_code == 403
    assert api.numpool("GET", "/balance", "live_key").status_code == 401
    assert api.smscode("GET", "/v1/balance", "live_key").status_code == 401
    assert api.sa("live_key", "getBalance").text == "BAD_KEY"


def test_it_keeps_protocol_accounts_apart(api, key):
    api.smspool("/purchase/sms", key, country="US", service="WhatsApp")
    assert api.numpool("GET", "/balance", key).json()["balance"] == 100.0


def test_it_persists_state_across_restarts(tmp_path, key):
    path = str(tmp_path / "state.json")
    first = SandboxServer(config=SandboxConfig(state_file=path, log_requests=False)).start()
    order = requests.post(
        first.base_url + "/smspool/purchase/sms",
        data={"key": key, "country": "US", "service": "WhatsApp"},
        timeout=5,
    ).json()
    first.stop()
    second = SandboxServer(config=SandboxConfig(state_file=path, log_requests=False)).start()
    try:
        url = second.base_url + "/smspool"
        check = requests.post(url + "/sms/check", data={"key": key, "orderid": order["order_id"]})
        assert check.status_code == 200 and check.json()["status"] in (1, 3)
        balance = requests.post(url + "/request/balance", data={"key": key}).json()
        assert balance["balance"] == f"{100 - float(order['cost']):.2f}"
    finally:
        second.stop()


def test_it_serves_concurrent_clients(api, key):
    from concurrent.futures import ThreadPoolExecutor

    api.server.state.config.update({"rate_limits_enabled": False})

    def buy(_: int) -> int:
        response = requests.post(
            api.base + "/smspool/purchase/sms",
            data={"key": key, "country": "GB", "service": "Telegram"},
            timeout=5,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(buy, range(64)))
    assert statuses == [200] * 64
    assert len(api.smspool("/request/active", key).json()) == 64


def test_it_closes_keep_alive_connections_on_stop(key):
    server = SandboxServer(config=SandboxConfig(log_requests=False)).start()
    session = requests.Session()
    url = server.base_url + "/smspool/request/balance"
    assert session.post(url, data={"key": key}, timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.post(url, data={"key": key}, timeout=5)
