from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import get_team_for_user
from audit.forms import AuditFilterForm
from audit.models import AuditEvent


@login_required
@require_GET
def audit_log(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    events = AuditEvent.objects.filter(team=team)
    form = AuditFilterForm(request.GET or None, team=team)
    if form.is_valid():
        events = form.filter(events)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {"team": team, "form": form, "page": page, "query": query.urlencode()}
    return render(request, "audit/log.html", ctx)
