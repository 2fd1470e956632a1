"""django-q2 tasks for rentals."""

from __future__ import annotations

from rentals import reminders


def send_reminders() -> int:
    return reminders.send_due_reminders()
