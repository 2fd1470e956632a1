"""Read-only cost and quality reports over the ledger and orders."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum

from orders.models import Order, State
from reports.ledger import usd_value
from reports.models import LedgerEntry

# What a report row can be grouped by: (label, ledger field, order field).
GROUPS = {
    "member": ("Member", "member__username", "ordered_by__username"),
    "provider": ("Provider", "account__label", "account__label"),
    "service": ("Service", "order__service_name", "service_name"),
    "country": ("Country", "order__country_name", "country_name"),
    "day": ("Day", "created__date", "created__date"),
}
SUCCESS_STATES = (State.RECEIVED, State.COMPLETED)
UNSUCCESSFUL_STATES = (State.EXPIRED, State.CANCELLED, State.REFUNDED)


@dataclass
class Row:
    key: str
    spent: dict[str, Decimal] = field(default_factory=dict)  # currency -> net amount
    usd: Decimal = Decimal(0)
    orders: int = 0
    with_code: int = 0
    without_code: int = 0

    @property
    def success_rate(self) -> Decimal | None:
        finished = self.with_code + self.without_code
        if not finished:
            return None
        return (Decimal(100) * self.with_code / finished).quantize(Decimal("0.1"))


def cost_report(team, *, since: datetime, until: datetime, group: str) -> list[Row]:
    """Net spend (charges minus refunds) and order outcomes per group, biggest spend first."""
    _label, ledger_field, order_field = GROUPS[group]
    rows: dict[str, Row] = defaultdict(lambda: Row(key=""))
    ledger = (
        LedgerEntry.objects.filter(team=team, created__gte=since, created__lt=until)
        .values(ledger_field, "currency")
        .annotate(total=Sum("amount"))
    )
    for item in ledger:
        key = _key(item[ledger_field], group)
        row = rows[key]
        row.key = key
        row.spent[item["currency"]] = row.spent.get(item["currency"], Decimal(0)) + item["total"]
        row.usd += _usd(item["total"], item["currency"])
    orders = (
        Order.objects.filter(team=team, created__gte=since, created__lt=until)
        .values(order_field)
        .annotate(
            n=Count("id"),
            ok=Count("id", filter=Q(state__in=SUCCESS_STATES)),
            failed=Count("id", filter=Q(state__in=UNSUCCESSFUL_STATES)),
        )
    )
    for item in orders:
        key = _key(item[order_field], group)
        row = rows[key]
        row.key = key
        row.orders, row.with_code, row.without_code = item["n"], item["ok"], item["failed"]
    return sorted(rows.values(), key=lambda r: (-r.usd, r.key))


def _key(value, group: str) -> str:
    if value is None:
        return "rentals" if group in ("service", "country") else "system"
    return str(value)


def _usd(amount: Decimal, currency: str) -> Decimal:
    try:
        return usd_value(amount, currency)
    except ValueError:
        return Decimal(0)


def totals(rows: list[Row]) -> Row:
    total = Row(key="Total")
    for row in rows:
        for currency, amount in row.spent.items():
            total.spent[currency] = total.spent.get(currency, Decimal(0)) + amount
        total.usd += row.usd
        total.orders += row.orders
        total.with_code += row.with_code
        total.without_code += row.without_code
    return total
