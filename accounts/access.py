"""Access helpers: every view loads team-owned objects through these.

Outsiders get 404 (they must not learn that an object exists), members whose
role lacks the permission get 403. The helpers also remember the team as the
request's current team, for the navigation and the `/` redirect.
"""

from __future__ import annotations

from typing import TypeVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest

from accounts.models import Membership, Team
from accounts.roles import Permission, roles_with

M = TypeVar("M", bound=models.Model)

SESSION_TEAM_KEY = "current_team"


def _remember(request: HttpRequest, membership: Membership) -> Membership:
    request.membership = membership
    if request.session.get(SESSION_TEAM_KEY) != str(membership.team.code):
        request.session[SESSION_TEAM_KEY] = str(membership.team.code)
    return membership


class RoleRequired(PermissionDenied):
    """The member's role lacks `permission`; the 403 page names the roles that have it."""

    def __init__(self, membership: Membership, permission: Permission):
        self.membership = membership
        self.permission = permission
        self.roles = roles_with(permission)
        labels = [role.label for role in self.roles]
        self.needed = " or ".join(
            [", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels
        )
        needed = self.needed
        super().__init__(
            f"This needs the {needed} role; you are {membership.get_role_display()} "
            f"in {membership.team.name}."
        )


def _check(membership: Membership, permission: Permission) -> None:
    if not membership.can(permission):
        raise RoleRequired(membership, permission)


def membership_for(user, team: Team) -> Membership | None:
    """Return `user`'s membership in `team`, or None for an outsider."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).select_related("team").first()


def get_team_for_user(
    request: HttpRequest, code, permission: Permission = Permission.VIEW
) -> Membership:
    """Return the request user's membership in team `code`.

    Raises Http404 for an unknown team or an outsider, PermissionDenied when
    the member's role lacks `permission`.
    """
    try:
        membership = Membership.objects.select_related("team", "user").get(
            team__code=code, user=request.user
        )
    except (Membership.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such team.") from exc
    _check(membership, permission)
    return _remember(request, membership)


def get_rw_team_for_user(
    request: HttpRequest, code, permission: Permission = Permission.ORDER
) -> Membership:
    """Like get_team_for_user, for actions that change something."""
    return get_team_for_user(request, code, permission)


def get_object_for_user[M: models.Model](
    request: HttpRequest,
    queryset: models.QuerySet[M],
    code,
    permission: Permission = Permission.VIEW,
) -> tuple[M, Membership]:
    """Return (object, membership) for a team-owned object with `code`.

    The object must have `team` and `code` fields. Raises Http404 when it does
    not exist or the user is not a member of its team, PermissionDenied when the
    role lacks `permission`.
    """
    try:
        obj = queryset.select_related("team").get(code=code)
    except (queryset.model.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("Not found.") from exc
    membership = membership_for(request.user, obj.team)
    if membership is None:
        raise Http404("Not found.")
    _check(membership, permission)
    return obj, _remember(request, membership)


def get_membership_in_team(acting: Membership, membership_code) -> Membership:
    """Return the membership `membership_code` of `acting`'s own team.

    Raises Http404 for a membership of another team, an unknown one or a malformed code.
    """
    try:
        return Membership.objects.select_related("user", "team").get(
            code=membership_code, team=acting.team
        )
    except (Membership.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such member.") from exc


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address as the reverse proxy or socket reports it."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    # The header is client-controlled unless a trusted proxy sets it.
    if forwarded and settings.TRUST_X_FORWARDED_FOR:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None
