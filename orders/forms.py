from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from accounts.dates import BoundedDateField, check_date_range
from orders import board
from orders.models import BOARD_STATES, State
from providers.forms import NoteField
from providers.picks import did_you_mean, find_country, find_service
from providers.types import ActivationType, PricingOption

AUTO_CHEAPEST = "auto:cheapest"
AUTO_RELIABLE = "auto:best_success"
BOARD_FILTER_STATES = [State(s) for s in BOARD_STATES]


class PairForm(forms.Form):
    """Service and country, typed as a name, an alias or a key."""

    service = forms.CharField(max_length=120, strip=True)
    country = forms.CharField(max_length=120, strip=True)

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_service(self):
        text = self.cleaned_data["service"]
        found = find_service(text, team=self.team)
        if found is None:
            raise forms.ValidationError(
                f"No service called “{text}” in the team's catalog."
                + did_you_mean(text, team=self.team, kind="service")
            )
        return found

    def clean_country(self):
        text = self.cleaned_data["country"]
        found = find_country(text, team=self.team)
        if found is None:
            raise forms.ValidationError(
                f"No country called “{text}” in the team's catalog."
                + did_you_mean(text, team=self.team, kind="country")
            )
        return found


class OrderForm(PairForm):
    offer = forms.CharField(max_length=200, initial=AUTO_CHEAPEST)
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    max_price = forms.DecimalField(
        required=False,
        min_value=Decimal("0.0001"),
        max_digits=12,
        decimal_places=4,
        help_text=(
            "In the provider's currency. Empty: no maximum. Where the price is known only "
            "after purchase, this maximum is what is held against your spending limit and "
            "the team's budget until then; without one, nothing is held."
        ),
    )
    quantity = forms.IntegerField(min_value=1, max_value=20, initial=1)
    area_codes = forms.CharField(
        required=False, max_length=200, help_text="Comma separated, e.g. 212, 646."
    )
    exclude_area_codes = forms.BooleanField(required=False, label="Exclude these area codes")
    carrier = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("1", "Carrier 1"), ("2", "Carrier 2")]
    )
    activation_type = forms.ChoiceField(
        choices=[(t.value, t.value.title()) for t in ActivationType], initial=ActivationType.SMS
    )
    operator = forms.CharField(required=False, max_length=60)
    note = NoteField()
    auto_replace = forms.BooleanField(
        required=False, label="If no code arrives before expiry, order a new number"
    )
    failover = forms.BooleanField(
        required=False, label="If out of stock, try the next provider", initial=True
    )

    def clean_area_codes(self):
        raw = self.cleaned_data["area_codes"]
        codes = tuple(c for c in re.split(r"[\s,;]+", raw) if c)
        if any(not c.isdigit() or len(c) > 5 for c in codes):
            raise forms.ValidationError("Area codes are digits, separated by commas.")
        return codes

    def clean_offer(self):
        offer = self.cleaned_data["offer"]
        if offer in (AUTO_CHEAPEST, AUTO_RELIABLE) or offer.count("|") == 2:
            return offer
        raise forms.ValidationError("Pick one of the offers, or let smsdesk pick.")

    @property
    def strategy(self) -> str:
        offer = self.cleaned_data.get("offer", AUTO_CHEAPEST)
        return PricingOption.BEST_SUCCESS if offer == AUTO_RELIABLE else PricingOption.CHEAPEST


class NoteForm(forms.Form):
    note = NoteField()

    def error_text(self) -> str:
        """The form's first error in plain words."""
        return next((str(e) for errors in self.errors.values() for e in errors), "")


class HistoryFilterForm(forms.Form):
    member = forms.ChoiceField(required=False)
    service = forms.ChoiceField(required=False)
    country = forms.ChoiceField(required=False)
    provider = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *State.choices])
    since = BoundedDateField()
    until = BoundedDateField()
    q = forms.CharField(required=False, max_length=40, label="Phone number")

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        members = team.memberships.select_related("user").order_by("user__username")
        self.fields["member"].choices = [("", "Anyone")] + [
            (str(m.user.pk), m.user.get_username()) for m in members
        ]
        orders = team.orders.order_by()
        self.fields["service"].choices = [("", "Any service")] + [
            (name, name)
            for name in orders.values_list("service_name", flat=True)
            .distinct()
            .order_by("service_name")
        ]
        self.fields["country"].choices = [("", "Any country")] + [
            (name, name)
            for name in orders.values_list("country_name", flat=True)
            .distinct()
            .order_by("country_name")
        ]
        self.fields["provider"].choices = [("", "Any provider")] + [
            (str(a.code), a.label) for a in team.provider_accounts.order_by("label")
        ]

    def clean(self):
        data = super().clean()
        check_date_range(data)
        return data


BOARD_CHOICE_ERRORS = {
    "who": "“%(value)s” is neither “mine” nor everyone's.",
    "provider": "“%(value)s” is not one of the team's provider accounts.",
    "state": "“%(value)s” is not a state a number on the board can be in.",
    "sort": "“%(value)s” is not a way the board can sort.",
}


class BoardFilterForm(forms.Form):
    """The live board's search, filters and sort, read from the URL's query so a
    filtered board can be bookmarked. A value that is not valid is an error in plain
    words: the board then shows no rows rather than everything."""

    q = forms.CharField(required=False, max_length=60, strip=True, label="Search")
    who = forms.ChoiceField(
        required=False, choices=[("", "Everyone's"), ("mine", "Mine")], label="Whose"
    )
    provider = forms.ChoiceField(required=False, label="Provider")
    state = forms.ChoiceField(
        required=False,
        label="State",
        choices=[("", "Any state")] + [(s.value, s.label) for s in BOARD_FILTER_STATES],
    )
    service = forms.CharField(required=False, max_length=120, strip=True, label="Service")
    sort = forms.ChoiceField(required=False, choices=board.SORT_CHOICES, label="Sort")
    rows = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=board.WINDOW_MAX,
        label="Rows",
        error_messages={
            "invalid": "Rows must be a number.",
            "min_value": "Show at least one row.",
            "max_value": f"The board shows at most {board.WINDOW_MAX:,} rows at once; "
            "narrow it with search or filters.",
        },
    )

    def __init__(self, *args, team, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.user = team, user
        # The accounts are read only when a provider is asked for (the board polls
        # every 2 s with these filters) or the form is shown.
        self.fields["provider"].choices = lambda: (
            [("", "Any provider")]
            + [(str(a.code), a.label) for a in team.provider_accounts.order_by("label")]
        )
        for name, text in BOARD_CHOICE_ERRORS.items():
            self.fields[name].error_messages["invalid_choice"] = text

    def clean_service(self):
        name = self.cleaned_data["service"]
        if name and not self.team.orders.filter(service_name=name).exists():
            raise forms.ValidationError(f"The team has no order for a service called “{name}”.")
        return name

    def filters(self) -> board.Filters:
        """The valid filters (call after is_valid())."""
        data = self.cleaned_data
        return board.Filters(
            q=data["q"],
            mine=data["who"] == "mine",
            provider=data["provider"],
            state=data["state"],
            service=data["service"],
            sort=data["sort"] or "newest",
            rows=data["rows"] or board.WINDOW,
            user_id=self.user.pk,
        )

    def error_text(self) -> str:
        """Every error in plain words, each with the field it is about."""
        return " ".join(
            f"{self.fields[name].label}: {error}" if name in self.fields else str(error)
            for name, errors in self.errors.items()
            for error in errors
        )
