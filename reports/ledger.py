"""The money ledger and the one money policy every purchase, rental and refund follows.

- `book(...)` / `book_for(...)` write one entry per upstream money event. The
  entry's natural key (account, kind, upstream order or rental id, event) is
  unique in the database, so the same event can never be booked twice,
  whoever sees it first (the placement, the poller, a retry).
- `reserve(...)` checks the member's daily and monthly limits and the team's
  monthly budget (all in the team's reporting currency, each amount at the
  exchange rate of its day: `reports.fx`) and sets the amount aside in one
  transaction under the team's row lock: concurrent purchases cannot all pass
  one check. `release(...)` gives
  the reservation back once the charge is booked or the purchase failed.
- `book_refund(...)` books a refund and records its audit event, for orders,
  rentals and expiry alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

import audit
from config.money import money_text, places_for
from reports import fx
from reports.fx import Rates, usd_value  # noqa: F401  (usd_value: for orders.quotes)
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


# --- spend in the team's reporting currency ---------------------------------------------


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def day_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _booked(entries, to: str) -> Decimal:
    """Net of `entries` in `to`, each day's amounts at that day's rate (one grouped query)."""
    rows = list(
        entries.annotate(day=TruncDate("created"))
        .values("currency", "day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    rates = Rates.load({to, *(r["currency"] for r in rows)})
    return sum((rates.convert(r["total"], r["currency"], to, r["day"]) for r in rows), Decimal(0))


def _held(holds, to: str) -> Decimal:
    rows = list(holds.values("currency").annotate(total=Sum("amount")).order_by())
    today = timezone.localdate()
    return sum((fx.convert(r["total"], r["currency"], to, today) for r in rows), Decimal(0))


def open_holds(team):
    return SpendHold.objects.filter(
        team=team, released_at__isnull=True, created__gte=timezone.now() - STALE_HOLD
    )


def member_spend(team, user, since: datetime | None = None) -> Decimal:
    """What `user` spent in `team` since `since` (this month by default), in the team's
    reporting currency: booked charges net of refunds, plus what purchases in flight
    hold. Raises MissingRate when an amount's currency has no rate at all."""
    since = since or month_start()
    to = team.reporting_currency
    booked = _booked(LedgerEntry.objects.filter(team=team, member=user, created__gte=since), to)
    return booked + _held(open_holds(team).filter(member=user, created__gte=since), to)


def team_spend(team, since: datetime | None = None) -> Decimal:
    """What the whole team spent since `since` (this month by default), in its reporting
    currency, holds included."""
    since = since or month_start()
    to = team.reporting_currency
    booked = _booked(LedgerEntry.objects.filter(team=team, created__gte=since), to)
    return booked + _held(open_holds(team).filter(created__gte=since), to)


def spend_by_member(team, since: datetime) -> dict[int, Decimal]:
    """Each member's spend since `since` in the reporting currency, holds included
    (two grouped queries, whatever the number of members)."""
    to = team.reporting_currency
    rows = list(
        LedgerEntry.objects.filter(team=team, created__gte=since)
        .annotate(day=TruncDate("created"))
        .values("member_id", "currency", "day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    held = list(
        open_holds(team)
        .filter(created__gte=since)
        .values("member_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    rates = Rates.load({to, *(r["currency"] for r in rows), *(h["currency"] for h in held)})
    today = timezone.localdate()
    out: dict[int, Decimal] = {}
    for r in rows:
        value = rates.convert(r["total"], r["currency"], to, r["day"])
        out[r["member_id"]] = out.get(r["member_id"], Decimal(0)) + value
    for h in held:
        value = rates.convert(h["total"], h["currency"], to, today)
        out[h["member_id"]] = out.get(h["member_id"], Decimal(0)) + value
    return out


# Before issue 15 everything was kept in US dollars; these names stay for callers.
member_spend_usd = member_spend
team_spend_usd = team_spend


@dataclass(frozen=True)
class Allowance:
    """What a member may still spend: None where no limit or budget applies."""

    currency: str
    day_left: Decimal | None
    month_left: Decimal | None
    team_left: Decimal | None
    daily_limit: Decimal | None
    monthly_limit: Decimal | None
    budget: Decimal | None
    spent_today: Decimal
    spent_month: Decimal

    @property
    def left(self) -> Decimal | None:
        """The least of the three (what the next purchase may cost at most)."""
        values = [v for v in (self.day_left, self.month_left, self.team_left) if v is not None]
        return max(min(values), Decimal(0)) if values else None


def allowance(membership) -> Allowance:
    """What `membership` has left today, this month and in the team's budget."""
    team = membership.team
    spent_today = member_spend(team, membership.user, day_start())
    spent_month = member_spend(team, membership.user)
    team_spent = team_spend(team) if team.monthly_budget is not None else Decimal(0)

    def left(limit, spent):
        return None if limit is None else max(limit - spent, Decimal(0))

    return Allowance(
        currency=team.reporting_currency,
        day_left=left(membership.daily_spend_limit, spent_today),
        month_left=left(membership.monthly_spend_limit, spent_month),
        team_left=left(team.monthly_budget, team_spent),
        daily_limit=membership.daily_spend_limit,
        monthly_limit=membership.monthly_spend_limit,
        budget=team.monthly_budget,
        spent_today=spent_today,
        spent_month=spent_month,
    )


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
    """Check the member's daily and monthly limits and the team's monthly budget, and
    hold `amount` (in the team's reporting currency, at today's rate).

    Must run inside a transaction: the team row is locked (PostgreSQL; SQLite's
    IMMEDIATE transactions already serialise writers) until it commits, so the
    check and the hold are one step for every concurrent purchase. An unknown
    price (None) is held as zero. Raises SpendRefused.
    """
    from accounts.models import Team

    team = Team.objects.select_for_update().get(pk=membership.team_id)
    membership.team = team
    to = team.reporting_currency
    limited = (
        membership.daily_spend_limit is not None
        or membership.monthly_spend_limit is not None
        or team.monthly_budget is not None
    )
    try:
        cost = fx.convert(amount, currency, to) if amount is not None else Decimal("0")
        if limited:
            _check_limit(membership, cost, daily=True)
            _check_limit(membership, cost, daily=False)
            _check_budget(team, cost)
    except fx.MissingRate as exc:
        if not limited:  # nothing to check against: hold nothing
            cost = Decimal("0")
        else:
            raise SpendRefused(
                f"This purchase is priced in {exc.currency}, and smsdesk has no exchange rate "
                f"for {exc.currency} yet, so it cannot check it against the spend limits.",
                next_step="Ask an administrator to enter the rate (Admin → Exchange rates).",
                category="no_exchange_rate",
            ) from exc
    if not cost and order is None and rental is None:
        return None
    return SpendHold.objects.create(
        team=team,
        member=membership.user,
        amount=cost,
        currency=to,
        purpose=purpose,
        order=order,
        rental=rental,
    )


def words(amount: Decimal, currency: str) -> str:
    """ "3.45 USD" in the currency's precision (rounded down: never more than there is)."""
    places = Decimal(1).scaleb(-places_for(currency))
    return money_text(amount.quantize(places, ROUND_DOWN) if amount > 0 else Decimal(0), currency)


def _check_limit(membership, cost: Decimal, *, daily: bool) -> None:
    limit = membership.daily_spend_limit if daily else membership.monthly_spend_limit
    if limit is None:
        return
    to = membership.team.reporting_currency
    spent = member_spend(membership.team, membership.user, day_start() if daily else month_start())
    if spent + cost > limit:
        period, when = ("daily", "today") if daily else ("monthly", "this month")
        left = max(limit - spent, Decimal(0))
        raise SpendRefused(
            f"This would take you over your {period} limit of {words(limit, to)}: "
            f"you have {words(left, to)} left {when}, and this costs about {words(cost, to)}.",
            next_step="Choose a cheaper offer, or ask an owner or manager to raise your limit.",
            category="daily_limit" if daily else "spend_limit",
        )


def _check_budget(team, cost: Decimal) -> None:
    budget = team.monthly_budget
    if budget is None:
        return
    to = team.reporting_currency
    spent = team_spend(team)
    if spent + cost > budget:
        left = max(budget - spent, Decimal(0))
        raise SpendRefused(
            f"This would take {team.name} over its monthly budget of {words(budget, to)}: "
            f"the team has {words(left, to)} left this month, and this costs about "
            f"{words(cost, to)}.",
            next_step="Ask an owner or manager to raise the team's budget.",
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
