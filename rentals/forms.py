from __future__ import annotations

from django import forms
from django.db.models import Q

from providers.forms import NoteField
from providers.models import CatalogCountry, CatalogService
from providers.picks import find_country, find_service

# Database integer columns hold ids up to this; anything above names nothing.
MAX_ID = 2**31 - 1
# The longest rental or extension any provider sells, in its units (days or hours).
MAX_LENGTH = 24 * 366


def canonical(entry):
    """The canonical Service or Country a resolved entry stands for: itself, or a
    catalogue row's mapping (None for a row without one)."""
    if isinstance(entry, CatalogService):
        return entry.service
    if isinstance(entry, CatalogCountry):
        return entry.country
    return entry


def _messages(text: str) -> dict[str, str]:
    """One plain message for every way a number from a hidden or radio field can be wrong."""
    return dict.fromkeys(["required", "invalid", "min_value", "max_value"], text)


class RentalSearchForm(forms.Form):
    """The rent page's search: a country and/or a service, as a key or a "u<id>"
    catalogue entry of the team's own accounts."""

    country = forms.CharField(required=False, max_length=120, strip=True)
    service = forms.CharField(required=False, max_length=120, strip=True)

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_country(self):
        text = self.cleaned_data["country"]
        found = find_country(text, team=self.team) if text else None
        if text and found is None:
            raise forms.ValidationError(f"No country called “{text}” at the team's providers.")
        return found

    def clean_service(self):
        text = self.cleaned_data["service"]
        found = find_service(text, team=self.team) if text else None
        if text and found is None:
            raise forms.ValidationError(f"No service called “{text}” at the team's providers.")
        return found


class RentForm(forms.Form):
    """One of the team's rental offers, a length it is sold for, and the details."""

    offer = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        max_value=MAX_ID,
        error_messages=_messages("Choose one of the offers and a length."),
    )
    duration = forms.IntegerField(
        min_value=1,
        max_value=MAX_LENGTH,
        error_messages=_messages("Pick one of the lengths offered."),
    )
    service = forms.CharField(required=False, max_length=120)
    label = forms.CharField(required=False, max_length=100)
    note = NoteField()
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_offer(self):
        from rentals.models import RentalOffer

        offer = (
            RentalOffer.objects.filter(
                pk=self.cleaned_data["offer"], account__team=self.team, account__enabled=True
            )
            .select_related("account", "country", "service")
            .first()
        )
        if offer is None:
            raise forms.ValidationError("Choose one of the offers and a length.")
        return offer

    def clean_service(self):
        """The canonical service for a single-service price, or None."""
        text = self.cleaned_data["service"]
        found = find_service(text, team=self.team) if text else None
        if text and found is None:
            raise forms.ValidationError(f"No service called “{text}” at the team's providers.")
        return canonical(found)

    def clean(self):
        data = super().clean()
        offer, length = data.get("offer"), data.get("duration")
        if offer and length and not self._sold_for(offer, length):
            raise forms.ValidationError(
                f"{offer.name} is not rented for {length} {offer.get_unit_display()}; "
                "pick one of the lengths offered."
            )
        return data

    @staticmethod
    def _sold_for(offer, length: int) -> bool:
        prices = (offer.price_for(length), offer.price_for(length, single_service=True))
        return any(price is not None for price in prices)

    def error_text(self) -> str:
        """The form's first error in plain words."""
        return next((str(e) for errors in self.errors.values() for e in errors), "")


class ExtendForm(forms.Form):
    duration = forms.IntegerField(min_value=1, max_value=MAX_LENGTH)


class DetailsForm(forms.Form):
    label = forms.CharField(required=False, max_length=100, strip=True)
    note = NoteField()

    def error_text(self) -> str:
        """The form's first error in plain words."""
        return next((str(e) for errors in self.errors.values() for e in errors), "")


class RentalFilterForm(forms.Form):
    state = forms.ChoiceField(required=False)
    provider = forms.ChoiceField(required=False)
    member = forms.ChoiceField(required=False)
    country = forms.CharField(
        required=False,
        max_length=120,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "United States, UK, DE…"}),
    )
    q = forms.CharField(required=False, max_length=40, label="Number or label")

    def __init__(self, *args, team, **kwargs):
        from rentals.models import RentalState

        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["state"].choices = [("", "Any state"), *RentalState.choices]
        self.fields["provider"].choices = [("", "Any provider")] + [
            (str(a.code), a.label) for a in team.provider_accounts.order_by("label")
        ]
        self.fields["member"].choices = [("", "Anyone")] + [
            (str(m.user_id), m.user.get_username())
            for m in team.memberships.select_related("user").order_by("user__username")
        ]

    def clean_country(self) -> Q | None:
        """The rentals in the country typed (a name, an alias or an ISO code), as a filter;
        None for no country. A country smsdesk does not know is refused in plain words."""
        text = self.cleaned_data["country"]
        if not text:
            return None
        found = find_country(text, team=self.team)
        if found is None:
            raise forms.ValidationError(
                f"No country called “{text}”. Type its name (United States) or its code (US)."
            )
        country = canonical(found)
        if country is None:  # a provider's own entry without a canonical country
            return Q(country_name__iexact=found.name)
        return Q(country=country) | Q(country__isnull=True, country_name__iexact=country.name)
