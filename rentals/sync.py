"""Rental sync, run by the same per-account poller (and lease) as orders.

Rental inboxes are polled more slowly than waiting orders: each active rental
is checked at most every RENTAL_POLL_SECONDS, under the account's rate
budget, soonest-expiring first.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from config.sql import KeptRead
from providers.errors import ProviderError, RateLimited
from rentals.models import Rental, RentalState

log = logging.getLogger(__name__)

MAX_PER_CYCLE = 5
# An unconfirmed rent absent from the provider's rental list this long after its
# call ended did not happen.
UNCONFIRMED_SETTLE = timedelta(seconds=10)


def sync_rentals(account, client, now) -> int:
    """Follow the account's active rentals that are due, and settle unconfirmed rents;
    return how many rentals still need the poller.

    One read of the account's live rentals; most accounts have none, and then that is
    all a cycle spends here.
    """
    from rentals.services import rental_refresh

    live = _live_rentals(account)
    if not live:
        return 0
    unconfirmed = 0
    if any(r.state == RentalState.UNCONFIRMED and not r.upstream_id for r in live):
        unconfirmed = resolve_unconfirmed_rentals(account, client, now)
        live = _live_rentals(account)  # attached rents are active now
    active = [r for r in live if r.state == RentalState.ACTIVE]
    due = [r for r in active if r.next_check_at is None or r.next_check_at <= now]
    # Soonest-expiring first, as SQL orders them (no expiry last).
    due.sort(key=lambda r: (r.expires_at is None, r.expires_at or now))
    gap = timedelta(seconds=settings.RENTAL_POLL_SECONDS)
    for rental in due[:MAX_PER_CYCLE]:
        try:
            rental_refresh(rental=rental, now=now)
        except RateLimited:
            raise
        except ProviderError as exc:
            log.warning("refresh of rental %s failed: %s", rental.code, exc.message)
        Rental.objects.filter(pk=rental.pk).update(next_check_at=now + gap)
    if due:  # a refresh may have ended some
        return _active(account).count() + unconfirmed
    return len(active) + unconfirmed


def _live_rentals(account) -> list[Rental]:
    """The account's active and unconfirmed rentals (in no order: sync_rentals sorts)."""
    return _LIVE_RENTALS.rows(account.pk)


# Read by every cycle of every account: compiled once (config.sql.KeptRead).
_LIVE_RENTALS = KeptRead(
    Rental,
    lambda account: Rental.objects.filter(
        account_id=account, state__in=(RentalState.ACTIVE, RentalState.UNCONFIRMED)
    ).order_by(),
)


def _active(account):
    return Rental.objects.filter(account=account, state=RentalState.ACTIVE)


def resolve_unconfirmed_rentals(account, client, now) -> int:
    """Attach upstream rentals nobody recorded to the account's unconfirmed rents (oldest
    first); close the rest as not rented once the call has settled. Returns how many
    are still unconfirmed."""
    from rentals.services import mark_rental_failed, record_rental

    pending = list(
        Rental.objects.filter(
            account=account, state=RentalState.UNCONFIRMED, upstream_id=""
        ).order_by("created", "id")
    )
    if not pending:
        return 0
    listed = [r for r in client.list_rentals() if r.status in ("", "active")]
    known = set(
        Rental.objects.filter(
            account=account, upstream_id__in=[r.rental_id for r in listed]
        ).values_list("upstream_id", flat=True)
    )
    strays = [r for r in listed if r.rental_id not in known]
    for rental, upstream in zip(pending, strays, strict=False):
        record_rental(rental, _as_purchase(upstream), actor=None)
    left = pending[len(strays) :]
    for rental in left:
        if now >= rental.updated + UNCONFIRMED_SETTLE:
            mark_rental_failed(
                rental, "The provider has no such rental: nothing was rented or charged.", "gone"
            )
    return Rental.objects.filter(account=account, state=RentalState.UNCONFIRMED).count()


def _as_purchase(upstream):
    from providers.types import RentalPurchase

    return RentalPurchase(
        rental_id=upstream.rental_id,
        phone_number=upstream.phone_number,
        expires_at=upstream.expires_at,
        cost=upstream.cost,
        currency=upstream.currency,
    )


def accounts_with_active_rentals():
    return Rental.objects.filter(state__in=(RentalState.ACTIVE, RentalState.UNCONFIRMED)).values(
        "account"
    )
