"""`{% load spend %}`: what a member has left to spend, and the dashboard's money panel
(issue 15), for templates of other apps without their views computing it."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.db.models import Count, Q
from django.utils import timezone

from accounts.roles import Permission
from reports import ledger
from reports.fx import MissingRate

register = template.Library()


@register.simple_tag
def spend_allowance(membership):
    """The member's Allowance, or None without a membership or when a rate is missing."""
    if membership is None:
        return None
    try:
        return ledger.allowance(membership)
    except MissingRate:
        return None


@register.inclusion_tag("reports/_dashboard.html")
def cost_panel(membership):
    """This month's spend against the budget, today's orders and success rate, what the
    member has left, and (for managers) the provider accounts needing attention."""
    from orders.models import Order
    from reports.balances import forecasts
    from reports.costs import FAILED_STATES

    team = membership.team
    ctx = {"team": team, "membership": membership, "currency": team.reporting_currency}
    ctx["allowance"] = spend_allowance(membership)
    today = ledger.day_start()
    ctx["today"] = Order.objects.filter(team=team, created__gte=today).aggregate(
        n=Count("id"),
        ok=Count("id", filter=Q(code_received_at__isnull=False)),
        failed=Count("id", filter=Q(code_received_at__isnull=True, state__in=FAILED_STATES)),
    )
    done = ctx["today"]["ok"] + ctx["today"]["failed"]
    ctx["today_rate"] = round(100 * ctx["today"]["ok"] / done) if done else None
    if membership.can(Permission.VIEW_REPORTS):
        try:
            spent = ledger.team_spend(team)
        except MissingRate as exc:
            spent, ctx["rate_note"] = None, str(exc)
        ctx["team_spent"] = spent
        budget = team.monthly_budget
        if spent is not None and budget:
            ctx["budget_share"] = min(int(spent / budget * 100), 100)
    if membership.can(Permission.MANAGE_PROVIDERS):
        ctx["attention"] = [
            (f.account, reason)
            for f in forecasts(team)
            if (reason := _attention(f, timezone.now())) is not None
        ]
    return ctx


def _attention(forecast, now) -> str | None:
    account = forecast.account
    if not account.enabled:
        return None
    if account.health == "failing":
        return "failing: " + (account.last_error or "see Settings")
    if forecast.low:
        return "balance below its alert level"
    if forecast.days_left is not None and forecast.days_left < Decimal(3):
        return forecast.text
    if account.balance is None:
        return "balance not read yet"
    return None
