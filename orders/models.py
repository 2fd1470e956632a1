from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class State(models.TextChoices):
    PLACING = "placing", "Placing"
    # The purchase request ended without a readable answer (timeout, dropped
    # connection, unreadable body): the provider may or may not have sold the
    # number. The sync engine finds out; it is never shown as failed meanwhile.
    UNCONFIRMED = "unconfirmed", "Checking with the provider"
    WAITING = "waiting", "Waiting for code"
    RECEIVED = "received", "Code received"
    RESEND_REQUESTED = "resend_requested", "Resend requested"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    FAILED = "failed", "Failed"


# States in which the upstream order is open and the sync engine follows it.
ACTIVE_STATES = (State.WAITING, State.RECEIVED, State.RESEND_REQUESTED)
# States in which a code is still expected.
AWAITING_CODE_STATES = (State.WAITING, State.RESEND_REQUESTED)
FINAL_STATES = (State.COMPLETED, State.CANCELLED, State.EXPIRED, State.REFUNDED, State.FAILED)
# A purchase whose outcome is not known yet: it holds its spend reservation.
PENDING_STATES = (State.PLACING, State.UNCONFIRMED)
# What the live board shows: open orders and purchases still being checked.
BOARD_STATES = (*ACTIVE_STATES, State.UNCONFIRMED)


class OrderQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state__in=ACTIVE_STATES)

    def for_board(self):
        return (
            self.filter(state__in=BOARD_STATES)
            .select_related("account", "ordered_by", "service", "country")
            .prefetch_related("messages")
            .order_by("-created", "-id")
        )


class Order(models.Model):
    """One activation: a number bought for one service, and the codes it receives."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="orders")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="orders"
    )
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orders",
    )
    idempotency_key = models.CharField(max_length=100)

    # What was ordered: canonical where mapped, and the provider's own ids.
    service = models.ForeignKey(
        "providers.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    country = models.ForeignKey(
        "providers.Country", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_upstream_id = models.CharField(max_length=64)
    country_upstream_id = models.CharField(max_length=64)
    service_name = models.CharField(max_length=120)
    country_name = models.CharField(max_length=120)
    options = models.JSONField(default=dict, blank=True)

    state = models.CharField(max_length=20, choices=State.choices, default=State.PLACING)
    upstream_id = models.CharField(max_length=64, blank=True, db_index=True)
    upstream_status = models.CharField(max_length=40, blank=True)
    previous_upstream_ids = models.JSONField(default=list, blank=True)
    phone_number = models.CharField(max_length=32, blank=True, db_index=True)
    dial_code = models.CharField(max_length=8, blank=True)
    cost = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # True while `cost` is the quoted price: the provider's purchase answer had
    # none (SMS-Activate getNumber); corrected when the provider reports it.
    cost_quoted = models.BooleanField(default=False)
    # While placing: by when the purchase call has surely ended. A "placing" row
    # past it lost its process (a crash) and is resolved like an unconfirmed one.
    placement_deadline = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    cancel_available_at = models.DateTimeField(null=True, blank=True)
    sms_revision = models.IntegerField(null=True, blank=True)
    last_code = models.CharField(max_length=64, blank=True)
    code_received_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    error_category = models.CharField(max_length=40, blank=True)

    # What the member asked the system to do for them.
    cancel_requested = models.BooleanField(default=False)
    # How often the provider refused to cancel yet (its lock can last minutes).
    cancel_refusals = models.PositiveSmallIntegerField(default=0)
    auto_replace = models.BooleanField(default=False)
    replace_count = models.PositiveSmallIntegerField(default=0)
    replaces = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replaced_by"
    )
    note = models.CharField(max_length=500, blank=True)
    # How the order came in when not through the portal ("API: <key name>", set by
    # the api app), for the board's label; blank for the portal.
    placed_via = models.CharField(max_length=80, blank=True)
    # An upstream order found during reconciliation with no local row behind it.
    is_orphan = models.BooleanField(default=False)

    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "idempotency_key"], name="one_order_per_idempotency_key"
            ),
            # One upstream order is one local row, whatever the timing.
            models.UniqueConstraint(
                fields=["account", "upstream_id"],
                condition=~models.Q(upstream_id=""),
                name="one_row_per_upstream_order",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "state", "-created"]),
            models.Index(fields=["account", "state"]),
            models.Index(fields=["team", "updated"]),
            # The history page's service and country filters list a team's distinct
            # names: index-only scans (docs/BENCHMARKS.md, "Load run").
            models.Index(fields=["team", "service_name"], name="order_team_service_idx"),
            models.Index(fields=["team", "country_name"], name="order_team_country_idx"),
        ]

    def __str__(self) -> str:
        number = self.phone_number or "no number yet"
        return f"{self.service_name} / {self.country_name}: {number}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def is_unconfirmed(self) -> bool:
        return self.state == State.UNCONFIRMED

    @property
    def origin_upstream_id(self) -> str:
        """The upstream id the number was bought under (SMSPool re-sends under new ids)."""
        return self.previous_upstream_ids[0] if self.previous_upstream_ids else self.upstream_id

    @property
    def awaits_code(self) -> bool:
        return self.state in AWAITING_CODE_STATES

    @property
    def last_message(self):
        """The newest message, from the prefetched list when there is one."""
        messages = list(self.messages.all())
        return messages[-1] if messages else None

    @property
    def supports_resend(self) -> bool:
        from providers.types import Capability

        return self.account.supports(Capability.RESEND)

    @property
    def international_number(self) -> str:
        digits = self.phone_number.lstrip("+")
        return f"+{digits}" if digits else ""

    @property
    def national_number(self) -> str:
        digits = self.phone_number.lstrip("+")
        if self.dial_code and digits.startswith(self.dial_code):
            return digits[len(self.dial_code) :]
        return digits

    def cancel_wait_seconds(self, now=None) -> int:
        """Seconds until the provider allows a cancel (0 when allowed now)."""
        if self.cancel_available_at is None:
            return 0
        left = (self.cancel_available_at - (now or timezone.now())).total_seconds()
        return max(0, int(left + 0.999))


class OrderMessage(models.Model):
    """One SMS (or code) an order received. An order can receive several."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    upstream_order_id = models.CharField(max_length=64)
    code = models.CharField(max_length=64, blank=True)
    text = models.TextField(blank=True)
    sender = models.CharField(max_length=100, blank=True)
    revision = models.IntegerField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "fingerprint"], name="one_message_per_sms")
        ]

    def __str__(self) -> str:
        return self.code or self.text[:40]


class FavouritePair(models.Model):
    """A service and country a member starred on the order form (one click away).

    Keys are the order form's pick-list values: a canonical slug or ISO code, or
    "u<id>" of one of the team's catalogue rows. `label` keeps the service's and the
    country's labels as they read then, separated by a tab (orders/quickpicks.py).
    """

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    service_key = models.CharField(max_length=64)
    country_key = models.CharField(max_length=64)
    label = models.CharField(max_length=250)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user", "service_key", "country_key"], name="one_favourite_per_pair"
            )
        ]

    def __str__(self) -> str:
        return self.label
