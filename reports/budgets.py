"""Budgets and member limits (issue 15): set by owners and managers, each change audited.

All in the team's reporting currency; `reports.ledger.reserve` enforces them.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

import audit
from accounts.models import Membership, Team
from providers.models import ExchangeRate


def reporting_currencies(team: Team) -> list[str]:
    """Currencies a team may report in: US dollars and those with a known rate."""
    known = set(ExchangeRate.objects.values_list("currency", flat=True).distinct())
    return sorted({"USD", team.reporting_currency, *known})


CENT = Decimal("0.01")


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(_cents(value))


def team_budget_update(
    *, team: Team, actor, monthly_budget: Decimal | None, reporting_currency: str, request=None
) -> Team:
    """Set the team's monthly budget and reporting currency; audited when anything changed."""
    monthly_budget = _cents(monthly_budget)
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        before = {"monthly_budget": locked.monthly_budget, "currency": locked.reporting_currency}
        after = {"monthly_budget": monthly_budget, "currency": reporting_currency}
        if before == after:
            return locked
        Team.objects.filter(pk=team.pk).update(
            monthly_budget=monthly_budget, reporting_currency=reporting_currency
        )
        team.monthly_budget, team.reporting_currency = monthly_budget, reporting_currency
        audit.record(
            team=team,
            actor=actor,
            action="team.budget_changed",
            target=team,
            payload={
                "before": {**before, "monthly_budget": _text(before["monthly_budget"])},
                "after": {**after, "monthly_budget": _text(monthly_budget)},
            },
            request=request,
        )
    return team


def member_limits_update(
    *,
    acting: Membership,
    membership: Membership,
    daily: Decimal | None,
    monthly: Decimal | None,
    request=None,
) -> Membership:
    """Set a member's daily and monthly spend limits; audited when anything changed."""
    daily, monthly = _cents(daily), _cents(monthly)
    before = {"daily": membership.daily_spend_limit, "monthly": membership.monthly_spend_limit}
    if before == {"daily": daily, "monthly": monthly}:
        return membership
    with transaction.atomic():
        Membership.objects.filter(pk=membership.pk).update(
            daily_spend_limit=daily, monthly_spend_limit=monthly
        )
        membership.daily_spend_limit, membership.monthly_spend_limit = daily, monthly
        audit.record(
            team=membership.team,
            actor=acting.user,
            action="member.spend_limits_changed",
            target=membership,
            payload={
                "user": membership.user.get_username(),
                "currency": membership.team.reporting_currency,
                "before": {k: _text(v) for k, v in before.items()},
                "after": {"daily": _text(daily), "monthly": _text(monthly)},
            },
            request=request,
        )
    return membership
