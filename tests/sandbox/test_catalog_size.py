"""The catalogue size knob: `catalog_size` switches what every request is served from."""

from __future__ import annotations

import pytest
import requests

from providers.sandbox import catalog
from tests.sandbox.helpers import make_server


@pytest.fixture(scope="module")
def live_world():
    catalog.live_catalogue()  # built once per process: not inside a request's timeout


def counts(api_session, base: str) -> tuple[int, int]:
    def rows(path: str) -> int:
        response = api_session.post(f"{base}/smspool{path}", data={"key": "sbx_size"}, timeout=60)
        return len(response.json())

    return rows("/country/retrieve_all"), rows("/service/retrieve_all")


def test_the_control_api_switches_the_catalogue_size(api, live_world):
    demo = counts(api.http, api.base)
    assert api.control("POST", "/config", {"catalog_size": "live"}).status_code == 200
    live = counts(api.http, api.base)
    assert api.control("POST", "/config", {"catalog_size": "demo"}).status_code == 200
    assert counts(api.http, api.base) == demo
    assert demo[1] < 100 and live[0] > 140 and live[1] > 1390


def test_a_server_started_live_serves_live_whatever_the_process_size(live_world):
    assert catalog.catalogue().size == "demo"  # the process default in tests
    server = make_server(catalog_size="live")
    try:
        countries, services = counts(requests.Session(), server.base_url)
    finally:
        server.stop()
    assert countries > 140 and services > 1390
    assert catalog.catalogue().size == "demo"  # the request's size did not leak
