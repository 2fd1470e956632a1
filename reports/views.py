"""Cost reports, budgets, balances and reconciliation (issue 15). Views parse, check
access (`accounts.roles`: reports for owners and managers), call one service or
selector and render; every table of the report downloads as CSV."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_team_for_user
from accounts.models import Membership
from accounts.roles import Permission
from providers.balances import provider_account_set_low_balance
from providers.models import ProviderAccount
from reports import budgets
from reports.balances import forecasts, reconcile
from reports.costs import cost_report
from reports.forms import BudgetForm, MemberLimitsForm, ReconcileForm, ReportForm, ThresholdForm
from reports.fx import MissingRate
from reports.ledger import day_start, month_start, spend_by_member

SPEND_TABLES = ("provider", "service", "country", "member", "day")
QUALITY_TABLES = (
    "success_provider",
    "success_service",
    "success_country",
    "wait_provider",
    "wait_service",
    "failures",
)


@login_required
@require_GET
def costs(request, code):
    membership = get_team_for_user(request, code, Permission.VIEW_REPORTS)
    team = membership.team
    form = ReportForm(request.GET or None)
    wants_csv = request.GET.get("format") == "csv"
    if wants_csv and form.is_bound and not form.is_valid():
        # An export of some other period than the one asked for would mislead.
        return HttpResponse(form.error_text(), status=400, content_type="text/plain")
    since, until = form.dates()
    report = cost_report(team, since=since, until=until, originals=form.show_originals())
    if wants_csv:
        name = request.GET.get("table", "totals")
        table = report.tables.get(name)
        if table is None:
            return HttpResponse(
                "Choose one of the report's tables: " + ", ".join(report.tables) + ".",
                status=400,
                content_type="text/plain",
            )
        return _csv(table, f"costs-{name}-{since:%Y%m%d}-{until:%Y%m%d}.csv")
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("table", None)
    ctx = {
        "team": team,
        "form": form,
        "report": report,
        "totals": report.tables["totals"],
        "spend_tables": [report.tables[n] for n in SPEND_TABLES],
        "quality_tables": [report.tables[n] for n in QUALITY_TABLES],
        "query": query.urlencode(),
    }
    return render(request, "reports/costs.html", ctx)


def _csv(table, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerows(table.csv_rows())
    return response


# --- budgets and limits -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def budgets_page(request, code):
    membership = get_team_for_user(request, code, Permission.VIEW_REPORTS)
    team = membership.team
    currencies = budgets.reporting_currencies(team)
    initial = {"monthly_budget": team.monthly_budget, "reporting_currency": team.reporting_currency}
    form = BudgetForm(request.POST or None, initial=initial, currencies=currencies)
    if request.method == "POST":
        membership = get_team_for_user(request, code, Permission.MANAGE_TEAM)
        if form.is_valid():
            budgets.team_budget_update(
                team=team,
                actor=request.user,
                monthly_budget=form.cleaned_data["monthly_budget"],
                reporting_currency=form.cleaned_data["reporting_currency"],
                request=request,
            )
            messages.success(request, "Team budget saved.")
            return redirect("budgets", code=code)
    members = list(team.memberships.select_related("user").order_by("user__username"))
    try:
        today, month = spend_by_member(team, day_start()), spend_by_member(team, month_start())
        rate_note = ""
    except MissingRate as exc:
        today, month, rate_note = {}, {}, str(exc)
    rows = [
        {"m": m, "today": today.get(m.user_id, 0), "month": month.get(m.user_id, 0)}
        for m in members
    ]
    ctx = {
        "team": team,
        "form": form,
        "rows": rows,
        "rate_note": rate_note,
        "can_manage": membership.can(Permission.MANAGE_TEAM),
    }
    return render(request, "reports/budgets.html", ctx, status=400 if form.errors else 200)


@login_required
@require_POST
def member_limits(request, code, membership_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_TEAM)
    try:
        target = get_object_or_404(
            Membership.objects.select_related("user", "team"),
            code=membership_code,
            team=acting.team,
        )
    except ValueError as exc:
        raise Http404 from exc
    form = MemberLimitsForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{target.user.get_username()}: {_errors(form)}")
    else:
        budgets.member_limits_update(
            acting=acting,
            membership=target,
            daily=form.cleaned_data["daily_spend_limit"],
            monthly=form.cleaned_data["monthly_spend_limit"],
            request=request,
        )
        messages.success(request, f"Limits for {target.user.get_username()} saved.")
    return redirect("budgets", code=code)


def _errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


# --- balances, alerts and reconciliation --------------------------------------------------


@login_required
@require_GET
def balances(request, code):
    membership = get_team_for_user(request, code, Permission.VIEW_REPORTS)
    team = membership.team
    ctx = {
        "team": team,
        "forecasts": forecasts(team),
        "can_manage": membership.can(Permission.MANAGE_PROVIDERS),
    }
    return render(request, "reports/balances.html", ctx)


def _account(membership, account_code) -> ProviderAccount:
    try:
        return get_object_or_404(ProviderAccount, code=account_code, team=membership.team)
    except ValueError as exc:
        raise Http404 from exc


@login_required
@require_POST
def balance_threshold(request, code, account_code):
    membership = get_team_for_user(request, code, Permission.MANAGE_PROVIDERS)
    account = _account(membership, account_code)
    form = ThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"{account.label}: {_errors(form)}")
    else:
        provider_account_set_low_balance(
            account=account,
            threshold=form.cleaned_data["low_balance_threshold"],
            actor=request.user,
            request=request,
        )
        messages.success(request, f"Low-balance alert for {account.label} saved.")
    return redirect("balances", code=code)


@login_required
@require_GET
def reconciliation(request, code, account_code):
    membership = get_team_for_user(request, code, Permission.VIEW_REPORTS)
    account = _account(membership, account_code)
    form = ReconcileForm(request.GET or None)
    since, until = form.dates()
    ctx = {
        "team": membership.team,
        "account": account,
        "form": form,
        "rec": reconcile(account, since, until),
    }
    return render(request, "reports/reconciliation.html", ctx)
