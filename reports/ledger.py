"""Writing the money ledger: `book(...)` is the one way in."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from reports.models import LedgerEntry, LedgerKind


def book(
    *,
    account,
    kind: LedgerKind,
    amount: Decimal,
    currency: str,
    dedupe_key: str,
    member=None,
    order=None,
    rental=None,
    upstream_ref: str = "",
) -> LedgerEntry | None:
    """Record a charge (amount > 0) or refund (amount < 0) once.

    Returns the new entry, or None when `dedupe_key` was booked before (the
    caller saw the same upstream event again).
    """
    if not isinstance(amount, Decimal):
        raise TypeError("Ledger amounts are Decimal, never float.")
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                team_id=account.team_id,
                account=account,
                member=member,
                kind=kind,
                amount=amount,
                currency=currency,
                order=order,
                rental=rental,
                upstream_ref=upstream_ref,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        if LedgerEntry.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise


def book_for(
    subject,
    *,
    kind: LedgerKind,
    amount: Decimal,
    key: str,
    currency: str = "",
    upstream_ref: str | None = None,
) -> LedgerEntry | None:
    """Book a charge (amount > 0) or refund (amount < 0) for an Order or a Rental.

    The entry is attributed to whoever ordered or rented it, and booked once
    per `key` ("purchase", "refund", "extend:<expiry>"...) for that subject.
    """
    is_order = subject._meta.model_name == "order"
    return book(
        account=subject.account,
        kind=kind,
        amount=amount,
        currency=currency or subject.currency,
        member=subject.ordered_by if is_order else subject.rented_by,
        order=subject if is_order else None,
        rental=None if is_order else subject,
        upstream_ref=subject.upstream_id if upstream_ref is None else upstream_ref,
        dedupe_key=f"{subject._meta.model_name}:{subject.code}:{key}",
    )


def usd_value(amount: Decimal, currency: str) -> Decimal:
    """Convert to US dollars with the configured rates (for limits and comparisons)."""
    if currency == "USD":
        return amount
    per_usd = Decimal(str(settings.FX_PER_USD.get(currency, 0)))
    if not per_usd:
        raise ValueError(f"No exchange rate for {currency}; set FX_PER_USD.")
    return (amount / per_usd).quantize(Decimal("0.0001"))


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def member_spend_usd(team, user, since: datetime | None = None) -> Decimal:
    """What `user` spent in `team` since `since` (this month by default), in USD."""
    rows = (
        LedgerEntry.objects.filter(team=team, member=user, created__gte=since or month_start())
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    return sum((usd_value(r["total"], r["currency"]) for r in rows), Decimal("0"))
