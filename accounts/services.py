"""Team and membership changes. Each one writes an audit event."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

import audit
from accounts.models import Membership, Team
from accounts.roles import Permission, Role


class MembershipError(Exception):
    """A membership change that the rules forbid; the message is for the user."""


def team_create(*, name: str, owner, request=None) -> Team:
    """Create a team with `owner` as its first owner."""
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
        audit.record(
            team=team,
            actor=owner,
            action="team.created",
            target=team,
            payload={"name": name},
            request=request,
        )
    return team


def team_rename(*, team: Team, name: str, actor, request=None) -> Team:
    old = team.name
    team.name = name
    team.save(update_fields=["name"])
    audit.record(
        team=team,
        actor=actor,
        action="team.renamed",
        target=team,
        payload={"before": old, "after": name},
        request=request,
    )
    return team


def find_user(identifier: str):
    """Return the active user whose username or email is `identifier`, or None."""
    User = get_user_model()
    identifier = identifier.strip()
    user = User.objects.filter(username__iexact=identifier, is_active=True).first()
    if user is None and "@" in identifier:
        matches = list(User.objects.filter(email__iexact=identifier, is_active=True)[:2])
        user = matches[0] if len(matches) == 1 else None
    return user


def _check_role_grant(acting: Membership, role: str) -> None:
    if role == Role.OWNER and not acting.can(Permission.MANAGE_OWNERS):
        raise MembershipError("Only an owner can make someone an owner.")


def member_invite(*, acting: Membership, identifier: str, role: str, request=None) -> Membership:
    """Add an existing user to the acting member's team."""
    _check_role_grant(acting, role)
    user = find_user(identifier)
    if user is None:
        raise MembershipError(f"No user with the username or email “{identifier}”.")
    team = acting.team
    with transaction.atomic():
        if Membership.objects.filter(team=team, user=user).exists():
            raise MembershipError(f"{user.get_username()} is already a member of {team}.")
        membership = Membership.objects.create(team=team, user=user, role=role)
        audit.record(
            team=team,
            actor=acting.user,
            action="member.added",
            target=membership,
            payload={"user": user.get_username(), "role": role},
            request=request,
        )
    return membership


def _lock_owners(team: Team) -> list[Membership]:
    # Locking the owner rows serialises concurrent demotions, so two managers
    # cannot each remove "another" owner and leave none.
    return list(Membership.objects.select_for_update().filter(team=team, role=Role.OWNER))


def _check_not_last_owner(membership: Membership, owners: list[Membership]) -> None:
    if membership.role == Role.OWNER and len(owners) <= 1:
        raise MembershipError("A team needs at least one owner; make someone else owner first.")


def _check_may_touch(acting: Membership, membership: Membership) -> None:
    if membership.role == Role.OWNER and not acting.can(Permission.MANAGE_OWNERS):
        raise MembershipError("Only an owner can change or remove an owner.")


def member_change_role(
    *, acting: Membership, membership: Membership, role: str, request=None
) -> Membership:
    """Give `membership` a new role, keeping at least one owner."""
    if role not in Role.values:
        raise MembershipError("Unknown role.")
    _check_may_touch(acting, membership)
    _check_role_grant(acting, role)
    with transaction.atomic():
        owners = _lock_owners(membership.team)
        membership.refresh_from_db()
        if role != Role.OWNER:
            _check_not_last_owner(membership, owners)
        before = membership.role
        if before == role:
            return membership
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            team=membership.team,
            actor=acting.user,
            action="member.role_changed",
            target=membership,
            payload={"user": membership.user.get_username(), "before": before, "after": role},
            request=request,
        )
    return membership


def member_remove(*, acting: Membership, membership: Membership, request=None) -> None:
    """Remove `membership` from its team, keeping at least one owner."""
    _check_may_touch(acting, membership)
    with transaction.atomic():
        owners = _lock_owners(membership.team)
        membership.refresh_from_db()
        _check_not_last_owner(membership, owners)
        audit.record(
            team=membership.team,
            actor=acting.user,
            action="member.removed",
            target=membership,
            payload={"user": membership.user.get_username(), "role": membership.role},
            request=request,
        )
        membership.delete()


def member_set_spend_limit(*, acting: Membership, membership: Membership, limit, request=None):
    before = membership.monthly_spend_limit
    membership.monthly_spend_limit = limit
    membership.save(update_fields=["monthly_spend_limit"])
    audit.record(
        team=membership.team,
        actor=acting.user,
        action="member.spend_limit_changed",
        target=membership,
        payload={"user": membership.user.get_username(), "before": before, "after": limit},
        request=request,
    )
    return membership
