from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers import crypto


class EndpointQuerySet(models.QuerySet):
    def with_trouble(self):
        """Each endpoint with `pending` (being retried) and `failed` (given up) counts."""
        return self.annotate(
            failed=models.Count("deliveries", filter=models.Q(deliveries__state="failed")),
            pending=models.Count("deliveries", filter=models.Q(deliveries__state="pending")),
        )


class Endpoint(models.Model):
    """A URL of the team's that receives signed events, and the events it wants.

    A team endpoint (managers add it) receives every such event of the team. A
    personal one has an `owner`, the member who added it for one of their API keys,
    and an `audience` naming that key: it receives only the events about that key's
    orders and its member's rentals (webhooks.events.audiences_of). Its owner and the
    team's managers manage it.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=100, blank=True)
    events = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
    )
    # "" for a team endpoint; else the events' audience it is limited to ("api-key:<code>").
    audience = models.CharField(max_length=80, blank=True, db_index=True)
    # The signing secret, encrypted like provider keys; shown once when made.
    secret_encrypted = models.TextField(editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            # A pipeline re-registering its receiver gets the one it has, not another.
            models.UniqueConstraint(
                fields=["team", "audience", "url"],
                condition=~models.Q(audience=""),
                name="one_personal_endpoint_per_audience_and_url",
            )
        ]

    def __str__(self) -> str:
        return self.description or self.url

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    def wants(self, event: str) -> bool:
        return self.enabled and event in (self.events or [])

    @property
    def is_personal(self) -> bool:
        return bool(self.audience)


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class Delivery(models.Model):
    """One event for one endpoint: the exact body sent, and where its retries stand."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=64)
    # The event's id, the same for every endpoint that receives it.
    event_id = models.UUIDField()
    body = models.TextField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    retry = models.BooleanField(default=True)  # a test delivery is tried once
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="one_delivery_per_endpoint_event"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["endpoint", "-created"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint}"


class Attempt(models.Model):
    """One POST of a delivery: when, how long, and what the endpoint answered."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    response_excerpt = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
