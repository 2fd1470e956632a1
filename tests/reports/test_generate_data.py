"""`manage.py generate_data` makes consistent history: every order belongs to a team,
one of its accounts and one of its members; the ledger books each order's cost (and
refunds it where the order ended without a code); running it again adds nothing and
`--clear` removes only what it made."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Membership, Team
from orders.models import Order, OrderMessage, State
from providers.models import ExchangeRate, ProviderAccount
from rentals.models import Rental
from reports.costs import cost_report
from reports.models import DailyRollup, LedgerEntry

pytestmark = pytest.mark.django_db


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_data", *args, stdout=out)
    return out.getvalue()


def test_a_small_run_makes_consistent_data():
    bystander = Team.objects.create(name="Not generated")
    output = generate("--teams", "2", "--orders", "200", "--active", "3", "--days", "30")
    assert "Generated 2 teams, 200 orders" in output

    assert Team.objects.filter(name__startswith="Generated team ").count() == 2
    assert Order.objects.count() == 200
    assert ProviderAccount.objects.count() == 8  # the four kinds per team
    members = set(Membership.objects.values_list("team_id", "user_id"))
    for order in Order.objects.select_related("account"):
        assert order.account.team_id == order.team_id
        assert (order.team_id, order.ordered_by_id) in members
        assert order.currency == order.account.currency

    net = {
        row["order"]: row["net"]
        for row in LedgerEntry.objects.filter(order__isnull=False)
        .values("order")
        .annotate(net=Sum("amount"))
    }
    purchases = dict(LedgerEntry.objects.filter(kind="purchase").values_list("order_id", "amount"))
    refunded = (State.EXPIRED, State.CANCELLED, State.REFUNDED)
    for order in Order.objects.all():
        if order.state == State.FAILED:
            assert order.pk not in net and order.cost is None
            continue
        assert purchases[order.pk] == order.cost
        assert net[order.pk] == (Decimal(0) if order.state in refunded else order.cost)
        assert bool(order.last_code) == (order.code_received_at is not None)
    with_code = Order.objects.exclude(last_code="")
    assert OrderMessage.objects.count() == with_code.count()
    open_ = Order.objects.filter(state__in=(State.WAITING, State.RECEIVED))
    assert open_.count() == open_.filter(finished_at=None).count() == 6  # the board's rows
    assert Rental.objects.count() >= 2
    assert LedgerEntry.objects.filter(rental__isnull=False).count() >= Rental.objects.count()
    assert ExchangeRate.objects.filter(currency="IDR").count() >= 30
    # The history is rolled up for the cost report, and the report from it is the raw one.
    assert "Rolled up " in output
    team = Team.objects.filter(name__startswith="Generated team ").first()
    assert DailyRollup.objects.filter(team=team).count() >= 25
    today = timezone.localdate()
    since = today - timedelta(days=29)
    rolled = cost_report(team, since=since, until=today)
    raw = cost_report(team, since=since, until=today, raw=True)
    for name, table in raw.tables.items():
        assert table.rows == rolled.tables[name].rows, name

    assert "already there" in generate("--teams", "2", "--orders", "200")
    assert Order.objects.count() == 200

    generate("--clear", "--teams", "0")
    assert not Team.objects.filter(name__startswith="Generated team ").exists()
    assert Order.objects.count() == LedgerEntry.objects.count() == 0
    assert not DailyRollup.objects.exists()
    assert Team.objects.filter(pk=bystander.pk).exists()


def test_new_rows_after_generating_get_fresh_ids():
    generate("--teams", "1", "--orders", "20", "--active", "0")
    largest = Order.objects.order_by("-pk").first().pk
    team = Team.objects.get(name__startswith="Generated team ")
    account = team.provider_accounts.first()
    order = Order.objects.create(
        team=team,
        account=account,
        idempotency_key="after",
        service_upstream_id="1",
        country_upstream_id="1",
        service_name="X",
        country_name="Y",
    )
    assert order.pk > largest


def test_bad_numbers_are_refused_in_plain_words():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="cannot be negative"):
        generate("--orders", "-1")
