from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.access import (
    SESSION_TEAM_KEY,
    RoleRequired,
    client_ip,
    get_membership_in_team,
    get_team_for_user,
)
from accounts.forms import InviteForm, RoleForm, SignupForm, SpendLimitForm, TeamForm
from accounts.models import Invitation, Membership
from accounts.roles import ROLE_SUMMARIES, Permission, Role


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
@require_http_methods(["GET", "POST"])
def members(request, code):
    membership = get_team_for_user(request, code)
    may_grant_owner = membership.can(Permission.MANAGE_OWNERS)
    form = InviteForm(request.POST or None, may_grant_owner=may_grant_owner)
    if request.method == "POST":
        get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
        if form.is_valid():
            try:
                sent = services.invitation_send(
                    acting=membership,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    request=request,
                )
            except services.MembershipError as exc:
                form.add_error("email", str(exc))
            else:
                return _after_sending(request, membership, sent)
    return render(request, "accounts/members.html", _members_context(membership, form))


def _members_context(membership: Membership, form) -> dict:
    team = membership.team
    invitations = team.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)
    return {
        "team": team,
        "form": form,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "invitations": invitations.select_related("invited_by").order_by("email"),
        "roles": Role.choices,
        "role_summaries": [(role.label, text) for role, text in ROLE_SUMMARIES.items()],
        "can_manage": membership.can(Permission.MANAGE_MEMBERS),
        "can_manage_owners": membership.can(Permission.MANAGE_OWNERS),
        "now": timezone.now(),
    }


def _after_sending(request, membership: Membership, sent: services.Sent):
    """Back to the members page when the mail went out; otherwise the link, shown once."""
    invitation = sent.invitation
    if sent.mailed:
        messages.success(
            request,
            f"Invitation sent to {invitation.email} as {invitation.get_role_display()}. "
            f"The link works until {timezone.localtime(invitation.expires_at):%b %d, %H:%M}.",
        )
        return redirect("members", code=membership.team.code)
    ctx = {"team": membership.team, "sent": sent, "invitation": invitation}
    return render(request, "accounts/invitation_link.html", ctx)


def _target_invitation(acting: Membership, invitation_code) -> Invitation:
    try:
        return Invitation.objects.select_related("team").get(code=invitation_code, team=acting.team)
    except (Invitation.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such invitation.") from exc


@login_required
@require_POST
def invitation_resend(request, code, invitation_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
    invitation = _target_invitation(acting, invitation_code)
    try:
        sent = services.invitation_resend(acting=acting, invitation=invitation, request=request)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
        return redirect("members", code=code)
    return _after_sending(request, acting, sent)


@login_required
@require_POST
def invitation_revoke(request, code, invitation_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
    invitation = _target_invitation(acting, invitation_code)
    try:
        services.invitation_revoke(acting=acting, invitation=invitation, request=request)
    except services.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Invitation to {invitation.email} revoked; its link no longer works."
        )
    return redirect("members", code=code)


@require_http_methods(["GET", "POST"])
def invitation(request, token):
    """The link in an invitation email: join the team with the login you have, or create one.

    A link that cannot be used (unknown, expired, used, revoked) gets a page saying
    why and what to do, never an error.
    """
    found = services.invitation_find(token)
    problem = services.invitation_problem(found)
    if problem:
        status = 404 if found is None else 410
        ctx = {"problem": problem, "invitation": found}
        return render(request, "accounts/invitation_invalid.html", ctx, status=status)
    if request.user.is_authenticated:
        return _join(request, found)
    return _signup(request, found)


def _join(request, found: Invitation):
    existing = Membership.objects.filter(team=found.team, user=request.user).first()
    if request.method == "POST":
        try:
            joined = services.invitation_accept(
                invitation=found, user=request.user, request=request
            )
        except services.MembershipError as exc:
            return render(
                request, "accounts/invitation_invalid.html", {"problem": str(exc)}, status=410
            )
        messages.success(
            request, f"Welcome to {joined.team.name}: you are {joined.get_role_display()}."
        )
        return redirect("board", code=joined.team.code)
    ctx = {"invitation": found, "existing": existing}
    return render(request, "accounts/invitation.html", ctx)


def _signup(request, found: Invitation):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, joined = services.invitation_accept_with_new_login(
                invitation=found,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except services.MembershipError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                f"Welcome to {joined.team.name}, {user.get_username()}: "
                f"you are {joined.get_role_display()}.",
            )
            return redirect("board", code=joined.team.code)
    login_url = reverse("login") + "?" + urlencode({"next": request.path})
    has_login = get_user_model().objects.filter(email__iexact=found.email, is_active=True)
    ctx = {
        "invitation": found,
        "form": form,
        "login_url": login_url,
        "email_has_login": has_login.exists(),
    }
    return render(request, "accounts/invitation.html", ctx)


def permission_denied(request, exception=None):
    """The 403 page: what the member's role may not do here, which role may, and who can
    change it (handler403). Other refusals (a CSRF failure has its own page) say so plainly."""
    ctx = {"reason": str(exception) if exception else ""}
    if isinstance(exception, RoleRequired):
        team = exception.membership.team
        ctx.update(
            membership=exception.membership,
            needed=exception.needed,
            denied_team=team,
            owners=[m.user.get_username() for m in team.owners().select_related("user")],
        )
    return render(request, "403.html", ctx, status=403)


def _apply(request, code, change) -> None:
    try:
        change()
    except services.MembershipError as exc:
        messages.error(request, str(exc))


@login_required
@require_POST
def member_role(request, code, membership_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_MEMBERS)
    target = get_membership_in_team(acting, membership_code)
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
def member_spend_limit(request, code, membership_code):
    acting = get_team_for_user(request, code, Permission.MANAGE_TEAM)
    target = get_membership_in_team(acting, membership_code)
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
