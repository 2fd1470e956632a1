"""The live board's reads: which orders it shows, in which order, its version, and
which rows changed since the version a browser last saw.

The board polls every 2 s with the version it has. Nothing changed: 204. Something
changed: only the rows that changed (and those that entered or left the board), not
the whole board; the browser swaps them in place (static/js/smsdesk.js).

What changed is found from `updated` (bumped by every save()). A few writes go
through update() and leave it alone: scheduling a cancel, the provider's refusals
and the poller's claim (the cancel fields); the unconfirmed-purchase paths (an
order entering the board as unconfirmed, failing out of it, or being marked
"cannot confirm"); the member API's label on the orders it placed. The version
carries a digest of exactly those fields; when it moved, the rows they can touch
(scheduled or refused cancels, unconfirmed purchases, purchases failed since,
rows the API labelled lately: a handful) are sent as well.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connections, router
from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Lower

from config.sql import converted, with_converters
from orders.models import BOARD_STATES, Order, State

# Rows rendered at first; past it the board says how many are hidden and offers more
# (100 rows render in about half the 150 ms a first render may take at 500 orders).
WINDOW = 100
WINDOW_STEP = 100
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
    """The board's orders of `team` that match `filters`, sorted (a queryset)."""
    orders = Order.objects.filter(team=team).for_board()
    return apply(lean(orders), filters).order_by(*SORTS[filters.sort])


# What a board row never shows: not read, so not decoded hundreds of times a render.
# (A field the row starts to show must leave this list: the query-count test fails
# otherwise, with a query per row.)
UNSHOWN = (
    "idempotency_key",
    "service",
    "country",
    "service_upstream_id",
    "country_upstream_id",
    "options",
    "upstream_status",
    "previous_upstream_ids",
    "cost",
    "currency",
    "cost_quoted",
    "placement_deadline",
    "sms_revision",
    "auto_replace",
    "replace_count",
    "replaces",
    "is_orphan",
    "last_checked_at",
    "next_check_at",
    "finished_at",
)


def lean(orders):
    """`orders` with what a row shows: accounts and members prefetched, not joined (a
    handful of shared objects, not a copy per row). The SMS texts come in one query
    (views.with_cancel_state): a prefetch of messages cost a queryset per row."""
    return (
        orders.select_related(None)
        .prefetch_related(None)
        .prefetch_related("account", "ordered_by")
        .defer(*UNSHOWN)
    )


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

    "<last updated>_<board>_<side fields>": the first part is when the newest write
    that bumped `updated` happened (the `since` of the next poll; read from the
    (team, updated) index); the second which rows are on the board; the last a digest
    of what update() writes without bumping `updated` (see the module docstring).
    Only the board's rows are aggregated, however long the team's history is.
    """
    last, n, ids, scheduled, lock, *side = _VERSION.row(team.pk)
    side = _digest(scheduled, _micros(lock), *side)
    return f"{_micros(last)}_{_digest(n, ids)}_{side}"


def _newest(team_id):
    """When the team's newest write that bumped `updated` happened (one value)."""
    return Order.objects.filter(team_id=team_id).order_by("-updated").values_list("updated")[:1]


def _board_stats(team_id):
    """One row over the board's orders: which they are, then what update() writes."""
    unconfirmed = Q(state=State.UNCONFIRMED)
    stats = {
        "n": Count("id"),
        "ids": Sum("id"),
        "scheduled": Count("id", filter=Q(cancel_requested=True)),
        "lock": Max("cancel_available_at"),
        "refusals": Sum("cancel_refusals"),
        "unconfirmed": Count("id", filter=unconfirmed),
        "unconfirmed_ids": Sum("id", filter=unconfirmed),
        "cannot_confirm": Count("id", filter=unconfirmed & Q(error_category="cannot_confirm")),
        "via_api": Count("id", filter=~Q(placed_via="")),
    }
    # Grouped by a constant, which Django leaves out of GROUP BY: one row over all the
    # board's orders (none included), as aggregate() reads it.
    board = Order.objects.filter(team_id=team_id, state__in=BOARD_STATES).order_by()
    return board.annotate(one=Value(1)).values("one").annotate(**stats).values_list(*stats)


class _VersionRead:
    """The version's read, compiled once per process and database, then run for any team.

    Django compiles a query again each time it runs: for the version's aggregate that
    took about 3.5 ms of CPU a poll, several times what running it takes (issue 13). The
    SQL is kept, and the columns it reads (for their converters); only the team's id
    changes. One statement: the newest `updated`, then the board's aggregate.
    """

    TEAM = -7_301_555_017  # stands for the team's id while compiling

    def __init__(self):
        self.compiled: dict[tuple[str, str], tuple] = {}

    def row(self, team_id: int) -> list:
        """[newest updated, board aggregate...] for team `team_id`, converted."""
        connection = connections[router.db_for_read(Order)]
        key = (connection.alias, connection.vendor)
        if key not in self.compiled:
            self.compiled[key] = self.compile(connection)
        sql, params, slots, columns = self.compiled[key]
        params = list(params)
        for i in slots:
            params[i] = team_id
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return converted(cursor.fetchone(), columns, connection)

    def compile(self, connection) -> tuple[str, list, list[int], list]:
        """(SQL, params, where the team's id goes in them, the columns and converters)."""
        sql, params, columns = [], [], []
        for query in (_newest(self.TEAM), _board_stats(self.TEAM)):
            compiler = query.query.get_compiler(connection=connection)
            text, args = compiler.as_sql()
            sql.append(text)
            params.extend(args)
            columns.extend(with_converters(connection, column) for column, _, _ in compiler.select)
        slots = [i for i, value in enumerate(params) if value == self.TEAM]
        if len(slots) != 2:  # the team's id in each query, as a parameter
            raise RuntimeError(f"the board version's SQL has the team's id {len(slots)} times")
        newest, stats = sql  # Django's own SQL, every value a parameter
        return f"SELECT ({newest}), stats.* FROM ({stats}) stats", params, slots, columns  # noqa: S608


_VERSION = _VersionRead()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
API_LABEL_DELAY = timedelta(minutes=2)


def _micros(moment) -> int:
    """Microseconds since the epoch, exactly (a float would round the last digit)."""
    return (moment - EPOCH) // timedelta(microseconds=1) if moment else 0


def _digest(*parts) -> str:
    return hashlib.blake2s(repr(parts).encode(), digest_size=5).hexdigest()


@dataclass(frozen=True)
class Seen:
    """A version as a browser sent it back."""

    since: datetime
    board: str
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
    return Seen(since=since, board=parts[1], side=parts[2])


def changed_since(team, seen: Seen, current: str):
    """The team's orders that may look different since the browser's version `seen`
    (a queryset, any state: rows that left the board come back to be removed)."""
    touched = Q(updated__gt=seen.since)
    if current.rsplit("_", 1)[1] != seen.side:
        # update() writes: the cancel fields, and unconfirmed purchases entering the
        # board, being marked, or failing out of it (services._mark_failed sets
        # finished_at, not updated).
        touched |= Q(state__in=BOARD_STATES) & (
            Q(cancel_requested=True) | Q(cancel_refusals__gt=0) | Q(state=State.UNCONFIRMED)
        )
        touched |= Q(state=State.FAILED, finished_at__gt=seen.since)
        # The member API labels its orders right after placing them (api.placement).
        recent = seen.since - API_LABEL_DELAY
        touched |= Q(state__in=BOARD_STATES, updated__gt=recent) & ~Q(placed_via="")
    # A few rows: joined in one query, rather than prefetched in two more.
    changed = lean(Order.objects.filter(team=team).filter(touched))
    return changed.prefetch_related(None).select_related("account", "ordered_by")


def same_rows(seen: Seen, current: str) -> bool:
    """True when the board holds the same orders as at `seen` (only their contents
    changed): an unfiltered board's count is then the same too."""
    return current.split("_")[1] == seen.board


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
