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


# --- the cost report's daily roll-up (reports.rollup) --------------------------------------


class Breakdown(models.TextChoices):
    TOTAL = "total", "Total"
    PROVIDER = "provider", "Provider account"
    SERVICE = "service", "Service"
    COUNTRY = "country", "Country"
    MEMBER = "member", "Member"


class DailyRollup(models.Model):
    """One closed day of one team, rolled up: its rows below are complete and final.

    A day without any activity has this row and no others, so "rolled up and empty"
    differs from "not rolled up yet" (which the report computes from raw rows).
    """

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    rolled_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "day"], name="one_rollup_per_day")]

    def __str__(self) -> str:
        return f"{self.team_id} {self.day}"


class DailySpend(models.Model):
    """Charges, refunds and order net of one day's ledger entries, per breakdown key and
    currency: exactly the rows the report's spend queries group by (key, currency, day).

    `key` is the group, as text: "" for the total; the account id (provider); the member
    id or "" for none (member); "=" + the order's service or country name, or "" for
    entries without an order of the team (rentals). Labels and usernames are read when
    the report is made, so a renamed account shows its new name, as from raw rows.
    """

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    breakdown = models.CharField(max_length=10, choices=Breakdown.choices)
    key = models.CharField(max_length=130)
    currency = models.CharField(max_length=3)
    # NULL where no entry of the group had that sign (SQL's SUM of nothing), as raw rows.
    charges = models.DecimalField(max_digits=20, decimal_places=4, null=True)
    refunds = models.DecimalField(max_digits=20, decimal_places=4, null=True)
    order_net = models.DecimalField(max_digits=20, decimal_places=4, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "breakdown", "key", "currency"], name="one_daily_spend"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.breakdown} {self.key} {self.currency}"


class DailyOutcome(models.Model):
    """Orders placed on one day per provider account (`key`: its id), service or country
    (`key`: the name): how many, how many got a code, how many ended without one."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    breakdown = models.CharField(max_length=10, choices=Breakdown.choices)
    key = models.CharField(max_length=130)
    orders = models.PositiveIntegerField()
    codes = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "breakdown", "key"], name="one_daily_outcome"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.breakdown} {self.key}"


class DailyWait(models.Model):
    """How many of one day's orders got their code after how many seconds (whole seconds,
    the page's precision), per provider account (`key`: its id) or service: a histogram,
    so the period's nearest-rank percentiles are exact. `counts` is [seconds, codes,
    seconds, codes, ...] by seconds: one row per group and day (a row per second was
    1.5 M rows at 1 M orders, and summing them cost more than the rest of the report).
    """

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    breakdown = models.CharField(max_length=10, choices=Breakdown.choices)
    key = models.CharField(max_length=130)
    counts = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "breakdown", "key"], name="one_daily_wait_histogram"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.breakdown} {self.key}"


class DailyFailure(models.Model):
    """The net of one day's ledger entries of an order that ended without a code, per
    (order, account, member, currency), where it is not zero: the failures table sums
    them over the period."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The member's id, 0 for none: the unique key's column (NULLs are distinct in it).
    member_key = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    net = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "order", "account", "member_key", "currency"],
                name="one_daily_failure",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} order {self.order_id} {self.net} {self.currency}"
