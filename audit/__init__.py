"""The audit log: `audit.record(...)` is the one way to write an event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Set while an API request is handled (api.views): every event recorded meanwhile
# says which key did it, in its payload's "via".
_via: ContextVar[dict[str, str] | None] = ContextVar("audit_via", default=None)


@contextmanager
def attributed(**via: str) -> Iterator[None]:
    """Within the block, every event's payload carries `via` (e.g. the API key's name)."""
    token = _via.set(via)
    try:
        yield
    finally:
        _via.reset(token)


def record(
    *,
    team,
    actor,
    action: str,
    target=None,
    payload: dict[str, Any] | None = None,
    request=None,
    ip: str | None = None,
):
    """Append an AuditEvent and return it.

    `team` is a Team or its id (the sync engine has only the id at hand).
    `actor` is a user, or None for background work (recorded as "system").
    `target` is any model instance; its class name, `code` (or pk) and str()
    are kept. `request` supplies the client IP for web actions (`ip`, when there
    is no request at hand). Never pass a secret in `payload`: events are shown to
    every team member.
    """
    from accounts.access import client_ip
    from audit.models import SYSTEM_ACTOR, AuditEvent

    via = _via.get()
    if via:
        payload = {**(payload or {}), "via": via}
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    team_given = {"team_id": team} if isinstance(team, int) else {"team": team}
    return AuditEvent.objects.create(
        **team_given,
        actor=user,
        actor_name=user.get_username() if user else SYSTEM_ACTOR,
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_code=str(getattr(target, "code", None) or getattr(target, "pk", "") or ""),
        target_label=str(target)[:200] if target is not None else "",
        payload=payload or {},
        ip_address=client_ip(request) if request is not None else ip,
    )
