from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

# The audience of a key's personal webhooks is this and the key's code (api/key_webhooks.py).
WEBHOOK_AUDIENCE_PREFIX = "api-key:"


class Scope(models.TextChoices):
    """What a key may do; never more than its member's role allows (api.keys.may)."""

    READ = "read", "Read only"
    ORDER = "order", "Order"


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Keys neither revoked nor expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)


class ApiKey(models.Model):
    """A member's personal key for the API of one team.

    The key itself is shown once, at creation. Only its first characters (the
    `prefix`, for lookup and for telling keys apart) and the SHA-256 of the
    whole key are stored (api.keys explains why a fast hash is right here).
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="api_keys")
    # A member removed from the team loses their keys with the membership.
    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="api_keys"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    objects = ApiKeyQuerySet.as_manager()

    # Not a column: for a status poll, api.keys.authenticate reads the polled activation
    # with the key, (activation id, (order state, last code) or None when the key's
    # member has no such activation in the team).
    polled: tuple[int, tuple[str, str] | None] | None = None

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_key_per_member_and_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def label(self) -> str:
        """How orders placed with this key are labelled on the board."""
        return f"API: {self.name}"

    @property
    def webhook_audience(self) -> str:
        """The audience of this key's personal webhooks (api/key_webhooks.py)."""
        return f"{WEBHOOK_AUDIENCE_PREFIX}{self.code}"


class ApiOrder(models.Model):
    """An order placed through the API: its integer activation id and the key used.

    SMS-Activate clients parse activation ids as integers. They are random (not
    a sequence), so a team learns nothing of other teams' volume from them.
    """

    activation_id = models.BigIntegerField(unique=True)
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="api_link")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    key_name = models.CharField(max_length=60)
    # The SMS-Activate country and service codes the client asked for, echoed back.
    country_code = models.CharField(max_length=16, blank=True)
    service_code = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["team", "user", "-created"])]

    def __str__(self) -> str:
        return f"activation {self.activation_id}"
