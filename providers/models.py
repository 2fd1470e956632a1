from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers import crypto
from providers.clients import client_class
from providers.ratelimit import RateBudget


class ProviderKind(models.TextChoices):
    SMSPOOL = "smspool", "SMSPool"
    NUMPOOL = "numpool", "NumPool"
    SMSCODE = "smscode", "SMSCode"
    SMSACTIVATE = "smsactivate", "SMS-Activate protocol"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    OK = "ok", "Healthy"
    FAILING = "failing", "Failing"


def is_sandbox_url(url: str) -> bool:
    """True when `url` points at the configured sandbox provider."""
    sandbox = urlsplit(settings.SANDBOX_URL)
    target = urlsplit(url)
    return bool(sandbox.netloc) and target.netloc == sandbox.netloc


class ProviderAccountQuerySet(models.QuerySet):
    def live(self) -> ProviderAccountQuerySet:
        """Accounts not removed (enabled or not)."""
        return self.filter(removed_at__isnull=True)

    def usable(self) -> ProviderAccountQuerySet:
        """Accounts that order, offer and sync: enabled and not removed."""
        return self.filter(enabled=True, removed_at__isnull=True)


class ProviderAccount(models.Model):
    """A team's account at one upstream provider, with its key encrypted at rest."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="provider_accounts"
    )
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    label = models.CharField(max_length=100)
    base_url = models.URLField(max_length=300)
    api_key_encrypted = models.TextField(editable=False)
    api_key_last4 = models.CharField(max_length=4, editable=False)
    currency = models.CharField(max_length=3, default="USD")
    enabled = models.BooleanField(default=True)
    is_sandbox = models.BooleanField(default=False, editable=False)

    balance = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    balance_checked_at = models.DateTimeField(null=True, blank=True)
    # Low-balance alert (issue 15), in the account's currency: managers see a banner and
    # get one email when the balance falls below it; `low_balance_alerted_at` is set at
    # that crossing and cleared (re-armed) once a reading is back at or above it.
    low_balance_threshold = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True
    )
    low_balance_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    catalog_synced_at = models.DateTimeField(null=True, blank=True)
    # What the last catalog sync stored and how much of it found no canonical
    # country or service (None until a sync has counted).
    catalog_country_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    catalog_countries_unmapped = models.PositiveIntegerField(null=True, blank=True, editable=False)
    catalog_service_count = models.PositiveIntegerField(null=True, blank=True, editable=False)
    catalog_services_unmapped = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # False when the last catalog sync found no price list (an SMS-Activate host
    # answering BAD_ACTION to getPrices): every listed service may then be ordered
    # in every listed country, at a price known only after purchase.
    catalog_prices_known = models.BooleanField(default=True, editable=False)
    # What this account's host was found to speak, learned by its client and
    # remembered: {"dialect": "guide"} (SMSCode), {"missing": ["bulk_active"]}
    # (an SMS-Activate host answering BAD_ACTION). See ProviderClient.learn.
    wire_facts = models.JSONField(default=dict, blank=True, editable=False)

    # Overrides for the provider's published rate limit (requests per seconds).
    rate_limit_requests = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_period = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds the request limit applies to."
    )

    # The sync engine (see providers.leases): the lease (one cycle of an account at a
    # time, across every process), when the next cycle is due (None: nothing to
    # follow), and when work was last asked for.
    poller_lease_owner = models.CharField(max_length=64, blank=True, editable=False)
    poller_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    sync_due_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    sync_requested_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Push (SMSCode's webhook, see providers.webhooks): the URL registered upstream
    # ("" when none), its signing secret (encrypted like the key, never shown), when
    # the registration was last checked, whether the provider switched delivery off,
    # and when the last verified push arrived (while pushes arrive, polling slows:
    # providers.leases.push_interval).
    webhook_url = models.CharField(max_length=2048, blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    webhook_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_disabled_reason = models.CharField(max_length=100, blank=True, editable=False)
    last_push_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Removed by an owner (providers.services.provider_account_remove): gone from
    # ordering, offers, dashboards and the sync engine; its orders, rentals, ledger
    # and audit stay. A removed account is also disabled and never re-enabled.
    removed_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ProviderAccountQuerySet.as_manager()

    class Meta:
        ordering = ["team", "label"]
        constraints = [
            models.UniqueConstraint(fields=["team", "label"], name="unique_account_label")
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display()})"

    def save(self, *args, **kwargs):
        self.is_sandbox = is_sandbox_url(self.base_url) or self.is_sandbox
        super().save(*args, **kwargs)

    # --- the key: write-only -----------------------------------------------------
    def set_api_key(self, api_key: str) -> None:
        api_key = api_key.strip()
        self.api_key_encrypted = crypto.encrypt(api_key)
        self.api_key_last4 = api_key[-4:]

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted)

    # --- the webhook secret: write-only, like the key ------------------------------
    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt(secret) if secret else ""

    @property
    def webhook_secret(self) -> str:
        """The secret SMSCode signs pushes with; "" when none is registered."""
        if not self.webhook_secret_encrypted:
            return ""
        return crypto.decrypt(self.webhook_secret_encrypted)

    @property
    def masked_key(self) -> str:
        return f"••••{self.api_key_last4}" if self.api_key_last4 else "not set"

    # --- client -------------------------------------------------------------------
    @property
    def client_class(self):
        return client_class(self.kind)

    def budget(self) -> RateBudget:
        default_requests, default_period = self.client_class.rate_limit
        return RateBudget(
            f"acct:{self.code}",
            self.rate_limit_requests or default_requests,
            self.rate_limit_period or default_period,
        )

    def client(self, **transport_options):
        """A client for this account, under its shared rate budget."""
        from providers.http import Transport

        api_key = self.api_key
        transport = Transport(
            label=f"{self.kind}:{self.label}",
            secrets=(api_key, *self._webhook_secrets()),
            budget=self.budget(),
            **transport_options,
        )
        return self.client_class(
            base_url=self.base_url,
            api_key=api_key,
            transport=transport,
            currency=self.currency,
            facts=self.wire_facts,
            on_learn=self._remember_facts,
        )

    def _remember_facts(self, facts: dict) -> None:
        self.wire_facts = facts
        ProviderAccount.objects.filter(pk=self.pk).update(wire_facts=facts)

    def supports(self, capability) -> bool:
        """Whether the protocol has `capability` and this account's host was not found
        to lack it."""
        missing = (self.wire_facts or {}).get("missing", [])
        return capability in self.client_class.capabilities and str(capability) not in missing

    # --- catalog mapping ------------------------------------------------------------
    @property
    def unmapped_services_share(self) -> float | None:
        """The share (0-1) of catalog services with no canonical service; None if not counted."""
        return _share(self.catalog_services_unmapped, self.catalog_service_count)

    @property
    def unmapped_countries_share(self) -> float | None:
        """The share (0-1) of catalog countries with no canonical country; None if not counted."""
        return _share(self.catalog_countries_unmapped, self.catalog_country_count)

    # --- health bookkeeping ------------------------------------------------------------
    def record_ok(self, *, balance: Decimal | None = None, currency: str = "") -> None:
        now = timezone.now()
        fields = {"health": Health.OK, "last_ok_at": now}
        if balance is not None:
            fields.update(balance=balance, balance_checked_at=now)
            if currency:
                fields["currency"] = currency
        ProviderAccount.objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)
        if balance is not None:
            from providers.balances import record_reading

            record_reading(self, balance, self.currency, now)

    def _secrets(self) -> tuple[str, ...]:
        try:
            return ((self.api_key,) if self.api_key_encrypted else ()) + self._webhook_secrets()
        except crypto.DecryptionError:
            return ()

    def _webhook_secrets(self) -> tuple[str, ...]:
        try:
            return (self.webhook_secret,) if self.webhook_secret_encrypted else ()
        except crypto.DecryptionError:
            return ()

    def record_error(self, error) -> None:
        """Remember the last failure (a ProviderError, whose message holds no secret).

        Rate limiting is a pause, not ill health: it leaves the health alone.
        """
        from providers.errors import RateLimited

        if isinstance(error, RateLimited):
            return
        from providers.http import redact

        # The transport scrubbed it already; stored text is scrubbed once more anyway.
        text = redact(f"{error.category}: {error.message}", self._secrets())
        fields = {
            "health": Health.FAILING,
            "last_error": text[:500],
            "last_error_at": timezone.now(),
        }
        ProviderAccount.objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)


def _share(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


class Country(models.Model):
    """A canonical country, keyed by ISO 3166 alpha-2."""

    iso = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=100)
    dial_code = models.CharField(max_length=8, blank=True)
    aliases = models.TextField(blank=True, help_text="Other names, comma separated.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A canonical service ("whatsapp") that providers list under their own ids."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    aliases = models.TextField(blank=True, help_text="Other names, comma separated.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CatalogCountry(models.Model):
    account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="catalog_countries"
    )
    upstream_id = models.CharField(max_length=64)
    name = models.CharField(max_length=120)
    iso = models.CharField(max_length=2, blank=True)
    country = models.ForeignKey(
        Country, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when staff corrected the mapping; the sync then leaves it alone.
    mapping_locked = models.BooleanField(default=False)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "upstream_id"], name="unique_catalog_country"
            )
        ]
        verbose_name_plural = "catalog countries"

    def __str__(self) -> str:
        return f"{self.name} [{self.upstream_id}]"

    @property
    def display_name(self) -> str:
        return self.country.name if self.country else self.name


class CatalogService(models.Model):
    account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="catalog_services"
    )
    upstream_id = models.CharField(max_length=64)
    name = models.CharField(max_length=120)
    code = models.CharField(max_length=60, blank=True)
    service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mapping_locked = models.BooleanField(default=False)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "upstream_id"], name="unique_catalog_service"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.upstream_id}]"

    @property
    def display_name(self) -> str:
        return self.service.name if self.service else self.name


class CatalogPool(models.Model):
    account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="catalog_pools"
    )
    upstream_id = models.CharField(max_length=64)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "upstream_id"], name="unique_catalog_pool")
        ]

    def __str__(self) -> str:
        return self.name


class CatalogPrice(models.Model):
    """The price (and stock) of one service in one country at one account."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="prices")
    service = models.ForeignKey(CatalogService, on_delete=models.CASCADE, related_name="prices")
    country = models.ForeignKey(CatalogCountry, on_delete=models.CASCADE, related_name="prices")
    pool = models.CharField(max_length=64, blank=True)
    product_id = models.CharField(max_length=64, blank=True)
    operator = models.CharField(max_length=64, blank=True)
    price = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    stock = models.IntegerField(null=True, blank=True)
    success_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["price"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "service", "country", "pool", "product_id", "operator"],
                name="unique_catalog_price",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service} / {self.country}: {self.price} {self.currency}"


class RateCounter(models.Model):
    """Shared rate-budget counters when no atomic cache (Redis) is configured."""

    key = models.CharField(max_length=200, primary_key=True)
    count = models.BigIntegerField(default=0)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}={self.count}"


class BalanceReading(models.Model):
    """One balance read from the provider (issue 15): what reconciliation compares the
    ledger's movements with. Written by `ProviderAccount.record_ok` whenever a balance
    is read (connection test, the balance schedule, a refused purchase)."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="readings")
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-read_at", "-id"]
        indexes = [models.Index(fields=["account", "read_at"])]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount} {self.currency} at {self.read_at:%Y-%m-%d %H:%M}"


class RateSource(models.TextChoices):
    PROVIDER = "provider", "Read from a provider"
    STAFF = "staff", "Entered by staff"


class ExchangeRate(models.Model):
    """How many units of `currency` one US dollar buys, from `valid_from` until the next
    rate of that currency (issue 15). Amounts stay in their provider's currency; reports,
    budgets and limits convert each one with the rate of its day.

    Read daily from providers that publish the rate they convert with (SMSCode's
    exchange-rate endpoint), or entered in the admin. A rate entered by staff for a day
    is never overwritten by a provider's.
    """

    currency = models.CharField(max_length=3)
    units_per_usd = models.DecimalField(
        "units per US dollar", max_digits=18, decimal_places=6, help_text="e.g. 16250 for IDR."
    )
    valid_from = models.DateField(help_text="The first day this rate applies to.")
    source = models.CharField(max_length=10, choices=RateSource.choices, default=RateSource.STAFF)
    source_detail = models.CharField(max_length=200, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="one_rate_per_day"),
            models.CheckConstraint(
                condition=models.Q(units_per_usd__gt=0), name="exchange_rate_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"1 USD = {self.units_per_usd.normalize():f} {self.currency} from {self.valid_from}"
