"""What an order or a rental really cost, from the ledger, for the admin's lists.

An order's `cost` is its price; a rental's is the first charge. What the team paid
is the ledger's net: charges, extensions, resends, corrections and refunds.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.formats import date_format

from config.money import money_text
from reports.models import LedgerEntry


def net_charged(link: str) -> Subquery:
    """An annotation: the ledger's net amount for the row (`link` is "order" or "rental"),
    None when nothing was booked."""
    entries = (
        LedgerEntry.objects.filter(**{link: OuterRef("pk")})
        .order_by()
        .values(link)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Subquery(entries, output_field=DecimalField(max_digits=18, decimal_places=4))


def charged_text(total, currency: str) -> str:
    """ "1.50 USD", or "nothing booked" when the ledger has no entry for the row."""
    return "nothing booked" if total is None else money_text(Decimal(total), currency)


def charges_breakdown(entries) -> str:
    """Each ledger entry and the net: "Rental 1.00 USD; Rental extension 0.50 USD; net
    1.50 USD", or "nothing booked"."""
    rows = list(entries.order_by("created", "id"))
    if not rows:
        return "nothing booked"
    parts = [f"{e.get_kind_display()} {money_text(e.amount, e.currency)}" for e in rows]
    currency = rows[0].currency
    net = sum((e.amount for e in rows), Decimal(0))
    return "; ".join([*parts, f"net {money_text(net, currency)}"])


def short_time(moment) -> str:
    """ "Dec 1, 03:18" in the current time zone (the year only when not this year); "—"."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    fmt = "M j, H:i" if local.year == timezone.localtime().year else "M j Y, H:i"
    return date_format(local, fmt)
