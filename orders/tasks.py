"""A task name queued by earlier versions, kept so tasks still in a queue run.

The sync engine's tasks are in sync.tasks; `manage.py setup_schedules` removes
the old watchdog schedule.
"""

from __future__ import annotations

from providers import leases


def poll_account(account_id: int) -> str:
    leases.mark_due(account_id)
    return "handed to the sync engine"
