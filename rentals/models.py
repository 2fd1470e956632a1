from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


class RentalState(models.TextChoices):
    PLACING = "placing", "Renting"
    # The rent request ended without a readable answer: the provider may or may
    # not have rented the number. The rental sync finds out from its list.
    UNCONFIRMED = "unconfirmed", "Checking with the provider"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


FINAL_RENTAL_STATES = (
    RentalState.EXPIRED,
    RentalState.REFUNDED,
    RentalState.CANCELLED,
    RentalState.FINISHED,
    RentalState.FAILED,
)


class Unit(models.TextChoices):
    DAY = "day", "days"
    HOUR = "hour", "hours"


class Rental(models.Model):
    """A long-term number: rented for days (or hours), receiving any number of SMS."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="rentals")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="rentals"
    )
    rented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="rentals",
    )
    idempotency_key = models.CharField(max_length=100)

    offer = models.ForeignKey(
        "RentalOffer", on_delete=models.SET_NULL, null=True, blank=True, related_name="rentals"
    )
    upstream_offer_id = models.CharField(max_length=64)
    service = models.ForeignKey(
        "providers.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    country = models.ForeignKey(
        "providers.Country", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_upstream_id = models.CharField(max_length=64, blank=True)
    service_name = models.CharField(max_length=120, blank=True)
    country_name = models.CharField(max_length=120, blank=True)
    label = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=500, blank=True)

    state = models.CharField(
        max_length=12, choices=RentalState.choices, default=RentalState.PLACING
    )
    upstream_id = models.CharField(max_length=64, blank=True, db_index=True)
    upstream_status = models.CharField(max_length=40, blank=True)
    phone_number = models.CharField(max_length=32, blank=True, db_index=True)
    cost = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    duration = models.PositiveIntegerField()
    unit = models.CharField(max_length=4, choices=Unit.choices, default=Unit.DAY)
    started_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    auto_extend = models.BooleanField(default=False)
    # Availability (SMSPool): the line receives only while awake.
    available = models.BooleanField(null=True, blank=True)
    awake_until = models.DateTimeField(null=True, blank=True)
    refundable = models.BooleanField(default=False)
    refund_within_hours = models.PositiveIntegerField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    last_checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "idempotency_key"], name="one_rental_per_idempotency_key"
            ),
            # One upstream rental is one local row.
            models.UniqueConstraint(
                fields=["account", "upstream_id"],
                condition=~models.Q(upstream_id=""),
                name="one_row_per_upstream_rental",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "state", "-created"]),
            models.Index(fields=["account", "state"]),
        ]

    def __str__(self) -> str:
        name = self.label or self.service_name or self.country_name
        return f"{name}: {self.phone_number or 'no number yet'}"

    @property
    def is_active(self) -> bool:
        return self.state == RentalState.ACTIVE

    @property
    def is_unconfirmed(self) -> bool:
        return self.state == RentalState.UNCONFIRMED

    @property
    def international_number(self) -> str:
        digits = self.phone_number.lstrip("+")
        return f"+{digits}" if digits else ""

    @property
    def rented_length(self) -> int:
        """How long the number is rented for in all, in `unit`s: the first length plus
        every extension (by hand or automatic), as its expiry has moved."""
        if not self.started_at or not self.expires_at:
            return self.duration
        unit = 3600 if self.unit == Unit.HOUR else 86400
        return max(self.duration, round((self.expires_at - self.started_at).total_seconds() / unit))

    @property
    def extended_by(self) -> int:
        """Units added to the first length by extensions (0 when never extended)."""
        return self.rented_length - self.duration

    @property
    def rented_for(self) -> str:
        """ "7 days", or "37 days (7 days, extended by 30 days)" once extended."""
        total = self._in_units(self.rented_length)
        if not self.extended_by:
            return total
        first, added = self._in_units(self.duration), self._in_units(self.extended_by)
        return f"{total} ({first}, extended by {added})"

    def _in_units(self, count: int) -> str:
        unit = "hour" if self.unit == Unit.HOUR else "day"
        return f"{count} {unit}{'' if count == 1 else 's'}"


class RentalMessage(models.Model):
    rental = models.ForeignKey(Rental, on_delete=models.CASCADE, related_name="messages")
    upstream_message_id = models.CharField(max_length=64, blank=True)
    sender = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    code = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rental", "fingerprint"], name="one_rental_message_per_sms"
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]


class RentalOffer(models.Model):
    """Something an account rents out (a country, a service, or both), synced with
    the catalog. Prices are totals per length, in `unit`s, as decimal strings."""

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="rental_offers"
    )
    upstream_id = models.CharField(max_length=64)
    name = models.CharField(max_length=120)
    country = models.ForeignKey(
        "providers.Country", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service = models.ForeignKey(
        "providers.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_upstream_id = models.CharField(max_length=64, blank=True)
    unit = models.CharField(max_length=4, choices=Unit.choices, default=Unit.DAY)
    prices = models.JSONField(default=dict)  # {"7": "18.00", "30": "30.00"}
    extend_prices = models.JSONField(default=dict, blank=True)
    single_service_prices = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3)
    extendable = models.BooleanField(default=False)
    refundable = models.BooleanField(default=False)
    refund_within_hours = models.PositiveIntegerField(null=True, blank=True)
    stock = models.IntegerField(null=True, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "upstream_id", "service_upstream_id"],
                name="unique_rental_offer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account.label})"

    def durations(self) -> list[tuple[int, Decimal]]:
        return sorted((int(k), Decimal(v)) for k, v in self.prices.items())

    def extend_durations(self) -> list[tuple[int, Decimal]]:
        table = self.extend_prices or (self.prices if self.extendable else {})
        return sorted((int(k), Decimal(v)) for k, v in table.items())

    def price_for(self, length: int, *, single_service: bool = False) -> Decimal | None:
        table = self.single_service_prices if single_service else self.prices
        value = table.get(str(length))
        return Decimal(value) if value is not None else None

    def extend_price_for(self, length: int) -> Decimal | None:
        value = dict(self.extend_durations()).get(length)
        return value
