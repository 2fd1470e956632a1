from django import forms
from django.contrib import admin, messages

from providers import services
from providers.errors import ProviderError
from providers.hosts import base_url_problem
from providers.models import (
    BalanceReading,
    CatalogCountry,
    CatalogPool,
    CatalogPrice,
    CatalogService,
    Country,
    ExchangeRate,
    ProviderAccount,
    RateSource,
    Service,
)


class ProviderAccountAdminForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the stored key.",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "team",
            "kind",
            "label",
            "base_url",
            "currency",
            "enabled",
            "rate_limit_requests",
            "rate_limit_period",
        ]

    def clean(self):
        data = super().clean()
        if not self.instance.pk and not data.get("api_key"):
            self.add_error("api_key", "A new account needs an API key.")
        url = data.get("base_url") or ""
        if url and (problem := base_url_problem(url)):
            self.add_error("base_url", problem)
        # The portal's rule: the stored key never goes to a new host.
        moved = self.instance.pk and url and url != self.instance.base_url
        if moved and not data.get("api_key"):
            self.add_error("api_key", "A new base URL needs the key again.")
        return data


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountAdminForm
    list_display = [
        "label",
        "team",
        "kind",
        "is_sandbox",
        "enabled",
        "masked_key",
        "balance",
        "currency",
        "health",
        "catalog_synced_at",
    ]
    list_filter = ["kind", "enabled", "health", "is_sandbox"]
    search_fields = ["label", "team__name", "base_url"]
    readonly_fields = [
        "code",
        "masked_key",
        "is_sandbox",
        "balance",
        "balance_checked_at",
        "health",
        "last_error",
        "last_error_at",
        "last_ok_at",
        "catalog_synced_at",
        "created",
        "updated",
    ]
    fields = [
        "team",
        "kind",
        "label",
        "base_url",
        "api_key",
        "masked_key",
        "currency",
        "enabled",
        "rate_limit_requests",
        "rate_limit_period",
        *readonly_fields[2:],
    ]
    actions = ["test_connection", "sync_catalog"]

    def save_model(self, request, obj, form, change):
        """Through the same services as the portal: audited, and the key handled alike."""
        editable = ProviderAccountAdminForm.Meta.fields
        fields = {name: form.cleaned_data[name] for name in editable if name != "team"}
        api_key = form.cleaned_data.get("api_key", "")
        if change:
            stored = ProviderAccount.objects.get(pk=obj.pk)
            services.provider_account_update(
                account=stored, actor=request.user, api_key=api_key, request=request, **fields
            )
            obj.refresh_from_db()
        else:
            created = services.provider_account_create(
                team=form.cleaned_data["team"],
                actor=request.user,
                api_key=api_key,
                request=request,
                **fields,
            )
            obj.pk = created.pk

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset):
        for account in queryset:
            report = services.provider_account_test(
                account=account, actor=request.user, request=request
            )
            level = messages.SUCCESS if report.ok else messages.ERROR
            self.message_user(request, f"{account.label}: {report.summary()}", level)

    @admin.action(description="Sync catalog now")
    def sync_catalog(self, request, queryset):
        for account in queryset:
            try:
                result = services.catalog_sync(account=account)
            except ProviderError as exc:
                self.message_user(request, f"{account.label}: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{account.label}: {result.countries} countries, {result.services} services, "
                    f"{result.prices} prices ({result.unmapped_services} services unmapped).",
                )


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ["name", "iso", "dial_code"]
    search_fields = ["name", "iso", "aliases"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug", "aliases"]


class MappingAdmin(admin.ModelAdmin):
    """Staff correct a mapping here; saving locks it against the next sync."""

    list_filter = ["account", "mapping_locked"]
    readonly_fields = ["account", "upstream_id", "name", "seen_at"]
    list_select_related = ["account"]

    def save_model(self, request, obj, form, change):
        obj.mapping_locked = True
        super().save_model(request, obj, form, change)

    def has_add_permission(self, request):
        return False  # rows come from the catalogue sync; staff only correct them


@admin.register(CatalogCountry)
class CatalogCountryAdmin(MappingAdmin):
    list_display = ["name", "upstream_id", "iso", "country", "account", "mapping_locked"]
    search_fields = ["name", "upstream_id", "iso"]
    raw_id_fields = ["country"]
    fields = ["account", "upstream_id", "name", "iso", "country", "mapping_locked", "seen_at"]


@admin.register(CatalogService)
class CatalogServiceAdmin(MappingAdmin):
    list_display = ["name", "upstream_id", "code", "service", "account", "mapping_locked"]
    search_fields = ["name", "upstream_id", "code"]
    raw_id_fields = ["service"]
    fields = ["account", "upstream_id", "name", "code", "service", "mapping_locked", "seen_at"]


@admin.register(CatalogPool)
class CatalogPoolAdmin(admin.ModelAdmin):
    list_display = ["name", "upstream_id", "account"]
    list_filter = ["account"]


@admin.register(CatalogPrice)
class CatalogPriceAdmin(admin.ModelAdmin):
    list_display = [
        "service",
        "country",
        "account",
        "pool",
        "price",
        "currency",
        "stock",
        "success_rate",
        "updated",
    ]
    list_filter = ["account", "currency"]
    search_fields = ["service__name", "country__name"]
    list_select_related = ["service", "country", "account"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "units_per_usd", "valid_from"]

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha() or currency == "USD":
            raise forms.ValidationError(
                "Use the three-letter code of a currency other than USD, such as IDR."
            )
        return currency

    def clean_units_per_usd(self):
        value = self.cleaned_data["units_per_usd"]
        if value is None or value <= 0:
            raise forms.ValidationError("A rate is more than zero units per US dollar.")
        return value


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Rates per day (issue 15): read from providers that publish one, or entered here.
    A rate saved here is marked as entered by staff, and no provider's overwrites it."""

    list_display = ["currency", "units_per_usd", "valid_from", "source", "source_detail", "updated"]
    list_filter = ["currency", "source"]
    date_hierarchy = "valid_from"
    form = ExchangeRateForm
    fields = ["currency", "units_per_usd", "valid_from", "source", "source_detail", "updated"]
    readonly_fields = ["source", "source_detail", "updated"]

    def save_model(self, request, obj, form, change):
        obj.source = RateSource.STAFF
        obj.source_detail = f"entered by {request.user.get_username()}"
        super().save_model(request, obj, form, change)


@admin.register(BalanceReading)
class BalanceReadingAdmin(admin.ModelAdmin):
    """Balances as read from the providers: what reconciliation compares the ledger with."""

    list_display = ["read_at", "account", "amount", "currency"]
    list_filter = ["currency"]
    date_hierarchy = "read_at"
    raw_id_fields = ["account"]
    list_select_related = ["account"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
