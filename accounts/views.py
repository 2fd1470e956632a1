from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.access import SESSION_TEAM_KEY, client_ip, get_team_for_user
from accounts.forms import InviteForm, RoleForm, SpendLimitForm, TeamForm
from accounts.models import Membership
from accounts.roles import Permission, Role
from audit.models import AuditEvent


def login_locked_out(request, original_response=None, credentials=None):
    """Return the login page, status 429, saying how long this login is paused and whom to ask.

    django-axes calls this (AXES_LOCKOUT_CALLABLE) for the portal's and the
    admin's login alike; the form still works for everyone else.
    """
    from axes.helpers import get_client_username, get_cool_off

    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    ctx = {
        "form": AuthenticationForm(request),
        "next": request.POST.get("next", ""),
        "locked": True,
        "locked_username": username,
        "locked_minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
        "locked_until": _lockout_ends(request, username, cool_off),
    }
    return render(request, "registration/login.html", ctx, status=429)


def _lockout_ends(request, username: str, cool_off) -> datetime | None:
    """Return when the lock on this username and address lifts (None: kept until cleared)."""
    from axes.models import AccessAttempt

    ip_address = getattr(request, "axes_ip_address", None) or client_ip(request)
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return last + cool_off if last and cool_off else None


@require_http_methods(["GET", "POST"])
def password_reset(request):
    """Return Django's reset-by-email form, or, with no mail configured, a page saying
    that reset by email is not available and whom to ask instead."""
    if not settings.EMAIL_ENABLED:
        return render(request, "registration/password_reset_unavailable.html")
    return auth_views.PasswordResetView.as_view()(request)


@require_GET
def password_reset_done(request):
    """Return "check your email", unless no mail is configured (nothing was sent then)."""
    if not settings.EMAIL_ENABLED:
        return render(request, "registration/password_reset_unavailable.html")
    return auth_views.PasswordResetDoneView.as_view()(request)


@login_required
@require_GET
def index(request):
    """Send the user to the team they used last, or to the team list."""
    memberships = Membership.objects.filter(user=request.user).select_related("team")
    remembered = request.session.get(SESSION_TEAM_KEY)
    chosen = next((m for m in memberships if str(m.team.code) == remembered), None)
    chosen = chosen or memberships.first()
    if chosen is None:
        return redirect("teams")
    return redirect("dashboard", code=chosen.team.code)


@login_required
@require_http_methods(["GET", "POST"])
def teams(request):
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(
            name=form.cleaned_data["name"], owner=request.user, request=request
        )
        messages.success(request, f"Team “{team}” created. You are its owner.")
        return redirect("dashboard", code=team.code)
    memberships = (
        Membership.objects.filter(user=request.user).select_related("team").order_by("team__name")
    )
    return render(request, "accounts/teams.html", {"memberships": memberships, "form": form})


@login_required
@require_POST
def switch_team(request):
    code = request.POST.get("team", "")
    membership = get_team_for_user(request, code)
    return redirect("dashboard", code=membership.team.code)


@login_required
@require_GET
def dashboard(request, code):
    membership = get_team_for_user(request, code)
    team = membership.team
    ctx = {
        "team": team,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "events": AuditEvent.objects.filter(team=team).select_related("actor")[:10],
    }
    ctx.update(_dashboard_extras(team, membership))
    return render(request, "accounts/dashboard.html", ctx)


def _dashboard_extras(team, membership) -> dict:
    """Counts from the other apps, shown on the dashboard."""
    from django.utils import timezone

    from orders.models import Order
    from providers.models import ProviderAccount
    from rentals.models import Rental, RentalState
    from rentals.reminders import expiring_soon
    from reports.ledger import member_spend_usd

    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "provider_accounts": ProviderAccount.objects.filter(team=team).order_by("label"),
        "active_orders": Order.objects.filter(team=team).active().count(),
        "codes_today": Order.objects.filter(team=team, code_received_at__gte=today).count(),
        "active_rentals": Rental.objects.filter(team=team, state=RentalState.ACTIVE).count(),
        "expiring_rentals": expiring_soon(team)[:5],
    }


@login_required
@require_http_methods(["GET", "POST"])
def members(request, code):
    membership = get_team_for_user(request, code)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
        if form.is_valid():
            try:
                added = services.member_invite(
                    acting=membership,
                    identifier=form.cleaned_data["identifier"],
                    role=form.cleaned_data["role"],
                    request=request,
                )
            except services.MembershipError as exc:
                form.add_error("identifier", str(exc))
            else:
                messages.success(
                    request, f"{added.user.get_username()} added as {added.get_role_display()}."
                )
                return redirect("members", code=code)
    team = membership.team
    ctx = {
        "team": team,
        "form": form,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "roles": Role.choices,
        "can_manage": membership.can(Permission.MANAGE_MEMBERS),
        "can_manage_owners": membership.can(Permission.MANAGE_OWNERS),
    }
    return render(request, "accounts/members.html", ctx)


def _target_membership(acting: Membership, membership_code) -> Membership:
    try:
        return get_object_or_404(
            Membership.objects.select_related("user", "team"),
            code=membership_code,
            team=acting.team,
        )
    except ValueError as exc:
        raise Http404 from exc


def _apply(request, code, change) -> None:
    try:
        change()
    except services.MembershipError as exc:
        messages.error(request, str(exc))


@login_required
@require_POST
def member_role(request, code, membership_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
    target = _target_membership(acting, membership_code)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles offered.")
        return redirect("members", code=code)

    def change():
        services.member_change_role(
            acting=acting, membership=target, role=form.cleaned_data["role"], request=request
        )
        messages.success(
            request, f"{target.user.get_username()} is now {target.get_role_display()}."
        )

    _apply(request, code, change)
    return redirect("members", code=code)


@login_required
@require_POST
def member_remove(request, code, membership_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
    target = _target_membership(acting, membership_code)

    def change():
        services.member_remove(acting=acting, membership=target, request=request)
        messages.success(request, f"{target.user.get_username()} removed from the team.")

    _apply(request, code, change)
    if target.user == request.user and not Membership.objects.filter(pk=target.pk).exists():
        return redirect("index")
    return redirect("members", code=code)


@login_required
@require_POST
def member_spend_limit(request, code, membership_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_TEAM)
    target = _target_membership(acting, membership_code)
    form = SpendLimitForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The limit must be a positive amount, or empty for no limit.")
    else:
        services.member_set_spend_limit(
            acting=acting,
            membership=target,
            limit=form.cleaned_data["monthly_spend_limit"],
            request=request,
        )
        messages.success(request, f"Spend limit for {target.user.get_username()} saved.")
    return redirect("members", code=code)


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
    ctx.update(_settings_extras(request, membership))
    return render(request, "accounts/settings.html", ctx)


def _settings_extras(request, membership) -> dict:
    from providers.views import provider_accounts_context

    return provider_accounts_context(request, membership)
