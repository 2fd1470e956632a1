"""Offers for the order form: which of the team's accounts sell a service in a
country, at what price, with what stock, and how fresh that price is.

An account whose host publishes no prices (`catalog_prices_known` False, an
SMS-Activate clone without getPrices) offers every service it lists in every
country it lists, with no price: the price is known after purchase. Such
offers come after the priced ones in stock.

A service or country is named by its canonical key ("whatsapp", "US") or, for
an upstream entry that has no canonical mapping, by "u<catalog row id>", so
unmapped entries stay orderable under their own names. A "u<id>" resolves only
to a row of one of the team's own provider accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.utils import timezone

from config.money import money_text
from orders.errors import Alternative
from orders.models import Order
from orders.services import Choice
from providers.errors import ProviderError
from providers.models import (
    CatalogCountry,
    CatalogPool,
    CatalogPrice,
    CatalogService,
    Country,
    Service,
)
from providers.types import Capability
from reports.ledger import usd_value

LIVE_QUOTE_TTL = 30  # seconds a live price is reused before asking the provider again
UNMAPPED_PREFIX = "u"


@dataclass
class Offer:
    """One account's price for the chosen service and country (None: known after purchase)."""

    choice: Choice
    price: Decimal | None
    currency: str
    stock: int | None
    pool: str
    pool_name: str
    success_rate: Decimal | None
    updated: datetime
    live: bool

    @property
    def account(self):
        return self.choice.account

    @property
    def key(self) -> str:
        """The form value that identifies this offer."""
        return f"{self.account.code}|{self.choice.pool}|{self.choice.product_id}"

    @property
    def priced(self) -> bool:
        """False when the provider states the price only in its purchase answer."""
        return self.price is not None

    @property
    def usd_price(self) -> Decimal | None:
        """The price in USD (very high when the currency has no rate); None if unpriced."""
        return None if self.price is None else _usd_or_high(self.price, self.currency)

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0

    @property
    def age_seconds(self) -> int:
        return int((timezone.now() - self.updated).total_seconds())

    @property
    def capabilities(self) -> list[str]:
        return sorted(c.value for c in self.account.client_class.capabilities)


# --- resolving what the member typed ------------------------------------------------------


def resolve_service(key: str, *, team) -> Service | CatalogService | None:
    """The service `key` names for `team`: a canonical slug, or "u<id>" of a catalogue
    row of one of the team's own provider accounts. None for anything else."""
    key = _clean_key(key)
    pk = _catalog_pk(key)
    if pk is not None:
        rows = CatalogService.objects.select_related("account", "service")
        return rows.filter(pk=pk, account__team=team).first()
    return Service.objects.filter(slug=key.lower()).first() if key else None


def resolve_country(key: str, *, team) -> Country | CatalogCountry | None:
    """The country `key` names for `team`: an ISO code, or "u<id>" of a catalogue row
    of one of the team's own provider accounts. None for anything else."""
    key = _clean_key(key)
    pk = _catalog_pk(key)
    if pk is not None:
        rows = CatalogCountry.objects.select_related("account", "country")
        return rows.filter(pk=pk, account__team=team).first()
    return Country.objects.filter(iso=key.upper()).first() if key else None


def _clean_key(key) -> str:
    """`key` stripped; "" when it cannot name anything (too long, or with a NUL byte,
    which PostgreSQL refuses in any query)."""
    key = (key or "").strip()
    return "" if len(key) > 120 or "\x00" in key else key


def _catalog_pk(key: str) -> int | None:
    """The row id of a "u<id>" key, or None when `key` is not one."""
    digits = key[len(UNMAPPED_PREFIX) :] if key.startswith(UNMAPPED_PREFIX) else ""
    # isdigit() alone accepts "²" and other digits int() or the database refuse.
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


def _service_filter(service) -> Q:
    if isinstance(service, CatalogService):
        return Q(service=service)
    return Q(service__service=service)


def _country_filter(country) -> Q:
    if isinstance(country, CatalogCountry):
        return Q(country=country)
    return Q(country__country=country)


# --- the form's pick lists --------------------------------------------------------------------


def service_options(team) -> list[tuple[str, str, str]]:
    """(value, label, group) for every orderable service: favourites, recent, then A–Z."""
    accounts = team.provider_accounts.filter(enabled=True)
    mapped = Service.objects.filter(
        pk__in=CatalogService.objects.filter(account__in=accounts).values("service")
    ).order_by("name")
    unmapped = CatalogService.objects.filter(account__in=accounts, service__isnull=True)
    options = _favourites_first(team, "service", [(s.slug, s.name) for s in mapped])
    options += [
        (f"{UNMAPPED_PREFIX}{s.pk}", f"{s.name} ({s.account.label})", "Other")
        for s in unmapped.select_related("account").order_by("name")
    ]
    return options


def country_options(team) -> list[tuple[str, str, str]]:
    accounts = team.provider_accounts.filter(enabled=True)
    mapped = Country.objects.filter(
        pk__in=CatalogCountry.objects.filter(account__in=accounts).values("country")
    ).order_by("name")
    unmapped = CatalogCountry.objects.filter(account__in=accounts, country__isnull=True)
    options = _favourites_first(team, "country", [(c.iso, c.name) for c in mapped])
    options += [
        (f"{UNMAPPED_PREFIX}{c.pk}", f"{c.name} ({c.account.label})", "Other")
        for c in unmapped.select_related("account").order_by("name")
    ]
    return options


def _favourites_first(team, field: str, everything: list[tuple[str, str]]):
    """Put the team's most-ordered (last 30 days) and most recent choices on top."""
    key_field = "slug" if field == "service" else "iso"
    since = timezone.now() - timedelta(days=30)
    orders = Order.objects.filter(team=team, **{f"{field}__isnull": False})
    favourites = list(
        orders.filter(created__gte=since)
        .values_list(f"{field}__{key_field}", flat=True)
        .annotate(n=Count("id"))
        .order_by("-n")[:5]
    )
    recent = list(
        orders.values_list(f"{field}__{key_field}", flat=True)
        .annotate(last=Max("created"))
        .order_by("-last")[:5]
    )
    labels = dict(everything)
    top = [(k, labels[k], "Favourites") for k in favourites if k in labels]
    top += [(k, labels[k], "Recent") for k in recent if k in labels and k not in favourites]
    taken = {k for k, _, _ in top}
    return top + [(k, name, "All") for k, name in everything if k not in taken]


# --- offers ---------------------------------------------------------------------------


def offers_for(team, service, country, *, live: bool = True) -> list[Offer]:
    """Every enabled account's offers for the pair, cheapest (in USD) first.

    With `live`, each account is asked for its current price (cached for
    LIVE_QUOTE_TTL seconds); when that fails the catalog price is shown with
    its age.
    """
    rows = (
        CatalogPrice.objects.filter(account__team=team, account__enabled=True)
        .filter(_service_filter(service), _country_filter(country))
        .select_related("account", "service", "country")
        .order_by("account__label", "price")
    )
    by_pair: dict[tuple[int, int, int], list[CatalogPrice]] = {}
    for row in rows:
        by_pair.setdefault((row.account_id, row.service_id, row.country_id), []).append(row)
    offers = []
    for prices in by_pair.values():
        live_offers = _live_offers(prices) if live else []
        offers.extend(live_offers or _catalog_offers(prices))
    offers.extend(_unpriced_offers(team, service, country))
    return sort_offers(_dedupe(offers))


def _dedupe(offers: list[Offer]) -> list[Offer]:
    seen, unique = set(), []
    for offer in offers:
        if offer.key not in seen:
            seen.add(offer.key)
            unique.append(offer)
    return unique


def sort_offers(offers: list[Offer], strategy: str = "cheapest") -> list[Offer]:
    """In-stock first; then cheapest (USD) or most reliable (success rate).

    An offer without a price comes after every priced offer in stock (and, for
    "most reliable", after every priced one of the same success rate), so an
    automatic pick takes it only when nothing priced can be bought. Its stock
    is unknown, so it still comes before priced offers known to be out of stock.
    """

    def cheapest(o: Offer):
        return (not o.in_stock, not o.priced, o.usd_price or Decimal(0))

    def reliable(o: Offer):
        rate = o.success_rate if o.success_rate is not None else Decimal("-1")
        return (not o.in_stock, -rate, *cheapest(o)[1:])

    return sorted(offers, key=reliable if strategy == "best_success" else cheapest)


def _choice(row: CatalogPrice, pool: str, product_id: str, price, currency) -> Choice:
    return Choice(
        account=row.account,
        service_upstream_id=row.service.upstream_id,
        country_upstream_id=row.country.upstream_id,
        service_name=row.service.display_name,
        country_name=row.country.display_name,
        service_id=row.service.service_id,
        country_id=row.country.country_id,
        pool=pool,
        product_id=product_id,
        price=price,
        currency=currency,
    )


def _pool_names(account) -> dict[str, str]:
    return dict(CatalogPool.objects.filter(account=account).values_list("upstream_id", "name"))


def _catalog_offers(prices: list[CatalogPrice]) -> list[Offer]:
    pools = _pool_names(prices[0].account)
    return [
        Offer(
            choice=_choice(row, row.pool, row.product_id, row.price, row.currency),
            price=row.price,
            currency=row.currency,
            stock=row.stock,
            pool=row.pool,
            pool_name=pools.get(row.pool, row.pool),
            success_rate=row.success_rate,
            updated=row.updated,
            live=False,
        )
        for row in prices[:5]
    ]


def _live_offers(prices: list[CatalogPrice]) -> list[Offer]:
    row = prices[0]
    account = row.account
    cache_key = f"quote:{account.code}:{row.service.upstream_id}:{row.country.upstream_id}"
    cached = cache.get(cache_key)
    if cached is None:
        try:
            quotes = account.client(max_attempts=1, max_wait=2.0).get_quotes(
                service_id=row.service.upstream_id, country_id=row.country.upstream_id
            )
        except ProviderError:
            return []
        cached = (timezone.now(), quotes)
        cache.set(cache_key, cached, LIVE_QUOTE_TTL)
    fetched_at, quotes = cached
    pools = _pool_names(account)
    # A live price without stock (SMSPool's /request/price) keeps the catalog's.
    known_stock = {(p.pool, p.product_id): p.stock for p in prices}
    offers = [
        Offer(
            choice=_choice(row, q.pool, q.product_id, q.price, q.currency),
            price=q.price,
            currency=q.currency,
            stock=q.stock if q.stock is not None else known_stock.get((q.pool, q.product_id)),
            pool=q.pool,
            pool_name=pools.get(q.pool, q.pool),
            success_rate=q.success_rate,
            updated=fetched_at,
            live=True,
        )
        for q in sorted(quotes, key=lambda q: q.price)[:5]
    ]
    return offers


def _unpriced_offers(team, service, country) -> list[Offer]:
    """One offer, without a price, from each enabled account of `team` that publishes
    no prices and lists both `service` and `country`."""
    accounts = team.provider_accounts.filter(enabled=True, catalog_prices_known=False)
    services = _first_per_account(CatalogService, accounts, service, "service")
    countries = _first_per_account(CatalogCountry, accounts, country, "country")
    return [
        _unpriced_offer(service_row, countries[account_id])
        for account_id, service_row in services.items()
        if account_id in countries
    ]


def _first_per_account(model, accounts, entry, canonical: str) -> dict:
    """account id -> the account's `model` row that is `entry` (a catalog row) or maps
    to it (a canonical Service or Country).

    Where several rows map to it (SMS-Activate's 187 "United States" and 12 "USA
    (virtual)"), the one named as the canonical entry wins, then the lowest id.
    """
    rows = model.objects.filter(account__in=accounts)
    if isinstance(entry, model):
        rows = rows.filter(pk=entry.pk)
    else:
        rows = rows.filter(**{canonical: entry})
    first: dict = {}
    for row in sorted(rows.select_related("account", canonical), key=_preference):
        first.setdefault(row.account_id, row)
    return first


def _preference(row) -> tuple:
    named_as_canonical = row.display_name.casefold() == row.name.casefold()
    upstream_id = row.upstream_id
    return (not named_as_canonical, not upstream_id.isdigit(), len(upstream_id), upstream_id)


def _unpriced_offer(service_row: CatalogService, country_row: CatalogCountry) -> Offer:
    account = service_row.account
    choice = Choice(
        account=account,
        service_upstream_id=service_row.upstream_id,
        country_upstream_id=country_row.upstream_id,
        service_name=service_row.display_name,
        country_name=country_row.display_name,
        service_id=service_row.service_id,
        country_id=country_row.country_id,
        price=None,
        currency=account.currency,
    )
    return Offer(
        choice=choice,
        price=None,
        currency=account.currency,
        stock=None,
        pool="",
        pool_name="",
        success_rate=None,
        updated=account.catalog_synced_at or timezone.now(),
        live=False,
    )


def find_offer(team, service, country, key: str) -> Offer | None:
    """The offer the member picked (by Offer.key), re-read from the cache or catalog."""
    return next((o for o in offers_for(team, service, country) if o.key == key), None)


# --- alternatives when something is out of stock -----------------------------------------------


def alternatives_for(choice: Choice, limit: int = 6) -> list[Alternative]:
    """In-stock offers elsewhere: same service and country at other accounts first,
    then the same service in other countries, cheapest first."""
    team = choice.account.team
    base = CatalogPrice.objects.filter(account__team=team, account__enabled=True).exclude(stock=0)
    if choice.service_id:
        base = base.filter(service__service_id=choice.service_id)
    else:
        base = base.filter(service__upstream_id=choice.service_upstream_id, account=choice.account)
    same_country = base.exclude(account=choice.account)
    if choice.country_id:
        same_country = same_country.filter(country__country_id=choice.country_id)
    other_countries = base.exclude(
        country__upstream_id=choice.country_upstream_id, account=choice.account
    )
    if choice.country_id:
        other_countries = other_countries.exclude(country__country_id=choice.country_id)
    rows = [*_cheapest(same_country, limit), *_cheapest(other_countries, limit)]
    return [_alternative(row) for row in rows[:limit]]


def _cheapest(queryset, limit: int) -> list[CatalogPrice]:
    rows = list(
        queryset.select_related("account", "service__service", "country__country").order_by(
            "price"
        )[: limit * 3]
    )
    rows.sort(key=lambda r: _usd_or_high(r.price, r.currency))
    return rows[:limit]


def _usd_or_high(amount: Decimal, currency: str) -> Decimal:
    try:
        return usd_value(amount, currency)
    except ValueError:
        return Decimal("1e9")


def _alternative(row: CatalogPrice) -> Alternative:
    return Alternative(
        label=f"{row.account.label}: {row.service.display_name} / {row.country.display_name}",
        price=money_text(row.price, row.currency),
        stock=row.stock,
        account_code=str(row.account.code),
        service_slug=row.service.service.slug if row.service.service else f"u{row.service.pk}",
        country_iso=row.country.country.iso if row.country.country else f"u{row.country.pk}",
    )


def supports(offer: Offer, capability: Capability) -> bool:
    return offer.account.supports(capability)
