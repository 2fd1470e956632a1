"""/api/v1/webhooks: a key's own webhooks (api/key_webhooks.py), for pipelines that
register their receiver when they start. They hear the events of the key's orders and
its member's rentals, signed like every webhook; the portal shows the same endpoints on
the member's API page."""

from __future__ import annotations

import uuid

from ninja import Router, Status

from api import key_webhooks
from api.models import Scope
from api.services import ApiKeyError
from api.v1 import schemas
from api.v1.access import ERRORS, attributed, key_for
from api.v1.errors import ApiError, from_action
from webhooks import services as webhook_services
from webhooks.events import EVENTS
from webhooks.models import Endpoint

router = Router()


def _out(endpoint: Endpoint, **extra) -> dict:
    return {
        "id": str(endpoint.code),
        "url": endpoint.url,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "created": endpoint.created,
        **extra,
    }


def _endpoint(key, webhook_id: uuid.UUID) -> Endpoint:
    endpoint = key_webhooks.endpoints_of(key).filter(code=webhook_id).first()
    if endpoint is None:
        raise ApiError(404, "not_found", "No such webhook of this key.")
    return endpoint


@router.get("/webhooks", response={200: schemas.WebhookPage, **ERRORS}, tags=["webhooks"])
def list_webhooks(request):
    """This key's webhooks, oldest first (never their secrets)."""
    key = key_for(request, Scope.READ)
    return {"data": [_out(e) for e in key_webhooks.endpoints_of(key).order_by("created", "id")]}


@router.post("/webhooks", response={201: schemas.WebhookCreatedOut, **ERRORS}, tags=["webhooks"])
def create_webhook(request, body: schemas.WebhookIn):
    """Send this key's events to `url`. 201 with the signing secret, returned this once."""
    key = key_for(request, Scope.READ)
    events = list(EVENTS) if body.events is None else body.events
    try:
        with attributed(key):
            endpoint, secret = key_webhooks.key_webhook_create(
                key=key, membership=key.membership, url=body.url, events=events, request=request
            )
    except webhook_services.WebhookError as exc:
        raise ApiError(422, "invalid_webhook", exc.message) from exc
    except ApiKeyError as exc:
        existing = key_webhooks.endpoints_of(key).filter(url=body.url.strip()).first()
        extra = {"id": str(existing.code)} if exc.category == "webhook_exists" and existing else {}
        raise from_action(exc, **extra) from exc
    return Status(201, _out(endpoint, secret=secret))


@router.delete("/webhooks/{webhook_id}", response={204: None, **ERRORS}, tags=["webhooks"])
def delete_webhook(request, webhook_id: uuid.UUID):
    """Remove the webhook with its delivery log; its pending retries stop."""
    key = key_for(request, Scope.READ)
    endpoint = _endpoint(key, webhook_id)
    with attributed(key):
        webhook_services.endpoint_delete(endpoint=endpoint, actor=key.user, request=request)
    return Status(204, None)


@router.post(
    "/webhooks/{webhook_id}/test",
    response={200: schemas.WebhookTestOut, **ERRORS},
    tags=["webhooks"],
)
def test_webhook(request, webhook_id: uuid.UUID):
    """POST a `webhook.test` event to it now, once, and say what it answered."""
    key = key_for(request, Scope.READ)
    endpoint = _endpoint(key, webhook_id)
    try:
        with attributed(key):
            delivery = webhook_services.endpoint_send_test(
                endpoint=endpoint, actor=key.user, request=request
            )
    except webhook_services.WebhookError as exc:
        if exc.retry_after:
            raise ApiError(429, "rate_limited", exc.message, retry_after=exc.retry_after) from exc
        raise ApiError(409, "webhook_disabled", exc.message) from exc
    attempt = delivery.tries.order_by("number").last()
    return {
        "delivered": attempt is not None and attempt.ok,
        "status_code": attempt.status_code if attempt else None,
        "error": (attempt.error if attempt else delivery.last_error) or "",
    }
