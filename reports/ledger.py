"""The money ledger and the one money policy every purchase, rental and refund follows.

- `book(...)` / `book_for(...)` write one entry per upstream money event. The
  entry's natural key (account, kind, upstream order or rental id, event) is
  unique in the database, so the same event can never be booked twice,
  whoever sees it first (the placement, the poller, a retry).
- `reserve(...)` checks the member's monthly limit and the team's monthly
  budget and sets the amount aside in one transaction under the team's row
  lock: concurrent purchases cannot all pass one check. `release(...)` gives
  the reservation back once the charge is booked or the purchase failed.
- `book_refund(...)` books a refund and records its audit event, for orders,
  rentals and expiry alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

import audit
from reports.models import LedgerEntry, LedgerKind, SpendHold

CENT = Decimal("0.01")
# A hold whose purchase never reported back (its process died) stops counting
# after this long; order and rental holds are released by the sync engine first.
STALE_HOLD = timedelta(hours=1)


# --- booking ---------------------------------------------------------------------------


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
    quoted: bool = False,
) -> LedgerEntry | None:
    """Record a charge (amount > 0) or refund (amount < 0) once.

    Returns the new entry, or None when `dedupe_key` was booked before (the
    same upstream event, seen again).
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
                quoted=quoted,
            )
    except IntegrityError:
        if LedgerEntry.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise


def natural_key(account, kind: LedgerKind, upstream_ref: str, event: str = "") -> str:
    """The money event's identity: one per account, kind and upstream id (and event)."""
    if not upstream_ref:
        raise ValueError("A money event needs the provider's order or rental id.")
    key = f"{account.code}:{kind}:{upstream_ref}"
    return f"{key}:{event}" if event else key


def book_for(
    subject,
    *,
    kind: LedgerKind,
    amount: Decimal,
    event: str = "",
    currency: str = "",
    upstream_ref: str | None = None,
    quoted: bool = False,
) -> LedgerEntry | None:
    """Book a charge (amount > 0) or refund (amount < 0) for an Order or a Rental.

    The entry is attributed to whoever ordered or rented it. Its natural key is
    the subject's upstream id (an order's first one: SMSPool re-sends under new
    ids) plus `event` where one id has several events of a kind (each
    extension, each re-send). Returns None when that event was booked before.
    """
    is_order = subject._meta.model_name == "order"
    ref = subject.origin_upstream_id if is_order else subject.upstream_id
    ref = ref if upstream_ref is None else upstream_ref
    return book(
        account=subject.account,
        kind=kind,
        amount=amount,
        currency=currency or subject.currency,
        member=subject.ordered_by if is_order else subject.rented_by,
        order=subject if is_order else None,
        rental=None if is_order else subject,
        upstream_ref=ref,
        dedupe_key=natural_key(subject.account, kind, ref, event),
        quoted=quoted,
    )


def book_refund(
    subject,
    amount: Decimal | None,
    *,
    kind: LedgerKind,
    action: str,
    actor=None,
    request=None,
    payload: dict | None = None,
) -> LedgerEntry | None:
    """Book the refund of an order or rental (once) and record `action` in the audit log.

    Call inside the transaction that moves the subject to its final state.
    Returns the entry, or None when there was nothing to refund or it was booked before.
    """
    booked = None
    if amount:
        booked = book_for(subject, kind=kind, amount=-abs(amount))
    audit.record(
        team=subject.team,
        actor=actor,
        action=action,
        target=subject,
        payload={
            **(payload or {}),
            "refund": str(booked.amount) if booked else None,
            "currency": subject.currency,
        },
        request=request,
    )
    return booked


# --- money in US dollars ------------------------------------------------------------------


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


def _booked_usd(entries) -> Decimal:
    rows = entries.values("currency").annotate(total=Sum("amount"))
    return sum((usd_value(r["total"], r["currency"]) for r in rows), Decimal("0"))


def _held_usd(holds) -> Decimal:
    total = holds.aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0")


def open_holds(team):
    return SpendHold.objects.filter(
        team=team, released_at__isnull=True, created__gte=timezone.now() - STALE_HOLD
    )


def member_spend_usd(team, user, since: datetime | None = None) -> Decimal:
    """What `user` spent in `team` since `since` (this month by default), in USD:
    booked charges net of refunds, plus what purchases in flight hold."""
    since = since or month_start()
    booked = _booked_usd(LedgerEntry.objects.filter(team=team, member=user, created__gte=since))
    return booked + _held_usd(open_holds(team).filter(member=user))


def team_spend_usd(team, since: datetime | None = None) -> Decimal:
    """What the whole team spent since `since` (this month by default), in USD, holds included."""
    since = since or month_start()
    booked = _booked_usd(LedgerEntry.objects.filter(team=team, created__gte=since))
    return booked + _held_usd(open_holds(team))


# --- reserving ------------------------------------------------------------------------------


@dataclass
class SpendRefused(Exception):
    """A purchase would go over the member's limit or the team's budget."""

    message: str
    next_step: str = ""
    category: str = "spend_limit"

    def __str__(self) -> str:
        return self.message


def reserve(
    membership,
    amount: Decimal | None,
    currency: str,
    *,
    purpose: str,
    order=None,
    rental=None,
) -> SpendHold | None:
    """Check the member's monthly limit and the team's monthly budget, and hold `amount`.

    Must run inside a transaction: the team row is locked (PostgreSQL; SQLite's
    IMMEDIATE transactions already serialise writers) until it commits, so the
    check and the hold are one step for every concurrent purchase. An unknown
    price (None) is held as zero. Raises SpendRefused.
    """
    from accounts.models import Team

    team = Team.objects.select_for_update().get(pk=membership.team_id)
    cost = usd_value(amount, currency) if amount is not None else Decimal("0")
    _check_limit(membership, cost)
    _check_budget(team, cost)
    if not cost and order is None and rental is None:
        return None
    return SpendHold.objects.create(
        team=team,
        member=membership.user,
        amount=cost,
        purpose=purpose,
        order=order,
        rental=rental,
    )


def _check_limit(membership, cost: Decimal) -> None:
    limit = membership.monthly_spend_limit
    if limit is None:
        return
    spent = member_spend_usd(membership.team, membership.user)
    if spent + cost > limit:
        raise SpendRefused(
            f"This would take you over your monthly limit of {limit} USD "
            f"(spent or reserved so far: {spent.quantize(CENT)} USD).",
            next_step="Ask an owner or manager to raise your limit.",
        )


def _check_budget(team, cost: Decimal) -> None:
    budget = team.monthly_budget
    if budget is None:
        return
    spent = team_spend_usd(team)
    if spent + cost > budget:
        raise SpendRefused(
            f"This would take {team.name} over its monthly budget of {budget} USD "
            f"(spent or reserved so far: {spent.quantize(CENT)} USD).",
            next_step="Ask an owner to raise the team's budget.",
            category="team_budget",
        )


def release(*, order=None, rental=None, purpose: str = "") -> int:
    """Give back the open holds of an order or rental (its charge is booked, or it
    failed); return how many were released."""
    holds = SpendHold.objects.filter(released_at__isnull=True)
    if order is not None:
        holds = holds.filter(order=order)
    elif rental is not None:
        holds = holds.filter(rental=rental)
    else:
        raise ValueError("Release the holds of an order or a rental.")
    if purpose:
        holds = holds.filter(purpose=purpose)
    return holds.update(released_at=timezone.now())


def release_hold(hold: SpendHold | None) -> None:
    if hold is not None:
        SpendHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
            released_at=timezone.now()
        )
