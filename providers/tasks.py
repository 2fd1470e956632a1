"""django-q2 tasks for providers: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from config import queue
from providers import services
from providers.errors import ProviderError
from providers.models import ProviderAccount
from providers.ratelimit import DatabaseStore

log = logging.getLogger(__name__)


def sync_catalog(account_id: int) -> str:
    account = ProviderAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return "skipped: account missing or disabled"
    try:
        result = services.catalog_sync(account=account)
    except ProviderError as exc:
        log.warning("catalog sync of %s failed: %s", account, exc.message)
        return f"failed: {exc.category}"
    return f"{result.countries} countries, {result.services} services, {result.prices} prices"


def sync_all_catalogs() -> int:
    """Enqueue a catalog sync for every enabled account; return how many."""
    ids = list(ProviderAccount.objects.filter(enabled=True).values_list("pk", flat=True))
    for account_id in ids:
        queue.enqueue("providers.tasks.sync_catalog", account_id, group="catalog")
    return len(ids)


def refresh_balances() -> int:
    count = 0
    for account in ProviderAccount.objects.filter(enabled=True):
        if services.provider_account_refresh_balance(account=account) is not None:
            count += 1
    return count


def refresh_exchange_rates() -> int:
    from providers.balances import refresh_exchange_rates

    return refresh_exchange_rates()


def purge_rate_counters() -> int:
    return DatabaseStore.purge_expired()
