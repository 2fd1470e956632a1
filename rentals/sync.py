"""Rental sync, run by the same per-account poller as orders (see orders.sync)."""

from __future__ import annotations


def sync_rentals(account, client, now) -> int:
    """Follow the account's active rentals; return how many are active."""
    return 0


def accounts_with_active_rentals():
    from providers.models import ProviderAccount

    return ProviderAccount.objects.none().values("pk")
