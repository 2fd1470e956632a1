"""Balance readings, low-balance alerts and exchange rates read from providers (issue 15).

- `record_reading(...)`: every balance read from a provider is stored as a
  `BalanceReading` (what reconciliation compares the ledger with) and checked
  against the account's low-balance threshold. The alert fires once per crossing:
  `low_balance_alerted_at` is claimed by a conditional UPDATE (two processes
  reading the same low balance send one email) and cleared when a reading is back
  at or above the threshold.
- `provider_account_set_low_balance(...)`: the threshold, set by owners and
  managers, audited.
- `exchange_rate_refresh(...)`: the rate a provider converts with (SMSCode's
  exchange-rate endpoint), stored per day unless staff entered that day's rate.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

import audit
from providers.errors import ProviderError
from providers.models import BalanceReading, ExchangeRate, ProviderAccount, RateSource

log = logging.getLogger(__name__)


def record_reading(account: ProviderAccount, amount: Decimal, currency: str, at: datetime) -> None:
    """Store the reading and raise or re-arm the account's low-balance alert."""
    BalanceReading.objects.create(account=account, amount=amount, currency=currency, read_at=at)
    threshold = account.low_balance_threshold
    if threshold is None:
        return
    if amount >= threshold:
        if account.low_balance_alerted_at is not None:
            ProviderAccount.objects.filter(pk=account.pk).update(low_balance_alerted_at=None)
            account.low_balance_alerted_at = None
        return
    claimed = ProviderAccount.objects.filter(
        pk=account.pk, low_balance_alerted_at__isnull=True
    ).update(low_balance_alerted_at=at)
    if not claimed:
        return  # alerted at this crossing already
    account.low_balance_alerted_at = at
    emailed = _email_managers(account, amount, currency)
    audit.record(
        team=account.team,
        actor=None,
        action="provider.low_balance",
        target=account,
        payload={
            "balance": str(amount),
            "threshold": str(threshold),
            "currency": currency,
            "emailed": emailed,
        },
    )


def _email_managers(account: ProviderAccount, amount: Decimal, currency: str) -> int:
    """Mail the team's owners and managers (those with an address); return how many."""
    from accounts.roles import Permission, can

    if not settings.EMAIL_ENABLED:
        return 0
    recipients = sorted(
        {
            m.user.email
            for m in account.team.memberships.select_related("user")
            if m.user.email and m.user.is_active and can(m.role, Permission.MANAGE_PROVIDERS)
        }
    )
    if not recipients:
        return 0
    from config.money import money_text

    link = settings.SITE_URL.rstrip("/") + reverse("balances", args=[account.team.code])
    try:
        send_mail(
            subject=f"{account.label} is low: {money_text(amount, currency)} left",
            message=(
                f"The balance of {account.label} ({account.team.name}) is "
                f"{money_text(amount, currency)}, below the alert level of "
                f"{money_text(account.low_balance_threshold, currency)} set for it.\n\n"
                f"Top it up at the provider. Balances and forecasts: {link}\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:  # a mail server down must not stop the balance sync
        log.exception("low-balance email for account %s failed", account.pk)
        return 0
    return len(recipients)


def provider_account_set_low_balance(
    *, account: ProviderAccount, threshold: Decimal | None, actor, request=None
) -> ProviderAccount:
    """Set (or clear, with None) the account's low-balance alert level; audited.

    A new level re-arms the alert: the next reading below it alerts again.
    """
    with transaction.atomic():
        before = account.low_balance_threshold
        ProviderAccount.objects.filter(pk=account.pk).update(
            low_balance_threshold=threshold, low_balance_alerted_at=None
        )
        account.low_balance_threshold, account.low_balance_alerted_at = threshold, None
        audit.record(
            team=account.team,
            actor=actor,
            action="provider.low_balance_threshold_changed",
            target=account,
            payload={
                "before": str(before) if before is not None else None,
                "after": str(threshold) if threshold is not None else None,
                "currency": account.currency,
            },
            request=request,
        )
    if threshold is not None and account.balance is not None and account.balance < threshold:
        # Already below: alert now rather than at the next reading.
        claimed = ProviderAccount.objects.filter(
            pk=account.pk, low_balance_alerted_at__isnull=True
        ).update(low_balance_alerted_at=timezone.now())
        if claimed:
            account.low_balance_alerted_at = timezone.now()
            _email_managers(account, account.balance, account.currency)
    return account


# --- exchange rates -----------------------------------------------------------------------


def exchange_rate_refresh(*, account: ProviderAccount) -> ExchangeRate | None:
    """Read the rate the account's provider converts with and store it for its day.

    Returns the stored rate, or None when the provider publishes none (most don't;
    SMSCode's guide dialect neither), the call failed, or staff entered that day's
    rate (theirs wins).
    """
    client = account.client()
    read = getattr(client, "get_exchange_rate", None)
    if read is None:
        return None
    try:
        rate = read()
    except ProviderError as exc:
        log.info("exchange rate of %s not read: %s", account, exc.message)
        return None
    base, _, quote = rate.pair.upper().partition("/")
    if not rate.rate or rate.rate <= 0 or "USD" not in (base, quote) or base == quote:
        return None
    currency, per_usd = (quote, rate.rate) if base == "USD" else (base, 1 / rate.rate)
    day = timezone.localdate(rate.as_of) if rate.as_of else timezone.localdate()
    per_usd = Decimal(per_usd).quantize(Decimal("0.000001"))
    with transaction.atomic():
        existing = ExchangeRate.objects.select_for_update().filter(
            currency=currency, valid_from=day
        )
        row = existing.first()
        if row is not None and row.source == RateSource.STAFF:
            return None
        detail = f"{account.get_kind_display()} ({account.label})"
        if row is None:
            return ExchangeRate.objects.create(
                currency=currency,
                units_per_usd=per_usd,
                valid_from=day,
                source=RateSource.PROVIDER,
                source_detail=detail,
            )
        row.units_per_usd, row.source_detail = per_usd, detail
        row.save(update_fields=["units_per_usd", "source_detail", "updated"])
        return row


def refresh_exchange_rates() -> int:
    """Read the rate from one enabled account of each kind that publishes one; return how
    many rates were stored."""
    stored, seen = 0, set()
    for account in ProviderAccount.objects.filter(enabled=True).order_by("pk"):
        if not hasattr(account.client_class, "get_exchange_rate") or account.kind in seen:
            continue
        try:
            if exchange_rate_refresh(account=account) is not None:
                stored += 1
                seen.add(account.kind)
        except Exception:  # a broken key must not stop the others
            log.exception("exchange rate refresh of account %s failed", account.pk)
    return stored
