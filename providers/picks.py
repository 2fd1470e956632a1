"""Choosing a service and a country from the team's catalogue, as the order form, the
rent form and the API do.

A service or country is named by its canonical key ("whatsapp", "US") or, for an
upstream entry that has no canonical mapping, by "u<catalog row id>", so unmapped
entries stay orderable under their own names. A "u<id>" resolves only to a row of
one of the team's own provider accounts. What a member types (a label of the pick
list, a key, a name, an alias, a start, a typo: providers/search.py) resolves to
one of them, or to nothing.

The pick lists put the team's favourites first when given its history: the order
form passes the team's orders, the rent form its rentals.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max
from django.utils import timezone

from providers import search
from providers.canonical import SERVICE_BY_NAME, country_iso_for, normalise
from providers.models import CatalogCountry, CatalogService, Country, Service

UNMAPPED_PREFIX = "u"


# --- the pick lists ---------------------------------------------------------------------------


def service_options(team, *, history=None) -> list[tuple[str, str, str]]:
    """(value, label, group) for every service the team's enabled accounts list:
    favourites and recent ones of `history` first, then A–Z, then unmapped entries."""
    return _options(team, history, "service", Service, CatalogService, key="slug")


def country_options(team, *, history=None) -> list[tuple[str, str, str]]:
    """(value, label, group) for every country, ordered as service_options orders services."""
    return _options(team, history, "country", Country, CatalogCountry, key="iso")


def _options(team, history, field: str, canonical, catalog, *, key: str):
    """The options of `field` ("service" or "country"): the canonical entries the team's
    enabled accounts map to (by `key`), then each account's unmapped catalog entries."""
    accounts = team.provider_accounts.filter(enabled=True)
    listed = catalog.objects.filter(account__in=accounts)
    mapped = canonical.objects.filter(pk__in=listed.values(field)).order_by("name")
    options = _favourites_first(history, field, [(getattr(m, key), m.name) for m in mapped])
    unmapped = listed.filter(**{f"{field}__isnull": True}).select_related("account")
    options += [
        (f"{UNMAPPED_PREFIX}{entry.pk}", f"{entry.name} ({entry.account.label})", "Other")
        for entry in unmapped.order_by("name")
    ]
    return options


def _favourites_first(history, field: str, everything: list[tuple[str, str]]):
    """Put the most chosen (last 30 days) and most recent choices of `history` on top.

    `history` is the team's orders or rentals (a queryset of rows with `service`,
    `country` and `created`); None lists everything A–Z.
    """
    if history is None:
        return [(k, name, "All") for k, name in everything]
    key_field = "slug" if field == "service" else "iso"
    since = timezone.now() - timedelta(days=30)
    chosen = history.filter(**{f"{field}__isnull": False})
    favourites = list(
        chosen.filter(created__gte=since)
        .values_list(f"{field}__{key_field}", flat=True)
        .annotate(n=Count("id"))
        .order_by("-n")[:5]
    )
    recent = list(
        chosen.values_list(f"{field}__{key_field}", flat=True)
        .annotate(last=Max("created"))
        .order_by("-last")[:5]
    )
    labels = dict(everything)
    top = [(k, labels[k], "Favourites") for k in favourites if k in labels]
    top += [(k, labels[k], "Recent") for k in recent if k in labels and k not in favourites]
    taken = {k for k, _, _ in top}
    return top + [(k, name, "All") for k, name in everything if k not in taken]


# --- resolving what the member typed ---------------------------------------------------------


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


def find_service(text: str, *, team) -> Service | CatalogService | None:
    """The service `text` names for `team` (a label of its pick list, a key, a "u<id>"
    of its own catalogue, a known name or alias), or what it forgivingly means (a
    start, a word, a typo: providers/search.py), or None."""
    options = service_options(team)
    found = _by_label(text, options, team=team)
    found = found or resolve_service(text, team=team)
    if found is None:
        slug = SERVICE_BY_NAME.get(normalise(text))
        found = Service.objects.filter(slug=slug).first() if slug else None
    if found is None and "\x00" not in text:
        found = Service.objects.filter(name__iexact=text).first()
    if found is None and "\x00" not in text:
        guess = search.best(text, options, kind="service")
        found = resolve_service(guess.value, team=team) if guess else None
    return found


def find_country(text: str, *, team) -> Country | CatalogCountry | None:
    """The country `text` names for `team` (a label of its pick list, an ISO code, a
    "u<id>" of its own catalogue, a known name or alias), or None."""
    options = country_options(team)
    found = _by_label(text, options, team=team, country=True)
    found = found or resolve_country(text, team=team)
    if found is None:
        iso = country_iso_for(name=text)
        found = Country.objects.filter(iso=iso).first() if iso else None
    if found is None and "\x00" not in text:
        guess = search.best(text, options, kind="country")
        found = resolve_country(guess.value, team=team) if guess else None
    return found


def did_you_mean(text: str, *, team, kind: str) -> str:
    """The " Did you mean “Telegram” or “Telegram X”?" ending of an error, or "" when
    nothing is close."""
    options = service_options(team) if kind == "service" else country_options(team)
    close = search.suggestions(text, options, kind=kind)
    if not close:
        return ""
    quoted = [f"“{label}”" for label in close]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" Did you mean {listed}?"


def _by_label(text: str, options, *, team, country: bool = False):
    for value, label, _group in options:
        if label.lower() == text.lower():
            if country:
                return resolve_country(value, team=team)
            return resolve_service(value, team=team)
    return None
