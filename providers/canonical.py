"""The canonical catalog: ISO countries and service names every provider maps onto.

Providers name the same thing differently (SMSPool "United States"/"US",
NumPool "USA"/187, SMS-Activate "wa" for WhatsApp). The catalog sync matches
each upstream entry to a canonical Country (by ISO code, else by name or
alias) and Service (by name or alias, or by SMS-Activate code), so one order
form serves every provider. Unmatched entries stay usable under their own
names, and staff can correct any mapping in the admin.
"""

from __future__ import annotations

import re
import unicodedata

# ISO alpha-2, name, dialling code, other names providers use.
# fmt: off
COUNTRIES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("US", "United States", "1", ("usa", "united states of america", "us", "usa (virtual)", "america")),
    ("GB", "United Kingdom", "44", ("uk", "england", "great britain", "britain", "united kingdom of great britain")),
    ("CA", "Canada", "1", ()),
    ("DE", "Germany", "49", ("deutschland",)),
    ("FR", "France", "33", ()),
    ("NL", "Netherlands", "31", ("holland", "the netherlands")),
    ("ES", "Spain", "34", ()),
    ("IT", "Italy", "39", ()),
    ("PT", "Portugal", "351", ()),
    ("PL", "Poland", "48", ()),
    ("SE", "Sweden", "46", ()),
    ("FI", "Finland", "358", ()),
    ("DK", "Denmark", "45", ()),
    ("NO", "Norway", "47", ()),
    ("IE", "Ireland", "353", ()),
    ("BE", "Belgium", "32", ()),
    ("AT", "Austria", "43", ()),
    ("CH", "Switzerland", "41", ()),
    ("CZ", "Czech Republic", "420", ("czechia",)),
    ("RO", "Romania", "40", ()),
    ("BG", "Bulgaria", "359", ()),
    ("GR", "Greece", "30", ()),
    ("HU", "Hungary", "36", ()),
    ("HR", "Croatia", "385", ()),
    ("RS", "Serbia", "381", ()),
    ("SK", "Slovakia", "421", ()),
    ("SI", "Slovenia", "386", ()),
    ("LT", "Lithuania", "370", ()),
    ("LV", "Latvia", "371", ()),
    ("EE", "Estonia", "372", ()),
    ("CY", "Cyprus", "357", ()),
    ("UA", "Ukraine", "380", ()),
    ("RU", "Russia", "7", ("russian federation",)),
    ("KZ", "Kazakhstan", "7", ()),
    ("KG", "Kyrgyzstan", "996", ()),
    ("UZ", "Uzbekistan", "998", ()),
    ("GE", "Georgia", "995", ()),
    ("AM", "Armenia", "374", ()),
    ("AZ", "Azerbaijan", "994", ()),
    ("MD", "Moldova", "373", ()),
    ("BY", "Belarus", "375", ()),
    ("TR", "Turkey", "90", ("turkiye", "türkiye")),
    ("IL", "Israel", "972", ()),
    ("AE", "United Arab Emirates", "971", ("uae",)),
    ("SA", "Saudi Arabia", "966", ()),
    ("EG", "Egypt", "20", ()),
    ("MA", "Morocco", "212", ()),
    ("DZ", "Algeria", "213", ()),
    ("TN", "Tunisia", "216", ()),
    ("NG", "Nigeria", "234", ()),
    ("GH", "Ghana", "233", ()),
    ("KE", "Kenya", "254", ()),
    ("TZ", "Tanzania", "255", ()),
    ("UG", "Uganda", "256", ()),
    ("ZA", "South Africa", "27", ()),
    ("CM", "Cameroon", "237", ()),
    ("CI", "Ivory Coast", "225", ("cote d'ivoire", "côte d'ivoire")),
    ("SN", "Senegal", "221", ()),
    ("ET", "Ethiopia", "251", ()),
    ("IN", "India", "91", ()),
    ("PK", "Pakistan", "92", ()),
    ("BD", "Bangladesh", "880", ()),
    ("LK", "Sri Lanka", "94", ()),
    ("NP", "Nepal", "977", ()),
    ("ID", "Indonesia", "62", ()),
    ("MY", "Malaysia", "60", ()),
    ("PH", "Philippines", "63", ()),
    ("TH", "Thailand", "66", ()),
    ("VN", "Vietnam", "84", ("viet nam",)),
    ("KH", "Cambodia", "855", ()),
    ("LA", "Laos", "856", ()),
    ("MM", "Myanmar", "95", ("burma",)),
    ("CN", "China", "86", ()),
    ("HK", "Hong Kong", "852", ()),
    ("MO", "Macao", "853", ("macau",)),
    ("TW", "Taiwan", "886", ()),
    ("JP", "Japan", "81", ()),
    ("KR", "South Korea", "82", ("korea", "republic of korea")),
    ("SG", "Singapore", "65", ()),
    ("MN", "Mongolia", "976", ()),
    ("AU", "Australia", "61", ()),
    ("NZ", "New Zealand", "64", ()),
    ("MX", "Mexico", "52", ()),
    ("BR", "Brazil", "55", ()),
    ("AR", "Argentina", "54", ()),
    ("CL", "Chile", "56", ()),
    ("CO", "Colombia", "57", ()),
    ("PE", "Peru", "51", ()),
    ("VE", "Venezuela", "58", ()),
    ("EC", "Ecuador", "593", ()),
    ("BO", "Bolivia", "591", ()),
    ("PY", "Paraguay", "595", ()),
    ("UY", "Uruguay", "598", ()),
    ("DO", "Dominican Republic", "1", ()),
    ("PR", "Puerto Rico", "1", ()),
    ("GT", "Guatemala", "502", ()),
    ("HN", "Honduras", "504", ()),
    ("SV", "El Salvador", "503", ()),
    ("NI", "Nicaragua", "505", ()),
    ("CR", "Costa Rica", "506", ()),
    ("PA", "Panama", "507", ()),
    ("JM", "Jamaica", "1", ()),
    ("GP", "Guadeloupe", "590", ()),
    ("AI", "Anguilla", "1", ()),
]
# fmt: on

# Canonical slug, display name, other names (including SMS-Activate family codes).
# fmt: off
SERVICES: list[tuple[str, str, tuple[str, ...]]] = [
    ("whatsapp", "WhatsApp", ("wa", "whats app", "whatsapp business")),
    ("telegram", "Telegram", ("tg",)),
    ("google", "Google", ("go", "gmail", "youtube", "google / gmail / youtube", "google,youtube,gmail")),
    ("facebook", "Facebook", ("fb", "meta")),
    ("instagram", "Instagram", ("ig", "instagram + threads", "threads")),
    ("twitter", "Twitter / X", ("tw", "twitter", "x", "x (twitter)", "twitter x")),
    ("tiktok", "TikTok", ("lf", "tik tok", "douyin")),
    ("snapchat", "Snapchat", ("fu", "snap")),
    ("discord", "Discord", ("ds",)),
    ("amazon", "Amazon", ("am", "amazon aws")),
    ("apple", "Apple", ("wx", "apple id", "icloud")),
    ("microsoft", "Microsoft", ("mm", "outlook", "hotmail", "microsoft / microsoft rewards / outlook", "bing")),
    ("paypal", "PayPal", ("ts", "paypal + ebay")),
    ("uber", "Uber", ("ub",)),
    ("netflix", "Netflix", ("nf",)),
    ("linkedin", "LinkedIn", ("tn", "li")),
    ("viber", "Viber", ("vi",)),
    ("wechat", "WeChat", ("wb",)),
    ("line", "LINE", ("me", "line messenger")),
    ("signal", "Signal", ()),
    ("tinder", "Tinder", ("oi",)),
    ("bumble", "Bumble", ()),
    ("yahoo", "Yahoo", ("mb",)),
    ("openai", "OpenAI", ("dr", "chatgpt", "openai / chatgpt")),
    ("claude", "Claude", ("acz", "anthropic", "claudeai", "claude ai")),
    ("steam", "Steam", ("mt",)),
    ("binance", "Binance", ()),
    ("coinbase", "Coinbase", ("re",)),
    ("okx", "OKX", ()),
    ("kucoin", "KuCoin", ()),
    ("bybit", "Bybit", ()),
    ("shopee", "Shopee", ("ka",)),
    ("lazada", "Lazada", ("dl",)),
    ("olx", "OLX", ("sn",)),
    ("vk", "VK", ("vk", "vkontakte")),
    ("airbnb", "Airbnb", ()),
    ("ebay", "eBay", ("dh",)),
    ("alibaba", "Alibaba", ("ab", "1688", "aliexpress")),
    ("grab", "Grab", ("jg",)),
    ("lyft", "Lyft", ("tu",)),
    ("doordash", "DoorDash", ("ac",)),
    ("fiverr", "Fiverr", ("cn",)),
    ("spotify", "Spotify", ("alj",)),
    ("twitch", "Twitch", ("hb",)),
    ("reddit", "Reddit", ()),
    ("kakaotalk", "KakaoTalk", ("kt", "kakao")),
    ("naver", "Naver", ("nv",)),
    ("yandex", "Yandex", ()),
    ("mailru", "Mail.ru", ("ma", "mail.ru group")),
    ("revolut", "Revolut", ("ij",)),
    ("wise", "Wise", ("transferwise",)),
    ("cashapp", "Cash App", ("it", "cashapp", "square cash")),
    ("venmo", "Venmo", ("yy",)),
    ("hinge", "Hinge", ("vz",)),
    ("match", "Match", ()),
    ("nike", "Nike", ("ew",)),
    ("zoho", "Zoho", ()),
    ("proton", "Proton", ("protonmail", "proton mail")),
    ("truecaller", "Truecaller", ("tl",)),
    ("foodpanda", "Foodpanda", ("nz",)),
    ("deliveroo", "Deliveroo", ("zk",)),
    ("dbs", "DBS", ("dbs bank",)),
    ("skype", "Skype", ()),
    ("imo", "imo", ("im",)),
    ("other", "Any other", ("ot", "any other", "other", "any")),
]
# fmt: on


def normalise(name: object) -> str:
    """Lower-case, accent-free, punctuation-light form of a name for matching."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode()
    text = text.lower().strip()
    text = re.sub(r"\s*\(virtual\)\s*", " ", text)
    text = re.sub(r"[^a-z0-9.+/&' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for iso, name, _dial, aliases in COUNTRIES:
        for alias in (name, *aliases):
            index.setdefault(normalise(alias), iso)
    return index


def _service_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for slug, name, aliases in SERVICES:
        for alias in (slug, name, *aliases):
            index.setdefault(normalise(alias), slug)
    return index


COUNTRY_BY_NAME = _country_index()
SERVICE_BY_NAME = _service_index()
KNOWN_ISO = {iso for iso, *_ in COUNTRIES}


def country_iso_for(*, iso: str = "", name: str = "") -> str:
    """The canonical ISO code for an upstream country, or "" when unknown."""
    iso = (iso or "").strip().upper()
    if len(iso) == 2 and iso.isalpha():
        return iso
    return COUNTRY_BY_NAME.get(normalise(name), "")


def service_slug_for(*, name: str = "", code: str = "") -> str:
    """The canonical service slug for an upstream service, or "" when unknown."""
    for candidate in (name, code):
        slug = SERVICE_BY_NAME.get(normalise(candidate))
        if slug:
            return slug
    # "WhatsApp Business" or "Google (Gmail)": try the first word.
    first = normalise(name).split(" ")[0] if name else ""
    return SERVICE_BY_NAME.get(first, "")
