"""Provider account changes, connection checks and the catalog sync."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

import audit
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
from providers.types import Country as UpstreamCountry

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
    """Apply `fields` (and a new key when given); audit what changed, never the key."""
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
    countries: int = 0
    services: int = 0
    pools: int = 0
    prices: int = 0
    unmapped_countries: int = 0
    unmapped_services: int = 0
    rental_offers: int = 0


def catalog_sync(*, account: ProviderAccount) -> SyncResult:
    """Fetch the account's catalog upstream and store it with canonical mappings.

    Raises ProviderError when the provider cannot be read; the stored catalog
    is then left as it was.
    """
    ensure_canonical()
    try:
        # A catalog spans many requests (NumPool: one per service at 60/min):
        # wait for the budget instead of failing half way.
        catalog = account.client(max_wait=CATALOG_MAX_WAIT).fetch_catalog()
    except ProviderError as exc:
        account.record_error(exc)
        raise
    result = store_catalog(account, catalog)
    result.rental_offers = _sync_rental_offers(account)
    account.record_ok()
    return result


def _sync_rental_offers(account: ProviderAccount) -> int:
    """Rental offers are part of the catalog; a failure there keeps the rest."""
    from rentals.services import rental_offers_sync

    try:
        return rental_offers_sync(account=account)
    except ProviderError as exc:
        account.record_error(exc)
        return 0


def _canonical_countries() -> dict[str, Country]:
    return {c.iso: c for c in Country.objects.all()}


def _canonical_services() -> dict[str, Service]:
    return {s.slug: s for s in Service.objects.all()}


@transaction.atomic
def store_catalog(account: ProviderAccount, catalog: Catalog) -> SyncResult:
    now = timezone.now()
    countries = _store_countries(account, catalog, now)
    services = _store_services(account, catalog, now)
    pools = _store_pools(account, catalog)
    prices = _store_prices(account, catalog, countries, services, now)
    ProviderAccount.objects.filter(pk=account.pk).update(catalog_synced_at=now)
    account.catalog_synced_at = now
    return SyncResult(
        countries=len(countries),
        services=len(services),
        pools=pools,
        prices=prices,
        unmapped_countries=sum(1 for c in countries.values() if c.country_id is None),
        unmapped_services=sum(1 for s in services.values() if s.service_id is None),
    )


def _map_country(entry, canonical: dict[str, Country]) -> Country | None:
    iso = country_iso_for(iso=entry.iso, name=entry.name)
    if not iso:
        return None
    if iso not in canonical:
        canonical[iso] = Country.objects.create(iso=iso, name=entry.name.strip() or iso)
    return canonical[iso]


def _map_service(account, entry, canonical: dict[str, Service]) -> Service | None:
    # Short codes mean different services at different providers (NumPool's
    # "tn" is Snapchat, SMS-Activate's is LinkedIn): trust them only where the
    # code is the SMS-Activate family's or a full slug (SMSCode's "whatsapp").
    code = entry.code if account.kind in ("smsactivate", "smscode") else ""
    slug = service_slug_for(name=entry.name, code=code)
    return canonical.get(slug) if slug else None


def _store_countries(account, catalog: Catalog, now) -> dict[str, CatalogCountry]:
    canonical = _canonical_countries()
    existing = {c.upstream_id: c for c in CatalogCountry.objects.filter(account=account)}
    entries = {c.id: c for c in catalog.countries}
    for quote in catalog.quotes:  # a priced country the list did not name
        entries.setdefault(quote.country_id, UpstreamCountry(id=quote.country_id, name=""))
    result: dict[str, CatalogCountry] = {}
    for upstream_id, entry in entries.items():
        row = existing.get(upstream_id) or CatalogCountry(account=account, upstream_id=upstream_id)
        row.name = entry.name.strip()[:120] or upstream_id
        row.iso = (entry.iso or "")[:2].upper()
        row.seen_at = now
        if not row.mapping_locked:
            row.country = _map_country(entry, canonical)
        row.save()
        result[upstream_id] = row
    return result


def _store_services(account, catalog: Catalog, now) -> dict[str, CatalogService]:
    canonical = _canonical_services()
    existing = {s.upstream_id: s for s in CatalogService.objects.filter(account=account)}
    result: dict[str, CatalogService] = {}
    for entry in catalog.services:
        row = existing.get(entry.id) or CatalogService(account=account, upstream_id=entry.id)
        row.name = entry.name.strip()[:120] or entry.id
        row.code = (entry.code or "")[:60]
        row.seen_at = now
        if not row.mapping_locked:
            row.service = _map_service(account, entry, canonical)
        row.save()
        result[entry.id] = row
    return result


def _store_pools(account, catalog: Catalog) -> int:
    CatalogPool.objects.filter(account=account).exclude(
        upstream_id__in=[p.id for p in catalog.pools]
    ).delete()
    for pool in catalog.pools:
        CatalogPool.objects.update_or_create(
            account=account, upstream_id=pool.id, defaults={"name": pool.name[:120]}
        )
    return len(catalog.pools)


def _store_prices(account, catalog: Catalog, countries, services, now) -> int:
    CatalogPrice.objects.filter(account=account).delete()
    rows = {}
    for quote in catalog.quotes:
        country, service = countries.get(quote.country_id), services.get(quote.service_id)
        if country is None or service is None:
            continue
        key = (service.pk, country.pk, quote.pool, quote.product_id, quote.operator)
        rows[key] = CatalogPrice(
            account=account,
            service=service,
            country=country,
            pool=quote.pool[:64],
            product_id=quote.product_id[:64],
            operator=quote.operator[:64],
            price=quote.price,
            currency=quote.currency,
            stock=quote.stock,
            success_rate=quote.success_rate,
            updated=now,
        )
    CatalogPrice.objects.bulk_create(rows.values(), batch_size=500)
    return len(rows)
