"""Balances against the ledger (issue 15): forecasts and reconciliation.

- `forecasts(team)`: at this week's net spend per account (the ledger's last 7
  days), how many days its balance lasts.
- `reconcile(account, since, until)`: between each two balance readings the
  provider's balance change beside the ledger's movements for that account;
  any difference (at the currency's precision) is flagged, with the movements
  of that interval listed by order.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from django.db.models import Sum
from django.utils import timezone

from config.money import money_text, places_for
from providers.models import BalanceReading, ProviderAccount
from reports.costs import period_bounds
from reports.models import LedgerEntry

WEEK = timedelta(days=7)


@dataclass
class Forecast:
    account: ProviderAccount
    week_spend: Decimal | None  # net, in the account's currency
    days_left: Decimal | None

    @property
    def low(self) -> bool:
        a = self.account
        return (
            a.low_balance_threshold is not None
            and a.balance is not None
            and a.balance < a.low_balance_threshold
        )

    @property
    def text(self) -> str:
        a = self.account
        if a.balance is None:
            return f"{a.label}: balance not read yet."
        if not self.week_spend or self.week_spend <= 0:
            return f"{a.label}: nothing spent in the last 7 days."
        places = Decimal(1).scaleb(-places_for(a.currency))
        per_day = money_text((self.week_spend / 7).quantize(places), a.currency)
        if a.balance <= 0:
            return f"{a.label} is empty (spending {per_day} a day this week)."
        days = self.days_left
        when = "less than a day" if days < 1 else f"{int(days)} day{'s' if int(days) != 1 else ''}"
        return f"At this week's rate ({per_day} a day), {a.label} runs out in {when}."


def forecasts(team, accounts=None) -> list[Forecast]:
    """One forecast per provider account of `team` (one ledger query for all)."""
    accounts = (
        list(accounts)
        if accounts is not None
        else list(ProviderAccount.objects.live().filter(team=team).order_by("label"))
    )
    spent = {
        (r["account_id"], r["currency"]): r["total"]
        for r in LedgerEntry.objects.filter(team=team, created__gte=timezone.now() - WEEK)
        .values("account_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    out = []
    for account in accounts:
        week = spent.get((account.pk, account.currency))
        days = None
        if week and week > 0 and account.balance is not None:
            days = max(account.balance, Decimal(0)) / (week / 7)
        out.append(Forecast(account, week, days))
    return out


def low_balance_accounts(team) -> list[ProviderAccount]:
    """Accounts whose last reading is below their alert level (for the managers' banner)."""
    return [
        a
        for a in ProviderAccount.objects.filter(
            team=team, enabled=True, low_balance_threshold__isnull=False, balance__isnull=False
        ).order_by("label")
        if a.balance < a.low_balance_threshold
    ]


# --- reconciliation ----------------------------------------------------------------------


@dataclass
class Movement:
    order_code: str  # "" for rentals and entries without an order
    label: str
    net: Decimal
    kinds: list[str] = field(default_factory=list)


@dataclass
class Interval:
    start: BalanceReading
    end: BalanceReading
    ledger: Decimal = Decimal(0)
    entries: int = 0
    movements: dict[str, Movement] = field(default_factory=dict)
    comparable: bool = True

    @property
    def provider_spent(self) -> Decimal:
        """How far the provider's balance went down (negative: it went up)."""
        return self.start.amount - self.end.amount

    @property
    def difference(self) -> Decimal:
        return self.provider_spent - self.ledger

    @property
    def flagged(self) -> bool:
        if not self.comparable:
            return True
        half_unit = Decimal(1).scaleb(-places_for(self.start.currency)) / 2
        return abs(self.difference) >= half_unit

    @property
    def quiet(self) -> bool:
        return not self.entries and not self.provider_spent and not self.flagged


@dataclass
class Reconciliation:
    account: ProviderAccount
    since: date
    until: date
    readings: int
    intervals: list[Interval]

    @property
    def shown(self) -> list[Interval]:
        return [i for i in self.intervals if not i.quiet]

    @property
    def flagged(self) -> list[Interval]:
        return [i for i in self.intervals if i.flagged]

    @property
    def unexplained(self) -> Decimal:
        return sum((i.difference for i in self.intervals if i.comparable), Decimal(0))

    @property
    def provider_spent(self) -> Decimal:
        return sum((i.provider_spent for i in self.intervals if i.comparable), Decimal(0))

    @property
    def ledger(self) -> Decimal:
        return sum((i.ledger for i in self.intervals if i.comparable), Decimal(0))


def reconcile(account: ProviderAccount, since: date, until: date) -> Reconciliation:
    """Compare the ledger with the balance readings of [since, until] (and the reading
    just before, so the first interval starts there). Three queries."""
    start, end = period_bounds(since, until)
    readings = list(
        BalanceReading.objects.filter(
            account=account, read_at__gte=start, read_at__lt=end
        ).order_by("read_at", "id")
    )
    before = (
        BalanceReading.objects.filter(account=account, read_at__lt=start)
        .order_by("-read_at", "-id")
        .first()
    )
    if before is not None:
        readings.insert(0, before)
    intervals = [Interval(a, b) for a, b in pairwise(readings)]
    for interval in intervals:
        interval.comparable = interval.start.currency == interval.end.currency
    if intervals:
        _place_entries(account, readings, intervals)
    return Reconciliation(account, since, until, len(readings), intervals)


def _place_entries(account, readings, intervals) -> None:
    times: list[datetime] = [r.read_at for r in readings]
    entries = (
        LedgerEntry.objects.filter(account=account, created__gt=times[0], created__lte=times[-1])
        .values_list("created", "amount", "currency", "kind", "order__code", "rental__code")
        .order_by("created", "id")
    )
    for created, amount, currency, kind, order_code, rental_code in entries:
        # An entry at exactly a reading's time belongs to the interval that reading ends.
        i = bisect.bisect_left(times, created) - 1
        if not 0 <= i < len(intervals):
            continue
        interval = intervals[i]
        if currency != interval.start.currency:
            interval.comparable = False
            continue
        interval.ledger += amount
        interval.entries += 1
        key = str(order_code or rental_code or "")
        label = f"order {key[:8]}" if order_code else f"rental {key[:8]}" if rental_code else "-"
        movement = interval.movements.setdefault(key, Movement(str(order_code or ""), label, 0))
        movement.net += amount
        movement.kinds.append(kind)
