from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import get_team_for_user
from accounts.roles import Permission
from config.money import amount_text
from reports.forms import ReportForm
from reports.selectors import GROUPS, cost_report, totals


@login_required
@require_GET
def costs(request, code):
    membership = get_team_for_user(request, code, Permission.VIEW_REPORTS)
    team = membership.team
    form = ReportForm(request.GET or None)
    if request.GET.get("format") == "csv" and form.is_bound and not form.is_valid():
        # An export of some other period than the one asked for would mislead.
        return HttpResponse(form.error_text(), status=400, content_type="text/plain")
    since, until = form.period()
    group = form.grouping()
    rows = cost_report(team, since=since, until=until, group=group)
    currencies = sorted({c for row in rows for c in row.spent})
    if request.GET.get("format") == "csv":
        return _csv(rows, currencies, group, since, until)
    ctx = {
        "team": team,
        "form": form,
        "rows": rows,
        "total": totals(rows),
        "currencies": currencies,
        "group_label": GROUPS[group][0],
        "since": since,
        "until": until,
        "query": request.GET.urlencode(),
    }
    return render(request, "reports/costs.html", ctx)


def _csv(rows, currencies, group, since, until) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    name = f"costs-{group}-{since:%Y%m%d}-{until:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            GROUPS[group][0],
            *[f"spent {c}" for c in currencies],
            "spent USD-eq",
            "orders",
            "with code",
            "without code",
            "success %",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row.key,
                # The pages' precision (config/money.py): no "36.2700000000000".
                *[amount_text(row.spent.get(c), c) for c in currencies],
                amount_text(row.usd, "USD", approx=True),
                row.orders,
                row.with_code,
                row.without_code,
                row.success_rate if row.success_rate is not None else "",
            ]
        )
    return response
