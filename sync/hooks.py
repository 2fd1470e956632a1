"""Pushed order events (SMSCode's webhook) applied like a poll's answer.

SMSCode POSTs `{event, timestamp, data}` to `/hooks/smscode/<account code>/`,
signed with the account's secret (`X-Webhook-Signature: sha256=<hex>`, HMAC-SHA256
of the raw body; smscode-wire-facts.md section 10). The view refuses, with a 4xx
and never a 500, anything not signed with that secret or not such an event, and
applies the rest through `orders.services.apply_state`, the path a poll takes:

- `order.otp_received` carries the code, the full SMS and `sms_revision`, so a
  push and a poll of the same SMS make one message (the revision and the
  message's fingerprint are the same), and an older revision is dropped;
- `order.completed`, `order.expired` and `order.canceled` close the order once
  (its row lock and the ledger's natural keys book a refund once, whoever
  applies it first). Their `sms_revision` is null, so their code is not applied
  again; one that overtook its `order.otp_received` makes the order be read as a
  poll would (with its revision) instead.

Replays and duplicates change nothing (the scheme has no timestamp or nonce:
idempotent application is the replay protection), and events may come in any
order. An event for an order with no row yet (its purchase still being
recorded) is acknowledged and the account is polled at once.

It lives in `sync` because applying an order's state is `orders`' work, and the
sync engine sits above it (as it does for polls).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from django.db import DatabaseError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders import services
from orders.errors import OrderActionError
from orders.models import Order
from providers import leases, webhooks
from providers.clients.smscode import (
    SIGNATURE_HEADER,
    WEBHOOK_TEST,
    WebhookEvent,
    parse_webhook_event,
)
from providers.errors import InvalidRequest
from providers.models import ProviderAccount, ProviderKind
from providers.types import OrderStatus

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # an order event is about 1 KB


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=status)


@csrf_exempt
@require_POST
def smscode_hook(request, account_code):
    """Receive one SMSCode webhook delivery for the account `account_code`."""
    account = (
        ProviderAccount.objects.filter(code=account_code, kind=ProviderKind.SMSCODE, enabled=True)
        .exclude(webhook_secret_encrypted="")
        .select_related("team")
        .first()
    )
    if account is None:
        return _refuse(404, "No webhook is registered at this address.")
    if _too_long(request):
        return _refuse(413, "The body is larger than any SMSCode event.")
    body = request.body
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return _refuse(401, f"The {SIGNATURE_HEADER} header is missing.")
    if not webhooks.verify(account, body, signature):
        return _refuse(403, "The signature does not match this account's webhook secret.")
    try:
        event = parse_webhook_event(body)
    except InvalidRequest as exc:
        return _refuse(400, exc.message)
    try:
        outcome = push_apply(account=account, event=event)
    except DatabaseError:
        log.warning("push for %s not applied: the database is busy", account.label, exc_info=True)
        response = _refuse(503, "Busy; deliver it again shortly.")
        response["Retry-After"] = "1"
        return response
    return JsonResponse({"ok": True, "outcome": outcome})


def _too_long(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > MAX_BODY


def push_apply(
    *, account: ProviderAccount, event: WebhookEvent, now: datetime | None = None
) -> str:
    """Apply one verified event to the account's order; return what happened:
    "test", "applied", "read" (the order was read upstream instead), "unknown"
    (no such order here yet: the account is polled now) or "deferred" (left to the
    next poll)."""
    now = now or timezone.now()
    webhooks.record_push(account, event.sent_at, now)
    if event.name == WEBHOOK_TEST or event.state is None:
        return "test"
    state = event.state
    order = Order.objects.filter(account=account, upstream_id=state.order_id).first()
    if order is None:
        leases.mark_due(account.pk)
        return "unknown"
    if _needs_read(order, state):
        try:
            services.order_refresh(order=order)
        except OrderActionError as exc:
            log.info("push for %s: reading it failed (%s); left to polling", order.code, exc)
            leases.mark_due(account.pk)
            return "deferred"
        return "read"
    if state.status.is_final:
        # The code came (and was applied) with its own event; a terminal event's is
        # the same SMS without its revision.
        state = replace(state, code="", full_text="")
    services.apply_state(order, state, now=now)
    return "applied"


def _needs_read(order: Order, state) -> bool:
    """Whether the event cannot be applied as it is: an SMS without its revision
    (a terminal event that overtook its `order.otp_received`, or a malformed one)."""
    if order.is_final or not (state.code or state.full_text):
        return False
    if state.status == OrderStatus.RECEIVED:
        return state.sms_revision is None
    return not order.messages.exists()
