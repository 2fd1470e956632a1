"""The listener that turns audit events into webhook events.

`audit.record` writes every order and rental event smsdesk knows of; a new
AuditEvent with one of the actions in webhooks.events.EVENTS publishes the webhook
event of the same name once its transaction commits. The product apps know nothing
of webhooks.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from audit.models import AuditEvent
from webhooks import services
from webhooks.events import EVENTS


@receiver(post_save, sender=AuditEvent, dispatch_uid="webhooks.audit_event")
def _audit_event_saved(sender, instance: AuditEvent, created: bool, **kwargs) -> None:
    if not created or instance.action not in EVENTS or instance.team_id is None:
        return
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
