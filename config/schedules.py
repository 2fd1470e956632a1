"""Collects the django-q2 schedules every app declares in its `schedules.py`.

Each app module exposes SCHEDULES: a list of dicts with `name`, `func` (dotted
path), `minutes` and optional `args`. `manage.py setup_schedules` turns them
into Schedule rows idempotently; schedules are never created by hand.
"""

from __future__ import annotations

from importlib import import_module

from django.apps import apps

SCHEDULE_PREFIX = "smsdesk:"


def declared_schedules() -> list[dict]:
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        found.extend(module.SCHEDULES)
    return found
