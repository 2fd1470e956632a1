"""Webhook endpoints and deliveries: create, change, publish, deliver, retry.

A delivery is one event for one endpoint. It is POSTed at once (a task), and
after a refusal, a timeout or any answer other than 2xx again after 1, 2, 4, ...
minutes (at most 3 hours apart) until a day has passed; the `webhooks.deliver_due`
schedule (every minute) picks up the retries. Each POST is claimed with a
conditional update, so the immediate task and the schedule never send one twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

import audit
from config import queue
from providers import hosts
from webhooks import payloads, signing
from webhooks.events import EVENTS, TEST_EVENT, audience_is_live, audiences_of
from webhooks.models import Attempt, Delivery, DeliveryState, Endpoint

log = logging.getLogger(__name__)

USER_AGENT = "smsdesk-webhooks/1"
TIMEOUT = (5.0, 10.0)  # seconds to connect, and to wait for the answer
RETRY_WINDOW = timedelta(days=1)
FIRST_RETRY_SECONDS = 60
LONGEST_WAIT_SECONDS = 3 * 3600
# How long an attempt holds its delivery: longer than a POST can take.
CLAIM = timedelta(seconds=120)
DUE_BATCH = 500
# Finished deliveries (delivered or given up) stay in the log this long.
LOG_DAYS = 30
# A test event is sent in the request that asks for it (up to TIMEOUT). A key's
# personal endpoints (any member, any script) get at most one test in this time, so no
# key can hold the web workers with them; the managers' team endpoints are not limited.
TEST_INTERVAL = timedelta(seconds=30)
DEAD_KEY = "Its API key is revoked or expired: this webhook hears nothing and stays disabled."


class WebhookError(Exception):
    """A refused endpoint action, in plain words; `retry_after` seconds when waiting helps."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


# --- endpoints -----------------------------------------------------------------------------


def url_problem(url: str, *, personal: bool = False) -> str:
    """What is wrong with sending events to `url`, in plain words; "" when nothing is.

    https to a public host; hosts an operator lists in WEBHOOK_ALLOWED_HOSTS
    ("host" or "host:port") may be anything, plain http included. A name that
    resolves inside the network is refused like the address itself. A personal
    endpoint (any member adds one) gets WEBHOOK_PERSONAL_ALLOWED_HOSTS instead: the
    operator's trust in a host for the managers' endpoints is not every member's.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:  # "https://[::1", "https://host:99999"
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter a full address such as https://hooks.example.com/smsdesk."
    if parts.username or parts.password:
        return "Leave user names and passwords out of the address; the signature proves the sender."
    allowed = (
        settings.WEBHOOK_PERSONAL_ALLOWED_HOSTS if personal else settings.WEBHOOK_ALLOWED_HOSTS
    )
    listed = {h.lower() for h in allowed}
    if parts.hostname.lower() in listed or parts.netloc.lower() in listed:
        return ""
    if parts.scheme != "https":
        return "Use an https address: events carry phone numbers and codes."
    if hosts.is_inside(parts.hostname):
        return (
            f"{parts.hostname} is an address inside the network; smsdesk sends webhooks only "
            "to public hosts. An operator can allow it in WEBHOOK_ALLOWED_HOSTS."
        )
    return ""


def _clean(url: str, events: list[str], personal: bool) -> tuple[str, list[str]]:
    url = url.strip()
    problem = url_problem(url, personal=personal)
    if problem:
        raise WebhookError(problem)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise WebhookError(f"Unknown events: {', '.join(unknown)}.")
    return url, [e for e in EVENTS if e in events]


def endpoint_create(
    *,
    team,
    actor,
    url: str,
    events: list[str],
    description: str = "",
    enabled: bool = True,
    owner=None,
    audience: str = "",
    request=None,
) -> tuple[Endpoint, str]:
    """Add an endpoint; return it and its signing secret (shown once, never again).

    A personal endpoint has an `owner` and an `audience` (models.Endpoint); a team
    endpoint has neither. Raises WebhookError for a URL smsdesk will not send to or an
    unknown event.
    """
    url, events = _clean(url, events, personal=bool(audience))
    secret = signing.new_secret()
    endpoint = Endpoint(
        team=team,
        url=url,
        events=events,
        description=description.strip()[:100],
        enabled=enabled,
        owner=owner,
        audience=audience,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    endpoint.set_secret(secret)
    with transaction.atomic():
        endpoint.save()
        _audit(endpoint, actor, "webhook.created", request)
    return endpoint, secret


def endpoint_update(
    *,
    endpoint: Endpoint,
    actor,
    url: str,
    events: list[str],
    description: str,
    enabled: bool,
    request=None,
) -> Endpoint:
    """Change an endpoint's URL, events, description or state. Raises WebhookError (a
    personal endpoint whose key is gone cannot be enabled)."""
    endpoint.url, endpoint.events = _clean(url, events, personal=endpoint.is_personal)
    if enabled and not _live(endpoint):
        raise WebhookError(DEAD_KEY)
    endpoint.description = description.strip()[:100]
    endpoint.enabled = enabled
    with transaction.atomic():
        endpoint.save()
        _audit(endpoint, actor, "webhook.changed", request)
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint, actor, request=None) -> str:
    """Give the endpoint a new signing secret and return it (shown once)."""
    secret = signing.new_secret()
    endpoint.set_secret(secret)
    with transaction.atomic():
        endpoint.save(update_fields=["secret_encrypted", "updated"])
        _audit(endpoint, actor, "webhook.secret_replaced", request)
    return secret


def _live(endpoint: Endpoint) -> bool:
    """A team endpoint always; a personal one while its audience (its key) is live."""
    return not endpoint.is_personal or audience_is_live(endpoint.team_id, endpoint.audience)


def endpoints_disable(*, team, audience: str) -> int:
    """Disable every endpoint of `team` limited to `audience` (its API key was revoked);
    their pending retries give up at their next try. Return how many were enabled."""
    return Endpoint.objects.filter(team=team, audience=audience, enabled=True).update(
        enabled=False, updated=timezone.now()
    )


def endpoint_delete(*, endpoint: Endpoint, actor, request=None) -> None:
    """Remove an endpoint with its delivery log; pending retries stop."""
    with transaction.atomic():
        _audit(endpoint, actor, "webhook.deleted", request)
        endpoint.delete()


def _audit(endpoint: Endpoint, actor, action: str, request) -> None:
    audit.record(
        team=endpoint.team,
        actor=actor,
        action=action,
        target=endpoint,
        payload={
            "url": endpoint.url,
            "events": endpoint.events,
            "enabled": endpoint.enabled,
            **({"audience": endpoint.audience} if endpoint.audience else {}),
        },
        request=request,
    )


def endpoint_send_test(*, endpoint: Endpoint, actor, request=None) -> Delivery:
    """POST a `webhook.test` event to the endpoint now (once, no retries); return the
    delivery with its attempt. Raises WebhookError for a personal endpoint whose key is
    gone, or within TEST_INTERVAL of its key's last test."""
    if endpoint.is_personal:
        if not _live(endpoint):
            raise WebhookError(DEAD_KEY)
        _check_test_interval(endpoint)
    event_id = uuid.uuid4()
    data = {"message": "A test event from smsdesk.", "endpoint": str(endpoint.code)}
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        team_id=endpoint.team_id,
        event=TEST_EVENT,
        event_id=event_id,
        body=_body(endpoint.team, TEST_EVENT, event_id, data),
        retry=False,
        next_attempt_at=timezone.now(),
    )
    audit.record(
        team=endpoint.team,
        actor=actor,
        action="webhook.test_sent",
        target=endpoint,
        payload={"delivery": str(delivery.code)},
        request=request,
    )
    return delivery_attempt(delivery_id=delivery.pk) or delivery


def _check_test_interval(endpoint: Endpoint) -> None:
    """Raise WebhookError when a test went to one of the key's endpoints in TEST_INTERVAL."""
    tests = Delivery.objects.filter(
        event=TEST_EVENT,
        created__gt=timezone.now() - TEST_INTERVAL,
        endpoint__team_id=endpoint.team_id,
        endpoint__audience=endpoint.audience,
    )
    last = tests.order_by("-created").values_list("created", flat=True).first()
    if last is not None:
        wait = max(1, int((last + TEST_INTERVAL - timezone.now()).total_seconds() + 0.999))
        raise WebhookError(f"A test event was sent moments ago; send the next in {wait} s.", wait)


def delivery_redeliver(*, delivery: Delivery, actor, request=None) -> Delivery:
    """POST a finished delivery (delivered or given up) once more, now, with the same
    event id; return it with the new attempt. A pending one is left to its retries, and
    a personal endpoint's whose key is gone is not sent."""
    if not _live(delivery.endpoint):
        raise WebhookError(DEAD_KEY)
    claimed = Delivery.objects.filter(
        pk=delivery.pk, state__in=[DeliveryState.DELIVERED, DeliveryState.FAILED]
    ).update(state=DeliveryState.PENDING, retry=False, next_attempt_at=timezone.now())
    if claimed != 1:
        raise WebhookError("This delivery is still being retried; its next try is scheduled.")
    audit.record(
        team=delivery.endpoint.team,
        actor=actor,
        action="webhook.redelivered",
        target=delivery.endpoint,
        payload={"delivery": str(delivery.code), "event": delivery.event},
        request=request,
    )
    return delivery_attempt(delivery_id=delivery.pk) or delivery


# --- publishing ----------------------------------------------------------------------------


def event_publish(
    *, team_id: int, event: str, target_code: str, event_id, payload: dict | None = None
) -> list[Delivery]:
    """Queue `event` about the order or rental `target_code` for every enabled endpoint of
    the team that wants it (a personal one only when the event reaches its audience);
    return the deliveries (none when no endpoint does)."""
    enabled = Endpoint.objects.filter(team_id=team_id, enabled=True).select_related("team")
    endpoints = [e for e in enabled if e.wants(event)]
    if any(e.is_personal for e in endpoints):
        reached = audiences_of(team_id, event, target_code)
        endpoints = [e for e in endpoints if not e.is_personal or e.audience in reached]
    if not endpoints:
        return []
    data = _event_data(team_id, event, target_code, payload or {})
    if data is None:
        return []
    team = endpoints[0].team
    body = _body(team, event, event_id, data)
    now = timezone.now()
    deliveries = []
    for endpoint in endpoints:
        delivery, created = Delivery.objects.get_or_create(
            endpoint=endpoint,
            event_id=event_id,
            defaults={"team_id": team_id, "event": event, "body": body, "next_attempt_at": now},
        )
        if created:
            deliveries.append(delivery)
    for delivery in deliveries:
        queue.enqueue("webhooks.tasks.deliver", delivery.pk, group="webhooks")
    return deliveries


def _event_data(team_id: int, event: str, target_code: str, payload: dict) -> dict | None:
    from orders.models import Order
    from rentals.models import Rental

    if event.startswith("order."):
        order = (
            Order.objects.filter(team_id=team_id, code=target_code)
            .select_related("account", "service", "country", "ordered_by")
            .prefetch_related("messages")
            .first()
        )
        return {"order": payloads.order_data(order)} if order else None
    rental = (
        Rental.objects.filter(team_id=team_id, code=target_code)
        .select_related("account", "rented_by")
        .first()
    )
    if rental is None:
        return None
    new = max(1, int(payload.get("new_messages") or 1))
    messages = list(rental.messages.order_by("-received_at", "-id")[:new])[::-1]
    return {"rental": payloads.rental_data(rental, messages=messages)}


def _body(team, event: str, event_id, data: dict) -> str:
    envelope = {
        "id": str(event_id),
        "type": event,
        "created": payloads.iso_time(timezone.now()),
        "team": str(team.code),
        "data": data,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"))


# --- delivering ----------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed POST: 1, 2, 4, ... minutes, at
    most three hours."""
    seconds = FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, LONGEST_WAIT_SECONDS))


def delivery_attempt(*, delivery_id: int, now=None) -> Delivery | None:
    """POST a due delivery once and record the attempt; return the delivery, or None when
    it was not due (delivered, given up, or another worker holds it)."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + CLAIM)
    if claimed != 1:
        return None
    delivery = Delivery.objects.select_related("endpoint", "endpoint__team").get(pk=delivery_id)
    if not delivery.endpoint.enabled and delivery.retry:
        return _give_up(delivery, now, "the endpoint is disabled")
    attempt = _post(delivery, now)
    return _after(delivery, attempt, now)


def _post(delivery: Delivery, now) -> Attempt:
    endpoint = delivery.endpoint
    number = delivery.attempts + 1
    started = time.monotonic()
    status, excerpt, error = None, "", ""
    problem = url_problem(endpoint.url, personal=endpoint.is_personal)
    if problem:
        error = f"Not sent: {problem}"
    else:
        status, excerpt, error = _send(delivery)
    duration = int((time.monotonic() - started) * 1000)
    attempt = Attempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=now,
        duration_ms=duration,
        status_code=status,
        error=error[:200],
        response_excerpt=excerpt[:200],
    )
    log.info(
        "webhook %s delivery %s attempt %d to %s: %s in %d ms",
        delivery.event,
        delivery.code,
        number,
        urlsplit(endpoint.url).hostname,
        status if status is not None else error,
        duration,
    )
    return attempt


def _send(delivery: Delivery) -> tuple[int | None, str, str]:
    """POST the body; return (status code, start of the answer, error in plain words)."""
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Smsdesk-Event": delivery.event,
        "Smsdesk-Event-Id": str(delivery.event_id),
        "Smsdesk-Delivery": str(delivery.code),
        signing.HEADER: signing.signature(delivery.endpoint.secret, int(time.time()), body),
    }
    try:
        # No redirects: a redirect could lead inside the network.
        with requests.post(
            delivery.endpoint.url,
            data=body,
            headers=headers,
            timeout=TIMEOUT,
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(200, decode_content=True) or b""
            return response.status_code, excerpt.decode(errors="replace"), ""
    except requests.Timeout:
        return None, "", f"No answer within {int(TIMEOUT[1])} seconds."
    except requests.ConnectionError:
        return None, "", "Could not connect."
    except requests.RequestException:
        return None, "", "The request failed."


def _after(delivery: Delivery, attempt: Attempt, now) -> Delivery:
    delivery.attempts = attempt.number
    delivery.last_status = attempt.status_code
    delivery.last_error = attempt.error
    if attempt.ok:
        delivery.state = DeliveryState.DELIVERED
        delivery.finished_at, delivery.next_attempt_at = now, None
    else:
        retry_at = now + retry_delay(attempt.number)
        if not delivery.retry or retry_at > delivery.created + RETRY_WINDOW:
            delivery.state = DeliveryState.FAILED
            delivery.finished_at, delivery.next_attempt_at = now, None
        else:
            delivery.next_attempt_at = retry_at
    delivery.save(
        update_fields=[
            "attempts",
            "last_status",
            "last_error",
            "state",
            "finished_at",
            "next_attempt_at",
        ]
    )
    return delivery


def _give_up(delivery: Delivery, now, why: str) -> Delivery:
    delivery.state = DeliveryState.FAILED
    delivery.last_error = f"Not sent: {why}."
    delivery.finished_at, delivery.next_attempt_at = now, None
    delivery.save(update_fields=["state", "last_error", "finished_at", "next_attempt_at"])
    return delivery


def deliveries_due(*, now=None) -> int:
    """Queue an attempt for every pending delivery whose retry time has come; return how
    many were queued."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )
    for pk in due:
        queue.enqueue("webhooks.tasks.deliver", pk, group="webhooks")
    return len(due)


def deliveries_prune(*, now=None) -> int:
    """Delete finished deliveries older than LOG_DAYS (with their attempts); return how
    many deliveries went. Pending ones stay, whatever their age."""
    now = now or timezone.now()
    old = Delivery.objects.filter(
        finished_at__lt=now - timedelta(days=LOG_DAYS),
        state__in=[DeliveryState.DELIVERED, DeliveryState.FAILED],
    )
    ids = list(old.values_list("pk", flat=True)[:DUE_BATCH])
    Delivery.objects.filter(pk__in=ids).delete()
    return len(ids)
