"""The order form's one-click pairs: a member's favourites and recent orders.

A favourite is the member's own shortcut (per member and team): starring one
changes nothing of the team's, so it writes no audit event and no ledger entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Max

from orders.models import FavouritePair, Order
from providers.models import CatalogCountry, CatalogService
from providers.picks import UNMAPPED_PREFIX

RECENT = 5
FAVOURITES_MAX = 20


@dataclass(frozen=True)
class Pick:
    service: str  # the pick list's label, what the order form's field takes
    country: str
    favourite: bool = False

    @property
    def label(self) -> str:
        return f"{self.service} · {self.country}"


def _key_and_label(thing) -> tuple[str, str]:
    if isinstance(thing, CatalogService | CatalogCountry):
        return f"{UNMAPPED_PREFIX}{thing.pk}", f"{thing.name} ({thing.account.label})"
    key = thing.slug if hasattr(thing, "slug") else thing.iso
    return key, thing.name


def favourite_toggle(*, team, user, service, country) -> bool:
    """Star the pair for `user` in `team`, or unstar it when starred; True when starred.

    At most FAVOURITES_MAX per member: past that, the oldest goes."""
    (service_key, service_label), (country_key, country_label) = map(
        _key_and_label, (service, country)
    )
    mine = FavouritePair.objects.filter(team=team, user=user)
    existing = mine.filter(service_key=service_key, country_key=country_key)
    if existing.exists():
        existing.delete()
        return False
    try:
        with transaction.atomic():
            FavouritePair.objects.create(
                team=team,
                user=user,
                service_key=service_key,
                country_key=country_key,
                label=f"{service_label}\t{country_label}",
            )
    except IntegrityError:  # a double click starred it already
        return True
    extra = list(mine.order_by("-created", "-id").values_list("pk", flat=True)[FAVOURITES_MAX:])
    FavouritePair.objects.filter(pk__in=extra).delete()
    return True


def is_favourite(*, team, user, service, country) -> bool:
    (service_key, _), (country_key, _) = map(_key_and_label, (service, country))
    return FavouritePair.objects.filter(
        team=team, user=user, service_key=service_key, country_key=country_key
    ).exists()


def quick_picks(*, team, user) -> list[Pick]:
    """The member's favourites (A-Z), then their last RECENT pairs not among them."""
    picks = [
        Pick(*f.label.split("\t", 1), favourite=True)
        for f in FavouritePair.objects.filter(team=team, user=user)
        if "\t" in f.label
    ]
    starred = {(p.service, p.country) for p in picks}
    recent = (
        Order.objects.filter(
            team=team, ordered_by=user, service__isnull=False, country__isnull=False
        )
        .values("service__name", "country__name")
        .annotate(last=Max("created"))
        .order_by("-last")[: RECENT + len(starred)]
    )
    for row in recent:
        pair = (row["service__name"], row["country__name"])
        if pair not in starred and len(picks) < len(starred) + RECENT:
            picks.append(Pick(*pair))
    return picks
