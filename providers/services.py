"""Provider account changes, connection checks and the catalog sync."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.dispatch import Signal
from django.utils import timezone

import audit
from providers import crypto
from providers.canonical import COUNTRIES, SERVICES, country_iso_for, service_slug_for
from providers.clients.base import ProviderClient
from providers.crypto import DecryptionError
from providers.errors import AuthFailed, ProviderError
from providers.models import (
    CatalogCountry,
    CatalogPool,
    CatalogPrice,
    CatalogService,
    Country,
    ProviderAccount,
    Service,
)
from providers.types import Catalog, Quote

CATALOG_MAX_WAIT = 70.0  # seconds a catalog sync may wait for the rate budget

# Fields whose changes an audit event may show (never the key itself).
AUDITED_FIELDS = (
    "label",
    "kind",
    "base_url",
    "currency",
    "enabled",
    "rate_limit_requests",
    "rate_limit_period",
)


def provider_account_create(
    *, team, actor, api_key: str, request=None, **fields
) -> ProviderAccount:
    account = ProviderAccount(team=team, **fields)
    account.set_api_key(api_key)
    account.save()
    audit.record(
        team=team,
        actor=actor,
        action="provider.added",
        target=account,
        payload={name: getattr(account, name) for name in AUDITED_FIELDS},
        request=request,
    )
    return account


def provider_account_update(
    *, account: ProviderAccount, actor, api_key: str = "", request=None, **fields
) -> ProviderAccount:
    """Apply `fields` (and a new key when given); audit what changed, never the key.

    A removed account is never enabled again (the portal shows it no more; the admin may
    still correct its fields)."""
    if account.removed_at is not None:
        fields["enabled"] = False
    before = {name: getattr(account, name) for name in AUDITED_FIELDS}
    for name, value in fields.items():
        setattr(account, name, value)
    changes = {
        name: {"before": before[name], "after": getattr(account, name)}
        for name in AUDITED_FIELDS
        if before[name] != getattr(account, name)
    }
    if api_key:
        account.set_api_key(api_key)
        changes["api_key"] = "replaced"
    elif "base_url" in changes:
        # The stored key never goes to a new host: without a new key, it is cleared.
        account.api_key_encrypted, account.api_key_last4 = crypto.encrypt(""), ""
        account.enabled = False
        changes["api_key"] = "cleared"
    if "base_url" in changes or "kind" in changes:
        account.wire_facts = {}  # what the old host spoke says nothing of the new one
    account.save()
    if changes:
        audit.record(
            team=account.team,
            actor=actor,
            action="provider.updated",
            target=account,
            payload=changes,
            request=request,
        )
    return account


def provider_account_set_enabled(*, account: ProviderAccount, enabled: bool, actor, request=None):
    return provider_account_update(account=account, actor=actor, request=request, enabled=enabled)


# Orders whose upstream number is still open, or whose purchase is being checked
# (orders.models ACTIVE_STATES and PENDING_STATES; providers sits below orders): once
# the account is removed, nothing would follow them, book their refunds or close them.
OPEN_ORDER_STATES = ("waiting", "received", "resend_requested", "placing", "unconfirmed")


class RemovalRefused(Exception):
    """A provider account that cannot be removed now; the message is for people."""


@dataclass(frozen=True)
class RemovalImpact:
    """What removing an account leaves behind: numbers still open there (removal waits
    for them) and rentals still running (no longer followed once removed)."""

    open_orders: int
    active_rentals: int
    orders: int
    charged: list  # [(currency, total charged)] over the account's ledger


def provider_account_removal_impact(account: ProviderAccount) -> RemovalImpact:
    from django.db.models import Sum

    totals = (
        account.ledger.filter(amount__gt=0)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return RemovalImpact(
        open_orders=account.orders.filter(state__in=OPEN_ORDER_STATES).count(),
        active_rentals=account.rentals.filter(state="active").count(),
        orders=account.orders.count(),
        charged=[(row["currency"], row["total"]) for row in totals],
    )


def provider_account_remove(*, account: ProviderAccount, actor, request=None) -> ProviderAccount:
    """Remove the account for good: it leaves ordering, offers, dashboards and the sync
    engine; its orders, rentals, ledger and audit stay. Refused while numbers still wait
    for a code there (they would never get one, nor their refunds)."""
    with transaction.atomic():
        account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
        if account.removed_at is not None:
            raise RemovalRefused(f"{account.label} was removed already.")
        impact = provider_account_removal_impact(account)
        if impact.open_orders:
            raise RemovalRefused(
                f"{impact.open_orders} number{'s are' if impact.open_orders != 1 else ' is'} "
                f"still open at {account.label}. Mark them done, cancel them or let them "
                "expire (the board shows them), then remove the account."
            )
        now = timezone.now()
        label = account.label
        # The label is free again for a new account; history shows the removed one's.
        suffix = f" (removed {now:%Y-%m-%d %H:%M:%S})"
        account.label = label[: 100 - len(suffix)] + suffix
        account.removed_at, account.removed_by = now, actor
        account.enabled = False
        account.sync_due_at = None
        account.save(
            update_fields=["label", "removed_at", "removed_by", "enabled", "sync_due_at", "updated"]
        )
        audit.record(
            team=account.team,
            actor=actor,
            action="provider.removed",
            target=account,
            payload={
                "label": label,
                "kind": account.kind,
                "active_rentals": impact.active_rentals,
                "orders": impact.orders,
            },
            request=request,
        )
    return account


@dataclass
class CheckReport:
    """What a connection check found; `error` is set when it failed."""

    balance: Decimal | None = None
    currency: str = ""
    countries: int = 0
    services: int = 0
    pools: int = 0
    sample: Quote | None = None
    error: ProviderError | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error is not None:
            return f"{self.error.category}: {self.error.message}"
        text = (
            f"Connected. Balance {self.balance} {self.currency}; {self.countries} countries, "
            f"{self.services} services"
        )
        if self.pools:
            text += f", {self.pools} pools"
        if self.sample is not None:
            text += (
                f"; sample quote {self.sample.price} {self.sample.currency} "
                f"(service {self.sample.service_id}, country {self.sample.country_id})"
            )
        return text + "."

    def as_dict(self) -> dict:
        data = {
            "ok": self.ok,
            "balance": str(self.balance) if self.balance is not None else None,
            "currency": self.currency,
            "countries": self.countries,
            "services": self.services,
            "pools": self.pools,
        }
        if self.sample is not None:
            data["sample_quote"] = {
                "service": self.sample.service_id,
                "country": self.sample.country_id,
                "price": str(self.sample.price),
                "currency": self.sample.currency,
                "stock": self.sample.stock,
                "pool": self.sample.pool,
            }
        if self.error is not None:
            data["error"] = {"category": self.error.category, "message": self.error.message}
        return data


def check_client(client: ProviderClient, *, sample_quote: bool = True) -> CheckReport:
    """Read balance and catalog size (and one quote); never raises ProviderError."""
    report = CheckReport()
    try:
        balance = client.get_balance()
        report.balance, report.currency = balance.amount, balance.currency
        countries = client.list_countries()
        services = client.list_services()
        report.countries, report.services = len(countries), len(services)
        report.pools = len(client.list_pools())
        if sample_quote and countries and services:
            report.sample = _sample_quote(client, services, countries)
    except ProviderError as exc:
        report.error = exc
    return report


def _sample_quote(client: ProviderClient, services, countries) -> Quote | None:
    """One quote for a popular pair, to show prices are readable. Never raises."""
    service = next(
        (
            s
            for s in services
            if service_slug_for(name=s.name, code=s.code) in ("whatsapp", "telegram", "google")
        ),
        services[0],
    )
    try:
        quotes = client.get_quotes(service_id=service.id)
    except ProviderError:
        return None
    return min(quotes, key=lambda q: q.price) if quotes else None


def provider_account_test(*, account: ProviderAccount, actor, request=None) -> CheckReport:
    """Check the account's credentials and catalog; record health and audit it."""
    try:
        client = account.client()
    except DecryptionError as exc:  # a key from a lost FIELD_ENCRYPTION_KEY
        report = CheckReport(
            error=AuthFailed(f"The stored key cannot be used: {type(exc).__name__}.")
        )
    else:
        report = check_client(client)
        if client.transport.sandbox_seen and not account.is_sandbox:
            ProviderAccount.objects.filter(pk=account.pk).update(is_sandbox=True)
            account.is_sandbox = True
    if report.ok:
        account.record_ok(balance=report.balance, currency=report.currency)
        _read_exchange_rate(account)
    else:
        account.record_error(report.error)
    audit.record(
        team=account.team,
        actor=actor,
        action="provider.tested",
        target=account,
        payload={"ok": report.ok, "result": report.summary()},
        request=request,
    )
    return report


def provider_account_refresh_balance(*, account: ProviderAccount) -> Decimal | None:
    """Read the balance upstream and cache it on the account; None on failure."""
    try:
        balance = account.client().get_balance()
    except ProviderError as exc:
        account.record_error(exc)
        return None
    account.record_ok(balance=balance.amount, currency=balance.currency)
    return balance.amount


# --- catalog ------------------------------------------------------------------------


def ensure_canonical() -> None:
    """Create the canonical countries and services that are missing (never overwrites)."""
    have = set(Country.objects.values_list("iso", flat=True))
    Country.objects.bulk_create(
        [
            Country(iso=iso, name=name, dial_code=dial, aliases=", ".join(aliases))
            for iso, name, dial, aliases in COUNTRIES
            if iso not in have
        ],
        ignore_conflicts=True,
    )
    have = set(Service.objects.values_list("slug", flat=True))
    Service.objects.bulk_create(
        [
            Service(slug=slug, name=name, aliases=", ".join(aliases))
            for slug, name, aliases in SERVICES
            if slug not in have
        ],
        ignore_conflicts=True,
    )


@dataclass
class SyncResult:
    """What one catalog sync stored, and what it wrote to do so."""

    countries: int = 0
    services: int = 0
    pools: int = 0
    prices: int = 0
    unmapped_countries: int = 0
    unmapped_services: int = 0
    rental_offers: int = 0
    # Rows written (all catalog tables) and rows found as they were stored.
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    transactions: int = 0
    longest_transaction: float = 0.0  # seconds: the longest the write lock was held


# Sent after an account's catalogue was stored, with `account`; each receiver
# stores its part (rentals: the rental offers) and returns how many rows.
catalog_synced = Signal()


def catalog_sync(*, account: ProviderAccount) -> SyncResult:
    """Fetch the account's catalog upstream and store it with canonical mappings.

    Raises ProviderError when the provider cannot be read. Nothing is
    deleted then, and nothing is written when the failure comes before the
    quotes (a client that streams its quotes may fail half way through them:
    the rows written so far are valid, and the next sync completes them).
    """
    ensure_canonical()
    try:
        # A catalog spans many requests (NumPool: one per service at 60/min):
        # wait for the budget instead of failing half way.
        catalog = account.client(max_wait=CATALOG_MAX_WAIT).fetch_catalog()
        result = store_catalog(account, catalog)
    except ProviderError as exc:
        account.record_error(exc)
        raise
    del catalog  # 150,000 quotes at a live provider: gone before the rental offers
    # Other parts of the catalogue (rental offers) are stored by their own apps.
    answers = catalog_synced.send(sender=ProviderAccount, account=account)
    result.rental_offers = sum(count for _, count in answers if isinstance(count, int))
    account.record_ok()
    _read_exchange_rate(account)
    return result


def _read_exchange_rate(account: ProviderAccount) -> None:
    """Store the rate the provider converts with, where it publishes one (SMSCode)."""
    if hasattr(account.client_class, "get_exchange_rate"):
        from providers.balances import exchange_rate_refresh

        exchange_rate_refresh(account=account)


# A live provider's catalog is 150,000 prices. It is stored in short
# transactions of at most this many rows, so the write lock (all of SQLite)
# is never held long and a poller recording a code waits milliseconds, not
# the whole sync. Rows that did not change are not written at all.
WRITE_CHUNK = 1000
# Countries, services and pools go through the ORM, which spends about 0.1 ms
# a row compiling SQL: smaller transactions for those.
ORM_CHUNK = 250


class ChunkedWriter:
    """Writes rows in short transactions of `chunk` rows and keeps the figures."""

    def __init__(self, result: SyncResult, chunk: int = WRITE_CHUNK):
        self.result = result
        self.chunk = chunk

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One short transaction, timed: how long the write lock is held."""
        started = time.perf_counter()
        with transaction.atomic():
            yield
        elapsed = time.perf_counter() - started
        self.result.transactions += 1
        self.result.longest_transaction = max(self.result.longest_transaction, elapsed)

    def create(self, model, rows: list) -> None:
        """Insert `rows` (already stored ones are skipped: a concurrent sync may win)."""
        for batch in _batches(rows, min(self.chunk, ORM_CHUNK)):
            with self.transaction():
                model.objects.bulk_create(batch, ignore_conflicts=True)
            self.result.inserted += len(batch)
        rows.clear()

    def update(self, model, rows: list, fields: list[str]) -> None:
        """Write `fields` of `rows` (instances carrying their pk)."""
        for batch in _batches(rows, min(self.chunk, ORM_CHUNK)):
            with self.transaction():
                model.objects.bulk_update(batch, fields)
            self.result.updated += len(batch)
        rows.clear()

    def insert_rows(self, model, columns: list[str], rows: list[tuple]) -> None:
        """Insert plain value tuples (in `columns` order); already stored ones are skipped."""
        sql = _insert_sql(model, columns)
        for batch in _batches(rows, self.chunk):
            with self.transaction(), connection.cursor() as cursor:
                cursor.executemany(sql, batch)
            self.result.inserted += len(batch)
        rows.clear()

    def update_rows(self, model, columns: list[str], rows: list[tuple]) -> None:
        """Set `columns` by primary key: each tuple is the column values, then the pk."""
        sql = _update_sql(model, columns)
        for batch in _batches(rows, self.chunk):
            with self.transaction(), connection.cursor() as cursor:
                cursor.executemany(sql, batch)
            self.result.updated += len(batch)
        rows.clear()

    def delete(self, model, pks: list[int]) -> None:
        """Delete the rows with these primary keys."""
        for batch in _batches(pks, self.chunk):
            with self.transaction():
                model.objects.filter(pk__in=batch).delete()
            self.result.deleted += len(batch)


# Prices are written with plain parameterised SQL, not bulk_create/bulk_update:
# the ORM spends about 95% of a 1,000-row insert compiling it (130 ms against
# 5 ms executing it), and that time is spent holding the write lock.
def _insert_sql(model, columns: list[str]) -> str:
    ops = connection.ops
    names = ", ".join(ops.quote_name(model._meta.get_field(c).column) for c in columns)
    values = ", ".join(["%s"] * len(columns))
    statement = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    suffix = ops.on_conflict_suffix_sql([], OnConflict.IGNORE, None, None)
    return (
        f"{statement} {ops.quote_name(model._meta.db_table)} ({names}) VALUES ({values}) {suffix}"
    )


def _update_sql(model, columns: list[str]) -> str:
    ops = connection.ops
    assignments = ", ".join(
        f"{ops.quote_name(model._meta.get_field(c).column)} = %s" for c in columns
    )
    table, pk = ops.quote_name(model._meta.db_table), ops.quote_name(model._meta.pk.column)
    # Names come from the model, values are parameters.
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608


def _batches(rows: list, size: int) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def store_catalog(account: ProviderAccount, catalog: Catalog) -> SyncResult:
    """Store `catalog` for `account`: write what changed, delete what vanished.

    Work goes in short transactions (see WRITE_CHUNK), so a reader may see a
    catalog half old and half new while a sync runs; every row is valid on
    its own and the next sync completes an interrupted one. `catalog.quotes`
    may be any iterable: quotes are compared one by one against a compact
    index of the stored prices, never all held twice. Rows staff corrected
    (`mapping_locked`) are kept when they vanish upstream; their prices go.
    A row's `seen_at` is when it was first stored or last changed: every row
    left after a sync is in the catalog of `account.catalog_synced_at`.
    A catalog without prices (`catalog.prices_known` False) stores no price rows
    and sets `account.catalog_prices_known` False: every stored service is then
    offered in every stored country, at a price known after purchase.
    """
    now = timezone.now()
    result = SyncResult(pools=len(catalog.pools))
    writer = ChunkedWriter(result)
    countries = _store_countries(account, catalog.countries, writer, now)
    services = _store_services(account, catalog.services, writer, now)
    _store_pools(account, catalog.pools, writer)
    _store_prices(account, catalog.quotes, countries, services, writer, now)
    _delete_vanished(CatalogCountry, account, set(countries.pks.values()), writer)
    _delete_vanished(CatalogService, account, set(services.pks.values()), writer)
    result.countries, result.unmapped_countries = countries.counts()
    result.services, result.unmapped_services = services.counts()
    _record_mapping(account, result, now, prices_known=catalog.prices_known)
    return result


def _record_mapping(
    account: ProviderAccount, result: SyncResult, now, *, prices_known: bool
) -> None:
    """Remember when the catalog was synced, whether it had prices and how much of it
    stayed unmapped."""
    fields = {
        "catalog_synced_at": now,
        "catalog_prices_known": prices_known,
        "catalog_country_count": result.countries,
        "catalog_countries_unmapped": result.unmapped_countries,
        "catalog_service_count": result.services,
        "catalog_services_unmapped": result.unmapped_services,
    }
    ProviderAccount.objects.filter(pk=account.pk).update(**fields)
    for name, value in fields.items():
        setattr(account, name, value)


@dataclass
class StoredEntries:
    """This sync's countries (or services): upstream id -> row pk, and the canonical pk."""

    pks: dict[str, int] = field(default_factory=dict)
    mapped: dict[str, int | None] = field(default_factory=dict)

    def counts(self) -> tuple[int, int]:
        """(entries, entries without a canonical match)."""
        return len(self.mapped), sum(1 for pk in self.mapped.values() if pk is None)


def _store_entries(model, account, wanted: dict[str, dict], mapping: str, writer, now):
    """Insert or update `model` rows to match `wanted` (upstream id -> field values).

    A row staff locked keeps its `mapping` field. Returns StoredEntries for
    the upstream ids in `wanted`.
    """
    fields = [mapping, *(name for name in next(iter(wanted.values()), {}) if name != mapping)]
    stored = {
        row[0]: row
        for row in model.objects.filter(account=account).values_list(
            "upstream_id", "pk", "mapping_locked", *fields
        )
    }
    new, changed, entries = [], [], StoredEntries()
    for upstream_id, values in wanted.items():
        row = stored.get(upstream_id)
        if row is not None and row[2]:  # staff corrected the mapping: keep it
            values[mapping] = row[3]
        entries.mapped[upstream_id] = values[mapping]
        if row is None:
            new.append(model(account=account, upstream_id=upstream_id, seen_at=now, **values))
        elif row[3:] != tuple(values[name] for name in fields):
            changed.append(model(pk=row[1], seen_at=now, **values))
        else:
            writer.result.unchanged += 1
    writer.create(model, new)
    writer.update(model, changed, [*fields, "seen_at"])
    rows = model.objects.filter(account=account).values_list("upstream_id", "pk")
    entries.pks = {upstream_id: pk for upstream_id, pk in rows if upstream_id in wanted}
    return entries


def _store_countries(account, countries, writer, now) -> StoredEntries:
    canonical = _canonical_countries(countries, writer)
    wanted = {}
    for entry in countries:  # a repeated id: the last one counts
        iso = country_iso_for(iso=entry.iso, name=entry.name)
        wanted[entry.id] = {
            "name": entry.name.strip()[:120] or entry.id,
            "iso": (entry.iso or "")[:2].upper(),
            "country_id": canonical.get(iso),
        }
    return _store_entries(CatalogCountry, account, wanted, "country_id", writer, now)


def _canonical_countries(countries, writer) -> dict[str, int]:
    """ISO -> canonical Country pk, creating the countries an upstream names first."""
    canonical = dict(Country.objects.values_list("iso", "pk"))
    missing = {}
    for entry in countries:
        iso = country_iso_for(iso=entry.iso, name=entry.name)
        if iso and iso not in canonical:
            missing.setdefault(iso, Country(iso=iso, name=entry.name.strip()[:100] or iso))
    if missing:
        with writer.transaction():
            Country.objects.bulk_create(missing.values(), ignore_conflicts=True)
        canonical = dict(Country.objects.values_list("iso", "pk"))
    return canonical


def _store_services(account, services, writer, now) -> StoredEntries:
    canonical = dict(Service.objects.values_list("slug", "pk"))
    # Short codes mean different services at different providers (NumPool's
    # "tn" is Snapchat, SMS-Activate's is LinkedIn): trust them only where the
    # code is the SMS-Activate family's or a full slug (SMSCode's "whatsapp").
    trust_codes = account.kind in ("smsactivate", "smscode")
    wanted = {}
    for entry in services:
        slug = service_slug_for(name=entry.name, code=entry.code if trust_codes else "")
        wanted[entry.id] = {
            "name": entry.name.strip()[:120] or entry.id,
            "code": (entry.code or "")[:60],
            "service_id": canonical.get(slug) if slug else None,
        }
    return _store_entries(CatalogService, account, wanted, "service_id", writer, now)


def _store_pools(account, pools, writer) -> None:
    wanted = {pool.id: pool.name[:120] for pool in pools}
    stored = {
        upstream_id: (pk, name)
        for upstream_id, pk, name in CatalogPool.objects.filter(account=account).values_list(
            "upstream_id", "pk", "name"
        )
    }
    new, changed = [], []
    for upstream_id, name in wanted.items():
        pk, stored_name = stored.get(upstream_id, (None, None))
        if pk is None:
            new.append(CatalogPool(account=account, upstream_id=upstream_id, name=name))
        elif stored_name != name:
            changed.append(CatalogPool(pk=pk, name=name))
        else:
            writer.result.unchanged += 1
    writer.create(CatalogPool, new)
    writer.update(CatalogPool, changed, ["name"])
    writer.delete(CatalogPool, [pk for i, (pk, _n) in stored.items() if i not in wanted])


def _delete_vanished(model, account, keep: set[int], writer) -> None:
    """Delete the account's `model` rows this sync did not see, except staff-locked ones."""
    rows = model.objects.filter(account=account, mapping_locked=False).values_list("pk", flat=True)
    writer.delete(model, [pk for pk in rows if pk not in keep])


# --- prices: a stream of quotes against a compact index of what is stored -------------
FOUR_PLACES = Decimal("0.0001")  # CatalogPrice.price's decimal places
TWO_PLACES = Decimal("0.01")  # CatalogPrice.success_rate's


def _number(value) -> str:
    # The database hands a price back as a float (SQLite) or a Decimal
    # (PostgreSQL); converting each stored row to a quantized Decimal was most
    # of a re-sync. Floats tell apart any two prices of up to 15 significant
    # digits, and prices are written already quantized, so equal means equal.
    return "" if value is None else repr(float(value))


def _price_state(price, currency: str, stock, success_rate) -> str:
    """A price row's comparable form (price quantized as stored): equal, nothing to write."""
    stock = "" if stock is None else stock
    return f"{_number(price)}|{currency}|{stock}|{_number(success_rate)}"


def _price_key(service_pk: int, country_pk: int, pool: str, product_id: str, operator: str) -> str:
    return f"{service_pk}|{country_pk}|{pool}|{product_id}|{operator}"


INDEX_COLUMNS = [
    "id", "service_id", "country_id", "pool", "product_id", "operator",
    "price", "currency", "stock", "success_rate",
]  # fmt: skip


def stored_price_index(account: ProviderAccount) -> dict[str, str | None]:
    """The account's stored prices as {key: "pk|state"}: two short strings a row.

    150,000 rows take about 30 MB this way, against several times that as
    model instances, and are read in chunks of plain values (no ORM
    conversion per row) rather than all at once.
    """
    ops, meta = connection.ops, CatalogPrice._meta
    names = ", ".join(ops.quote_name(meta.get_field(c).column) for c in INDEX_COLUMNS)
    table, account_column = ops.quote_name(meta.db_table), ops.quote_name("account_id")
    index: dict[str, str | None] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {table} WHERE {account_column} = %s", [account.pk])  # noqa: S608
        while rows := cursor.fetchmany(5000):
            for pk, s, c, pool, product, op, price, currency, stock, rate in rows:
                state = _price_state(price, currency, stock, rate)
                index[_price_key(s, c, pool, product, op)] = f"{pk}|{state}"
    return index


INSERT_COLUMNS = [
    "account_id", "service_id", "country_id", "pool", "product_id", "operator",
    "price", "currency", "stock", "success_rate", "updated",
]  # fmt: skip
UPDATE_COLUMNS = ["price", "currency", "stock", "success_rate", "updated"]


class PriceDiff:
    """Compares upstream quotes, one at a time, with the stored prices.

    Each quote is new (inserted), changed (updated) or as stored (left
    alone); writes go out in chunks as they fill up. Stored prices no quote
    named have vanished: `finish()` deletes them. A quote repeating a key
    already seen in this sync is ignored (the first one counts).
    """

    def __init__(self, account, writer: ChunkedWriter, now, index: dict[str, str | None]):
        self.account_id = account.pk
        self.writer = writer
        self.updated = connection.ops.adapt_datetimefield_value(now)
        self.index = index  # key -> "pk|state" until seen, then None
        self.new: list[tuple] = []
        self.changed: list[tuple] = []
        self.count = 0

    def add(self, quote: Quote, service_pk: int, country_pk: int) -> None:
        """Compare one quote with what is stored and queue a write if it differs."""
        pool, product_id, operator = quote.pool[:64], quote.product_id[:64], quote.operator[:64]
        key = _price_key(service_pk, country_pk, pool, product_id, operator)
        stored = self.index.get(key, "")
        if stored is None:
            return  # a repeat within this catalog
        self.index[key] = None
        self.count += 1
        rate = None if quote.success_rate is None else quote.success_rate.quantize(TWO_PLACES)
        values = (quote.price.quantize(FOUR_PLACES), quote.currency, quote.stock, rate)
        pk, _, stored_state = stored.partition("|")
        if stored and stored_state == _price_state(*values):
            self.writer.result.unchanged += 1
            return
        if pk:
            self.changed.append((*values, self.updated, int(pk)))
        else:
            ids = (self.account_id, service_pk, country_pk, pool, product_id, operator)
            self.new.append((*ids, *values, self.updated))
        self._flush(full_only=True)

    def _flush(self, full_only: bool = False) -> None:
        chunk = self.writer.chunk
        if len(self.new) >= chunk or (self.new and not full_only):
            self.writer.insert_rows(CatalogPrice, INSERT_COLUMNS, self.new)
        if len(self.changed) >= chunk or (self.changed and not full_only):
            self.writer.update_rows(CatalogPrice, UPDATE_COLUMNS, self.changed)

    def finish(self) -> None:
        """Write what is queued and delete the prices no quote named."""
        self._flush()
        vanished = [int(v.partition("|")[0]) for v in self.index.values() if v is not None]
        self.writer.delete(CatalogPrice, vanished)


def _store_prices(account, quotes, countries: StoredEntries, services: StoredEntries, writer, now):
    diff = PriceDiff(account, writer, now, stored_price_index(account))
    for quote in quotes:
        service_pk = services.pks.get(quote.service_id)
        if service_pk is None:
            continue  # a price for a service the list does not name
        country_pk = countries.pks.get(quote.country_id)
        if country_pk is None:  # a priced country the list did not name
            country_pk = _unlisted_country(account, quote.country_id, countries, writer, now)
        diff.add(quote, service_pk, country_pk)
    diff.finish()
    writer.result.prices = diff.count


def _unlisted_country(account, upstream_id: str, countries: StoredEntries, writer, now) -> int:
    """The row for a country only quotes name (kept under its id, unmapped)."""
    with writer.transaction():
        row, created = CatalogCountry.objects.get_or_create(
            account=account,
            upstream_id=upstream_id,
            defaults={"name": upstream_id, "seen_at": now},
        )
    writer.result.inserted += int(created)
    countries.pks[upstream_id] = row.pk
    countries.mapped[upstream_id] = row.country_id
    return row.pk
