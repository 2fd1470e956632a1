"""API key actions: create and revoke. Each writes its audit event (never the key)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from accounts.errors import ActionError
from accounts.roles import Permission
from api import keys
from api.models import ApiKey, Scope
from webhooks import services as webhook_services

NAME_MAX = 60


class ApiKeyError(ActionError):
    """A key action that cannot be done; the message is for the member."""


def api_key_create(
    *,
    membership,
    name: str,
    scope: str = Scope.READ,
    expires_at: datetime | None = None,
    actor,
    request=None,
) -> tuple[ApiKey, str]:
    """Create a key for `membership`; return (key, the key itself).

    The key itself exists only in the return value: show it once. Raises
    ApiKeyError for an empty or taken name, a scope wider than the member's role
    allows, or an expiry in the past.
    """
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise ApiKeyError(f"Give the key a name of 1 to {NAME_MAX} characters.")
    if scope not in Scope.values:
        raise ApiKeyError("Choose read only or order.")
    if Scope(scope) not in keys.scopes_for(membership):
        raise ApiKeyError(
            f"Your role ({membership.get_role_display()}) cannot order numbers, so your keys "
            "are read only.",
            category="forbidden",
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyError("The expiry must be in the future.")
    raw = keys.new_raw_key()
    try:
        with transaction.atomic():
            key = ApiKey.objects.create(
                team=membership.team,
                membership=membership,
                user=membership.user,
                name=name,
                prefix=keys.split(raw)[0],
                key_hash=keys.hash_key(raw),
                scope=scope,
                expires_at=expires_at,
            )
            audit.record(
                team=membership.team,
                actor=actor,
                action="api_key.created",
                target=key,
                payload=_payload(key),
                request=request,
            )
    except IntegrityError as exc:
        raise ApiKeyError(
            f"You already have a key named “{name}”.", next_step="Choose another name."
        ) from exc
    return key, raw


def api_key_revoke(*, key: ApiKey, membership, request=None) -> ApiKey:
    """Revoke `key` at once, and disable its personal webhooks. Its own member may, and
    whoever manages the team's members.

    Raises ApiKeyError when `membership` may not revoke it. Revoking twice is a no-op.
    """
    own = key.membership_id == membership.pk
    if key.team_id != membership.team_id or not (own or membership.can(Permission.MANAGE_MEMBERS)):
        raise ApiKeyError("You can revoke only your own keys.", category="forbidden")
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=membership.user
        )
        key.refresh_from_db()
        if revoked:
            webhook_services.endpoints_disable(team=key.team, audience=key.webhook_audience)
            audit.record(
                team=key.team,
                actor=membership.user,
                action="api_key.revoked",
                target=key,
                payload=_payload(key),
                request=request,
            )
    return key


def _payload(key: ApiKey) -> dict:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "member": key.user.get_username(),
        "scope": key.scope,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }
