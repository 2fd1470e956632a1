"""Personal webhooks: a member's endpoint for one of their API keys.

A pipeline that orders with a key wants the events of its own orders, not the
whole team's, and its member may not manage the team's webhooks. A personal
endpoint is a webhooks.Endpoint with an owner (the member) and the key's audience:
it hears the events of the orders placed with that key and of the rentals its
member rented, while the key is usable. Signing, retries, the delivery log and
the test button are the team endpoints' own (webhooks app).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models.signals import post_delete

from api.models import WEBHOOK_AUDIENCE_PREFIX as PREFIX
from api.models import ApiKey, ApiOrder
from api.services import ApiKeyError
from rentals.models import Rental
from webhooks import services as webhook_services
from webhooks.events import AudienceKind, register_audience_kind
from webhooks.models import Endpoint

# A pipeline registers its receiver when it starts: a cap and one endpoint per URL keep
# restarts from multiplying the webhooks (and the copies of every event).
MAX_PER_KEY = 5


def key_audiences(team_id: int, event: str, target_code: str) -> set[str]:
    """The audiences of the usable keys an event is about: the key an order was placed
    with; every key of the member who rented a rental."""
    keys = ApiKey.objects.usable().filter(team_id=team_id)
    if event.startswith("order."):
        placed_with = ApiOrder.objects.filter(team_id=team_id, order__code=target_code)
        keys = keys.filter(pk__in=placed_with.values("key_id"))
    elif event.startswith("rental."):
        renters = Rental.objects.filter(team_id=team_id, code=target_code)
        keys = keys.filter(user_id__in=renters.values("rented_by_id"))
    else:
        return set()
    return {key.webhook_audience for key in keys.only("code")}


def key_is_live(team_id: int, audience: str) -> bool:
    """True while the key `audience` names is usable (not revoked, expired or deleted)."""
    try:
        return (
            ApiKey.objects.usable().filter(team_id=team_id, code=audience[len(PREFIX) :]).exists()
        )
    except (ValueError, ValidationError):
        return False


def _key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    """A key goes with its member's membership: its webhooks stop too."""
    webhook_services.endpoints_disable(team=instance.team_id, audience=instance.webhook_audience)


def register() -> None:
    register_audience_kind(AudienceKind(prefix=PREFIX, reached=key_audiences, is_live=key_is_live))
    post_delete.connect(_key_deleted, sender=ApiKey, dispatch_uid="api.key_webhooks.key_deleted")


def endpoints_of(key: ApiKey):
    return Endpoint.objects.filter(team_id=key.team_id, audience=key.webhook_audience)


def key_webhook_create(
    *, key: ApiKey, membership, url: str, events: list[str], request=None
) -> tuple[Endpoint, str]:
    """Add a personal endpoint for `key`; return it and its signing secret (shown once).

    Only the key's own member adds one, to a usable key, at most MAX_PER_KEY and one per
    URL. Raises ApiKeyError for those (category "webhook_exists": the URL has one),
    webhooks.services.WebhookError for the URL or the events.
    """
    if key.membership_id != membership.pk:
        raise ApiKeyError("You can add webhooks only to your own keys.", category="forbidden")
    if not ApiKey.objects.usable().filter(pk=key.pk).exists():
        raise ApiKeyError("This key is revoked or expired.", category="revoked")
    own = endpoints_of(key)
    if own.filter(url=url.strip()).exists():
        raise _exists()
    if own.count() >= MAX_PER_KEY:
        raise ApiKeyError(
            f"A key has at most {MAX_PER_KEY} webhooks.",
            next_step="Remove one you no longer use.",
            category="too_many_webhooks",
        )
    try:
        return webhook_services.endpoint_create(
            team=key.team,
            actor=membership.user,
            url=url,
            events=events,
            description=f"Key “{key.name}”",
            owner=membership.user,
            audience=key.webhook_audience,
            request=request,
        )
    except IntegrityError as exc:  # the same URL, registered meanwhile
        raise _exists() from exc


def _exists() -> ApiKeyError:
    return ApiKeyError(
        "This key already sends its events to that URL.",
        next_step="Use that webhook, or remove it first.",
        category="webhook_exists",
    )
