"""Offers for the order form: which of the team's accounts sell a service in a
country, at what price, with what stock, and how fresh that price is.

An account whose host publishes no prices (`catalog_prices_known` False, an
SMS-Activate clone without getPrices) offers every service it lists in every
country it lists, with no price: the price is known after purchase. Such
offers come after the priced ones in stock.

A service or country is named as providers/picks.py resolves it: its canonical
key ("whatsapp", "US") or "u<catalog row id>" of one of the team's own accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from config.money import money_text
from orders.errors import Alternative
from orders.models import Order
from orders.services import Choice
from providers import picks
from providers.errors import ProviderError
from providers.models import (
    CatalogCountry,
    CatalogPool,
    CatalogPrice,
    CatalogService,
)

# The API resolves a key through this module (api/v1/routes.py); resolving is the catalogue's.
from providers.picks import resolve_country, resolve_service  # noqa: F401
from providers.types import Capability
from reports.ledger import usd_value

LIVE_QUOTE_TTL = 30  # seconds a live price is reused before asking the provider again


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


def _service_filter(service) -> Q:
    if isinstance(service, CatalogService):
        return Q(service=service)
    return Q(service__service=service)


def _country_filter(country) -> Q:
    if isinstance(country, CatalogCountry):
        return Q(country=country)
    return Q(country__country=country)


# --- the order form's pick lists ------------------------------------------------------------


def service_options(team) -> list[tuple[str, str, str]]:
    """The order form's services: the team's most-ordered and latest first, then A–Z."""
    return picks.service_options(team, history=Order.objects.filter(team=team))


def country_options(team) -> list[tuple[str, str, str]]:
    """The order form's countries, ordered as its services are."""
    return picks.country_options(team, history=Order.objects.filter(team=team))


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
