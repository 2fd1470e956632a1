"""A month of activity with refunds, two currencies and an exchange-rate change, whose
report every figure of which is computed by hand in tests/reports/test_costs.py.

March 2026, reporting currency USD; IDR is 16000 per USD until the 14th, 16500 from
the 15th:

    day  account  member  order                         charged       refunded  code after
    3    Pool     bob     A WhatsApp / United States    1.20 USD      -         30 s
    4    Pool     bob     B Telegram / United States    0.80 USD      0.80 USD  (expired)
    10   Code     mia     C WhatsApp / Indonesia        8000 IDR      -         90 s
    20   Code     mia     D WhatsApp / Indonesia        16500 IDR     -         (expired)
    20   Code     mia     E Telegram / Indonesia        4950 IDR      -         300 s
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from orders.models import State
from providers.models import ExchangeRate, ProviderAccount, RateSource
from reports import ledger
from reports.models import LedgerEntry, LedgerKind
from tests.orders.test_board_and_history import make_order

SINCE, UNTIL = date(2026, 3, 1), date(2026, 3, 31)


def at(day: int, hour: int = 12, seconds: int = 0) -> datetime:
    tz = timezone.get_current_timezone()
    return datetime(2026, 3, day, hour, tzinfo=tz) + timedelta(seconds=seconds)


def accounts(team) -> tuple[ProviderAccount, ProviderAccount]:
    pool = ProviderAccount(
        team=team, kind="smspool", label="Pool", base_url="https://api.smspool.net"
    )
    pool.set_api_key("k-pool-1234")
    pool.save()
    code = ProviderAccount(
        team=team,
        kind="smscode",
        label="Code",
        base_url="https://api.smscode.gg",
        currency="IDR",
    )
    code.set_api_key("k-code-5678")
    code.save()
    return pool, code


def build(team, bob, mia):
    pool, code = accounts(team)
    ExchangeRate.objects.create(
        currency="IDR", units_per_usd=Decimal(16000), valid_from=date(2026, 1, 1)
    )
    ExchangeRate.objects.create(
        currency="IDR",
        units_per_usd=Decimal(16500),
        valid_from=date(2026, 3, 15),
        source=RateSource.PROVIDER,
    )
    spec = [
        # name, account, member, day, service, country, cost, state, code after s, refund
        ("A", pool, bob, 3, "WhatsApp", "United States", "1.20", State.COMPLETED, 30, None),
        ("B", pool, bob, 4, "Telegram", "United States", "0.80", State.EXPIRED, None, "0.80"),
        ("C", code, mia, 10, "WhatsApp", "Indonesia", "8000", State.RECEIVED, 90, None),
        ("D", code, mia, 20, "WhatsApp", "Indonesia", "16500", State.EXPIRED, None, None),
        ("E", code, mia, 20, "Telegram", "Indonesia", "4950", State.COMPLETED, 300, None),
    ]
    orders = {}
    for n, (name, account, user, day, service, country, cost, state, after, refund) in enumerate(
        spec
    ):
        created = at(day, 12 + n)
        order = make_order(
            team,
            account,
            user,
            100 + n,
            state=state,
            service_name=service,
            country_name=country,
            cost=Decimal(cost),
            currency=account.currency,
            created=created,
            code_received_at=created + timedelta(seconds=after) if after is not None else None,
        )
        entry = ledger.book(
            account=account,
            kind=LedgerKind.PURCHASE,
            amount=Decimal(cost),
            currency=account.currency,
            member=user,
            order=order,
            dedupe_key=f"fixture:{name}",
        )
        LedgerEntry.objects.filter(pk=entry.pk).update(created=created + timedelta(seconds=1))
        if refund:
            entry = ledger.book(
                account=account,
                kind=LedgerKind.REFUND,
                amount=-Decimal(refund),
                currency=account.currency,
                member=user,
                order=order,
                dedupe_key=f"fixture:{name}:refund",
            )
            LedgerEntry.objects.filter(pk=entry.pk).update(created=created + timedelta(hours=1))
        orders[name] = order
    return pool, code, orders
