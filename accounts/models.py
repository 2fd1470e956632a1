from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models

from accounts.roles import Permission, Role, can


class Team(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    # Spend ceiling for the whole team per calendar month, in the reporting currency; blank: none.
    monthly_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # The currency budgets, member limits and report totals are kept in (issue 15); provider
    # amounts stay in their own currency and convert with the rate of their day.
    reporting_currency = models.CharField(max_length=3, default="USD")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def owners(self) -> models.QuerySet[Membership]:
        return self.memberships.filter(role=Role.OWNER)


class Membership(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # Spend ceilings per calendar month and per day, in the team's reporting currency;
    # blank means no limit.
    monthly_spend_limit = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    daily_spend_limit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)

    @property
    def permissions(self) -> set[str]:
        """The names of everything this member may do (for templates)."""
        return {p.value for p in Permission if self.can(p)}

    @property
    def is_read_only(self) -> bool:
        return not self.can(Permission.ORDER)

    def spend_limit_left(self, spent: Decimal) -> Decimal | None:
        if self.monthly_spend_limit is None:
            return None
        return self.monthly_spend_limit - spent


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class Invitation(models.Model):
    """An email invitation to join a team with a role (see accounts.invitations).

    Only a SHA-256 hash of the link's token is stored: whoever reads the database
    cannot use a pending link. Re-sending replaces the hash (the old link stops
    working); accepting or revoking ends it.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    send_count = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            # One open invitation per address and team: inviting again re-sends it.
            models.UniqueConstraint(
                fields=["team", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"

    def state(self, now=None) -> InvitationState:
        from django.utils import timezone

        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.expires_at <= (now or timezone.now()):
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    @property
    def is_open(self) -> bool:
        """Not accepted and not revoked (an expired one may still be re-sent)."""
        return self.accepted_at is None and self.revoked_at is None
