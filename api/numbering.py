"""SMS-Activate's standard numbering: country ids and service codes.

SMS-Activate tools name countries by SMS-Activate's integer ids (0 Russia,
6 Indonesia, 16 United Kingdom, 187 United States, ...) and services by its
short codes ("wa" WhatsApp, "tg" Telegram, ...). The gateway maps them onto
smsdesk's canonical catalogue (ISO codes, service slugs) with these tables.

Countries: the ids SMS-Activate publishes in getCountries, for every country
smsdesk's canonical list knows. Services: SMS-Activate's codes for canonical
services; a canonical service SMS-Activate has no code for is offered under
its slug ("okx"), which every SMS-Activate tool passes through unchanged.
"""

from __future__ import annotations

# ISO alpha-2 -> SMS-Activate country id. 187 is "USA" (12, "USA (virtual)", maps to US too).
# fmt: off
COUNTRY_IDS: dict[str, int] = {
    "RU": 0, "UA": 1, "KZ": 2, "CN": 3, "PH": 4, "MM": 5, "ID": 6, "MY": 7, "KE": 8,
    "TZ": 9, "VN": 10, "KG": 11, "IL": 13, "HK": 14, "PL": 15, "GB": 16, "MG": 17,
    "CD": 18, "NG": 19, "MO": 20, "EG": 21, "IN": 22, "IE": 23, "KH": 24, "LA": 25,
    "HT": 26, "CI": 27, "GM": 28, "RS": 29, "YE": 30, "ZA": 31, "RO": 32, "CO": 33,
    "EE": 34, "AZ": 35, "CA": 36, "MA": 37, "GH": 38, "AR": 39, "UZ": 40, "CM": 41,
    "TD": 42, "DE": 43, "LT": 44, "HR": 45, "SE": 46, "IQ": 47, "NL": 48, "LV": 49,
    "AT": 50, "BY": 51, "TH": 52, "SA": 53, "MX": 54, "TW": 55, "ES": 56, "IR": 57,
    "DZ": 58, "SI": 59, "BD": 60, "SN": 61, "TR": 62, "CZ": 63, "LK": 64, "PE": 65,
    "PK": 66, "NZ": 67, "GN": 68, "ML": 69, "VE": 70, "ET": 71, "MN": 72, "BR": 73,
    "AF": 74, "UG": 75, "AO": 76, "CY": 77, "FR": 78, "PG": 79, "MZ": 80, "NP": 81,
    "BE": 82, "BG": 83, "HU": 84, "MD": 85, "IT": 86, "PY": 87, "HN": 88, "TN": 89,
    "NI": 90, "TL": 91, "BO": 92, "CR": 93, "GT": 94, "AE": 95, "ZW": 96, "PR": 97,
    "SD": 98, "TG": 99, "KW": 100, "SV": 101, "LY": 102, "JM": 103, "TT": 104,
    "EC": 105, "SZ": 106, "OM": 107, "BA": 108, "DO": 109, "SY": 110, "QA": 111,
    "PA": 112, "CU": 113, "MR": 114, "SL": 115, "JO": 116, "PT": 117, "BB": 118,
    "BI": 119, "BJ": 120, "BN": 121, "BS": 122, "BW": 123, "BZ": 124, "CF": 125,
    "DM": 126, "GD": 127, "GE": 128, "GR": 129, "GW": 130, "GY": 131, "IS": 132,
    "KM": 133, "KN": 134, "LR": 135, "LS": 136, "MW": 137, "NA": 138, "NE": 139,
    "RW": 140, "SK": 141, "SR": 142, "TJ": 143, "MC": 144, "BH": 145, "RE": 146,
    "ZM": 147, "AM": 148, "SO": 149, "CG": 150, "CL": 151, "BF": 152, "LB": 153,
    "GA": 154, "AL": 155, "UY": 156, "MU": 157, "BT": 158, "MV": 159, "GP": 160,
    "TM": 161, "GF": 162, "FI": 163, "LC": 164, "LU": 165, "VC": 166, "GQ": 167,
    "DJ": 168, "AG": 169, "KY": 170, "ME": 171, "DK": 172, "CH": 173, "NO": 174,
    "AU": 175, "ER": 176, "SS": 177, "ST": 178, "AW": 179, "MS": 180, "AI": 181,
    "JP": 182, "MK": 183, "SC": 184, "NC": 185, "CV": 186, "US": 187, "PS": 188,
    "FJ": 189, "KR": 190, "SG": 196,
}
# fmt: on
ISO_BY_COUNTRY_ID: dict[int, str] = {cid: iso for iso, cid in COUNTRY_IDS.items()}
ISO_BY_COUNTRY_ID[12] = "US"  # "USA (virtual)"

# Canonical service slug -> SMS-Activate service code.
# fmt: off
SERVICE_CODES: dict[str, str] = {
    "whatsapp": "wa", "telegram": "tg", "google": "go", "facebook": "fb", "instagram": "ig",
    "twitter": "tw", "tiktok": "lf", "snapchat": "fu", "discord": "ds", "amazon": "am",
    "apple": "wx", "microsoft": "mm", "paypal": "ts", "uber": "ub", "netflix": "nf",
    "linkedin": "tn", "viber": "vi", "wechat": "wb", "line": "me", "tinder": "oi",
    "yahoo": "mb", "openai": "dr", "claude": "acz", "steam": "mt", "coinbase": "re",
    "shopee": "ka", "lazada": "dl", "olx": "sn", "vk": "vk", "ebay": "dh", "alibaba": "ab",
    "grab": "jg", "lyft": "tu", "doordash": "ac", "fiverr": "cn", "spotify": "alj",
    "twitch": "hb", "kakaotalk": "kt", "naver": "nv", "mailru": "ma", "revolut": "ij",
    "cashapp": "it", "venmo": "yy", "hinge": "vz", "nike": "ew", "truecaller": "tl",
    "foodpanda": "nz", "deliveroo": "zk", "imo": "im", "signal": "bw", "bumble": "mo",
    "airbnb": "uk", "binance": "aon", "other": "ot",
}
# fmt: on
SLUG_BY_SERVICE_CODE: dict[str, str] = {code: slug for slug, code in SERVICE_CODES.items()}


def country_id(iso: str) -> int | None:
    """SMS-Activate's id for ISO country `iso`, or None when it has none."""
    return COUNTRY_IDS.get(iso)


def iso_for(raw) -> str | None:
    """The ISO code SMS-Activate country id `raw` ("16", 16) names, or None."""
    text = str(raw if raw is not None else "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        return None
    return ISO_BY_COUNTRY_ID.get(int(text))


def service_code(slug: str) -> str:
    """The code a canonical service goes by on the wire: SMS-Activate's, else its slug."""
    return SERVICE_CODES.get(slug, slug)


def slug_for(code) -> str:
    """The canonical slug a wire service code names ("wa" or "whatsapp"), or ""."""
    text = str(code or "").strip().lower()
    if not text or len(text) > 60:
        return ""
    return SLUG_BY_SERVICE_CODE.get(text, text)
