from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class LedgerKind(models.TextChoices):
    PURCHASE = "purchase", "Number purchase"
    RESEND = "resend", "Resend charge"
    REFUND = "refund", "Refund"
    RENTAL = "rental", "Rental"
    EXTENSION = "extension", "Rental extension"
    RENTAL_REFUND = "rental_refund", "Rental refund"
    # The provider's confirmed price differs from the quote booked at purchase.
    ADJUSTMENT = "adjustment", "Price correction"


class LedgerEntry(models.Model):
    """One upstream debit or credit: the single source for cost reports.

    `amount` is what the team spent: positive for a charge, negative for a
    refund, always in the provider account's `currency`. `dedupe_key` is the
    money event's natural key (account, kind, upstream order or rental id, and
    the event where one id has several, e.g. each extension), unique in the
    database: booking the same upstream event twice is refused by construction.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="ledger")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="ledger"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    rental = models.ForeignKey(
        "rentals.Rental", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    upstream_ref = models.CharField(max_length=100, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    # The amount is the quoted price; the provider's purchase answer had none.
    quoted = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["team", "created"]),
            models.Index(fields=["member", "created"]),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class SpendHold(models.Model):
    """Money set aside against the member's limit and the team's budget for a
    purchase whose charge is not booked yet.

    Taken in the same transaction as the spend check, under the team's row
    lock, so concurrent purchases cannot all pass one check. Released when the
    charge is booked or the purchase fails; an unconfirmed purchase keeps its
    hold until the sync engine resolves it.
    """

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # In the team's reporting currency at the time of the reservation.
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3, default="USD")
    purpose = models.CharField(max_length=20)  # order, rental, extension
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    rental = models.ForeignKey(
        "rentals.Rental", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["team", "released_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} hold {self.amount} {self.currency}"
