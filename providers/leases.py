"""When each provider account needs a sync cycle, and who runs it.

The sync engine (the `sync` app) follows every account with work: orders
waiting for codes, rentals, unconfirmed purchases, scheduled cancels. Two
fields on the account drive it:

- `sync_due_at`: when its next cycle should start; None while it has nothing to
  follow. Services call `mark_due` when they give an account work, and each
  cycle sets the next due time from what it saw.
- the lease (`poller_lease_owner`, `poller_lease_until`): at most one cycle of
  an account runs at a time, across every process and machine. It is claimed
  with a conditional UPDATE and ends when the cycle releases it, or by itself
  when the process running the cycle dies.

Nothing here knows the engine: `mark_due` sends `sync_requested`, which the
engine answers by making sure its dispatcher runs.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.db import connections, router
from django.db.models import Case, CharField, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.dispatch import Signal
from django.utils import timezone

from providers.models import ProviderAccount

# Longer than a cycle waits in the queue plus the longest cycle: a lease that
# runs out means the process running the cycle died, and the account is due again.
CYCLE_LEASE = timedelta(seconds=60)

MIN_INTERVAL = 1.0  # seconds between cycles of an account while a code is awaited
# The share of an account's rate budget the engine may spend; the rest stays
# free for members' purchases and cancels. Small budgets (NumPool's 1/s) get a
# larger share, but at most a quarter, so three quarters always stay for the
# members. On NumPool's 60 a minute that is a poll every 4 s: a NumPool code
# waits up to 4 s (at half, 2 s, the limit share was 27 % over a benchmark's
# window; docs/BENCHMARKS.md).
POLL_SHARE = 0.15
SMALL_BUDGET_POLL_SHARE = 0.25

# Sent (with `account_id`) after an account was marked due.
sync_requested = Signal()


def lease_free(now: datetime) -> Q:
    return Q(poller_lease_until__isnull=True) | Q(poller_lease_until__lt=now)


def mark_due(account_id: int, when: datetime | None = None) -> None:
    """Ask for a cycle of the account by `when` (now by default).

    An earlier due time stands. A cycle running meanwhile sees the request when it
    ends (`sync_requested_at`) and leaves the account due at once, so work given to
    an account is never lost between a cycle's count and its release.
    """
    now = timezone.now()
    when = when or now
    ProviderAccount.objects.filter(pk=account_id).update(
        sync_requested_at=now,
        sync_due_at=Case(
            When(Q(sync_due_at__isnull=True) | Q(sync_due_at__gt=when), then=Value(when)),
            default="sync_due_at",
        ),
    )
    sync_requested.send(sender=ProviderAccount, account_id=account_id)


def claim(account_id: int, owner: str, now: datetime | None = None) -> bool:
    """Take the account's lease for one cycle if nobody holds it; True when taken."""
    now = now or timezone.now()
    return bool(
        ProviderAccount.objects.filter(pk=account_id)
        .filter(lease_free(now))
        .update(poller_lease_owner=owner, poller_lease_until=now + CYCLE_LEASE)
    )


def claim_many(account_ids: list[int], prefix: str, now: datetime | None = None) -> list[int]:
    """Take the leases of those accounts nobody holds, in one statement, each under its
    own owner token (`many_token(prefix, pk)`); return the ids taken, in the order given."""
    now = now or timezone.now()
    ProviderAccount.objects.filter(pk__in=account_ids).filter(lease_free(now)).update(
        poller_lease_owner=Concat(Value(f"{prefix}:"), Cast("pk", output_field=CharField())),
        poller_lease_until=now + CYCLE_LEASE,
    )
    taken = set(
        ProviderAccount.objects.filter(
            pk__in=account_ids, poller_lease_owner__startswith=f"{prefix}:"
        )
        .order_by()  # the model's ordering would join the teams table
        .values_list("pk", flat=True)
    )
    return [pk for pk in account_ids if pk in taken]


def many_token(prefix: str, account_id: int) -> str:
    """The owner token `claim_many` gave the account."""
    return f"{prefix}:{account_id}"


def holds(account_id: int, owner: str) -> bool:
    return ProviderAccount.objects.filter(
        pk=account_id, poller_lease_owner=owner, poller_lease_until__gte=timezone.now()
    ).exists()


def release(account_id: int, owner: str, *, started: datetime, due_at: datetime | None) -> bool:
    """End our cycle: free the lease and set when the next one is due (None: idle).

    When work was asked for while the cycle ran, the account stays due now.
    Returns False when the lease was no longer ours (it ran out).
    """
    now = timezone.now()
    connection = connections[router.db_for_write(ProviderAccount)]
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _release_sql(connection.alias),
            ["", adapt(started), adapt(now), adapt(due_at), account_id, owner],
        )
        return cursor.rowcount > 0


@functools.cache
def _release_sql(alias: str) -> str:
    """release()'s UPDATE, written once per database: every cycle ends with it, and the
    ORM compiling its CASE on every call cost more CPU than running it (issue 13)."""
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(ProviderAccount._meta.get_field(name).column)

    owner, due = column("poller_lease_owner"), column("sync_due_at")
    return (
        f"UPDATE {quote(ProviderAccount._meta.db_table)} "  # noqa: S608 (names from the model)
        f"SET {owner} = %s, {column('poller_lease_until')} = NULL, "
        f"{due} = CASE WHEN {column('sync_requested_at')} >= %s THEN %s ELSE %s END "
        f"WHERE {column('id')} = %s AND {owner} = %s"
    )


def poll_rate(account: ProviderAccount) -> float:
    """Requests per second the engine may spend on the account (its share of the budget)."""
    budget = account.budget()
    per_second = budget.limit / budget.period
    share = POLL_SHARE if per_second >= 2 else SMALL_BUDGET_POLL_SHARE
    return per_second * share


# --- push-aware intervals ------------------------------------------------------------------
#
# Where the provider pushes events (SMSCode's webhook, providers.webhooks), a poll
# is only the fallback for a lost or late push: while pushes arrive the account is
# polled PUSH_SLOWDOWN times slower (at most PUSH_MAX_INTERVAL between cycles), and
# at its normal pace again once no push came for PUSH_QUIET, or as soon as the
# registration check finds delivery switched off upstream.

PUSH_SLOWDOWN = 5.0
PUSH_MAX_INTERVAL = 20.0  # seconds
PUSH_QUIET = timedelta(seconds=60)


def push_alive(account: ProviderAccount, now: datetime | None = None) -> bool:
    """Whether verified pushes arrive for the account: one within PUSH_QUIET, and none
    of them from before SMSCode last said it switched delivery off."""
    last = account.last_push_at
    if last is None:
        return False
    disabled = account.webhook_disabled_at
    if disabled is not None and disabled >= last:
        return False
    return (now or timezone.now()) - last <= PUSH_QUIET


def push_interval(account: ProviderAccount, seconds: float, now: datetime | None = None) -> float:
    """`seconds` (the polling interval without push) slowed while pushes arrive.

    Bounded by PUSH_MAX_INTERVAL, and never past the moment pushes would count as
    stopped plus the normal interval: a push that stops is noticed on time.
    """
    now = now or timezone.now()
    if not push_alive(account, now):
        return seconds
    until_quiet = (account.last_push_at + PUSH_QUIET - now).total_seconds()
    return max(seconds, min(seconds * PUSH_SLOWDOWN, PUSH_MAX_INTERVAL, until_quiet + seconds))
