"""Demo activity for `manage.py demo` (issue 15): real purchases from the sandbox, so
the cost reports, balances and reconciliation have something to show.

Each order is bought from the running sandbox through the portal's own services
(ledger, holds, audit), most get their SMS at once (the sandbox's control
endpoint) and are read by a sync cycle; a few stay open and expire or are
refunded later, as in real use. Then, for the demo only, each order and its
ledger entries move to a time in the last two weeks, with a wait for its code
of 10 seconds to 3 minutes, and the balance read before the purchases moves to
before the earliest of them: reconciliation then compares that reading with the
one taken after, and finds nothing unexplained.

Runs once per team (skipped when the team has orders).
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.utils import timezone

from demo.data import sandbox_control_headers

log = logging.getLogger(__name__)

PAIRS = (
    ("whatsapp", "US"),
    ("telegram", "US"),
    ("google", "GB"),
    ("whatsapp", "ID"),
    ("telegram", "ID"),
    ("whatsapp", "GB"),
)
PER_ACCOUNT = 6
# NumPool is left out: its catalog sync has just used its 60-requests-a-minute budget.
KINDS = ("smspool", "smscode", "smsactivate")


def create_demo_activity(team, *, seed: int = 15) -> int:
    """Buy a few numbers per sandbox account and spread them over two weeks; return how
    many orders were placed (0 when the team already has orders)."""
    from orders.models import Order

    if Order.objects.filter(team=team).exists():
        return 0
    rng = random.Random(seed)
    placed = 0
    for account in team.provider_accounts.filter(is_sandbox=True, kind__in=KINDS):
        placed += _activity_for(team, account, rng)
    _low_balance_example(team)
    return placed


def _activity_for(team, account, rng) -> int:
    from orders import quotes, services
    from orders.models import Order
    from providers.models import BalanceReading, Country, Service
    from providers.services import provider_account_refresh_balance
    from sync import engine

    if provider_account_refresh_balance(account=account) is None:
        return 0
    before = BalanceReading.objects.filter(account=account).order_by("-read_at", "-id").first()
    memberships = list(team.memberships.select_related("user").order_by("role"))
    orders = []
    for n in range(PER_ACCOUNT):
        slug, iso = PAIRS[n % len(PAIRS)]
        service = Service.objects.filter(slug=slug).first()
        country = Country.objects.filter(iso=iso).first()
        if service is None or country is None:
            continue
        offers = [o for o in quotes.offers_for(team, service, country) if o.account == account]
        if not offers:
            continue
        try:
            orders += services.order_place(
                membership=memberships[n % len(memberships)],
                choices=[offers[0].choice],
                options=services.Options(),
                idempotency_key=f"demo-{uuid.uuid4().hex}",
            )
        except services.OrderActionError as exc:
            log.info("demo order at %s refused: %s", account.label, exc.message)
    for order in orders[:-1]:  # the last one waits (it expires, refunded, while the demo runs)
        _deliver(account, order)
    engine.run_cycle(account)
    provider_account_refresh_balance(account=account)
    _spread(orders, before, rng)
    return len(Order.objects.filter(pk__in=[o.pk for o in orders]))


def _deliver(account, order) -> None:
    url = f"{settings.SANDBOX_URL.rstrip('/')}/control/orders/{account.kind}/{order.upstream_id}"
    try:
        headers = sandbox_control_headers()  # the demo's sandbox answers its owner only
        requests.post(f"{url}/deliver", json={}, headers=headers, timeout=5).raise_for_status()
    except requests.RequestException as exc:
        log.info("demo delivery for %s failed: %s", order.upstream_id, exc)


def _spread(orders, before, rng) -> None:
    """Move each order and its ledger entries into the last two weeks (demo only)."""
    from orders.models import Order
    from reports.models import LedgerEntry

    now = timezone.now()
    earliest = now
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        shift = timedelta(days=rng.randint(0, 13), hours=rng.randint(0, 20))
        if shift.total_seconds() < 3600:
            continue
        created = order.created - shift
        fields = {"created": created}
        if order.code_received_at is not None:
            fields["code_received_at"] = created + timedelta(seconds=rng.randint(10, 180))
        if order.finished_at is not None:
            fields["finished_at"] = order.finished_at - shift
        Order.objects.filter(pk=order.pk).update(**fields)
        for entry in LedgerEntry.objects.filter(order=order):
            LedgerEntry.objects.filter(pk=entry.pk).update(created=entry.created - shift)
        earliest = min(earliest, created)
    if before is not None and earliest < before.read_at:
        # Every reading taken before the purchases (the connection test's too) moves with them.
        earlier = type(before).objects.filter(
            account=before.account_id, read_at__lte=before.read_at
        )
        earlier.update(read_at=earliest - timedelta(minutes=5))


def _low_balance_example(team) -> None:
    """Alert below a level the SMSPool demo account is already under: the banner shows."""
    from providers.balances import provider_account_set_low_balance

    account = team.provider_accounts.filter(is_sandbox=True, kind="smspool").first()
    owner = team.owners().first()
    if account is None or account.balance is None or owner is None:
        return
    account.refresh_from_db()
    threshold = max(Decimal(100), (account.balance + 5).to_integral_value())
    provider_account_set_low_balance(account=account, threshold=threshold, actor=owner.user)
