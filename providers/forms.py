from __future__ import annotations

from django import forms
from django.conf import settings

from providers.clients import client_class
from providers.models import ProviderAccount, ProviderKind, is_sandbox_url


class ProviderAccountForm(forms.ModelForm):
    """Add or edit a provider account. The key is write-only: never rendered back."""

    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "kind",
            "label",
            "base_url",
            "currency",
            "enabled",
            "rate_limit_requests",
            "rate_limit_period",
        ]
        labels = {"base_url": "Base URL", "rate_limit_requests": "Rate limit (requests)"}
        help_texts = {
            "base_url": "Leave empty for the provider's public API. Point it at the sandbox, "
            "a proxy or a test double to use those instead.",
            "currency": "Leave empty for the provider's billing currency.",
            "rate_limit_requests": "Leave empty for the provider's published limit.",
        }

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["base_url"].required = False
        self.fields["currency"].required = False
        self.fields["kind"].choices = ProviderKind.choices
        if self.instance.pk:
            self.fields["api_key"].help_text = (
                f"Stored key ends in {self.instance.api_key_last4}. "
                "Leave empty to keep it; type a new one to replace it."
            )
        else:
            self.fields["api_key"].required = True

    def clean_label(self):
        label = self.cleaned_data["label"].strip()
        taken = ProviderAccount.objects.filter(team=self.team, label__iexact=label)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another account of this team already has this label.")
        return label

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            raise forms.ValidationError("Use a three-letter currency code such as USD or IDR.")
        return currency

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        cls = client_class(kind)
        data["base_url"] = (data.get("base_url") or cls.default_base_url).rstrip("/")
        data["currency"] = data.get("currency") or cls.default_currency
        if is_sandbox_url(data["base_url"]) and not settings.SANDBOX_ENABLED:
            self.add_error("base_url", "The sandbox provider is disabled on this installation.")
        requests, period = data.get("rate_limit_requests"), data.get("rate_limit_period")
        if (requests is None) != (period is None):
            self.add_error(
                "rate_limit_period", "Give both the number of requests and the period, or neither."
            )
        return data
