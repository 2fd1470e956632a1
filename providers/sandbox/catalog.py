"""The sandbox catalog: countries, services, pools, prices and stock.

One canonical list of countries (by ISO code) and services (by slug) carries
every provider's own ids, so the four protocols describe the same world in
their own words: SMSPool's numeric country ids and pool names, NumPool's and
SMS-Activate's service codes, SMSCode's platform and tier ids. Service names
are identical across providers ("WhatsApp", "Telegram", ...) so the portal can
match them.

Prices and stock are derived from a stable hash, not from `random`, so the
catalog is the same in every run and every process. Each provider offers most
but not all pairs; a few offered pairs are sold out.

Two sizes share one set of row shapes (`SandboxConfig.catalog_size`):

- "demo" (the default): 46 countries and 47 services, what tests and the demo use;
- "live": a real provider's size, 150 countries and 1,400 services under
  realistic, varied names (aliases, case and punctuation variants, a long
  tail nobody maps), which makes SMSPool's `request/pricing` about 150,000
  rows and 18 MB. It contains the demo world (same ids), is drawn from a
  seeded generator and built on first use, once per process.

`COUNTRIES`, `SERVICES`, `COUNTRY_BY_ISO`, `SERVICE_BY_SLUG` and the functions
below answer for the active size: the one `sized()` sets for the current
request, else the process's (`use_size()`, or `SANDBOX_CATALOG_SIZE` at import).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, cached_property

from providers.sandbox.config import CATALOG_SIZES

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CountryInfo:
    iso: str
    name: str
    dial: str  # country calling code, digits only
    national_len: int  # digits after the calling code
    region: str  # SMSPool's region label
    price_factor: float
    smspool_id: int | None  # None: SMSPool does not list the country
    numpool_id: int | None
    smsactivate_id: int | None  # SMSCode uses the same numbering (Indonesia = 6)
    numpool_name: str = ""
    emoji: str = ""

    @property
    def smscode_id(self) -> int | None:
        return self.smsactivate_id


@dataclass(frozen=True)
class ServiceInfo:
    slug: str
    name: str  # the canonical name, the same at every provider
    base_price: float  # USD, before country and provider factors
    smspool_id: int | None
    numpool_code: str | None  # None: not in NumPool's supported list
    smsactivate_code: str | None
    smscode_platform_id: int | None
    domain: str = ""
    template: str = "plain"  # which SMS wording this service uses
    # Live catalogue only: the service this entry is another listing of
    # ("Whatsapp Business" -> "whatsapp"), what a correct name mapping finds.
    same_as: str = ""


# ISO, name, dial, national length, SMSPool region, price factor,
# SMSPool id, NumPool id, SMS-Activate/SMSCode id, NumPool's name.
_COUNTRIES = [
    ("US", "United States", "1", 10, "North America", 1.0, 1, 187, 187, "USA"),
    ("GB", "United Kingdom", "44", 10, "Europe", 1.2, 2, 28, 16, "United Kingdom"),
    ("NL", "Netherlands", "31", 9, "Europe", 1.3, 3, 48, 48, ""),
    ("RU", "Russia", "7", 10, "Europe", 0.5, 4, 1, 0, "Russia"),
    ("LV", "Latvia", "371", 8, "Europe", 0.9, 5, 49, 49, ""),
    ("SE", "Sweden", "46", 9, "Europe", 1.4, 6, 46, 46, ""),
    ("KZ", "Kazakhstan", "7", 10, "Asia", 0.4, 7, 202, 2, ""),
    ("PT", "Portugal", "351", 9, "Europe", 1.1, 8, 317, 117, ""),
    ("ID", "Indonesia", "62", 11, "Asia", 0.45, 9, 5, 6, "Indonesia"),
    ("EE", "Estonia", "372", 8, "Europe", 1.0, 10, 34, 34, ""),
    ("VN", "Vietnam", "84", 9, "Asia", 0.4, 11, 9, 10, "Vietnam"),
    ("PH", "Philippines", "63", 10, "Asia", 0.45, 12, 4, 4, "Philippines"),
    ("RO", "Romania", "40", 9, "Europe", 0.8, 13, 32, 32, ""),
    ("NG", "Nigeria", "234", 10, "Africa", 0.5, 14, 13, 19, "Nigeria"),
    ("IN", "India", "91", 10, "Asia", 0.4, 15, 17, 22, "India"),
    ("KE", "Kenya", "254", 9, "Africa", 0.5, 16, 117, 8, "Kenya"),
    ("MY", "Malaysia", "60", 9, "Asia", 0.6, 20, 6, 7, "Malaysia"),
    ("PL", "Poland", "48", 9, "Europe", 0.9, 21, 15, 15, ""),
    ("FR", "France", "33", 9, "Europe", 1.3, 23, 20, 78, "France"),
    ("DE", "Germany", "49", 11, "Europe", 1.5, 24, 129, 43, "Germany"),
    ("UA", "Ukraine", "380", 9, "Europe", 0.5, 25, 2, 1, "Ukraine"),
    ("IL", "Israel", "972", 9, "Asia", 1.1, 29, 213, 13, ""),
    ("EG", "Egypt", "20", 10, "Africa", 0.5, 31, 16, 21, "Egypt"),
    ("IE", "Ireland", "353", 9, "Europe", 1.2, 32, 23, 23, ""),
    ("KH", "Cambodia", "855", 9, "Asia", 0.5, 33, 24, 24, ""),
    ("CO", "Colombia", "57", 10, "South America", 0.6, 39, 33, 33, ""),
    ("AR", "Argentina", "54", 10, "South America", 0.6, 43, 39, 39, ""),
    ("LT", "Lithuania", "370", 8, "Europe", 0.9, 47, 44, 44, ""),
    ("AT", "Austria", "43", 10, "Europe", 1.3, 50, 50, 50, ""),
    ("TH", "Thailand", "66", 9, "Asia", 0.55, 52, 151, 52, "Thailand"),
    ("MX", "Mexico", "52", 10, "North America", 0.7, 53, 54, 54, ""),
    ("ES", "Spain", "34", 9, "Europe", 1.1, 55, 143, 56, "Spain"),
    ("BD", "Bangladesh", "880", 10, "Asia", 0.4, 58, 60, 60, ""),
    ("TR", "Turkey", "90", 10, "Asia", 0.7, 60, 62, 62, ""),
    ("PK", "Pakistan", "92", 10, "Asia", 0.4, 62, 66, 66, ""),
    ("BR", "Brazil", "55", 11, "South America", 0.7, 68, 25, 73, "Brazil"),
    ("IT", "Italy", "39", 10, "Europe", 1.2, 79, 142, 86, "Italy"),
    ("GR", "Greece", "30", 10, "Europe", 1.0, 102, 329, 129, ""),
    ("CL", "Chile", "56", 9, "South America", 0.7, 120, 351, 151, ""),
    ("FI", "Finland", "358", 9, "Europe", 1.3, 130, 163, 163, ""),
    ("AU", "Australia", "61", 9, "Oceania", 1.4, 136, 158, 175, "Australia"),
    ("SG", "Singapore", "65", 8, "Asia", 1.2, 141, 196, 196, ""),
    ("CZ", "Czech Republic", "420", 9, "Europe", 0.9, 149, 63, 63, ""),
    ("ZA", "South Africa", "27", 9, "Africa", 0.6, 153, 31, 31, ""),
    # Not in SMSPool's country list at all.
    ("CA", "Canada", "1", 10, "North America", 1.1, None, 188, 36, "Canada"),
    ("HK", "Hong Kong", "852", 8, "Asia", 1.2, None, 14, 14, ""),
]

# slug, name, base USD, SMSPool id, NumPool code, SMS-Activate code, SMSCode
# platform id, domain, SMS template. NumPool supports only its published list.
_SERVICES = [
    ("whatsapp", "WhatsApp", 0.60, 1012, "wa", "wa", 1, "whatsapp.com", "dashed"),
    ("telegram", "Telegram", 0.55, 907, "tg", "tg", 2, "telegram.org", "hash"),
    ("google", "Google", 0.30, 395, "go", "go", 3, "google.com", "google"),
    ("facebook", "Facebook", 0.20, 329, "fb", "fb", 4, "facebook.com", "fb"),
    ("instagram", "Instagram", 0.18, 457, "ig", "ig", 5, "instagram.com", "plain"),
    ("twitter", "Twitter", 0.15, 948, "tw", "tw", 6, "x.com", "plain"),
    ("tiktok", "TikTok", 0.20, 924, "lf", "lf", 7, "tiktok.com", "bracket"),
    ("discord", "Discord", 0.25, 273, "ds", "ds", 8, "discord.com", "plain"),
    ("amazon", "Amazon", 0.22, 39, "am", "am", 9, "amazon.com", "plain"),
    ("paypal", "PayPal", 0.45, 703, "ts", "ts", 10, "paypal.com", "plain"),
    ("apple", "Apple", 0.35, 48, "wx", "wx", 11, "apple.com", "hash"),
    ("uber", "Uber", 0.20, 951, "ub", "ub", 12, "uber.com", "plain"),
    ("netflix", "Netflix", 0.15, 630, "nf", "nf", 13, "netflix.com", "plain"),
    ("snapchat", "Snapchat", 0.12, 846, "tn", "fu", 14, "snapchat.com", "plain"),
    ("viber", "Viber", 0.10, 978, "vi", "vi", 15, "viber.com", "plain"),
    ("lazada", "Lazada", 0.10, 511, "fu", "dl", 16, "lazada.com", "bracket"),
    ("shopee", "Shopee", 0.12, 823, "mo", "ka", 17, "shopee.com", "bracket"),
    ("steam", "Steam", 0.14, 868, "dp", "mt", 18, "steampowered.com", "plain"),
    ("binance", "Binance", 0.40, 85, "bw", "aon", 19, "binance.com", "bracket"),
    ("okx", "OKX", 0.38, None, "ok", None, 20, "okx.com", "bracket"),
    ("olx", "OLX", 0.10, 661, "oi", "sn", 21, "olx.com", "plain"),
    ("kucoin", "KuCoin", 0.35, 502, "ka", None, 22, "kucoin.com", "bracket"),
    ("bybit", "Bybit", 0.35, 148, "ab", None, 23, "bybit.com", "bracket"),
    ("yahoo", "Yahoo", 0.12, 1034, "ya", "mb", 24, "yahoo.com", "plain"),
    ("vk", "VK", 0.10, 985, "vk", "vk", 25, "vk.com", "plain"),
    ("linkedin", "LinkedIn", 0.20, 523, "li", "tn", 26, "linkedin.com", "plain"),
    ("microsoft", "Microsoft", 0.18, 1072, "mm", "mm", 27, "microsoft.com", "plain"),
    ("fiverr", "Fiverr", 0.15, 346, "cn", "cn", 28, "fiverr.com", "plain"),
    ("tinder", "Tinder", 0.30, 926, None, "oi", 29, "tinder.com", "plain"),
    ("bumble", "Bumble", 0.25, 142, None, "mo", 30, "bumble.com", "plain"),
    ("signal", "Signal", 0.30, 829, None, "bw", 31, "signal.org", "plain"),
    ("wechat", "WeChat", 0.90, 1004, None, "wb", 32, "wechat.com", "bracket"),
    ("line", "Line", 0.20, 522, None, "me", 33, "line.me", "plain"),
    ("kakaotalk", "KakaoTalk", 0.40, 487, None, "kt", 34, "kakaocorp.com", "bracket"),
    ("airbnb", "Airbnb", 0.15, 28, None, "uk", 35, "airbnb.com", "plain"),
    ("coinbase", "Coinbase", 0.35, 208, None, "re", 36, "coinbase.com", "plain"),
    ("grab", "Grab", 0.15, 1093, None, "jg", 37, "grab.com", "plain"),
    ("gojek", "GoJek", 0.15, 392, None, "ni", 38, "gojek.com", "bracket"),
    ("tokopedia", "Tokopedia", 0.15, 931, None, "xd", 39, "tokopedia.com", "bracket"),
    ("alipay", "Alipay", 0.50, 35, None, "hw", 40, "alipay.com", "bracket"),
    ("naver", "Naver", 0.45, 620, None, "nv", 41, "naver.com", "bracket"),
    ("openai", "OpenAI", 0.30, 671, None, "dr", 42, "openai.com", "plain"),
    ("claude", "Claude", 0.35, 1371, None, "acz", 43, "claude.ai", "plain"),
    ("hinge", "Hinge", 0.25, 420, None, "vz", 44, "hinge.co", "plain"),
    ("zalo", "Zalo", 0.20, 1054, None, "mj", 45, "zalo.me", "plain"),
    ("ebay", "eBay", 0.15, 305, None, "dh", 46, "ebay.com", "plain"),
    ("spotify", "Spotify", 0.10, 861, None, "alj", 47, "spotify.com", "plain"),
]

# SMSPool pools: (id, name, price factor, success rate percent).
POOLS = [
    (0, "Default", 1.00, 80),
    (2, "Bravo", 0.90, 70),
    (3, "Charlie", 1.15, 85),
    (4, "Delta", 1.05, 75),
    (7, "Foxtrot", 1.25, 95),
    (11, "Lima", 0.85, 60),
    (12, "Mike", 1.10, 90),
    (13, "November", 0.95, 65),
    (14, "Oscar", 1.20, 88),
]
POOL_NAMES = {pid: name for pid, name, _f, _r in POOLS}

# Leading digits of mobile numbers (after the calling code), so issued
# numbers look like real mobiles: +62 8..., +44 7..., +49 15...
MOBILE_PREFIX = {
    "GB": "7", "NL": "6", "RU": "9", "LV": "2", "SE": "7", "KZ": "7", "PT": "9", "ID": "8",
    "EE": "5", "VN": "9", "PH": "9", "RO": "7", "NG": "8", "IN": "9", "KE": "7", "MY": "1",
    "PL": "5", "FR": "6", "DE": "15", "UA": "9", "IL": "5", "EG": "1", "IE": "8", "KH": "9",
    "CO": "3", "AR": "9", "LT": "6", "AT": "6", "TH": "8", "MX": "55", "ES": "6", "BD": "1",
    "TR": "5", "PK": "3", "BR": "119", "IT": "3", "GR": "69", "CL": "9", "FI": "4", "AU": "4",
    "SG": "8", "CZ": "7", "ZA": "7", "HK": "9",
}  # fmt: skip

# Operators SMSCode offers as tiers, per country (id, code, name).
SMSCODE_OPERATORS = {
    "ID": [
        (1, "telkomsel", "Telkomsel"),
        (2, "indosat", "Indosat Ooredoo"),
        (3, "xl", "XL Axiata"),
        (4, "tri", "3 (Tri)"),
        (5, "smartfren", "Smartfren"),
    ],
    "US": [(6, "tmobile", "T-Mobile"), (7, "verizon", "Verizon"), (8, "att", "AT&T")],
    "GB": [(9, "ee", "EE"), (10, "vodafone", "Vodafone"), (11, "o2", "O2")],
    "IN": [(12, "airtel", "Airtel"), (13, "jio", "Jio"), (14, "vi", "Vi")],
}

# Pairs every provider offers (where it lists the country and service), so
# tests and demos have a dependable path.
CORE_SERVICES = {"whatsapp", "telegram", "google", "discord", "facebook"}
CORE_COUNTRIES = {"US", "GB", "ID", "IN", "DE", "NL", "CA"}

PROVIDER_FACTOR = {"smspool": 1.0, "numpool": 1.1, "smscode": 0.95, "smsactivate": 0.9}
SMSCODE_FX_RATE = 16000


def _flag(iso: str) -> str:
    return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in iso)


DEMO_COUNTRIES: list[CountryInfo] = [
    CountryInfo(*row[:9], numpool_name=row[9] or row[1], emoji=_flag(row[0])) for row in _COUNTRIES
]
DEMO_SERVICES: list[ServiceInfo] = [ServiceInfo(*row) for row in _SERVICES]


def _hash(*parts: object) -> int:
    """A stable 64-bit number for `parts` (the same in every process)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _fraction(*parts: object) -> float:
    return _hash(*parts) / 2**64


# --- who offers what ----------------------------------------------------------------
def provider_has_country(protocol: str, country: CountryInfo) -> bool:
    ids = {
        "smspool": country.smspool_id,
        "numpool": country.numpool_id,
        "smscode": country.smscode_id,
        "smsactivate": country.smsactivate_id,
    }
    return ids[protocol] is not None


def provider_has_service(protocol: str, service: ServiceInfo) -> bool:
    ids = {
        "smspool": service.smspool_id,
        "numpool": service.numpool_code,
        "smscode": service.smscode_platform_id,
        "smsactivate": service.smsactivate_code,
    }
    return ids[protocol] is not None


@dataclass(frozen=True)
class Offer:
    """One provider's offer for a service in a country."""

    protocol: str
    service: str
    country: str
    price: Decimal  # USD, or IDR (whole rupiah) for smscode
    stock: int
    success_rate: int
    # SMSPool: (pool id, price, stock, success rate) per pool, cheapest first.
    pools: tuple[tuple[int, Decimal, int, int], ...] = ()
    # SMSCode: tier products for this pair, cheapest first.
    tiers: tuple[Tier, ...] = field(default=())


@dataclass(frozen=True)
class Tier:
    """An SMSCode product tier (the `product_id` of create)."""

    product_id: int
    catalog_product_id: int
    price: int  # IDR
    available: int
    operator_id: int | None
    operator_code: str
    operator_name: str | None


def _usd(value: float) -> Decimal:
    return max(Decimal("0.05"), Decimal(str(value)).quantize(CENT, ROUND_HALF_UP))


def idr_from_usd(usd: Decimal, rate: int = SMSCODE_FX_RATE) -> int:
    """Whole rupiah, rounded to 100 like a real price list."""
    return max(500, int((usd * rate / 100).quantize(Decimal(1), ROUND_HALF_UP)) * 100)


def _stock(protocol: str, service: str, iso: str) -> int:
    roll = _fraction("stock", protocol, service, iso)
    if roll < 0.04 and not (service in CORE_SERVICES and iso in CORE_COUNTRIES):
        return 0  # offered but sold out right now
    return int(15 + (roll**2) * 8000)


def _is_offered(protocol: str, service: ServiceInfo, country: CountryInfo) -> bool:
    if not (provider_has_service(protocol, service) and provider_has_country(protocol, country)):
        return False
    if service.slug in CORE_SERVICES and country.iso in CORE_COUNTRIES:
        return True
    return _fraction("offer", protocol, service.slug, country.iso) >= 0.12


def _base_usd(protocol: str, service: ServiceInfo, country: CountryInfo) -> float:
    jitter = 0.8 + 0.45 * _fraction("price", protocol, service.slug, country.iso)
    return service.base_price * country.price_factor * PROVIDER_FACTOR[protocol] * jitter


def _smspool_pools(service: ServiceInfo, country: CountryInfo, usd: float, stock: int) -> tuple:
    count = 1 + _hash("npools", service.slug, country.iso) % 3
    start = _hash("pool0", service.slug, country.iso) % len(POOLS)
    rows = []
    for i in range(count):
        pid, _name, factor, rate = POOLS[(start + i * 2) % len(POOLS)]
        pool_stock = (
            stock if i == 0 else int(stock * _fraction("ps", pid, service.slug, country.iso))
        )
        rows.append((pid, _usd(usd * factor), pool_stock, rate))
    return tuple(sorted(rows, key=lambda r: (r[1], r[0])))


def _smscode_tiers(service: ServiceInfo, country: CountryInfo, idr: int, stock: int) -> tuple:
    assert service.smscode_platform_id is not None and country.smscode_id is not None
    catalog_id = 10000 + country.smscode_id * 100 + service.smscode_platform_id
    base_id = 100000 + (country.smscode_id * 100 + service.smscode_platform_id) * 10
    tiers = [Tier(base_id, catalog_id, idr, stock, None, "any", None)]
    for i, (op_id, code, name) in enumerate(SMSCODE_OPERATORS.get(country.iso, [])[:3], start=1):
        price = int(idr * (1 + 0.1 * i) / 100) * 100
        available = int(stock * _fraction("tier", op_id, service.slug))
        tiers.append(Tier(base_id + i, catalog_id, price, available, op_id, code, name))
    return tuple(sorted(tiers, key=lambda t: (t.price, t.product_id)))


def _make_offer(protocol: str, service: ServiceInfo, country: CountryInfo) -> Offer:
    usd = _base_usd(protocol, service, country)
    stock = _stock(protocol, service.slug, country.iso)
    rate = 55 + _hash("rate", protocol, service.slug, country.iso) % 45
    if protocol == "smspool":
        pools = _smspool_pools(service, country, usd, stock)
        return Offer(protocol, service.slug, country.iso, pools[0][1], stock, rate, pools=pools)
    if protocol == "smscode":
        idr = idr_from_usd(_usd(usd))
        tiers = _smscode_tiers(service, country, idr, stock)
        return Offer(protocol, service.slug, country.iso, Decimal(idr), stock, rate, tiers=tiers)
    return Offer(protocol, service.slug, country.iso, _usd(usd), stock, rate)


def _demo_offers(world: Catalogue, protocol: str) -> dict[tuple[str, str], Offer]:
    return {
        (s.slug, c.iso): _make_offer(protocol, s, c)
        for s in world.services
        for c in world.countries
        if _is_offered(protocol, s, c)
    }


class Catalogue:
    """One world: its countries, services and each provider's offers and lookups.

    Tables are built on first use and kept: the sandbox serves many threads,
    so a lock makes sure a 150,000-offer table is built once, not per thread.
    """

    def __init__(self, size: str, countries: list[CountryInfo], services: list[ServiceInfo], make):
        self.size = size
        self.countries = countries
        self.services = services
        self.country_by_iso = {c.iso: c for c in countries}
        self.service_by_slug = {s.slug: s for s in services}
        self._make = make  # (catalogue, protocol) -> offers
        self._offers: dict[str, dict[tuple[str, str], Offer]] = {}
        self._lock = threading.Lock()

    def offers(self, protocol: str) -> dict[tuple[str, str], Offer]:
        """Every offer of `protocol`, keyed by (service slug, ISO)."""
        table = self._offers.get(protocol)
        if table is None:
            with self._lock:
                table = self._offers.get(protocol)
                if table is None:
                    table = self._offers[protocol] = self._make(self, protocol)
        return table

    @cached_property
    def smscode_tiers_by_id(self) -> dict[int, Tier]:
        return {t.product_id: t for o in self.offers("smscode").values() for t in o.tiers}

    @cached_property
    def smscode_tier_pair(self) -> dict[int, tuple[str, str]]:
        """Tier product id -> (service slug, ISO)."""
        return {t.product_id: key for key, o in self.offers("smscode").items() for t in o.tiers}

    @cached_property
    def smscode_catalog_pair(self) -> dict[int, tuple[str, str]]:
        return {o.tiers[0].catalog_product_id: key for key, o in self.offers("smscode").items()}

    @cached_property
    def index(self) -> dict[str, dict]:
        """Lookups by each provider's own ids (and SMSPool's names and ISO codes)."""
        idx: dict[str, dict] = {
            "smspool_country": {},
            "smspool_service": {},
            "numpool_country": {},
            "numpool_service": {},
            "smsactivate_country": {},
            "smsactivate_service": {},
            "smscode_country": {},
            "smscode_platform": {},
        }
        for c in self.countries:
            if c.smspool_id is not None:
                idx["smspool_country"][str(c.smspool_id)] = c
                idx["smspool_country"][c.iso.lower()] = c
                idx["smspool_country"][c.name.lower()] = c
            if c.numpool_id is not None:
                idx["numpool_country"][str(c.numpool_id)] = c
            if c.smsactivate_id is not None:
                idx["smsactivate_country"][str(c.smsactivate_id)] = c
                idx["smscode_country"][c.smsactivate_id] = c
        # SMS-Activate's 12 is "USA (virtual)"; the sandbox sells it as the US.
        idx["smsactivate_country"]["12"] = self.country_by_iso["US"]
        for s in self.services:
            if s.smspool_id is not None:
                idx["smspool_service"][str(s.smspool_id)] = s
                idx["smspool_service"][s.name.lower()] = s
            if s.numpool_code:
                idx["numpool_service"][s.numpool_code] = s
            if s.smsactivate_code:
                idx["smsactivate_service"][s.smsactivate_code] = s
            if s.smscode_platform_id is not None:
                idx["smscode_platform"][s.smscode_platform_id] = s
        return idx

    def warm(self) -> None:
        """Build every table now (demo 0.5 s, live a few seconds), so no request pays."""
        for protocol in PROVIDER_FACTOR:
            self.offers(protocol)
        for table in ("smscode_tiers_by_id", "smscode_tier_pair", "smscode_catalog_pair", "index"):
            getattr(self, table)


DEMO = Catalogue("demo", DEMO_COUNTRIES, DEMO_SERVICES, _demo_offers)


# --- which size answers ---------------------------------------------------------------
def _size_from_env() -> str:
    size = os.environ.get("SANDBOX_CATALOG_SIZE", "").strip().lower()
    return size if size in CATALOG_SIZES else "demo"


_process_size = _size_from_env()
_request_size: ContextVar[str | None] = ContextVar("sandbox_catalog_size", default=None)


def catalogue(size: str = "") -> Catalogue:
    """The catalogue of `size` ("demo" or "live"), or the active one; raises ValueError."""
    size = size or _request_size.get() or _process_size
    if size == "demo":
        return DEMO
    if size == "live":
        return live_catalogue()
    raise ValueError(f"catalog_size is one of {', '.join(CATALOG_SIZES)}, not {size!r}.")


def use_size(size: str) -> str:
    """Make `size` the process's catalogue (tests, benchmarks); return the previous size."""
    global _process_size
    catalogue(size)  # validates, and builds the live world now rather than in a request
    previous, _process_size = _process_size, size
    return previous


@contextmanager
def sized(size: str) -> Iterator[Catalogue]:
    """Answer with the `size` catalogue inside this block (this thread or task only).

    What a request handler wraps itself in to honour `config.catalog_size`.
    """
    token = _request_size.set(size)
    try:
        yield catalogue(size)
    finally:
        _request_size.reset(token)


_ACTIVE_NAMES = {
    "COUNTRIES": "countries",
    "SERVICES": "services",
    "COUNTRY_BY_ISO": "country_by_iso",
    "SERVICE_BY_SLUG": "service_by_slug",
}


def __getattr__(name: str):
    # The protocols read `catalog.SERVICES` and friends on every request, and
    # the size is chosen at run time: these names resolve to the active world.
    if name in _ACTIVE_NAMES:
        return getattr(catalogue(), _ACTIVE_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the active catalogue's tables -------------------------------------------------------
def offers(protocol: str) -> dict[tuple[str, str], Offer]:
    """Every offer of `protocol` in the active catalogue, keyed by (service slug, ISO)."""
    return catalogue().offers(protocol)


def offer(protocol: str, service: str, iso: str) -> Offer | None:
    return catalogue().offers(protocol).get((service, iso))


def smscode_tiers_by_id() -> dict[int, Tier]:
    return catalogue().smscode_tiers_by_id


def smscode_tier_pair() -> dict[int, tuple[str, str]]:
    """Tier product id -> (service slug, ISO)."""
    return catalogue().smscode_tier_pair


def smscode_catalog_pair() -> dict[int, tuple[str, str]]:
    return catalogue().smscode_catalog_pair


def warm() -> None:
    """Build every table of the active catalogue once, so no request pays for it."""
    catalogue().warm()


# --- lookups by provider id ---------------------------------------------------------
def _index() -> dict[str, dict]:
    return catalogue().index


def smspool_country(value: str) -> CountryInfo | None:
    """SMSPool takes a numeric id, an ISO code or a name."""
    return _index()["smspool_country"].get(value.strip().lower())


def smspool_service(value: str) -> ServiceInfo | None:
    return _index()["smspool_service"].get(value.strip().lower())


def smspool_pool(value: str) -> int | None:
    value = value.strip()
    if value.isdigit() and int(value) in POOL_NAMES:
        return int(value)
    for pid, name in POOL_NAMES.items():
        if name.lower() == value.lower():
            return pid
    return None


def numpool_country(value: object) -> CountryInfo | None:
    return _index()["numpool_country"].get(str(value).strip())


def numpool_service(value: str) -> ServiceInfo | None:
    return _index()["numpool_service"].get(value.strip().lower())


def smsactivate_country(value: str) -> CountryInfo | None:
    return _index()["smsactivate_country"].get(value.strip())


def smsactivate_service(value: str) -> ServiceInfo | None:
    return _index()["smsactivate_service"].get(value.strip().lower())


def smscode_country(value: int) -> CountryInfo | None:
    return _index()["smscode_country"].get(value)


def smscode_platform(value: int) -> ServiceInfo | None:
    return _index()["smscode_platform"].get(value)


# --- rentals --------------------------------------------------------------------------
@dataclass(frozen=True)
class SmspoolRental:
    """An SMSPool rental product (`rental/retrieve_all`)."""

    id: int
    iso: str
    extendable: bool  # the `type` filter: 1 extendable, 0 not
    pricing: dict[str, int]  # days (as a string) -> whole dollars
    extend: dict[str, int]
    pool: int
    priority: int
    refund_within: int  # hours; 0 = never refundable
    refund_min_days: int
    single_service: dict[str, int] | None = None  # 50% off for one service
    stock: int = 250


_US_SHORT = {"7": 20, "14": 26, "30": 30}
_GB = {"1": 15, "3": 20, "15": 63, "30": 110}
_NL = {"3": 10, "7": 15, "15": 20, "30": 30}
_US_SINGLE = {"7": 12, "30": 20}
# id, ISO, extendable, pricing, extend pricing, pool, priority, refund_within
# hours, refund_min_days[, single-service pricing].
SMSPOOL_RENTALS = [
    SmspoolRental(1, "US", False, _US_SHORT, {}, 7, 5, 12, 0),
    SmspoolRental(2, "GB", True, _GB, _GB, 2, 0, 12, 0),
    SmspoolRental(3, "NL", True, _NL, _NL, 2, 0, 12, 0),
    SmspoolRental(6, "US", True, {"30": 20}, {"30": 20}, 7, 10, 2, 28),
    SmspoolRental(7, "US", True, _US_SINGLE, _US_SINGLE, 7, 8, 12, 0, {"7": 6, "30": 10}),
]
SMSPOOL_RENTAL_BY_ID = {r.id: r for r in SMSPOOL_RENTALS}

# NumPool US rentals: duration key -> days, and a per-service day rate.
NUMPOOL_DURATIONS = [
    ("oneDay", 1),
    ("threeDay", 3),
    ("sevenDay", 7),
    ("fourteenDay", 14),
    ("thirtyDay", 30),
]
NUMPOOL_RENTAL_SERVICES = [
    "discord",
    "whatsapp",
    "telegram",
    "google",
    "facebook",
    "instagram",
    "twitter",
    "tiktok",
    "amazon",
    "paypal",
    "uber",
    "apple",
    "microsoft",
    "snapchat",
    "linkedin",
]


def numpool_rental_price(service: str, days: int) -> Decimal:
    """Longer rentals cost less per day, as on every rental price list."""
    day_rate = 1.0 + DEMO.service_by_slug[service].base_price
    discount = {1: 1.0, 3: 0.9, 7: 0.75, 14: 0.65, 30: 0.5}[days]
    return _usd(day_rate * days * discount)


# SMS-Activate rentals: countries where numbers can be rented and the price of
# four hours (the minimum term); longer terms scale per hour.
SMSACTIVATE_RENT_COUNTRIES = ["US", "GB", "ID", "NL", "DE", "IN"]
SMSACTIVATE_RENT_SERVICES = [
    "whatsapp",
    "telegram",
    "google",
    "facebook",
    "discord",
    "instagram",
    "twitter",
    "amazon",
    "microsoft",
    "apple",
]
SMSACTIVATE_RENT_HOURS = (4, 1344)


def smsactivate_rent_price(service: str, iso: str, hours: int) -> Decimal:
    info, where = DEMO.service_by_slug[service], DEMO.country_by_iso[iso]
    four_hours = info.base_price * where.price_factor * 2.5
    hourly = four_hours / 4
    discount = 1.0 if hours <= 24 else 0.6 if hours <= 168 else 0.35
    return _usd(max(four_hours, hourly * hours * discount))


def smsactivate_rent_stock(service: str, iso: str) -> int:
    return 5 + _hash("rent", service, iso) % 60


# --- the live-size world -------------------------------------------------------------
# Countries a real provider lists beyond the demo's: ISO, name as SMSPool spells
# it, calling code, national number length, SMSPool region, price factor.
_LIVE_COUNTRIES = """
BE|Belgium|32|9|Europe|1.2
CH|Switzerland|41|9|Europe|1.6
DK|Denmark|45|8|Europe|1.4
NO|Norway|47|8|Europe|1.5
BG|Bulgaria|359|9|Europe|0.7
HU|Hungary|36|9|Europe|0.8
HR|Croatia|385|9|Europe|0.8
RS|Serbia|381|9|Europe|0.6
SK|Slovakia|421|9|Europe|0.8
SI|Slovenia|386|8|Europe|0.9
CY|Cyprus|357|8|Europe|1.0
BY|Belarus|375|9|Europe|0.5
MD|Moldova|373|8|Europe|0.5
GE|Georgia|995|9|Asia|0.5
AM|Armenia|374|8|Asia|0.5
AZ|Azerbaijan|994|9|Asia|0.5
BA|Bosnia and Herzegovina|387|8|Europe|0.6
MK|North Macedonia|389|8|Europe|0.6
AL|Albania|355|9|Europe|0.6
ME|Montenegro|382|8|Europe|0.6
LU|Luxembourg|352|9|Europe|1.4
MT|Malta|356|8|Europe|1.1
IS|Iceland|354|7|Europe|1.5
CN|China|86|11|Asia|1.3
JP|Japan|81|10|Asia|1.6
KR|South Korea|82|10|Asia|1.4
TW|Taiwan|886|9|Asia|1.2
MO|Macau|853|8|Asia|1.1
MN|Mongolia|976|8|Asia|0.5
LK|Sri Lanka|94|9|Asia|0.4
NP|Nepal|977|10|Asia|0.4
MM|Myanmar|95|9|Asia|0.4
LA|Laos|856|10|Asia|0.4
UZ|Uzbekistan|998|9|Asia|0.4
KG|Kyrgyzstan|996|9|Asia|0.4
TJ|Tajikistan|992|9|Asia|0.4
TM|Turkmenistan|993|8|Asia|0.5
AF|Afghanistan|93|9|Asia|0.5
IR|Iran|98|10|Asia|0.5
IQ|Iraq|964|10|Asia|0.5
SA|Saudi Arabia|966|9|Asia|1.0
AE|United Arab Emirates|971|9|Asia|1.2
QA|Qatar|974|8|Asia|1.1
KW|Kuwait|965|8|Asia|1.0
BH|Bahrain|973|8|Asia|1.0
OM|Oman|968|8|Asia|0.9
JO|Jordan|962|9|Asia|0.7
LB|Lebanon|961|8|Asia|0.7
PS|Palestine|970|9|Asia|0.6
BN|Brunei|673|7|Asia|0.8
MA|Morocco|212|9|Africa|0.5
DZ|Algeria|213|9|Africa|0.5
TN|Tunisia|216|8|Africa|0.5
LY|Libya|218|9|Africa|0.5
GH|Ghana|233|9|Africa|0.5
TZ|Tanzania|255|9|Africa|0.5
UG|Uganda|256|9|Africa|0.5
CM|Cameroon|237|9|Africa|0.5
CI|Ivory Coast|225|10|Africa|0.5
SN|Senegal|221|9|Africa|0.5
ET|Ethiopia|251|9|Africa|0.5
ZM|Zambia|260|9|Africa|0.5
ZW|Zimbabwe|263|9|Africa|0.5
MZ|Mozambique|258|9|Africa|0.5
AO|Angola|244|9|Africa|0.5
CD|Congo (Dem. Republic)|243|9|Africa|0.5
CG|Congo|242|9|Africa|0.5
RW|Rwanda|250|9|Africa|0.5
MG|Madagascar|261|9|Africa|0.5
ML|Mali|223|8|Africa|0.5
BF|Burkina Faso|226|8|Africa|0.5
NE|Niger|227|8|Africa|0.5
TD|Chad|235|8|Africa|0.5
SD|Sudan|249|9|Africa|0.5
BJ|Benin|229|8|Africa|0.5
TG|Togo|228|8|Africa|0.5
GN|Guinea|224|9|Africa|0.5
SL|Sierra Leone|232|8|Africa|0.5
LR|Liberia|231|8|Africa|0.5
GA|Gabon|241|8|Africa|0.6
BW|Botswana|267|8|Africa|0.6
NA|Namibia|264|9|Africa|0.6
MW|Malawi|265|9|Africa|0.5
MU|Mauritius|230|8|Africa|0.7
GM|Gambia|220|7|Africa|0.5
PE|Peru|51|9|South America|0.6
VE|Venezuela|58|10|South America|0.5
EC|Ecuador|593|9|South America|0.6
BO|Bolivia|591|8|South America|0.5
PY|Paraguay|595|9|South America|0.5
UY|Uruguay|598|8|South America|0.7
DO|Dominican Republic|1|10|North America|0.7
PR|Puerto Rico|1|10|North America|1.0
GT|Guatemala|502|8|North America|0.6
HN|Honduras|504|8|North America|0.6
SV|El Salvador|503|8|North America|0.6
NI|Nicaragua|505|8|North America|0.6
CR|Costa Rica|506|8|North America|0.7
PA|Panama|507|8|North America|0.7
JM|Jamaica|1|10|North America|0.8
TT|Trinidad and Tobago|1|10|North America|0.8
HT|Haiti|509|8|North America|0.5
NZ|New Zealand|64|9|Oceania|1.3
PG|Papua New Guinea|675|8|Oceania|0.6
"""

# Other listings of services the demo already sells (and one the canonical
# catalogue knows by an alias): name, the service it is. Aliases, case and
# punctuation variants, the way real price lists spell them.
_LIVE_SAME_AS = """
Whatsapp Business|whatsapp
Telegram Premium|telegram
telegram web|telegram
Google / Gmail / Youtube|google
Google Voice|google
Google Pay|google
YouTube|google
Gmail|google
Facebook Messenger|facebook
Meta / Facebook|facebook
Instagram + Threads|instagram
Threads|instagram
X (Twitter)|twitter
Twitter/X|twitter
TikTok/Douyin|tiktok
Tik Tok Lite|tiktok
Discord Nitro|discord
Amazon / AWS|amazon
Amazon Pay|amazon
Apple ID / iCloud|apple
Apple Pay|apple
Microsoft / Outlook / Hotmail|microsoft
Microsoft Teams|microsoft
Bing|microsoft
PayPal + Ebay|paypal
Paypal Business|paypal
Uber Eats|uber
LinkedIn Jobs|linkedin
Viber Out|viber
WeChat Pay|wechat
We Chat Lite|wechat
LINE Messenger|line
Signal Private Messenger|signal
Tinder Gold|tinder
Bumble BFF|bumble
Yahoo Mail|yahoo
OpenAI / ChatGPT|openai
ChatGPT|openai
Claude AI|claude
Anthropic|claude
Steam Community|steam
Binance US|binance
Coinbase Wallet|coinbase
OKX Wallet|okx
KuCoin Pay|kucoin
Bybit Card|bybit
Shopee PH|shopee
Shopee ID|shopee
Lazada PH|lazada
OLX Group|olx
VKontakte|vk
Airbnb Host|airbnb
Grab Driver|grab
Fiverr Business|fiverr
Spotify Premium|spotify
KakaoTalk / Kakao|kakaotalk
Naver Pay|naver
Hinge Dating|hinge
Alibaba / 1688|alibaba
1688.com|alibaba
AliExpress|alibaba
LYFT|lyft
Doordash|doordash
twitch|twitch
Reddit|reddit
Yandex.Go|yandex
Mail.Ru Group|mailru
REVOLUT|revolut
Wise (TransferWise)|wise
Cash-App|cashapp
venmo|venmo
Match.com|match
Nike / SNKRS|nike
ZOHO|zoho
Proton Mail|proton
TrueCaller|truecaller
foodpanda|foodpanda
Deliveroo|deliveroo
DBS PayLah!|dbs
Skype|skype
IMO Messenger|imo
Any Other|other
Uber Direct|uber
Olx.ua|olx
"""

# The long tail: services real price lists carry that no canonical catalogue
# maps (banks, shops, games, wallets, dating), as they spell them.
_LIVE_LONG_TAIL = """
1xBet|22Bet|888casino|99acres|Abbott|ABSA Bank|Adidas|AdvCash|Agoda|Airtel Thanks|AirAsia
Akulaku|Alfagift|Allegro|Alza|AOL|Archive.org|Arlo|ASOS|AstroPay|Auchan|Avito|Axis Bank
Baidu|Badoo|Bancolombia|Bank of America|Banxa|Bazos|Beeline|Betfair|Bet365|Betway|BIGO LIVE
Bilibili|Bitfinex|Bitget|Bitpanda|Bitso|Bitstamp|BlaBlaCar|Blizzard|Blued|Bolt|Booking.com
Boomplay|Brex|Bukalapak|Burger King|Careem|Carousell|Chime|Chipotle|Citibank|Clubhouse
Craigslist|Crypto.com|DANA|Daraz|DeepSeek|Deezer|Delivery Club|DiDi|DingTalk|Domino's Pizza
Douban|Dropbox|Eneba|Etsy|Evernote|FACEIT|FanDuel|Feeld|Flipkart|Foodora|Free Fire
Freelancer|FunPay|Gemini|Getir|Gett|GitHub|Glovo|GoDaddy|Gopuff|Grindr|Happn|Hepsiburada
HeyTap|Hily|iHerb|Indeed|inDrive|Instacart|Jack'd|JD.com|Jiayuan|Jumia|Kaspi.kz|Klarna
Kleinanzeigen|Kotak|Kwai|Lalamove|LastPass|Likee|Lime|LiveScore|Lotte ON|Magnit|Mamba
Mercado Libre|MercadoPago|MeWe|Miravia|miHoYo|Mobile Legends|MoMo|Monese|MoneyGram
MoneyLion|Monzo|MTS|N26|Nequi|Nextdoor|noon|Nubank|OkCupid|Ola|OnlyFans|OpenSea
Oracle Cloud|Ozon|Paddy Power|Paxful|Payeer|Paysafecard|Paytm|PayMaya|Perfect Money
Pinduoduo|Pinterest|Plenty of Fish|PokerStars|Poshmark|Postmates|QIWI|Quora|Rakuten
Rambler|Razer|Rappi|Roblox|Samsung|Santander|Seznam|SHEIN|Shopify|Skrill|Sky Betting
Slack|Snapdeal|SoFi|PlayStation Network|Sportsbet|Stripe|Subito|Swiggy|Taobao|Tango
Tencent QQ|Ticketmaster|Tinkoff|Tiki|Todoist|Trendyol|TrueMoney|Twilio|Ubisoft|Upwork
Vinted|Vivid Money|VkusVill|Walmart|Webull|Weibo|Wildberries|Wolt|Xiaomi|Xianyu|YooMoney
Yubo|Zomato|Zoom|Zepto|Zilch|GCash|Maya|OVO|LinkAja|Touch 'n Go|Boost|ZaloPay|KBank
SCB Easy|Krungthai NEXT|TrueID|Meesho|PhonePe|BharatPe|CRED|Dream11|MPL|Ajio|Myntra|Nykaa
BigBasket|Blinkit|Ixigo|MakeMyTrip|Cleartrip|Redbus|Practo|Lenskart|JioMart|Hotstar
Zee5|SonyLIV|Sharechat|Moj|Josh|Chingari|Roposo|Truebill|Dave|Brigit|Earnin|Albert
Varo|Current|Step|Greenlight|Acorns|Stash|Robinhood|eToro|Plus500|IG Markets|Trading 212
Freetrade|Degiro|Bux|Scalable Capital|Trade Republic|Bunq|Lydia|Qonto|Shine|Nickel
Boursorama|Fortuneo|Hello bank!|Orange Bank|Ma French Bank|Lunar|Vipps|MobilePay|Swish
Klarna Card|Zopa|Starling|Chase UK|Kroo|Curve|Tide|Anna Money|Coconut|Emma|Plum|Chip
Moneybox|Nutmeg|Wealthify|Marcus|Ally|Discover|Capital One|Wells Fargo|U.S. Bank|PNC
Truist|TD Bank|Citizens|KeyBank|Regions|Huntington|Fifth Third|M&T Bank|Navy Federal
USAA|Schwab|Fidelity|Vanguard|E*TRADE|Merrill|Public.com|Cash Plus|Zelle|Payoneer
WorldRemit|Remitly|Xoom|Western Union|Azimo|Sendwave|TapTap Send|Taptap|Paga|OPay
PalmPay|Kuda|Moniepoint|Carbon|FairMoney|Chipper Cash|M-Pesa|Airtel Money|MTN MoMo
Vodacom|Safaricom|Equity Bank|KCB|Absa|Capitec|FNB|Nedbank|Standard Bank|TymeBank
Discovery Bank|Takealot|Checkers Sixty60|Mr D Food|Bolt Food|Jahez
HungerStation|Talabat|Noon Food|Careem Pay|STC Pay|Tabby|Tamara|Barq|Urpay|Mada
Anghami|Yalla|Ludo Club|Jawaker|Tiki Taka|Souq|Namshi|Ounass|Sivvi|Dubizzle|Bayut
Property Finder|Haraj|OpenSooq|Kijiji|Wallapop|Leboncoin|Milanuncios|Marktplaats
2dehands|Finn.no|Blocket|Tori.fi|Dba.dk|Jofogas|Bazar.bg|Njuskalo|KupujemProdajem
Prom.ua|Rozetka|Monobank|PrivatBank|Nova Poshta|Diia|Kyivstar|Lifecell
Sber|VTB|Alfa-Bank|Gazprombank|Raiffeisen|Otkritie|Sovcombank|Tele2|MegaFon|Yota
Kazanexpress|Lamoda|Dodo Pizza|Samokat|Kuper|SberMarket|Citymobil|Drivee|Maxim Taxi
Uklon|Bolt Drive|Hiyacar|Getaround|Turo|Zipcar|ShareNow|Free2Move|Cabify|Beat
Easy Taxi|99 Taxi|Picpay|Mercado Envios|iFood|Loggi|Magalu|Americanas|Casas Bahia
Netshoes|Dafiti|Kwai Brasil|Inter|C6 Bank|Neon|PagBank|Banco Pan|Next|Original
Bradesco|Itau|Caixa|Banco do Brasil|Sicredi|Sicoob|Ualá|Brubank|Naranja X|Lemon Cash
Belo|Buenbit|Ripio|Bitpreço|Foxbit|NovaDAX|Mercado Bitcoin|Coinext|Bitvavo|Bitonic
Kraken|Gemini Earn|Bitrue|Gate.io|MEXC|HTX|Huobi|Bitmart|LBank|Phemex|BingX|Bitunix
CoinEx|Pionex|Poloniex|ProBit|WhiteBIT|EXMO|Garantex|Bitkub|Indodax|Tokocrypto
Pintu|Coins.ph|PDAX|Upbit|Bithumb|Korbit|Coinone|bitFlyer|Coincheck|Zaif|BitoPro
MAX Exchange|WazirX|CoinDCX|ZebPay|CoinSwitch|Mudrex|Bitbns|Luno|Quidax|Yellow Card
Paxos|Uphold|Nexo|Celsius|BlockFi|YouHodler|Wirex|Crypto Pay|Trust Wallet|MetaMask
Phantom|Exodus|Ledger Live|Trezor Suite|Zengo|Argent|Rainbow|Coin98|SafePal|TokenPocket
"""

# SMS-Activate's own codes for the services above that the demo does not sell.
_LIVE_SMSACTIVATE_CODES = {
    "alibaba": "ab", "lyft": "tu", "doordash": "ac", "twitch": "hb", "mailru": "ma",
    "revolut": "ij", "cashapp": "it", "venmo": "yy", "nike": "ew", "truecaller": "tl",
    "foodpanda": "nz", "deliveroo": "zk", "imo": "im", "other": "ot",
}  # fmt: skip

LIVE_SERVICE_COUNT = 1400
LIVE_SEED = 20260101
# Made-up brands fill the list up to LIVE_SERVICE_COUNT, spelled every way
# real lists spell brands: "Velora", "Velora Pay", "VeloraPay", "velora.io",
# "VELORA", "Velora (PH)", "7Velora", "Velora & Kix".
_SYLLABLES = [
    "ka", "ri", "zo", "ne", "lu", "ta", "vi", "mo", "ra", "sen", "dor", "bel", "fin", "tro",
    "qua", "zen", "lix", "nor", "pax", "vel", "cor", "dex", "su", "ko", "te", "ba", "lo", "fy",
    "dri", "mar", "gal", "pin", "vor", "tas", "hel", "ro", "zu", "pe", "sa", "no", "ki", "ga",
]  # fmt: skip
_SUFFIXES = [
    "Pay", "Bank", "Bet", "Cash", "Shop", "Mall", "Games", "Mart", "Chat", "Live", "Ride",
    "Food", "Taxi", "Wallet", "Trade", "Coin", "Swap", "Express", "Plus", "Pro", "Lite", "Hub",
    "Club", "Date", "Connect", "Mobile", "Finance", "Loans", "Store", "Market", "Travel",
    "Delivery", "Casino", "Sport",
]  # fmt: skip
_REGIONS = ["PH", "ID", "MY", "VN", "TH", "BR", "MX", "NG", "KE", "IN", "PK", "BD", "EG", "TR",
            "PL", "RO", "UA", "KZ"]  # fmt: skip
_TLDS = ("com", "io", "app", "net", "co")


def _rows(text: str) -> list[list[str]]:
    return [line.split("|") for line in text.strip().splitlines()]


def _slugify(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "service"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _free_ids(used: set[int], start: int = 1) -> Iterator[int]:
    """Ids from `start` up that `used` does not hold, in order."""
    n = start
    while True:
        if n not in used:
            yield n
        n += 1


def _sa_codes(used: set[str]) -> Iterator[str]:
    """Three-letter SMS-Activate codes ("baa", "bab", ...) that `used` does not hold."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    for a in "bcfgpqsvxz":
        for b in letters:
            for c in letters:
                if a + b + c not in used:
                    yield a + b + c


def _live_countries() -> list[CountryInfo]:
    spool = _free_ids({c.smspool_id for c in DEMO_COUNTRIES if c.smspool_id is not None})
    used_sa = {c.smsactivate_id for c in DEMO_COUNTRIES if c.smsactivate_id is not None}
    sa = _free_ids(used_sa | {12}, start=0)  # 12 is SMS-Activate's "USA (virtual)"
    extra = [
        CountryInfo(
            iso,
            name,
            dial,
            int(length),
            region,
            float(factor),
            next(spool),
            None,  # NumPool lists only its published countries
            next(sa),
            numpool_name=name,
            emoji=_flag(iso),
        )
        for iso, name, dial, length, region, factor in _rows(_LIVE_COUNTRIES)
    ]
    return [*DEMO_COUNTRIES, *extra]


def _made_up_names(rng: random.Random) -> Iterator[str]:
    """An endless, seeded stream of brand-like names in varied spellings."""
    while True:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3))))
        other = "".join(rng.choice(_SYLLABLES) for _ in range(2)).title()
        if len(word) < 4:
            continue
        title, suffix = word.title(), rng.choice(_SUFFIXES)
        yield rng.choice(
            (
                title,
                f"{title} {suffix}",
                f"{title}{suffix}",
                f"{word}.{rng.choice(_TLDS)}",
                f"{title} ({rng.choice(_REGIONS)})",
                f"{title} & {other}",
                f"{title}-{suffix}",
                word.upper(),
                f"{rng.randrange(2, 10)}{title}",
                f"{title} {suffix} {rng.choice(_REGIONS)}",
            )
        )


def _live_names(rng: random.Random) -> list[tuple[str, str]]:
    """(name, same_as) for every service beyond the demo's, LIVE_SERVICE_COUNT in all."""
    names = [(name, same_as) for name, same_as in _rows(_LIVE_SAME_AS)]
    long_tail = "|".join(_LIVE_LONG_TAIL.strip().splitlines()).split("|")
    names += [(name.strip(), "") for name in long_tail]
    seen = {s.name.lower() for s in DEMO_SERVICES} | {n.lower() for n, _ in names}
    heads = {re.split(r"[^a-z0-9]+", n.lower())[0] for n in seen}
    made_up = _made_up_names(rng)
    while len(DEMO_SERVICES) + len(names) < LIVE_SERVICE_COUNT:
        name = next(made_up)
        head = re.split(r"[^a-z0-9]+", name.lower().lstrip("0123456789"))[0]
        if name.lower() not in seen and head not in heads:
            seen.add(name.lower())
            heads.add(head)  # one listing per made-up brand
            names.append((name, ""))
    return names


def _live_services(rng: random.Random) -> list[ServiceInfo]:
    taken = {s.slug for s in DEMO_SERVICES}
    spool = _free_ids({s.smspool_id for s in DEMO_SERVICES if s.smspool_id is not None})
    sa_codes = _sa_codes({s.smsactivate_code for s in DEMO_SERVICES if s.smsactivate_code})
    platform = _free_ids({s.smscode_platform_id for s in DEMO_SERVICES if s.smscode_platform_id})
    extra = []
    for i, (name, same_as) in enumerate(_live_names(rng)):
        # The first listing of a service the demo lacks is that service itself.
        own = same_as and same_as not in taken
        slug = same_as if own else _slugify(name, taken)
        taken.add(slug)
        extra.append(
            ServiceInfo(
                slug,
                name,
                round(rng.uniform(0.05, 0.8), 2),
                next(spool),
                None,  # NumPool sells only its published list
                _LIVE_SMSACTIVATE_CODES.get(slug) if own else next(sa_codes),
                # SMSCode lists fewer platforms; ids stay under 100 because its
                # product ids are built from them.
                next(platform) if i < 52 else None,
                same_as="" if own else same_as,
            )
        )
    return [*DEMO_SERVICES, *extra]


def _reach(rng: random.Random, world: Catalogue) -> tuple[dict[str, float], dict[str, float]]:
    """How widely each service and country is offered: popular ones almost everywhere."""
    demo_services = {s.slug for s in DEMO_SERVICES}
    services = {
        s.slug: 0.9 if s.slug in demo_services or s.same_as else 0.13 + 0.72 * rng.random() ** 1.5
        for s in world.services
    }
    demo_countries = {c.iso for c in DEMO_COUNTRIES}
    countries = {
        c.iso: 1.0 if c.iso in demo_countries else 0.45 + 0.5 * rng.random()
        for c in world.countries
    }
    return services, countries


@cache
def _cents(n: int) -> Decimal:
    # 150,000 prices hold a few hundred distinct values: share the Decimals.
    return Decimal(max(n, 5)).scaleb(-2)


def _live_offer(
    protocol: str, service: ServiceInfo, country: CountryInfo, rng: random.Random, core: bool
) -> Offer:
    usd = service.base_price * country.price_factor * PROVIDER_FACTOR[protocol]
    usd *= 0.8 + 0.45 * rng.random()
    roll = rng.random()
    stock = 0 if roll < 0.04 and not core else int(15 + roll**2 * 8000)
    rate = 55 + rng.randrange(45)
    if protocol == "smspool":
        count, start = 1 + rng.randrange(3), rng.randrange(len(POOLS))
        pools = []
        for i in range(count):
            pid, _name, factor, pool_rate = POOLS[(start + i * 2) % len(POOLS)]
            pool_stock = stock if i == 0 else int(stock * rng.random())
            pools.append((pid, _cents(int(usd * factor * 100 + 0.5)), pool_stock, pool_rate))
        pools.sort(key=lambda r: (r[1], r[0]))
        return Offer(protocol, service.slug, country.iso, pools[0][1], stock, rate, tuple(pools))
    price = _cents(int(usd * 100 + 0.5))
    if protocol == "smscode":
        idr = idr_from_usd(price)
        tiers = _smscode_tiers(service, country, idr, stock)
        return Offer(protocol, service.slug, country.iso, Decimal(idr), stock, rate, tiers=tiers)
    return Offer(protocol, service.slug, country.iso, price, stock, rate)


def _live_offers(world: Catalogue, protocol: str) -> dict[tuple[str, str], Offer]:
    """About 75,000 offers per provider (SMSPool: about 150,000 pool prices), seeded."""
    rng = random.Random(f"{LIVE_SEED}:{protocol}")
    service_reach, country_reach = _reach(random.Random(LIVE_SEED), world)
    countries = [c for c in world.countries if provider_has_country(protocol, c)]
    table = {}
    for service in world.services:
        if not provider_has_service(protocol, service):
            continue
        reach = service_reach[service.slug]
        for country in countries:
            core = service.slug in CORE_SERVICES and country.iso in CORE_COUNTRIES
            if core or rng.random() < reach * country_reach[country.iso]:
                table[(service.slug, country.iso)] = _live_offer(
                    protocol, service, country, rng, core
                )
    return table


@cache
def live_catalogue() -> Catalogue:
    """The live-size world, built once per process (its offers on first use)."""
    rng = random.Random(LIVE_SEED)
    return Catalogue("live", _live_countries(), _live_services(rng), _live_offers)
