"""The cost report (issue 15): what a period cost, where the money went, what it bought.

Everything is aggregated in the database, grouped by (what the table shows,
currency, day), so the number of queries does not grow with the number of orders
or entries: the rows that come back are bounded by keys x currencies x days.
Each group then converts with the exchange rate of its day (`reports.fx`) into
the team's reporting currency; a currency without any rate stays in its own
currency and out of the converted totals (the page says so).

Success is "a code arrived"; failure is an order that ended (expired, cancelled,
refunded) without one. Percentiles are nearest-rank: the median of 1, 2, 3, 4
is 2, the 90th percentile of ten waits is the 9th shortest. Waits count in whole
seconds (rounded half up), the page's precision, so the daily roll-up's per-second
histograms give exactly the percentiles of the raw rows.

Whole past days come from the daily roll-up (`reports.rollup`: rows pre-aggregated
per team, day and what the tables group by); today and any day not rolled up yet are
computed from raw rows, and the two are merged into the same per-day rows before
anything is converted or ranked, so the report is identical either way
(`cost_report(..., raw=True)` computes everything from raw rows; the tests compare).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Q,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from config.money import amount_text
from orders.models import Order, State
from reports import charts
from reports.fx import MissingRate, Rates
from reports.models import DailyRollup, LedgerEntry

FAILED_STATES = (State.EXPIRED, State.CANCELLED, State.REFUNDED)
PLACES = Decimal("0.0001")  # of LedgerEntry.amount
NO_KEY = {"member": "(no member)", "service": "Rentals", "country": "Rentals"}

# What spend can be broken down by: (title, ledger field).
BREAKDOWNS = {
    "provider": ("Provider account", "account__label"),
    "service": ("Service", "order__service_name"),
    "country": ("Country", "order__country_name"),
    "member": ("Member", "member__username"),
}
# What order outcomes can be broken down by: (title, order field).
OUTCOMES = {
    "provider": ("Provider account", "account__label"),
    "service": ("Service", "service_name"),
    "country": ("Country", "country_name"),
}


# --- tables: one definition for the page and the CSV ---------------------------------------


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text, money, original, int, pct, seconds
    currency: str = ""
    csv_label: str = ""  # where the CSV's header says more (its unit)


@dataclass
class Table:
    name: str  # its CSV name
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    chart: str = ""
    footer: list | None = None
    note: str = ""
    links: list[str] = field(default_factory=list)  # order codes, for the failures table

    def cells(self, *, csv: bool = False) -> list[list[str]]:
        rows = [*self.rows, *([self.footer] if self.footer else [])]
        return [
            [_cell(v, c, csv=csv) for v, c in zip(row, self.columns, strict=True)] for row in rows
        ]

    @property
    def body(self) -> list[list[dict]]:
        """The page's rows: each cell's text, its column's label and whether it is a number."""
        out = []
        plain = self.cells(csv=True)
        for r, row in enumerate(self.cells()[: len(self.rows)]):
            cells = []
            for i, (text, column) in enumerate(zip(row, self.columns, strict=True)):
                link = self.links[r] if i == 0 and r < len(self.links) else ""
                num = column.kind not in ("text",)
                # The CSV's form, where the page words it differently ("1 min 30 s": 90).
                value = plain[r][i] if column.kind == "seconds" else ""
                cells.append(
                    {"text": text, "label": column.label, "num": num, "link": link, "value": value}
                )
            out.append(cells)
        return out

    @property
    def foot(self) -> list[str] | None:
        return self.cells()[-1] if self.footer else None

    def csv_rows(self) -> list[list[str]]:
        return [[c.csv_label or c.label for c in self.columns], *self.cells(csv=True)]


def _cell(value, column: Column, *, csv: bool) -> str:
    if value is None or value == "":
        return "" if csv else "—"
    if column.kind == "money":
        return amount_text(value, column.currency, approx=True, grouping=not csv)
    if column.kind == "original":
        return amount_text(value, column.currency, grouping=not csv)
    if column.kind == "pct":
        return f"{value:.1f}" if csv else f"{value:.1f}%"
    if column.kind == "seconds":
        return str(int(value)) if csv else duration_words(value)
    return str(value)


def duration_words(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# --- money per group -------------------------------------------------------------------


@dataclass
class Spend:
    """Charges (> 0), refunds (< 0) and net, converted; originals per currency."""

    charges: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)
    order_net: Decimal = Decimal(0)  # net of entries that belong to an order
    original: dict[str, Decimal] = field(default_factory=dict)  # currency -> net
    unconverted: set[str] = field(default_factory=set)

    @property
    def net(self) -> Decimal:
        return self.charges + self.refunds


def _spend_rows(entries, key: str | None, team=None) -> list[dict]:
    """Charges, refunds and order net per `key` (a ledger field path), currency and day.

    A key on the order is read through a join restricted to `team`'s orders (the
    entries' own team, so nothing changes but the plan): without it, PostgreSQL
    scans every team's orders for the join (2.1 s against 0.5 s for a team of
    120,000 orders in a database of 1 M, docs/BENCHMARKS.md).
    """
    fields = [key] if key else []
    if key and key.startswith("order__"):
        team_order = FilteredRelation("order", condition=Q(order__team=team))
        entries = entries.annotate(team_order=team_order)
        fields = ["team_order__" + key.removeprefix("order__")]
    rows = list(
        entries.annotate(day=TruncDate("created"))
        .values(*fields, "currency", "day")
        .annotate(
            charges=Sum("amount", filter=Q(amount__gt=0)),
            refunds=Sum("amount", filter=Q(amount__lt=0)),
            order_net=Sum("amount", filter=Q(order__isnull=False)),
        )
        .order_by()
    )
    for row in rows:
        if key and fields[0] != key:
            row[key] = row.pop(fields[0])
        for name in ("charges", "refunds", "order_net"):
            row[name] = _places(row[name])
    return rows


def _places(value: Decimal | None) -> Decimal | None:
    """A sum of ledger amounts to their 4 places: exact on PostgreSQL already; SQLite
    sums them as floats (0.0600000000000001), which the roll-up's columns round away."""
    return value.quantize(PLACES) if value is not None else None


def _fold(rows: list[dict], key: str | None, rates: Rates, to: str) -> dict[object, Spend]:
    out: dict[object, Spend] = defaultdict(Spend)
    # In one fixed order: Decimal sums of converted values round at 28 digits, and the
    # roll-up must give the same last digit as raw rows.
    for row in sorted(rows, key=lambda r: _row_order(r, key)):
        spend = out[row[key] if key else None]
        charges, refunds = row["charges"] or Decimal(0), row["refunds"] or Decimal(0)
        currency = row["currency"]
        spend.original[currency] = spend.original.get(currency, Decimal(0)) + charges + refunds
        try:
            day = row["day"]
            spend.charges += rates.convert(charges, currency, to, day)
            spend.refunds += rates.convert(refunds, currency, to, day)
            spend.order_net += rates.convert(row["order_net"] or Decimal(0), currency, to, day)
        except MissingRate as exc:
            spend.unconverted.add(exc.currency)
    return out


def _row_order(row: dict, key: str | None) -> tuple:
    value = row[key] if key else None
    return (value is None, str(value) if value is not None else "", row["currency"], row["day"])


# --- the report ----------------------------------------------------------------------------


@dataclass
class CostReport:
    currency: str
    since: date
    until: date  # inclusive
    totals: Spend
    currencies: list[str]
    unconverted: list[str]
    orders: int
    with_code: int
    without_code: int
    tables: dict[str, Table]

    @property
    def success_rate(self) -> Decimal | None:
        return _rate(self.with_code, self.without_code)

    @property
    def cost_per_success(self) -> Decimal | None:
        return self.totals.order_net / self.with_code if self.with_code else None


def _rate(ok: int, failed: int) -> Decimal | None:
    done = ok + failed
    return (Decimal(100) * ok / done).quantize(Decimal("0.1")) if done else None


def period_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(since, datetime.min.time(), tz)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), tz)
    return start, end


def cost_report(
    team, *, since: date, until: date, originals: bool = False, raw: bool = False
) -> CostReport:
    """The whole report for [since, until] (both days included): rolled-up days from the
    daily roll-up, the rest from raw rows; `raw` computes every day from raw rows."""
    start, end = period_bounds(since, until)
    to = team.reporting_currency
    if raw:
        entries = LedgerEntry.objects.filter(team=team, created__gte=start, created__lt=end)
        orders = Order.objects.filter(team=team, created__gte=start, created__lt=end)
        got = _raw_inputs(team, entries, orders)
    else:
        got = _rolled_inputs(team, since, until)

    total_rows = got.spend["total"]
    currencies = sorted({r["currency"] for r in total_rows})
    rates = Rates.load({to, *currencies}, until=until)
    totals = _fold(total_rows, None, rates, to).get(None, Spend())
    spends = {name: _fold(got.spend[name], BREAKDOWNS[name][1], rates, to) for name in BREAKDOWNS}
    per_day = _fold(total_rows, "day", rates, to)
    all_outcomes = got.all_outcomes

    tables: dict[str, Table] = {}
    tables["totals"] = _totals_table(totals, currencies, to, all_outcomes, originals)
    for name, (title, _f) in BREAKDOWNS.items():
        tables[name] = _spend_table(name, title, spends[name], currencies, to, originals)
    tables["day"] = _day_table(per_day, since, until, currencies, to, originals)
    for name, (title, _f) in OUTCOMES.items():
        tables[f"success_{name}"] = _success_table(
            name, title, got.outcomes[name], spends.get(name, {}), to
        )
    for name in WAITS:
        tables[f"wait_{name}"] = _wait_table(name, OUTCOMES[name][0], got.waits[name])
    tables["failures"] = _failures_table(got.failures, rates, to)
    return CostReport(
        currency=to,
        since=since,
        until=until,
        totals=totals,
        currencies=currencies,
        unconverted=sorted(totals.unconverted),
        orders=all_outcomes["n"],
        with_code=all_outcomes["ok"],
        without_code=all_outcomes["failed"],
        tables=tables,
    )


WAITS = ("provider", "service")


@dataclass
class Inputs:
    """What the tables are made of, from raw rows or the roll-up alike."""

    spend: dict[str, list[dict]]  # "total" and each breakdown: rows per key, currency, day
    outcomes: dict[str, dict[str, dict]]  # breakdown -> key -> n, ok, failed
    all_outcomes: dict[str, int]
    waits: dict[str, dict[str, dict]]  # breakdown -> key -> n, median, p90
    failures: list[dict]  # failed orders' groups, net > 0, costliest first


def _raw_inputs(team, entries, orders) -> Inputs:
    spend = {"total": _spend_rows(entries, None)}
    for name, (_t, f) in BREAKDOWNS.items():
        spend[name] = _spend_rows(entries, f, team)
    return Inputs(
        spend=spend,
        outcomes={name: _outcomes(orders, f) for name, (_t, f) in OUTCOMES.items()},
        all_outcomes=orders.aggregate(
            n=Count("id"),
            ok=Count("id", filter=Q(code_received_at__isnull=False)),
            failed=Count("id", filter=Q(code_received_at__isnull=True, state__in=FAILED_STATES)),
        ),
        waits={name: _waits(orders, OUTCOMES[name][1]) for name in WAITS},
        failures=list(
            _failure_rows(entries).filter(net__gt=0).order_by("-net", "order_id")[:FAILURES_KEPT]
        ),
    )


def _rolled_inputs(team, since: date, until: date) -> Inputs:
    """Rolled-up days from the roll-up, the others from raw rows, merged."""
    from reports import rollup

    rolled = set(
        DailyRollup.objects.filter(team=team, day__gte=since, day__lte=until).values_list(
            "day", flat=True
        )
    )
    live = Q()
    for first, last in _ranges([d for d in _days(since, until) if d not in rolled]):
        start, end = period_bounds(first, last)
        live |= Q(created__gte=start, created__lt=end)
    if live:
        entries = LedgerEntry.objects.filter(live, team=team)
        orders = Order.objects.filter(live, team=team)
    else:
        entries, orders = LedgerEntry.objects.none(), Order.objects.none()
    return rollup.merged_inputs(team, rolled, entries, orders)


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: (first, last) each."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _original_columns(currencies, originals: bool) -> list[Column]:
    return [Column(f"Net {c} (original)", "original", c) for c in currencies] if originals else []


def _totals_table(totals: Spend, currencies, to, outcomes, originals) -> Table:
    columns = [
        Column(f"Charges {to}", "money", to),
        Column(f"Refunds {to}", "money", to),
        Column(f"Net {to}", "money", to),
        *_original_columns(currencies, originals),
        Column("Orders", "int"),
        Column("Code received", "int"),
        Column("Ended without code", "int"),
        Column("Success", "pct"),
        Column(f"Cost per code {to}", "money", to),
    ]
    ok = outcomes["ok"]
    row = [
        totals.charges,
        totals.refunds,
        totals.net,
        *([totals.original.get(c) for c in currencies] if originals else []),
        outcomes["n"],
        ok,
        outcomes["failed"],
        _rate(ok, outcomes["failed"]),
        totals.order_net / ok if ok else None,
    ]
    return Table("totals", "Totals", columns, [row])


def _spend_table(name, title, spends: dict, currencies, to, originals) -> Table:
    columns = [
        Column(title),
        Column(f"Charges {to}", "money", to),
        Column(f"Refunds {to}", "money", to),
        Column(f"Net {to}", "money", to),
        *_original_columns(currencies, originals),
    ]
    keyed = sorted(
        ((str(k) if k is not None else NO_KEY.get(name, "—"), s) for k, s in spends.items()),
        key=lambda item: (-item[1].net, item[0]),
    )
    rows = [
        [
            key,
            s.charges,
            s.refunds,
            s.net,
            *([s.original.get(c) for c in currencies] if originals else []),
        ]
        for key, s in keyed
    ]
    chart = charts.bar_chart(
        [charts.Bar(key, s.net) for key, s in keyed],
        title=f"Net spend by {title.lower()}, {to}",
        currency=to,
    )
    return Table(name, f"Spend by {title.lower()}", columns, rows, chart=chart)


def _day_table(per_day: dict, since: date, until: date, currencies, to, originals) -> Table:
    columns = [
        Column("Day"),
        Column(f"Charges {to}", "money", to),
        Column(f"Refunds {to}", "money", to),
        Column(f"Net {to}", "money", to),
        *_original_columns(currencies, originals),
    ]
    days, rows = [], []
    day = since
    while day <= until:
        s = per_day.get(day, Spend())
        days.append((day, s.net))
        if day in per_day:
            rows.append(
                [
                    day.isoformat(),
                    s.charges,
                    s.refunds,
                    s.net,
                    *([s.original.get(c) for c in currencies] if originals else []),
                ]
            )
        day += timedelta(days=1)
    chart = charts.column_chart(days, title=f"Net spend per day, {to}", currency=to)
    return Table("day", "Spend by day", columns, rows, chart=chart)


def _outcomes(orders, field_name: str) -> dict[str, dict]:
    rows = (
        orders.values(field_name)
        .annotate(
            n=Count("id"),
            ok=Count("id", filter=Q(code_received_at__isnull=False)),
            failed=Count("id", filter=Q(code_received_at__isnull=True, state__in=FAILED_STATES)),
        )
        .order_by()
    )
    return {str(r[field_name]): r for r in rows}


def _success_table(name, title, outcomes: dict, spends: dict, to: str) -> Table:
    columns = [
        Column(title),
        Column("Orders", "int"),
        Column("Code received", "int"),
        Column("Ended without code", "int"),
        Column("Success", "pct"),
        Column(f"Cost per code {to}", "money", to),
    ]
    rows = []
    for key, r in sorted(outcomes.items(), key=lambda kv: (-kv[1]["n"], kv[0])):
        spend = spends.get(key)
        per_code = spend.order_net / r["ok"] if spend is not None and r["ok"] else None
        rows.append([key, r["n"], r["ok"], r["failed"], _rate(r["ok"], r["failed"]), per_code])
    return Table(f"success_{name}", f"Success rate by {title.lower()}", columns, rows)


def _waits(orders, field_name: str) -> dict[str, dict]:
    """Median and 90th percentile of the wait for a code per group: two rows per group
    come back from the database (window functions), whatever the number of orders.
    Rounding is monotonic, so the rank's wait rounded is the rank of the rounded waits."""
    wait = ExpressionWrapper(F("code_received_at") - F("created"), output_field=DurationField())
    inner = (
        orders.filter(code_received_at__isnull=False, code_received_at__gte=F("created"))
        .annotate(
            grp=F(field_name),
            wait=wait,
            rn=Window(RowNumber(), partition_by=[F(field_name)], order_by=wait.asc()),
            cnt=Window(Count("id"), partition_by=[F(field_name)]),
        )
        .values("grp", "wait", "rn", "cnt")
        .order_by()
    )
    sql, params = inner.query.sql_with_params()
    q = connection.ops.quote_name
    rn, cnt = q("rn"), q("cnt")
    # Names quoted by the backend, values passed as parameters.
    query = (
        f"SELECT {q('grp')}, {q('wait')}, {rn}, {cnt} FROM ({sql}) ranked WHERE "  # noqa: S608
        f"({rn} * 2 >= {cnt} AND ({rn} - 1) * 2 < {cnt}) OR "
        f"({rn} * 10 >= {cnt} * 9 AND ({rn} - 1) * 10 < {cnt} * 9)"
    )
    out: dict[str, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for grp, value, position, count in cursor.fetchall():
            seconds = whole_seconds(value)
            row = out.setdefault(str(grp), {"n": count, "median": None, "p90": None})
            if position * 2 >= count and (position - 1) * 2 < count:
                row["median"] = seconds
            if position * 10 >= count * 9 and (position - 1) * 10 < count * 9:
                row["p90"] = seconds
    return out


def whole_seconds(value) -> int:
    """A wait in whole seconds, rounded half up (exact: from its microseconds)."""
    # SQLite gives microseconds, as a number or (some builds) as text.
    micros = value // timedelta(microseconds=1) if isinstance(value, timedelta) else int(value)
    return (micros + 500_000) // 1_000_000


def _wait_table(name, title, waits: dict) -> Table:
    columns = [
        Column(title),
        Column("Codes", "int"),
        Column("Median wait", "seconds", csv_label="Median wait (seconds)"),
        Column("90th percentile", "seconds", csv_label="90th percentile (seconds)"),
    ]
    rows = [
        [key, w["n"], w["median"], w["p90"]]
        for key, w in sorted(waits.items(), key=lambda kv: (kv[1]["median"] or 0, kv[0]))
    ]
    return Table(f"wait_{name}", f"Time to code by {title.lower()}", columns, rows)


FAILURES_SHOWN = 15
# Groups kept before converting (the costliest in their own currency), then ranked converted.
FAILURES_KEPT = FAILURES_SHOWN * 3
FAILURE_FIELDS = (
    "order_id",
    "order__code",
    "order__created",
    "order__service_name",
    "order__country_name",
    "order__state",
    "account__label",
    "member__username",
    "currency",
)


def _failure_rows(entries):
    """Net per failed order (ended without a code) and (account, member, currency)."""
    failed = entries.filter(
        order__team=F("team"),  # the join reads one team's orders (see _spend_rows)
        order__isnull=False,
        order__code_received_at__isnull=True,
        order__state__in=FAILED_STATES,
    )
    return failed.values(*FAILURE_FIELDS).annotate(net=Sum("amount")).order_by()


def _failures_table(rows: list[dict], rates: Rates, to: str) -> Table:
    """The failed orders that cost the most (charged and not refunded)."""
    for row in rows:
        row["net"] = _places(row["net"])
        try:
            day = timezone.localdate(row["order__created"])
            row["converted"] = rates.convert(row["net"], row["currency"], to, day)
        except MissingRate:
            row["converted"] = None
    rows.sort(key=lambda r: (-(r["converted"] or Decimal(0)), r["order_id"]))
    columns = [
        Column("Order"),
        Column("Placed"),
        Column("Provider account"),
        Column("Service"),
        Column("Country"),
        Column("Member"),
        Column("Ended"),
        Column("Cost", "text"),
        Column(f"Cost {to}", "money", to),
    ]
    labels = dict(State.choices)
    table_rows = [
        [
            str(r["order__code"])[:8],
            timezone.localtime(r["order__created"]).strftime("%Y-%m-%d %H:%M"),
            r["account__label"],
            r["order__service_name"],
            r["order__country_name"],
            r["member__username"] or NO_KEY["member"],
            str(labels.get(r["order__state"], r["order__state"])),
            f"{amount_text(r['net'], r['currency'])} {r['currency']}",
            r["converted"],
        ]
        for r in rows[:FAILURES_SHOWN]
    ]
    table = Table("failures", "Most expensive failures", columns, table_rows)
    table.note = "Orders that ended without a code and were charged, net of any refund."
    table.links = [str(r["order__code"]) for r in rows[:FAILURES_SHOWN]]
    return table
