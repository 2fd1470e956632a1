"""django-q2 tasks of the sync engine: thin, take ids, call sync.engine."""

from __future__ import annotations

from sync import engine


def dispatch() -> str:
    return engine.dispatch()


def cycles(leased: list[tuple[int, str]]) -> str:
    return engine.cycles(leased)


def cycle(account_id: int, token: str) -> str:
    # One account's cycle, as the dispatcher sent them before batches (tasks queued
    # across an upgrade still run).
    return engine.cycle(account_id, token)


def watchdog() -> int:
    return engine.watchdog()
