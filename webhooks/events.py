"""The events a webhook can receive, and the listener that turns audit events into them.

`audit.record` writes every order and rental event smsdesk knows of; a new
AuditEvent with one of the actions below publishes the webhook event of the same
name once its transaction commits. The product apps know nothing of webhooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from audit.models import AuditEvent

log = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"

# Event name -> what it means, in the order the portal lists them.
EVENTS: dict[str, str] = {
    "order.code_received": "A code (or another SMS) arrived for an order",
    "order.completed": "An order was finished (done, or used and timed out)",
    "order.cancelled": "An order was cancelled and refunded",
    "order.expired": "An order expired without a code and was refunded",
    "order.refunded": "The provider refunded an order",
    "rental.message_received": "A rented number received messages",
}


# Who an event is about, beyond its team: apps above this one (api: an API key's
# orders) register a function (team id, event, order or rental code) -> audiences,
# and a personal endpoint hears an event only when its audience is among them.
AudienceFinder = Callable[[int, str, str], set[str]]
_audience_finders: list[AudienceFinder] = []


def register_audience_finder(finder: AudienceFinder) -> None:
    if finder not in _audience_finders:
        _audience_finders.append(finder)


def audiences_of(team_id: int, event: str, target_code: str) -> set[str]:
    """Every audience the event about `target_code` reaches (besides the whole team)."""
    found: set[str] = set()
    for finder in _audience_finders:
        found |= finder(team_id, event, target_code)
    return found


@receiver(post_save, sender=AuditEvent, dispatch_uid="webhooks.audit_event")
def _audit_event_saved(sender, instance: AuditEvent, created: bool, **kwargs) -> None:
    if not created or instance.action not in EVENTS or instance.team_id is None:
        return
    from webhooks import services

    publish = partial(
        services.event_publish,
        team_id=instance.team_id,
        event=instance.action,
        target_code=instance.target_code,
        event_id=instance.code,
        payload=dict(instance.payload or {}),
    )
    # After the commit, so the receiver can read what the event says; robust, so a
    # failing webhook never undoes or fails the order work that caused it.
    transaction.on_commit(publish, robust=True)
