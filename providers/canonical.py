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
    ("CZ", "Czech Republic", "420", ("czechia", "czech")),
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
    ("MD", "Moldova", "373", ("republic of moldova", "moldova, republic of")),
    ("BY", "Belarus", "375", ()),
    ("TR", "Turkey", "90", ("turkiye", "türkiye")),
    ("IL", "Israel", "972", ()),
    ("AE", "United Arab Emirates", "971", ("uae", "emirates")),
    ("SA", "Saudi Arabia", "966", ()),
    ("EG", "Egypt", "20", ()),
    ("MA", "Morocco", "212", ()),
    ("DZ", "Algeria", "213", ()),
    ("TN", "Tunisia", "216", ()),
    ("NG", "Nigeria", "234", ()),
    ("GH", "Ghana", "233", ()),
    ("KE", "Kenya", "254", ()),
    ("TZ", "Tanzania", "255", ("united republic of tanzania", "tanzania, united republic of")),
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
    ("VN", "Vietnam", "84", ("viet nam", "socialist republic of vietnam")),
    ("KH", "Cambodia", "855", ()),
    ("LA", "Laos", "856", ("lao pdr", "lao people's democratic republic")),
    ("MM", "Myanmar", "95", ("burma",)),
    ("CN", "China", "86", ()),
    ("HK", "Hong Kong", "852", ("hong kong sar", "hongkong")),
    ("MO", "Macao", "853", ("macau", "macao sar")),
    ("TW", "Taiwan", "886", ("taiwan, province of china",)),
    ("JP", "Japan", "81", ()),
    ("KR", "South Korea", "82", ("korea", "republic of korea", "korea, south", "korea (south)")),
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
    ("VE", "Venezuela", "58", ("bolivarian republic of venezuela",)),
    ("EC", "Ecuador", "593", ()),
    ("BO", "Bolivia", "591", ("plurinational state of bolivia",)),
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
    ("BA", "Bosnia and Herzegovina", "387", ("bosnia", "bosnia & herzegovina", "bosnia-herzegovina")),
    ("MK", "North Macedonia", "389", ("macedonia", "republic of north macedonia")),
    ("AL", "Albania", "355", ()),
    ("ME", "Montenegro", "382", ()),
    ("LU", "Luxembourg", "352", ()),
    ("MT", "Malta", "356", ()),
    ("IS", "Iceland", "354", ()),
    ("TJ", "Tajikistan", "992", ()),
    ("TM", "Turkmenistan", "993", ()),
    ("AF", "Afghanistan", "93", ()),
    ("IR", "Iran", "98", ("islamic republic of iran", "iran, islamic republic of")),
    ("IQ", "Iraq", "964", ()),
    ("QA", "Qatar", "974", ()),
    ("KW", "Kuwait", "965", ()),
    ("BH", "Bahrain", "973", ()),
    ("OM", "Oman", "968", ()),
    ("JO", "Jordan", "962", ()),
    ("LB", "Lebanon", "961", ()),
    ("PS", "Palestine", "970", ("palestinian territories", "state of palestine")),
    ("BN", "Brunei", "673", ("brunei darussalam",)),
    ("LY", "Libya", "218", ()),
    ("ZM", "Zambia", "260", ()),
    ("ZW", "Zimbabwe", "263", ()),
    ("MZ", "Mozambique", "258", ()),
    ("AO", "Angola", "244", ()),
    ("CD", "DR Congo", "243", ("congo (dem. republic)", "democratic republic of the congo", "congo, democratic republic of the", "drc", "congo kinshasa", "zaire")),
    ("CG", "Congo", "242", ("republic of the congo", "congo brazzaville", "congo (republic)")),
    ("RW", "Rwanda", "250", ()),
    ("MG", "Madagascar", "261", ()),
    ("ML", "Mali", "223", ()),
    ("BF", "Burkina Faso", "226", ()),
    ("NE", "Niger", "227", ()),
    ("TD", "Chad", "235", ()),
    ("SD", "Sudan", "249", ()),
    ("BJ", "Benin", "229", ()),
    ("TG", "Togo", "228", ()),
    ("GN", "Guinea", "224", ()),
    ("SL", "Sierra Leone", "232", ()),
    ("LR", "Liberia", "231", ()),
    ("GA", "Gabon", "241", ()),
    ("BW", "Botswana", "267", ()),
    ("NA", "Namibia", "264", ()),
    ("MW", "Malawi", "265", ()),
    ("MU", "Mauritius", "230", ()),
    ("GM", "Gambia", "220", ("the gambia",)),
    ("TT", "Trinidad and Tobago", "1", ("trinidad & tobago", "trinidad")),
    ("HT", "Haiti", "509", ()),
    ("PG", "Papua New Guinea", "675", ("papua",)),
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


def compact(name: object) -> str:
    """Letters and digits only: "Tik Tok", "TikTok" and "tik-tok" all read "tiktok"."""
    return re.sub(r"[^a-z0-9]+", "", normalise(name))


def _index(entries) -> tuple[dict[str, str], dict[str, str]]:
    """(normalised name -> key, compact name -> key) over every name and alias."""
    exact: dict[str, str] = {}
    loose: dict[str, str] = {}
    for key, names in entries:
        for alias in names:
            exact.setdefault(normalise(alias), key)
            loose.setdefault(compact(alias), key)
    exact.pop("", None)
    loose.pop("", None)
    return exact, loose


COUNTRY_BY_NAME, COUNTRY_BY_COMPACT = _index(
    (iso, (name, *aliases)) for iso, name, _dial, aliases in COUNTRIES
)
SERVICE_BY_NAME, SERVICE_BY_COMPACT = _index(
    (slug, (slug, name, *aliases)) for slug, name, aliases in SERVICES
)
KNOWN_ISO = {iso for iso, *_ in COUNTRIES}

# Shorter pieces of a name are codes ("ma", "go", "x"): trusted only when they
# are the whole name, never as a part or a first word ("Ma French Bank").
MIN_PIECE = 3
# A web address names its site: "1688.com", "Olx.ua", "Match.com".
_DOMAIN_END = re.compile(r"\.(?:com|net|org|io|app|co|info|biz|[a-z]{2})(?:\.[a-z]{2})?$")


def _find(text: str, exact: dict[str, str], loose: dict[str, str], shortest: int = 1) -> str:
    """The key `text` names exactly or once punctuation and spaces are ignored, or ""."""
    squeezed = re.sub(r"[^a-z0-9]+", "", text)
    if len(squeezed) < shortest:
        return ""
    return exact.get(text) or loose.get(squeezed, "")


def _pieces(text: str) -> list[str]:
    """What a listing's name may be made of, most specific first.

    "1688.com" -> "1688"; "Google / Gmail / Youtube" -> "google", "gmail", ...;
    "Tik Tok Lite" -> "tik tok", "tik"; "Yandex.Go" -> "yandex".
    """
    pieces = []
    site = _DOMAIN_END.sub("", text)
    if site != text:
        pieces.append(site)
    pieces += [p.strip() for p in re.split(r"[/+&]", text) if p.strip()]
    words = [w for w in re.split(r"[ .]+", text) if w]
    pieces += [" ".join(words[:n]) for n in range(len(words) - 1, 0, -1)]
    return pieces


def _match(name: str, exact: dict[str, str], loose: dict[str, str]) -> str:
    text = normalise(name)
    found = _find(text, exact, loose)
    for piece in [] if found else _pieces(text):
        found = _find(piece, exact, loose, shortest=MIN_PIECE)
        if found:
            break
    return found


def country_iso_for(*, iso: str = "", name: str = "") -> str:
    """The canonical ISO code for an upstream country, or "" when unknown.

    Names match by alias, case and punctuation, and the "Korea, Republic of"
    order of official lists.
    """
    iso = (iso or "").strip().upper()
    if len(iso) == 2 and iso.isalpha():
        return iso
    found = _match(name, COUNTRY_BY_NAME, COUNTRY_BY_COMPACT)
    head, comma, tail = (name or "").partition(",")
    if not found and comma:
        found = _find(normalise(f"{tail} {head}"), COUNTRY_BY_NAME, COUNTRY_BY_COMPACT)
    return found


def service_slug_for(*, name: str = "", code: str = "") -> str:
    """The canonical service slug for an upstream service, or "" when unknown.

    Tries the whole name and the code by alias, case and punctuation, then
    the pieces of the name: a site's name, each part of "A / B + C", and its
    leading words ("WhatsApp Business", "Tik Tok Lite", "Uber Eats").
    """
    for candidate in (name, code):
        slug = _find(normalise(candidate), SERVICE_BY_NAME, SERVICE_BY_COMPACT)
        if slug:
            return slug
    return _match(name, SERVICE_BY_NAME, SERVICE_BY_COMPACT)
