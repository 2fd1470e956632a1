"""The live board's reads: which orders it shows, in which order, its version, and
which rows changed since the version a browser last saw.

The board polls every 2 s with the version it has. Nothing changed: 204. Something
changed: only the rows that changed (and those that entered or left the board), not
the whole board; the browser swaps them in place (static/js/smsdesk.js).

What changed is found from `updated` (bumped by every save()) and `finished_at`
(set when an order ends, also by update()). A few writes go through update() and
leave both alone: scheduling a cancel, the provider's refusals and the poller's
claim (the cancel fields), and the unconfirmed-purchase paths (an order entering
the board as unconfirmed, or failing out of it, or being marked "cannot confirm").
The version carries a digest of exactly those fields; when it moved, the rows they
can touch (scheduled cancels, refused cancels, unconfirmed purchases: a handful)
are sent as well.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Lower

from orders.models import BOARD_STATES, Order, State

# Rows rendered at first; past it the board says how many are hidden and offers more.
WINDOW = 200
WINDOW_STEP = 200
WINDOW_MAX = 2000

SORTS = {
    "newest": ("-created", "-id"),
    "oldest": ("created", "id"),
    "expires": (F("expires_at").asc(nulls_last=True), "id"),
    "service": (Lower("service_name"), "-created", "-id"),
    "provider": (Lower("account__label"), "-created", "-id"),
}
SORT_CHOICES = [
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("expires", "Expiring first"),
    ("service", "Service"),
    ("provider", "Provider"),
]


@dataclass(frozen=True)
class Filters:
    """What the member asked the board to show; empty values mean "any"."""

    q: str = ""
    mine: bool = False
    provider: str = ""  # the provider account's code
    state: str = ""
    service: str = ""
    sort: str = "newest"
    rows: int = WINDOW
    user_id: int | None = None

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.mine or self.provider or self.state or self.service)


def rows_for(team, filters: Filters):
    """The board's orders of `team` that match `filters`, sorted (a queryset).

    Accounts and members are prefetched, not joined: a handful of shared objects
    instead of one copy per row (two queries, whatever the size).
    """
    orders = Order.objects.filter(team=team).for_board()
    orders = orders.select_related(None).prefetch_related("account", "ordered_by")
    return apply(orders, filters).order_by(*SORTS[filters.sort])


def duration(seconds: float) -> str:
    """ "19 min left" style, as smsdesk.js counts it down (never a clock time)."""
    seconds = max(0, int(seconds))
    d, h = seconds // 86400, seconds % 86400 // 3600
    m, s = seconds % 3600 // 60, seconds % 60
    if d:
        return f"{d} day{'s' if d != 1 else ''} {h} h"
    if h:
        return f"{h} h {m} min"
    if m >= 10:
        return f"{m} min"
    if m:
        return f"{m} min {s} s"
    return f"{s} s"


def apply(orders, filters: Filters):
    """`orders` narrowed to what `filters` ask for (the board states are the caller's)."""
    if filters.mine:
        orders = orders.filter(ordered_by_id=filters.user_id)
    if filters.provider:
        orders = orders.filter(account__code=filters.provider)
    if filters.state:
        orders = orders.filter(state=filters.state)
    if filters.service:
        orders = orders.filter(service_name=filters.service)
    if filters.q:
        orders = orders.filter(search(filters.q))
    return orders


def search(text: str) -> Q:
    """Orders whose number, code, service, member or note contains `text`."""
    found = (
        Q(service_name__icontains=text)
        | Q(country_name__icontains=text)
        | Q(ordered_by__username__icontains=text)
        | Q(note__icontains=text)
        | Q(last_code__icontains=text)
        | Q(phone_number__contains=text)
    )
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and digits != text:  # "+1 (555) 000-12" finds 1555000 12..
        found |= Q(phone_number__contains=digits) | Q(last_code__contains=digits)
    return found


def sort_key(order: Order, sort: str) -> str:
    """A string that sorts (as plain text, ascending) where the row sorts on the board.

    The browser places a row that enters the board with it, without asking again.
    """
    created = order.created.timestamp()
    newest = f"{1e10 - created:017.6f}{10**12 - order.pk:012d}"
    if sort == "oldest":
        return f"{created:017.6f}{order.pk:012d}"
    if sort == "expires":
        expires = order.expires_at.timestamp() if order.expires_at else 9e9
        return f"{expires:017.6f}{order.pk:012d}"
    if sort == "service":
        return f"{order.service_name.lower()} {newest}"
    if sort == "provider":
        return f"{order.account.label.lower()} {newest}"
    return newest


# --- the version and what changed since ------------------------------------------------------


def version(team) -> str:
    """Changes whenever anything on the team's board changes (one cheap query).

    "<last updated>_<counts>_<side fields>": the first part is when the newest write
    that bumped `updated` happened (the `since` of the next poll); the last is a
    digest of what update() writes without bumping it (see the module docstring).
    """
    on_board = Q(state__in=BOARD_STATES)
    unconfirmed = Q(state=State.UNCONFIRMED)
    stats = Order.objects.filter(team=team).aggregate(
        last=Max("updated"),
        finished=Max("finished_at"),
        n=Count("id"),
        on_board=Count("id", filter=on_board),
        board_ids=Sum("id", filter=on_board),
        scheduled=Count("id", filter=on_board & Q(cancel_requested=True)),
        lock=Max("cancel_available_at", filter=on_board),
        refusals=Sum("cancel_refusals", filter=on_board),
        unconfirmed=Count("id", filter=unconfirmed),
        unconfirmed_ids=Sum("id", filter=unconfirmed),
        cannot_confirm=Count("id", filter=unconfirmed & Q(error_category="cannot_confirm")),
    )
    last = max(_micros(stats["last"]), _micros(stats["finished"]))
    counts = _digest(stats["n"], stats["on_board"], stats["board_ids"])
    side = _digest(
        stats["scheduled"],
        _micros(stats["lock"]),
        stats["refusals"],
        stats["unconfirmed"],
        stats["unconfirmed_ids"],
        stats["cannot_confirm"],
    )
    return f"{last}_{counts}_{side}"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment) -> int:
    """Microseconds since the epoch, exactly (a float would round the last digit)."""
    return (moment - EPOCH) // timedelta(microseconds=1) if moment else 0


def _digest(*parts) -> str:
    return hashlib.blake2s(repr(parts).encode(), digest_size=5).hexdigest()


@dataclass(frozen=True)
class Seen:
    """A version as a browser sent it back."""

    since: datetime
    side: str


def parse(text: str) -> Seen | None:
    """The version `text` as sent by a browser, or None when it is not one of ours."""
    parts = text.split("_")
    if len(parts) != 3 or len(text) > 60:
        return None
    if not parts[0].isascii() or not parts[0].isdigit() or len(parts[0]) > 17:
        return None
    try:
        since = EPOCH + timedelta(microseconds=int(parts[0]))
    except OverflowError:
        return None
    return Seen(since=since, side=parts[2])


def changed_since(team, seen: Seen, current: str):
    """The team's orders that may look different since the browser's version `seen`
    (a queryset, any state: rows that left the board come back to be removed)."""
    touched = Q(updated__gt=seen.since) | Q(finished_at__gt=seen.since)
    if current.rsplit("_", 1)[1] != seen.side:
        touched |= Q(state__in=BOARD_STATES) & (
            Q(cancel_requested=True) | Q(cancel_refusals__gt=0) | Q(state=State.UNCONFIRMED)
        )
    return (
        Order.objects.filter(team=team)
        .filter(touched)
        .select_related("account", "ordered_by")
        .prefetch_related("messages")
    )


def split(changed, team, filters: Filters) -> tuple[list[Order], list[str]]:
    """(rows to show, codes to remove) from the changed orders: a changed order that
    is no longer on the board, or no longer matches the filters, is removed."""
    changed = list(changed)
    if not changed:
        return [], []
    if not filters.narrowed:
        showing = {o.pk for o in changed if o.state in BOARD_STATES}
    else:
        ids = [o.pk for o in changed]
        showing = set(
            apply(Order.objects.filter(pk__in=ids, state__in=BOARD_STATES), filters)
            .order_by()
            .values_list("pk", flat=True)
        )
    rows = [o for o in changed if o.pk in showing]
    gone = [str(o.code) for o in changed if o.pk not in showing]
    return rows, gone
