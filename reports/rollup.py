"""The cost report's daily roll-up (issue 13): whole past days pre-aggregated per team.

`rollup(team, since, until)` writes, for every closed day of the range, the rows the
report would otherwise aggregate from raw rows (`reports.models`: DailySpend,
DailyOutcome, DailyWait, DailyFailure) and marks the day rolled up (DailyRollup).
Recomputing a day deletes its rows and inserts them again in one transaction, so it
is idempotent; two processes rolling up the same day at once cannot both insert (the
unique constraints refuse the second, which changes nothing).

Which days are closed (safe to roll up):

- ledger entries never change once booked and are dated by `created` (set when they
  are written, so a refund booked today for an order of last week is today's entry);
- an order can still change while it is not final (a code arrives, it expires, it is
  cancelled), and its outcome, its wait and whether its entries count as a failure
  change with it; a final order never changes (the sync engine skips final orders).

So a day is rolled up once it ended more than SETTLE ago (an entry or order stamped
just before midnight may commit a little later) and every order created that day, and
every order that day's entries belong to, is in a final state. A day held open by an
order that never settles stays live: the report computes it from raw rows, correct
and only a day's work slower.

`merged_inputs(...)` is the reading side, called by `reports.costs.cost_report`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from orders.models import FINAL_STATES, Order, State
from providers.models import ProviderAccount
from reports import costs
from reports.models import (
    Breakdown,
    DailyFailure,
    DailyOutcome,
    DailyRollup,
    DailySpend,
    DailyWait,
    LedgerEntry,
)

# How long after its end a day can be rolled up (commits of rows stamped just before).
SETTLE = timedelta(hours=1)
# How far back the schedule looks for days not rolled up yet (days held open by an
# order that took long to settle); older history is `manage.py rollup_costs --since`.
LOOKBACK_DAYS = 7
OPEN_STATES = tuple(s for s in State.values if s not in FINAL_STATES)
ROLLED_MODELS = (DailySpend, DailyOutcome, DailyWait, DailyFailure, DailyRollup)

# What each roll-up row is keyed by: a ledger or order field (ids, not labels).
SPEND_FIELDS = {
    Breakdown.TOTAL: None,
    Breakdown.PROVIDER: "account",
    Breakdown.SERVICE: "order__service_name",
    Breakdown.COUNTRY: "order__country_name",
    Breakdown.MEMBER: "member",
}
OUTCOME_FIELDS = {
    Breakdown.PROVIDER: "account",
    Breakdown.SERVICE: "service_name",
    Breakdown.COUNTRY: "country_name",
}
# By id: a label or username is read with the report (renames show as from raw rows).
BY_ID = (Breakdown.PROVIDER, Breakdown.MEMBER)


# --- writing ---------------------------------------------------------------------------------


def closed_days(team, since: date, until: date, *, now=None) -> list[date]:
    """The days of [since, until] that can be rolled up (module docstring)."""
    now = now or timezone.now()
    last = min(until, timezone.localdate(now - SETTLE) - timedelta(days=1))
    if last < since:
        return []
    start, end = costs.period_bounds(since, last)
    window = Q(team=team, created__gte=start, created__lt=end)
    day = TruncDate("created")
    blocked = set(
        Order.objects.filter(window, state__in=OPEN_STATES)
        .annotate(day=day)
        .values_list("day", flat=True)
        .order_by()
        .distinct()
    )
    blocked |= set(
        LedgerEntry.objects.filter(window, order__state__in=OPEN_STATES)
        .annotate(day=day)
        .values_list("day", flat=True)
        .order_by()
        .distinct()
    )
    return [d for d in costs._days(since, last) if d not in blocked]


def rollup(team, since: date, until: date, *, now=None) -> int:
    """Roll up the closed days of [since, until] for `team` (again where rolled up
    before); returns how many days were written."""
    days = closed_days(team, since, until, now=now)
    if not days:
        return 0
    keep = set(days)
    start, end = costs.period_bounds(days[0], days[-1])
    entries = LedgerEntry.objects.filter(team=team, created__gte=start, created__lt=end)
    orders = Order.objects.filter(team=team, created__gte=start, created__lt=end)
    rows = {
        DailySpend: _spend(team, entries, keep),
        DailyOutcome: _outcomes(team, orders, keep),
        DailyWait: _waits(team, orders, keep),
        DailyFailure: _failures(team, entries, keep),
    }
    rolled_at = timezone.now()
    rows[DailyRollup] = [DailyRollup(team=team, day=d, rolled_at=rolled_at) for d in days]
    with transaction.atomic():
        for model in ROLLED_MODELS:
            model.objects.filter(
                team=team, day__gte=days[0], day__lte=days[-1], day__in=days
            ).delete()
        for model, objs in rows.items():
            model.objects.bulk_create(objs, batch_size=5000)
    return len(days)


def _spend(team, entries, keep: set[date]) -> list[DailySpend]:
    out = []
    for name, field in SPEND_FIELDS.items():
        for row in costs._spend_rows(entries, field, team):
            if row["day"] not in keep:
                continue
            out.append(
                DailySpend(
                    team=team,
                    day=row["day"],
                    breakdown=name,
                    key=_spend_key(name, row[field] if field else None),
                    currency=row["currency"],
                    charges=row["charges"],
                    refunds=row["refunds"],
                    order_net=row["order_net"],
                )
            )
    return out


def _spend_key(name: str, value) -> str:
    if name == Breakdown.TOTAL or value is None:
        return ""
    if name in BY_ID:
        return str(value)
    return "=" + value  # a name, told apart from "" (no order of the team: rentals)


def _outcomes(team, orders, keep: set[date]) -> list[DailyOutcome]:
    out = []
    for name, field in OUTCOME_FIELDS.items():
        rows = (
            orders.annotate(day=TruncDate("created"))
            .values(field, "day")
            .annotate(
                n=Count("id"),
                ok=Count("id", filter=Q(code_received_at__isnull=False)),
                failed=Count(
                    "id", filter=Q(code_received_at__isnull=True, state__in=costs.FAILED_STATES)
                ),
            )
            .order_by()
        )
        out += [
            DailyOutcome(
                team=team,
                day=r["day"],
                breakdown=name,
                key=str(r[field]),
                orders=r["n"],
                codes=r["ok"],
                failed=r["failed"],
            )
            for r in rows
            if r["day"] in keep
        ]
    return out


def _waits(team, orders, keep: set[date]) -> list[DailyWait]:
    groups: dict[tuple, Counter] = defaultdict(Counter)
    for account_id, service, created, got in _with_code(orders).values_list(
        "account_id", "service_name", "created", "code_received_at"
    ):
        day = timezone.localdate(created)
        if day in keep:
            seconds = costs.whole_seconds(got - created)
            groups[(day, Breakdown.PROVIDER, str(account_id))][seconds] += 1
            groups[(day, Breakdown.SERVICE, service)][seconds] += 1
    return [
        DailyWait(team=team, day=day, breakdown=name, key=key, counts=_flat(counts))
        for (day, name, key), counts in groups.items()
    ]


def _flat(counts: Counter) -> list[int]:
    """[seconds, codes, seconds, codes, ...] by seconds: a flat list of numbers decodes
    about four times faster than a list of pairs (100 ms for the largest team's 90 days)."""
    return [n for pair in sorted(counts.items()) for n in pair]


def _with_code(orders):
    return orders.filter(code_received_at__isnull=False, code_received_at__gte=F("created"))


def _failures(team, entries, keep: set[date]) -> list[DailyFailure]:
    rows = (
        entries.filter(
            order__team=F("team"),
            order__isnull=False,
            order__code_received_at__isnull=True,
            order__state__in=costs.FAILED_STATES,
        )
        .annotate(day=TruncDate("created"))
        .values("order_id", "account_id", "member_id", "currency", "day")
        .annotate(net=Sum("amount"))
        .order_by()
    )
    # A day's zero adds nothing to an order's net: such rows are left out.
    return [
        DailyFailure(
            team=team,
            day=r["day"],
            order_id=r["order_id"],
            account_id=r["account_id"],
            member_id=r["member_id"],
            member_key=r["member_id"] or 0,
            currency=r["currency"],
            net=r["net"],
        )
        for r in rows
        if r["day"] in keep and r["net"]
    ]


def rollup_recent(*, now=None) -> dict[str, int]:
    """The schedule's work: every team's closed days of the last LOOKBACK_DAYS days
    that are not rolled up yet."""
    from accounts.models import Team

    now = now or timezone.now()
    until = timezone.localdate(now) - timedelta(days=1)
    since = until - timedelta(days=LOOKBACK_DAYS - 1)
    done = set(
        DailyRollup.objects.filter(day__gte=since, day__lte=until).values_list("team_id", "day")
    )
    result = {"teams": 0, "days": 0, "skipped": 0}
    for team in Team.objects.order_by("pk"):
        missing = [d for d in costs._days(since, until) if (team.pk, d) not in done]
        if not missing:
            continue
        try:
            days = rollup(team, missing[0], missing[-1], now=now)
        except IntegrityError:  # another process rolled the same days up meanwhile
            result["skipped"] += 1
            continue
        result["teams"] += 1 if days else 0
        result["days"] += days
    return result


def backfill(teams, *, since: date | None = None, now=None) -> int:
    """Roll up every closed day of `teams` from `since` (default: each team's first ledger
    entry or order) to yesterday; returns the days written."""
    now = now or timezone.now()
    until = timezone.localdate(now) - timedelta(days=1)
    written = 0
    for team in teams:
        first = since or _first_day(team)
        if first is not None and first <= until:
            written += rollup(team, first, until, now=now)
    return written


def _first_day(team) -> date | None:
    found = [
        LedgerEntry.objects.filter(team=team).aggregate(m=Min("created"))["m"],
        Order.objects.filter(team=team).aggregate(m=Min("created"))["m"],
    ]
    found = [timezone.localdate(at) for at in found if at is not None]
    return min(found) if found else None


# --- reading ---------------------------------------------------------------------------------


def merged_inputs(team, rolled: set[date], entries, orders) -> costs.Inputs:
    """The report's inputs: the roll-up's rows of the `rolled` days and the raw rows
    of `entries` and `orders` (the other days of the period), merged into the rows raw
    rows alone would give."""
    days = sorted(rolled)
    if days:
        scope = Q(team=team, day__gte=days[0], day__lte=days[-1], day__in=days)
        spend_rows = list(
            DailySpend.objects.filter(scope).values_list(
                "breakdown", "key", "currency", "day", "charges", "refunds", "order_net"
            )
        )
        outcome_rows = list(
            DailyOutcome.objects.filter(scope)
            .values_list("breakdown", "key")
            .annotate(n=Sum("orders"), ok=Sum("codes"), failed=Sum("failed"))
            .order_by()
        )
        wait_rows = list(DailyWait.objects.filter(scope).values_list("breakdown", "key", "counts"))
        failure_rows = list(
            DailyFailure.objects.filter(scope)
            .values(*costs.FAILURE_FIELDS)
            .annotate(net=Sum("net"))
            .order_by()
        )
    else:
        spend_rows, outcome_rows, wait_rows, failure_rows = [], [], [], []
    names = _Names(spend_rows, outcome_rows, wait_rows)

    spend = {"total": costs._spend_rows(entries, None)}
    for name, (_t, field) in costs.BREAKDOWNS.items():
        spend[name] = costs._spend_rows(entries, field, team)
    for name, key, currency, day, charges, refunds, order_net in spend_rows:
        field = costs.BREAKDOWNS[name][1] if name != Breakdown.TOTAL else None
        row = {field: names.spend(name, key)} if field else {}
        row.update(
            currency=currency, day=day, charges=charges, refunds=refunds, order_net=order_net
        )
        spend[name].append(row)
    spend = {
        name: _merge_spend(rows, costs.BREAKDOWNS.get(name, ("", None))[1])
        for name, rows in spend.items()
    }

    outcomes = {name: costs._outcomes(orders, f) for name, (_t, f) in costs.OUTCOMES.items()}
    for name, key, n, ok, failed in outcome_rows:
        group = outcomes[name].setdefault(
            str(names.outcome(name, key)), {"n": 0, "ok": 0, "failed": 0}
        )
        group["n"] += n
        group["ok"] += ok
        group["failed"] += failed
    all_outcomes = {"n": 0, "ok": 0, "failed": 0}
    for group in outcomes[Breakdown.PROVIDER].values():  # every order has an account
        for k in all_outcomes:
            all_outcomes[k] += group[k]

    histograms: dict[str, dict[str, Counter]] = {n: defaultdict(Counter) for n in costs.WAITS}
    for label, service, created, got in _with_code(orders).values_list(
        "account__label", "service_name", "created", "code_received_at"
    ):
        seconds = costs.whole_seconds(got - created)
        histograms[Breakdown.PROVIDER][str(label)][seconds] += 1
        histograms[Breakdown.SERVICE][str(service)][seconds] += 1
    for name, key, counts in wait_rows:
        histogram = histograms[name][str(names.outcome(name, key))]
        numbers = iter(counts)
        for seconds, codes in zip(numbers, numbers, strict=True):
            histogram[seconds] += codes
    waits = {
        name: {key: _nearest_ranks(counts) for key, counts in groups.items()}
        for name, groups in histograms.items()
    }

    nets: dict[tuple, dict] = {}
    for row in [*costs._failure_rows(entries), *failure_rows]:
        key = tuple(row[f] for f in costs.FAILURE_FIELDS)
        if key in nets:
            nets[key]["net"] += row["net"]
        else:
            nets[key] = dict(row)
    failures = sorted(
        (r for r in nets.values() if r["net"] > 0), key=lambda r: (-r["net"], r["order_id"])
    )[: costs.FAILURES_KEPT]
    return costs.Inputs(
        spend=spend,
        outcomes=outcomes,
        all_outcomes=all_outcomes,
        waits=waits,
        failures=failures,
    )


class _Names:
    """The labels and usernames behind the roll-up's ids: two queries, whatever the size."""

    def __init__(self, spend_rows, outcome_rows, wait_rows) -> None:
        accounts, members = set(), set()
        for name, key, *_ in [*spend_rows, *outcome_rows, *wait_rows]:
            if name == Breakdown.PROVIDER:
                accounts.add(int(key))
            elif name == Breakdown.MEMBER and key:
                members.add(int(key))
        self.labels = (
            dict(ProviderAccount.objects.filter(pk__in=accounts).values_list("pk", "label"))
            if accounts
            else {}
        )
        self.usernames = (
            dict(get_user_model().objects.filter(pk__in=members).values_list("pk", "username"))
            if members
            else {}
        )

    def spend(self, name: str, key: str):
        if not key:
            return None
        if name == Breakdown.PROVIDER:
            return self.labels[int(key)]
        if name == Breakdown.MEMBER:
            return self.usernames.get(int(key))  # a deleted user: "(no member)", as raw
        return key[1:]

    def outcome(self, name: str, key: str):
        return self.labels[int(key)] if name == Breakdown.PROVIDER else key


def _merge_spend(rows: list[dict], field: str | None) -> list[dict]:
    """Rows with the same (key, currency, day) summed as SQL's SUM would: raw rows group
    by label, the roll-up by account id (labels are unique within a team, so this only
    matters for an entry booked against another team's account)."""
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = (row[field] if field else None, row["currency"], row["day"])
        if key not in merged:
            merged[key] = dict(row)
            continue
        into = merged[key]
        for total in ("charges", "refunds", "order_net"):
            if row[total] is not None:
                into[total] = row[total] if into[total] is None else into[total] + row[total]
    return list(merged.values())


def _nearest_ranks(counts: Counter) -> dict:
    """Median and 90th percentile (nearest rank) of a histogram of whole seconds."""
    n = sum(counts.values())
    ranks = {"median": (n + 1) // 2, "p90": (9 * n + 9) // 10}
    out: dict = {"n": n, "median": None, "p90": None}
    seen = 0
    for seconds in sorted(counts):
        seen += counts[seconds]
        for name, rank in ranks.items():
            if out[name] is None and seen >= rank:
                out[name] = seconds
    return out
