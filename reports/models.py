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


class LedgerEntry(models.Model):
    """One upstream debit or credit: the single source for cost reports.

    `amount` is what the team spent: positive for a charge, negative for a
    refund, always in the provider account's `currency`. `dedupe_key` makes
    recording idempotent, so a sync that sees the same refund twice books it once.
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
