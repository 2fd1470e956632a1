"""Helpers shared by the sandbox tests: start a server, speak each protocol."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from providers.sandbox import SandboxConfig, SandboxServer

TIMEOUT = 5


def make_server(**knobs: Any) -> SandboxServer:
    defaults: dict[str, Any] = {"seed": 7, "no_code_share": 0.0, "log_requests": False}
    return SandboxServer(config=SandboxConfig(**{**defaults, **knobs})).start()


class Api:
    """Thin helpers that speak each protocol the way its clients do."""

    def __init__(self, server: SandboxServer):
        self.server = server
        self.base = server.base_url
        self.http = requests.Session()

    # --- protocols ---------------------------------------------------------------
    def smspool(self, path: str, key: str | None = None, **fields: Any) -> requests.Response:
        data = {k: v for k, v in fields.items() if v is not None}
        if key is not None:
            data["key"] = key
        return self.http.post(f"{self.base}/smspool{path}", data=data, timeout=TIMEOUT)

    def numpool(self, method: str, path: str, key: str, **kwargs: Any) -> requests.Response:
        headers = {"X-API-Key": key}
        return self.http.request(
            method, f"{self.base}/numpool/api/v1{path}", headers=headers, timeout=TIMEOUT, **kwargs
        )

    def smscode(
        self, method: str, path: str, key: str, json: Any = None, **headers: str
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}", **headers}
        return self.http.request(
            method, f"{self.base}/smscode{path}", json=json, headers=headers, timeout=TIMEOUT
        )

    def sa(
        self, key: str, action: str, prefix: str = "/smsactivate", **params: Any
    ) -> requests.Response:
        query = {"api_key": key, "action": action, **params}
        url = f"{self.base}{prefix}/stubs/handler_api.php"
        return self.http.get(url, params=query, timeout=TIMEOUT)

    # --- control -----------------------------------------------------------------
    def control(self, method: str, path: str, json: Any = None) -> requests.Response:
        return self.http.request(method, f"{self.base}/control{path}", json=json, timeout=TIMEOUT)

    def deliver(self, protocol: str, order_id: str, text: str = "") -> dict:
        response = self.control("POST", f"/orders/{protocol}/{order_id}/deliver", {"text": text})
        assert response.status_code == 200, response.text
        return response.json()

    def account(self, protocol: str, key: str) -> dict:
        response = self.control("GET", f"/accounts?protocol={protocol}&api_key={key}")
        assert response.status_code == 200, response.text
        return response.json()

    def set_balance(self, protocol: str, key: str, balance: str) -> dict:
        body = {"protocol": protocol, "api_key": key, "balance": balance}
        return self.control("POST", "/accounts", body).json()

    def fail_next(self, protocol: str, mode: str, count: int = 1) -> None:
        body = {"protocol": protocol, "mode": mode, "count": count}
        assert self.control("POST", "/fail", body).status_code == 200

    def advance(self, upstream_seconds: float) -> None:
        """Move the sandbox clock by `upstream_seconds` of upstream time."""
        self.server.state.clock.advance(self.server.state.scaled(upstream_seconds))


def ledger_holds(account: dict) -> bool:
    """balance == initial + adjustments - charges + refunds."""
    expected = (
        Decimal(account["initial_balance"])
        + Decimal(account["adjustments"])
        - Decimal(account["charges"])
        + Decimal(account["refunds"])
    )
    return Decimal(account["balance"]) == expected
