"""Team and membership changes. Each one writes an audit event."""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

import audit
from accounts.models import Invitation, InvitationState, Membership, Team
from accounts.roles import Permission, Role

logger = logging.getLogger(__name__)


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


# --- invitations ------------------------------------------------------------------------------


class InvitationError(MembershipError):
    """An invitation that cannot be sent, re-sent, revoked or accepted; the message is for
    the user."""


def invitation_lifetime() -> timedelta:
    """How long an invitation link works after it was (re-)sent (INVITATION_DAYS, 7)."""
    return timedelta(days=getattr(settings, "INVITATION_DAYS", 7))


def invitation_token_hash(token: str) -> str:
    """What is stored for an invitation link's token (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_find(token: str) -> Invitation | None:
    """The invitation whose link carries `token`, in whatever state, or None."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("team", "invited_by")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )


def invitation_link(token: str) -> str:
    """The absolute link an invitation email carries (SITE_URL, the portal's address)."""
    return settings.SITE_URL.rstrip("/") + reverse("invitation", args=[token])


@dataclass
class Sent:
    """An invitation (re-)sent: `mailed` False when no mail went out (none configured,
    or the mail server refused), and then `link` must reach the person another way."""

    invitation: Invitation
    link: str
    mailed: bool
    mail_error: str = ""


def _new_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.token_hash = invitation_token_hash(token)
    invitation.sent_at = now
    invitation.expires_at = now + invitation_lifetime()
    return token


def _mail_invitation(invitation: Invitation, link: str, inviter) -> tuple[bool, str]:
    """Mail the link; (mailed, why not). Without mail configured nothing is sent."""
    if not settings.EMAIL_ENABLED:
        return False, "No mail server is configured on this smsdesk."
    expires = timezone.localtime(invitation.expires_at)
    try:
        send_mail(
            subject=f"smsdesk: {inviter.get_username()} invited you to {invitation.team.name}",
            message=(
                f"{inviter.get_username()} invited you to join the team "
                f"“{invitation.team.name}” on smsdesk as {invitation.get_role_display()}.\n\n"
                f"To accept, open this link (it works once, until "
                f"{expires:%Y-%m-%d %H:%M %Z}):\n\n{link}\n\n"
                "You can create a login there, or join with the login you already have.\n"
                "If you did not expect this, ignore this email.\n"
            ),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Invitation mail to team %s failed: %s", invitation.team_id, exc)
        return False, "The mail server refused the message."
    return True, ""


def _check_may_invite(acting: Membership, role: str) -> None:
    if not acting.can(Permission.MANAGE_MEMBERS):
        raise InvitationError("Your role cannot invite people.")
    if role not in Role.values:
        raise InvitationError("Choose one of the roles offered.")
    _check_role_grant(acting, role)


def invitation_send(*, acting: Membership, email: str, role: str, request=None) -> Sent:
    """Invite `email` to the acting member's team with `role`, and mail the link.

    An open invitation to the same address is re-sent with the new role (its old
    link stops working). Someone already in the team cannot be invited.
    """
    email = email.strip().lower()
    _check_may_invite(acting, role)
    team = acting.team
    if Membership.objects.filter(team=team, user__email__iexact=email).exists():
        raise InvitationError(f"{email} is already a member of {team}.")
    existing = Invitation.objects.filter(
        team=team, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).first()
    if existing is not None:
        return invitation_resend(acting=acting, invitation=existing, role=role, request=request)
    invitation = Invitation(team=team, email=email, role=role, invited_by=acting.user)
    token = _new_token(invitation)
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as exc:  # the same address invited at the same moment
        raise InvitationError(f"{email} was invited just now; see the list below.") from exc
    # Mailed outside any transaction: a slow mail server holds no database lock.
    link = invitation_link(token)
    mailed, why = _mail_invitation(invitation, link, acting.user)
    audit.record(
        team=team,
        actor=acting.user,
        action="invitation.sent",
        target=invitation,
        payload={"email": email, "role": role, "mailed": mailed},
        request=request,
    )
    return Sent(invitation, link, mailed, why)


def _check_may_touch_invitation(acting: Membership, invitation: Invitation) -> None:
    if not acting.can(Permission.MANAGE_MEMBERS):
        raise InvitationError("Your role cannot change invitations.")
    if invitation.role == Role.OWNER and not acting.can(Permission.MANAGE_OWNERS):
        raise InvitationError("Only an owner can change an invitation to be owner.")
    if not invitation.is_open:
        state = invitation.state().label.lower()
        raise InvitationError(f"The invitation to {invitation.email} was {state} already.")


def invitation_resend(
    *, acting: Membership, invitation: Invitation, role: str | None = None, request=None
) -> Sent:
    """Mail a new link (the old one stops working) valid for a full lifetime again."""
    _check_may_touch_invitation(acting, invitation)
    role = role or invitation.role
    _check_may_invite(acting, role)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        _check_may_touch_invitation(acting, invitation)
        before = invitation.role
        invitation.role = role
        invitation.send_count += 1
        token = _new_token(invitation)
        invitation.save()
    link = invitation_link(token)
    mailed, why = _mail_invitation(invitation, link, acting.user)
    payload = {"email": invitation.email, "role": role, "mailed": mailed}
    if before != role:
        payload["role_before"] = before
    audit.record(
        team=invitation.team,
        actor=acting.user,
        action="invitation.resent",
        target=invitation,
        payload=payload,
        request=request,
    )
    return Sent(invitation, link, mailed, why)


def invitation_revoke(*, acting: Membership, invitation: Invitation, request=None) -> Invitation:
    """Withdraw an open invitation: its link stops working."""
    _check_may_touch_invitation(acting, invitation)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        _check_may_touch_invitation(acting, invitation)
        invitation.revoked_at = timezone.now()
        invitation.revoked_by = acting.user
        invitation.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(
            team=invitation.team,
            actor=acting.user,
            action="invitation.revoked",
            target=invitation,
            payload={"email": invitation.email, "role": invitation.role},
            request=request,
        )
    return invitation


def invitation_problem(invitation: Invitation | None) -> str:
    """Why the link cannot be used, in plain words; "" when it can."""
    if invitation is None:
        return "This invitation link is not valid. Check that you copied all of it."
    state = invitation.state()
    who = invitation.invited_by.get_username() if invitation.invited_by else "the team"
    if state == InvitationState.ACCEPTED:
        return "This invitation was used already. Log in to reach the team."
    if state == InvitationState.REVOKED:
        return f"This invitation was withdrawn. Ask {who} to invite you again if you need access."
    if state == InvitationState.EXPIRED:
        when = timezone.localtime(invitation.expires_at)
        return f"This invitation expired on {when:%b %d, %Y %H:%M}. Ask {who} to send a new one."
    return ""


def invitation_accept(
    *, invitation: Invitation, user, new_login: bool = False, request=None
) -> Membership:
    """Make `user` a member of the invitation's team with its role; the link is then used.

    Someone who is already a member keeps the role they have.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
        )
        problem = invitation_problem(invitation)
        if problem:
            raise InvitationError(problem)
        team = invitation.team
        membership = Membership.objects.filter(team=team, user=user).first()
        already = membership is not None
        if membership is None:
            membership = Membership.objects.create(team=team, user=user, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit.record(
            team=team,
            actor=user,
            action="invitation.accepted",
            target=invitation,
            payload={
                "email": invitation.email,
                "user": user.get_username(),
                "role": membership.role,
                "new_login": new_login,
                "already_member": already,
            },
            request=request,
        )
        if not already:
            audit.record(
                team=team,
                actor=user,
                action="member.added",
                target=membership,
                payload={
                    "user": user.get_username(),
                    "role": membership.role,
                    "invited_by": invitation.invited_by.get_username()
                    if invitation.invited_by
                    else None,
                },
                request=request,
            )
    return membership


def invitation_accept_with_new_login(
    *, invitation: Invitation, username: str, password: str, request=None
):
    """Create a login for the invited address and accept the invitation with it; return
    (user, membership)."""
    User = get_user_model()
    with transaction.atomic():
        problem = invitation_problem(invitation)
        if problem:
            raise InvitationError(problem)
        if User.objects.filter(username__iexact=username).exists():
            raise InvitationError(f"The username “{username}” is taken; choose another.")
        user = User.objects.create_user(
            username=username, email=invitation.email, password=password
        )
        membership = invitation_accept(
            invitation=invitation, user=user, new_login=True, request=request
        )
    return user, membership
