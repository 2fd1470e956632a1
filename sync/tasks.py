"""django-q2 tasks of the sync engine: thin, take ids, call sync.engine."""

from __future__ import annotations

from sync import engine


def dispatch() -> str:
    return engine.dispatch()


def cycle(account_id: int, token: str) -> str:
    return engine.cycle(account_id, token)


def watchdog() -> int:
    return engine.watchdog()
