"""django-q2 tasks for orders: thin, take ids, call the sync engine or services."""

from __future__ import annotations

from orders import sync


def poll_account(account_id: int) -> str:
    return sync.poll_account(account_id)


def watchdog() -> int:
    """Restart pollers for accounts with work whose poller is not running; return how many."""
    sync.release_settled_holds()
    started = 0
    for account_id in sync.accounts_needing_a_poller().values_list("pk", flat=True):
        if sync.ensure_poller(account_id):
            started += 1
    return started
