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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

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


COUNTRIES: list[CountryInfo] = [
    CountryInfo(*row[:9], numpool_name=row[9] or row[1], emoji=_flag(row[0])) for row in _COUNTRIES
]
SERVICES: list[ServiceInfo] = [ServiceInfo(*row) for row in _SERVICES]
COUNTRY_BY_ISO = {c.iso: c for c in COUNTRIES}
SERVICE_BY_SLUG = {s.slug: s for s in SERVICES}


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


@cache
def offers(protocol: str) -> dict[tuple[str, str], Offer]:
    """Every offer of `protocol`, keyed by (service slug, ISO)."""
    return {
        (s.slug, c.iso): _make_offer(protocol, s, c)
        for s in SERVICES
        for c in COUNTRIES
        if _is_offered(protocol, s, c)
    }


def offer(protocol: str, service: str, iso: str) -> Offer | None:
    return offers(protocol).get((service, iso))


@cache
def smscode_tiers_by_id() -> dict[int, Tier]:
    return {t.product_id: t for o in offers("smscode").values() for t in o.tiers}


@cache
def smscode_tier_pair() -> dict[int, tuple[str, str]]:
    """Tier product id -> (service slug, ISO)."""
    return {t.product_id: key for key, o in offers("smscode").items() for t in o.tiers}


@cache
def smscode_catalog_pair() -> dict[int, tuple[str, str]]:
    return {o.tiers[0].catalog_product_id: key for key, o in offers("smscode").items()}


def warm() -> None:
    """Build every cached table once (0.5 s), so no request pays for it."""
    for protocol in PROVIDER_FACTOR:
        offers(protocol)
    smscode_tiers_by_id()
    smscode_tier_pair()
    smscode_catalog_pair()
    _index()


# --- lookups by provider id ---------------------------------------------------------
@cache
def _index() -> dict[str, dict]:
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
    for c in COUNTRIES:
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
    idx["smsactivate_country"]["12"] = COUNTRY_BY_ISO["US"]
    for s in SERVICES:
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
    day_rate = 1.0 + SERVICE_BY_SLUG[service].base_price
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
    four_hours = SERVICE_BY_SLUG[service].base_price * COUNTRY_BY_ISO[iso].price_factor * 2.5
    hourly = four_hours / 4
    discount = 1.0 if hours <= 24 else 0.6 if hours <= 168 else 0.35
    return _usd(max(four_hours, hourly * hours * discount))


def smsactivate_rent_stock(service: str, iso: str) -> int:
    return 5 + _hash("rent", service, iso) % 60
