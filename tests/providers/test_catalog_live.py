"""A catalog sync at a real provider's size: SMSPool with 150 countries, 1,400
services and about 150,000 pool prices (the sandbox's "live" catalogue)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext

from accounts.models import Team
from providers.models import CatalogCountry, CatalogPrice, CatalogService
from providers.sandbox import catalog
from providers.services import catalog_sync
from tests.conftest import sandbox_account, start_sandbox

pytestmark = pytest.mark.slow
WRITE = re.compile(r"^\s*(?:\d+ times: )?(INSERT|UPDATE|DELETE)\b.*?\"providers_catalog", re.S)


@pytest.fixture(scope="module")
def live_sandbox():
    previous = catalog.use_size("live")
    server = start_sandbox(catalog_size="live")
    try:
        yield server
    finally:
        server.stop()
        catalog.use_size(previous)


def catalog_writes(account) -> tuple[list[str], object]:
    with CaptureQueriesContext(connection) as queries:
        result = catalog_sync(account=account)
    writes = [WRITE.match(q["sql"]).group(1) for q in queries if WRITE.match(q["sql"])]
    return writes, result


def ghosts(account) -> int:
    """Rows upstream no longer lists: a service, a country, their prices, a dropped pool."""
    service = CatalogService.objects.create(account=account, upstream_id="999999", name="Ghost")
    country = CatalogCountry.objects.create(account=account, upstream_id="999999", name="Nowhere")
    real_service = account.catalog_services.get(name="WhatsApp")
    real_country = account.catalog_countries.get(iso="US")
    rows = [
        (service, real_country, "7"),
        (real_service, country, "7"),
        (real_service, real_country, "999"),
    ]
    for s, c, pool in rows:
        CatalogPrice.objects.create(
            account=account, service=s, country=c, pool=pool, price=Decimal("1"), currency="USD"
        )
    return len(rows) + 2


@pytest.mark.django_db
def test_a_live_size_catalogue_syncs_resyncs_for_free_and_drops_what_vanished(live_sandbox):
    account = sandbox_account(Team.objects.create(name="Live"), live_sandbox, "smspool", sync=False)

    first = catalog_sync(account=account)
    assert first.prices > 140_000 and account.prices.count() == first.prices
    assert first.countries == 148 and first.services >= 1390
    assert first.transactions >= first.prices // 1000  # short transactions, not one
    account.refresh_from_db()
    assert account.catalog_countries_unmapped == first.unmapped_countries == 0
    assert account.catalog_services_unmapped == first.unmapped_services
    assert 0.8 < account.unmapped_services_share < 0.95  # the long tail nobody maps
    assert account.catalog_services.get(name="Whatsapp Business").service.slug == "whatsapp"
    synced = account.prices.aggregate(last=Max("updated"))["last"]

    writes, again = catalog_writes(account)
    assert writes == []
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert again.prices == first.prices and again.unmapped_services == first.unmapped_services
    assert account.prices.aggregate(last=Max("updated"))["last"] == synced

    vanished = ghosts(account)
    sold_out = account.prices.filter(country__iso="GB").exclude(stock=0).count()
    live_sandbox.config.update({"out_of_stock": {"smspool": ["GB"]}})
    try:
        writes, third = catalog_writes(account)
    finally:
        live_sandbox.config.update({"out_of_stock": {"smspool": []}})
    assert (third.inserted, third.updated, third.deleted) == (0, sold_out, vanished)
    assert set(writes) == {"UPDATE", "DELETE"}
    assert not account.catalog_services.filter(upstream_id="999999").exists()
    assert not account.catalog_countries.filter(upstream_id="999999").exists()
    assert account.prices.count() == first.prices
    assert not account.prices.filter(country__iso="GB").exclude(stock=0).exists()


def test_the_live_catalogue_is_a_real_providers_size(live_sandbox):
    url = live_sandbox.url("smspool")
    pricing = requests.post(f"{url}/request/pricing", data={"key": "sbx_size"}, timeout=60)
    services = requests.post(f"{url}/service/retrieve_all", timeout=30).json()
    pools = requests.post(f"{url}/pool/retrieve_all", timeout=30).json()
    assert 140_000 < len(pricing.json()) < 160_000
    assert 16_000_000 < len(pricing.content) < 24_000_000
    assert len(services) >= 1390 and len(pools) >= 5
    names = {s["name"] for s in services}
    assert {"WhatsApp", "Whatsapp Business", "Google / Gmail / Youtube", "1688.com"} <= names
