"""The catalog store: short transactions, only changed rows written, vanished rows gone."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Team
from providers import services
from providers.models import CatalogCountry, CatalogPool, CatalogPrice, CatalogService
from providers.models import Service as CanonicalService
from providers.services import ensure_canonical, store_catalog
from providers.types import Catalog, Country, Pool, Quote, Service

# executemany() is logged as "N times: <sql>".
WRITE = re.compile(r'^\s*(?:\d+ times: )?(INSERT|UPDATE|DELETE)\b.*?"providers_catalog', re.S)


@pytest.fixture
def account(db):
    from providers.models import ProviderAccount

    ensure_canonical()
    acct = ProviderAccount(
        team=Team.objects.create(name="T"),
        kind="smspool",
        label="pool",
        base_url="https://example.com",
    )
    acct.set_api_key("key-xxxx")
    acct.save()
    return acct


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(services, "WRITE_CHUNK", 2)
    monkeypatch.setattr(services, "ORM_CHUNK", 2)
    monkeypatch.setattr(services.ChunkedWriter.__init__, "__defaults__", (2,))


def quote(service="1", country="1", price="0.50", pool="7", stock=10, **extra) -> Quote:
    return Quote(
        service_id=service,
        country_id=country,
        price=Decimal(price),
        currency="USD",
        stock=stock,
        pool=pool,
        **extra,
    )


def catalog(quotes=None, services_=None, countries=None) -> Catalog:
    return Catalog(
        countries=countries or [Country("1", "United States", iso="US"), Country("2", "Atlantis")],
        services=services_
        or [Service("1", "WhatsApp"), Service("2", "Telegram"), Service("3", "Suds Car Wash")],
        pools=[Pool("7", "Foxtrot"), Pool("2", "Bravo")],
        quotes=[
            quote("1", "1", "0.50", "7"),
            quote("1", "1", "0.45", "2"),
            quote("2", "1", "0.40", "7", success_rate=Decimal("95")),
            quote("3", "2", "0.10", "2", stock=None),
        ]
        if quotes is None
        else quotes,
    )


def catalog_writes(fn) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])]


def test_a_first_sync_stores_everything_in_chunks(account, small_chunks):
    result = store_catalog(account, catalog())
    assert (result.countries, result.services, result.pools, result.prices) == (2, 3, 2, 4)
    assert account.prices.count() == 4
    # 2 countries, 3 services, 2 pools, 4 prices in chunks of 2: 1 + 2 + 1 + 2.
    assert result.transactions == 6
    assert result.inserted == 11 and result.updated == result.deleted == 0
    row = account.prices.get(service__upstream_id="2")
    assert row.price == Decimal("0.4000") and row.success_rate == Decimal("95.00")
    assert account.prices.get(service__upstream_id="3").stock is None


def test_an_unchanged_catalog_writes_nothing(account):
    store_catalog(account, catalog())
    before = {p.pk: p.updated for p in CatalogPrice.objects.all()}
    seen = {s.pk: s.seen_at for s in CatalogService.objects.all()}
    writes = catalog_writes(lambda: store_catalog(account, catalog()))
    assert writes == []
    assert {p.pk: p.updated for p in CatalogPrice.objects.all()} == before
    assert {s.pk: s.seen_at for s in CatalogService.objects.all()} == seen


def test_a_resync_reports_what_it_left_alone(account):
    store_catalog(account, catalog())
    result = store_catalog(account, catalog())
    assert (result.inserted, result.updated, result.deleted, result.transactions) == (0, 0, 0, 0)
    assert result.unchanged == 2 + 3 + 2 + 4


def test_only_changed_prices_are_written_and_keep_their_rows(account):
    store_catalog(account, catalog())
    pks = dict(account.prices.values_list("pool", "pk").filter(service__upstream_id="1"))
    changed = catalog(
        quotes=[
            quote("1", "1", "0.55", "7"),  # price
            quote("1", "1", "0.45", "2", stock=3),  # stock
            quote("2", "1", "0.40", "7", success_rate=Decimal("95.00")),  # same, spelled longer
            quote("3", "2", "0.1000", "2", stock=None),  # same
        ]
    )
    writes = catalog_writes(lambda: store_catalog(account, changed))
    assert writes == [writes[0]] and writes[0].startswith("2 times: UPDATE")
    rows = {p.pool: p for p in account.prices.filter(service__upstream_id="1")}
    assert rows["7"].price == Decimal("0.55") and rows["2"].stock == 3
    assert {pool: row.pk for pool, row in rows.items()} == pks


def test_vanished_prices_services_and_countries_are_deleted(account, small_chunks):
    store_catalog(account, catalog())
    smaller = catalog(
        quotes=[quote("1", "1", "0.50", "7")],
        services_=[Service("1", "WhatsApp")],
        countries=[Country("1", "United States", iso="US")],
    )
    result = store_catalog(account, smaller)
    assert account.prices.count() == 1
    assert list(account.catalog_services.values_list("upstream_id", flat=True)) == ["1"]
    assert list(account.catalog_countries.values_list("upstream_id", flat=True)) == ["1"]
    assert result.deleted == 3 + 2 + 1  # prices, services, countries
    assert result.inserted == 0


def test_a_vanished_pool_is_deleted_and_a_renamed_one_updated(account):
    store_catalog(account, catalog())
    store_catalog(account, Catalog(countries=[], services=[], pools=[Pool("7", "Foxtrot II")]))
    assert list(CatalogPool.objects.values_list("upstream_id", "name")) == [("7", "Foxtrot II")]


def test_a_staff_corrected_service_survives_its_vanishing_but_its_prices_go(account):
    store_catalog(account, catalog())
    row = account.catalog_services.get(upstream_id="3")
    row.service = CanonicalService.objects.get(slug="other")
    row.mapping_locked = True
    row.save()
    store_catalog(account, catalog(quotes=[], services_=[Service("1", "WhatsApp")]))
    assert account.catalog_services.get(upstream_id="3").service.slug == "other"
    assert not account.prices.filter(service=row).exists()


def test_a_country_only_quotes_name_is_kept_under_its_id(account):
    quoted = catalog(quotes=[*catalog().quotes, quote("1", "77", "0.20", "7")])
    store_catalog(account, quoted)
    row = account.catalog_countries.get(upstream_id="77")
    assert row.name == "77" and row.country is None
    result = store_catalog(account, quoted)
    assert result.deleted == 0 and result.inserted == 0
    assert account.catalog_countries.filter(upstream_id="77").exists()


def test_quotes_may_be_a_stream_and_a_repeated_key_counts_once(account):
    stream = (q for q in [*catalog().quotes, quote("1", "1", "9.99", "7")])
    result = store_catalog(account, catalog(quotes=stream))
    assert result.prices == 4
    assert account.prices.get(service__upstream_id="1", pool="7").price == Decimal("0.50")


def test_a_quote_for_an_unlisted_service_is_skipped(account):
    result = store_catalog(account, catalog(quotes=[quote("99", "1")]))
    assert result.prices == 0 and account.prices.count() == 0


def test_the_unmapped_share_is_stored_on_the_account(account):
    store_catalog(account, catalog())
    account.refresh_from_db()
    assert (account.catalog_service_count, account.catalog_services_unmapped) == (3, 1)
    assert (account.catalog_country_count, account.catalog_countries_unmapped) == (2, 1)
    assert account.unmapped_services_share == pytest.approx(1 / 3)
    assert account.unmapped_countries_share == pytest.approx(1 / 2)


def test_no_transaction_holds_more_than_a_chunk(account, small_chunks, monkeypatch):
    sizes = []
    original = services.ChunkedWriter.insert_rows

    def insert_rows(self, model, columns, rows):
        sizes.append(len(rows))
        return original(self, model, columns, rows)

    monkeypatch.setattr(services.ChunkedWriter, "insert_rows", insert_rows)
    result = store_catalog(account, catalog())
    assert sizes and max(sizes) <= 2
    assert result.transactions == 6
    assert result.longest_transaction > 0


def test_the_price_index_is_compact_and_matches_what_quotes_compare_to(account):
    store_catalog(account, catalog())
    index = services.stored_price_index(account)
    assert len(index) == 4
    key, value = next(iter(index.items()))
    assert isinstance(key, str) and isinstance(value, str)
    pk, _, state = value.partition("|")
    row = CatalogPrice.objects.get(pk=int(pk))
    assert state == services._price_state(row.price, row.currency, row.stock, row.success_rate)
    assert state.startswith(repr(float(row.price)))


@pytest.mark.parametrize(
    ("stored", "upstream", "same"),
    [
        (("0.5000", "USD", 10, None), ("0.5", "USD", 10, None), True),
        (("0.5000", "USD", 10, None), ("0.50001", "USD", 10, None), True),  # stored as 0.5000
        (("0.5000", "USD", 10, None), ("0.5001", "USD", 10, None), False),
        (("0.5000", "USD", None, None), ("0.5", "USD", 0, None), False),
        (("0.5", "USD", 1, Decimal("95.00")), ("0.5", "USD", 1, Decimal("95")), True),
        (("0.5", "USD", 1, Decimal("95.00")), ("0.5", "USD", 1, None), False),
        (("500", "IDR", 1, None), ("500", "USD", 1, None), False),
        (("16250000.0000", "IDR", 1, None), ("16250000", "IDR", 1, None), True),
        (("0.0001", "USD", 1, None), ("0.0002", "USD", 1, None), False),
    ],
)
def test_prices_compare_as_the_database_stores_them(account, stored, upstream, same):
    def one(price, currency, stock, rate) -> Catalog:
        row = Quote("1", "1", Decimal(price), currency, stock=stock, pool="7", success_rate=rate)
        return catalog(quotes=[row])

    store_catalog(account, one(*stored))
    result = store_catalog(account, one(*upstream))
    assert (result.updated == 0) is same
    row = account.prices.get()
    assert row.price == Decimal(upstream[0]).quantize(Decimal("0.0001"))
    assert row.stock == upstream[2] and row.currency == upstream[1]


def test_every_cent_survives_the_round_trip_unchanged(account):
    # 0.01 to 20.00: what comes back from the database compares equal to what went in.
    quotes = [
        quote("1", "1", f"{cents / 100:.2f}", pool=str(cents), stock=cents)
        for cents in range(1, 2001)
    ]
    store_catalog(account, catalog(quotes=quotes))
    result = store_catalog(account, catalog(quotes=quotes))
    assert (result.inserted, result.updated, result.deleted) == (0, 0, 0)


def test_country_rows_update_only_what_changed(account):
    store_catalog(account, catalog())
    renamed = catalog(countries=[Country("1", "USA"), Country("2", "Atlantis")])
    writes = catalog_writes(lambda: store_catalog(account, renamed))
    assert len(writes) == 1 and "providers_catalogcountry" in writes[0]
    row = CatalogCountry.objects.get(upstream_id="1")
    assert row.name == "USA" and row.country.iso == "US"


def test_a_quote_stream_that_fails_half_way_deletes_nothing(account, small_chunks):
    from providers.errors import UpstreamUnavailable

    store_catalog(account, catalog())
    synced = type(account).objects.get(pk=account.pk).catalog_synced_at

    def broken():
        yield quote("1", "1", "0.99", "7")
        raise UpstreamUnavailable("The answer stopped half way.")

    with pytest.raises(UpstreamUnavailable):
        store_catalog(account, catalog(quotes=broken(), services_=[Service("1", "WhatsApp")]))
    assert account.prices.count() == 4  # nothing vanished on a partial read
    assert account.catalog_services.count() == 3
    assert type(account).objects.get(pk=account.pk).catalog_synced_at == synced
