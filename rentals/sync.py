"""Rental sync, run by the same per-account poller (and lease) as orders.

Rental inboxes are polled more slowly than waiting orders: each active rental
is checked at most every RENTAL_POLL_SECONDS, under the account's rate
budget, soonest-expiring first.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from providers.errors import ProviderError, RateLimited
from rentals.models import Rental, RentalState

log = logging.getLogger(__name__)

MAX_PER_CYCLE = 5


def sync_rentals(account, client, now) -> int:
    """Follow the account's active rentals that are due; return how many are active."""
    from rentals.services import rental_refresh

    active = Rental.objects.filter(account=account, state=RentalState.ACTIVE)
    due = active.filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now)).order_by(
        "expires_at"
    )
    gap = timedelta(seconds=settings.RENTAL_POLL_SECONDS)
    for rental in due[:MAX_PER_CYCLE]:
        try:
            rental_refresh(rental=rental, now=now)
        except RateLimited:
            raise
        except ProviderError as exc:
            log.warning("refresh of rental %s failed: %s", rental.code, exc.message)
        Rental.objects.filter(pk=rental.pk).update(next_check_at=now + gap)
    return active.count()


def accounts_with_active_rentals():
    return Rental.objects.filter(state=RentalState.ACTIVE).values("account")
