"""Push: SMSCode delivers order events to a webhook (smscode-wire-facts.md, section 10).

When the portal has a public address (`PUBLIC_BASE_URL`, https), each SMSCode
account registers `PUBLIC_BASE_URL/hooks/smscode/<account code>/` upstream with a
secret of its own (encrypted at rest like the API key). The registration is made
when the catalogue is synced (so at account setup) and checked every
CHECK_EVERY by the account's sync cycles: a URL or secret that changed upstream,
or delivery that SMSCode switched off, is registered again (a PATCH re-enables it).

The inbound view (`sync.hooks`) verifies each delivery with `verify` and applies
it through the same idempotent path a poll uses; `record_push` notes that pushes
arrive, which slows the account's polling (`providers.leases.push_interval`).
Polling never stops: it is the fallback for a lost or late push.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

import audit
from providers import crypto
from providers.clients.smscode import GUIDE, signature_valid
from providers.errors import ProviderError
from providers.models import ProviderAccount, ProviderKind

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=5)  # between checks of a registration, per account
# A push counts as a sign of life only when SMSCode sent it this recently (its signed
# `timestamp`): a delivery replayed later changes no order (every event applies
# idempotently) and does not keep polling slow either.
PUSH_FRESH = timedelta(minutes=5)
LAST_PUSH_GRANULARITY = timedelta(seconds=1)  # fewer writes under a burst of pushes


# --- where pushes go ----------------------------------------------------------------------


def public_url_problem(url: str | None = None) -> str:
    """What keeps `url` (PUBLIC_BASE_URL by default) from receiving pushes; "" if nothing.

    SMSCode accepts https only; PUSH_ALLOW_HTTP lets tests and benchmarks use http.
    """
    url = settings.PUBLIC_BASE_URL if url is None else url
    if not url:
        return "PUBLIC_BASE_URL is not set."
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.PUSH_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return "PUBLIC_BASE_URL must be an https address such as https://desk.example.com."
    return ""


def push_enabled() -> bool:
    return not public_url_problem()


def can_push(account: ProviderAccount) -> bool:
    """Whether the account's provider delivers webhooks (SMSCode's SDK dialect)."""
    return (
        account.kind == ProviderKind.SMSCODE and (account.wire_facts or {}).get("dialect") != GUIDE
    )


def hook_url(account: ProviderAccount) -> str:
    """The URL SMSCode should push this account's events to."""
    path = reverse("smscode_hook", kwargs={"account_code": account.code})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


# --- registration -------------------------------------------------------------------------


def webhook_register(*, account: ProviderAccount, now: datetime | None = None) -> str:
    """Make sure SMSCode pushes this account's events to us, signed with our secret.

    Reads the registration (one request) and registers again when the URL or secret
    differ or delivery was switched off (one more). Returns what it found or did:
    "off" (no public URL, or not an SMSCode SDK host), "ok", "registered".
    Raises ProviderError when SMSCode cannot be asked.
    """
    if not push_enabled() or not can_push(account):
        return "off"
    now = now or timezone.now()
    stored = account.webhook_secret_encrypted
    secret = stored_secret(account) or secrets.token_hex(32)
    # Set before the client is made, so its transport scrubs the secret from any error
    # (SMSCode returns it in clear text); stored only once SMSCode has it.
    account.set_webhook_secret(secret)
    try:
        return _register(account, secret, now)
    except BaseException:
        account.webhook_secret_encrypted = stored
        raise


def _register(account: ProviderAccount, secret: str, now: datetime) -> str:
    client = account.client(max_attempts=2, max_wait=2.0)
    current = client.get_webhook()
    url = hook_url(account)
    same = current.url == url and hmac.compare_digest(current.secret, secret)
    if same and current.delivering:
        _store(account, webhook_checked_at=now, webhook_url=url)
        return "ok"
    fields: dict = {}
    if current.disabled_at is not None:
        # Delivery is off upstream: polling goes back to its normal pace at once
        # (push_interval ignores pushes older than this), then we ask for it again.
        log.warning(
            "SMSCode switched off webhook delivery for %s (%s); registering it again.",
            account.label,
            current.disabled_reason or "no reason given",
        )
        fields.update(
            webhook_disabled_at=current.disabled_at, webhook_disabled_reason=current.disabled_reason
        )
        _store(account, **fields)
    registered = client.set_webhook(url=url, secret=secret)
    _store(
        account,
        webhook_url=registered.url or url,
        webhook_secret_encrypted=account.webhook_secret_encrypted,
        webhook_checked_at=now,
    )
    audit.record(
        team=account.team,
        actor=None,
        action="provider.webhook_registered",
        target=account,
        payload={
            "provider": account.label,
            "url": url,
            "was": "switched off" if current.disabled_at else ("other" if current.url else "none"),
        },
    )
    return "registered"


def check_if_due(account: ProviderAccount, now: datetime | None = None) -> str:
    """Check the account's registration when CHECK_EVERY has passed (a sync cycle calls
    this); "" when not due. Never raises: a failure is logged and tried next time."""
    now = now or timezone.now()
    if not push_enabled() or not can_push(account):
        return ""
    checked = account.webhook_checked_at
    if checked is not None and now - checked < CHECK_EVERY:
        return ""
    try:
        return webhook_register(account=account, now=now)
    except ProviderError as exc:
        log.info("webhook check of %s: %s", account.label, exc.message)
        _store(account, webhook_checked_at=now)  # not every cycle: next time
        return "failed"


def on_catalog_synced(sender, account: ProviderAccount, **kwargs) -> None:
    """At account setup and every catalogue sync: register the webhook (best effort)."""
    if not push_enabled() or not can_push(account):
        return
    try:
        webhook_register(account=account)
    except ProviderError as exc:
        log.info("webhook registration of %s: %s", account.label, exc.message)


# --- deliveries ---------------------------------------------------------------------------


def stored_secret(account: ProviderAccount) -> str:
    """The account's webhook secret; "" when none is stored or it was encrypted with a
    key no longer configured (then the next check registers a new one)."""
    try:
        return account.webhook_secret
    except crypto.DecryptionError:
        log.warning("The webhook secret of %s cannot be decrypted.", account.label)
        return ""


def verify(account: ProviderAccount, body: bytes, signature: str | None) -> bool:
    """Whether `signature` (X-Webhook-Signature) signs `body` with the account's secret."""
    return signature_valid(stored_secret(account), body, signature)


def record_push(account: ProviderAccount, sent_at: datetime | None, now=None) -> bool:
    """Note a verified push (polling slows while they arrive); True when it counted.

    Only a push SMSCode sent within PUSH_FRESH counts: an old one replayed proves
    nothing about delivery now.
    """
    now = now or timezone.now()
    if sent_at is None or abs(now - sent_at) > PUSH_FRESH:
        return False
    last = account.last_push_at
    if last is None or now - last >= LAST_PUSH_GRANULARITY:
        _store(account, last_push_at=now)
    return True


def _store(account: ProviderAccount, **fields) -> None:
    ProviderAccount.objects.filter(pk=account.pk).update(**fields)
    for name, value in fields.items():
        setattr(account, name, value)
