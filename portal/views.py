"""The team's pages that gather every app: the dashboard, the team settings (with the
team's provider accounts) and the confirmation of removing a member (what they have
running and what they spent).

They sit above orders, rentals, reports and providers, so that accounts, below
them all, imports none of those. The changes they make go through accounts'
services, as the other team pages' do.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts import services
from accounts.access import get_membership_in_team, get_team_for_user
from accounts.forms import TeamForm
from accounts.models import Membership
from accounts.roles import Permission, Role
from audit.models import AuditEvent
from orders.models import Order
from providers.models import Health, ProviderAccount
from providers.views import provider_accounts_context
from rentals.models import Rental, RentalState
from rentals.reminders import expiring_soon
from reports.ledger import member_spend_usd


@login_required
@require_GET
def dashboard(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    ctx = {
        "team": team,
        "members": team.memberships.select_related("user").order_by("user__username"),
        # A key's routine use (api_key.used) is in the audit log, not in this feed.
        "events": AuditEvent.objects.filter(team=team)
        .exclude(action="api_key.used")
        .select_related("actor")[:10],
    }
    ctx.update(_dashboard_counts(team, membership))
    return render(request, "portal/dashboard.html", ctx)


def _dashboard_counts(team, membership) -> dict:
    """Counts from the other apps, shown on the dashboard."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    shown = list(_dashboard_accounts(team, membership))
    return {
        "provider_accounts": shown,
        "accounts_hidden": ProviderAccount.objects.live().filter(team=team).count() - len(shown),
        "active_orders": Order.objects.filter(team=team).active().count(),
        "codes_today": Order.objects.filter(team=team, code_received_at__gte=today).count(),
        "active_rentals": Rental.objects.filter(team=team, state=RentalState.ACTIVE).count(),
        "expiring_rentals": expiring_soon(team)[:5],
    }


def _dashboard_accounts(team, membership):
    """Managers and owners see every account not removed, a failing one with its reason;
    the others only the accounts they can order through now (a failing or disabled one
    is not theirs to fix, and would clutter every member's dashboard)."""
    accounts = ProviderAccount.objects.live().filter(team=team).order_by("label")
    if membership.can(Permission.MANAGE_PROVIDERS):
        return accounts
    return accounts.usable().exclude(health=Health.FAILING)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, code, membership_code):
    """GET: what removing the member means (the confirmation step); POST: remove."""
    acting = get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
    target = get_membership_in_team(acting, membership_code)
    if request.method == "GET":
        return _confirm_remove(request, acting, target)
    try:
        services.member_remove(acting=acting, membership=target, request=request)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.get_username()} removed from the team.")
    if target.user == request.user and not Membership.objects.filter(pk=target.pk).exists():
        return redirect("index")
    return redirect("members", code=code)


def _confirm_remove(request, acting: Membership, target: Membership):
    team = acting.team
    ctx = {
        "team": team,
        "target": target,
        "is_self": target.user_id == request.user.pk,
        "spent": _spent_or_none(team, target.user),
        "currency": team.reporting_currency,
        "active_orders": Order.objects.filter(team=team, ordered_by=target.user).active().count(),
        "active_rentals": Rental.objects.filter(
            team=team, rented_by=target.user, state=RentalState.ACTIVE
        ).count(),
        "may_remove": target.role != Role.OWNER or acting.can(Permission.MANAGE_OWNERS),
    }
    return render(request, "portal/member_remove.html", ctx)


def _spent_or_none(team, user):
    """What `user` spent in `team` this month, or None when an amount has no exchange rate
    (reports.fx.MissingRate is a ValueError)."""
    try:
        return member_spend_usd(team, user)
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def team_settings(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    form = TeamForm(request.POST or None, initial={"name": team.name})
    if request.method == "POST":
        if not membership.can(Permission.MANAGE_TEAM):
            raise PermissionDenied
        if form.is_valid():
            services.team_rename(
                team=team, name=form.cleaned_data["name"], actor=request.user, request=request
            )
            messages.success(request, "Team renamed.")
            return redirect("team_settings", code=code)
    ctx = {"team": team, "form": form, "can_manage": membership.can(Permission.MANAGE_TEAM)}
    ctx.update(provider_accounts_context(request, membership))
    return render(request, "portal/settings.html", ctx)
