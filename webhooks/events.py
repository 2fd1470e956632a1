"""The events a webhook can receive, and the listener that turns audit events into them.

`audit.record` writes every order and rental event smsdesk knows of; a new
AuditEvent with one of the actions below publishes the webhook event of the same
name once its transaction commits. The product apps know nothing of webhooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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


# Who an event is about, beyond its team. A personal endpoint's audience names one
# ("api-key:<code>"); apps above this one (api: an API key's orders and its member's
# rentals) register what each kind reaches and whether it is still live (a revoked
# key's endpoint hears nothing and cannot be enabled or tested), so webhooks never
# imports them.
@dataclass(frozen=True)
class AudienceKind:
    prefix: str  # of the audiences of this kind: "api-key:"
    reached: Callable[[int, str, str], set[str]]  # (team id, event, target code) -> audiences
    is_live: Callable[[int, str], bool]  # (team id, audience) -> may it hear events


_kinds: dict[str, AudienceKind] = {}


def register_audience_kind(kind: AudienceKind) -> None:
    _kinds[kind.prefix] = kind


def audiences_of(team_id: int, event: str, target_code: str) -> set[str]:
    """Every audience the event about `target_code` reaches (besides the whole team)."""
    found: set[str] = set()
    for kind in _kinds.values():
        found |= kind.reached(team_id, event, target_code)
    return found


def audience_is_live(team_id: int, audience: str) -> bool:
    """True while `audience` (a personal endpoint's) may hear events; an unknown kind never."""
    for prefix, kind in _kinds.items():
        if audience.startswith(prefix):
            return kind.is_live(team_id, audience)
    return False


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
