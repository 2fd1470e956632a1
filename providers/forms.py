from __future__ import annotations

import uuid

from django import forms
from django.conf import settings

from providers.clients import client_class
from providers.hosts import base_url_problem
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
            "base_url": "Leave empty for the provider's public API. Another address must be "
            "https to a public host (or one the operator allows); changing it needs an "
            "owner and the key again.",
            "currency": "Leave empty for the provider's billing currency.",
            "rate_limit_requests": "Leave empty for the provider's published limit.",
        }

    def __init__(self, *args, team, may_move_key: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        # Only an owner may send the stored key somewhere else (a base URL change).
        self.may_move_key = may_move_key
        self.stored_base_url = self.instance.base_url if self.instance.pk else ""
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
        elif problem := base_url_problem(data["base_url"]):
            self.add_error("base_url", problem)
        self._check_key_moves(data)
        requests, period = data.get("rate_limit_requests"), data.get("rate_limit_period")
        if (requests is None) != (period is None):
            self.add_error(
                "rate_limit_period", "Give both the number of requests and the period, or neither."
            )
        return data

    def _check_key_moves(self, data: dict) -> None:
        """A new base URL would send the stored key to a new host: that takes an owner,
        and the key typed again (so whoever moves it must already know it)."""
        if not self.instance.pk or data.get("base_url") == self.stored_base_url:
            return
        if not self.may_move_key:
            self.add_error("base_url", "Only an owner can change where this account's key goes.")
        elif not data.get("api_key"):
            self.add_error(
                "api_key", "A new base URL needs the key again: the stored one is not sent there."
            )


# --- what the order form and the rent form share ------------------------------------------


def new_idempotency_key() -> str:
    """A purchase form's idempotency key: a retried submit buys once (unique per team)."""
    return uuid.uuid4().hex


NOTE_LENGTH = 500


class NoteField(forms.CharField):
    """A note of at most 500 characters, refused (never cut) when longer.

    The input carries no maxlength: a browser would cut a pasted text silently,
    and the member would learn of it only later. The form says so instead.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", True)
        super().__init__(max_length=NOTE_LENGTH, **kwargs)
        self.error_messages["max_length"] = (
            "A note is at most 500 characters; this one has %(show_value)s. "
            "Shorten it and save again: nothing was saved."
        )

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs
