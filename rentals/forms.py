from __future__ import annotations

from django import forms


class RentForm(forms.Form):
    offer = forms.IntegerField(widget=forms.HiddenInput)
    duration = forms.IntegerField(min_value=1)
    service = forms.CharField(required=False, max_length=120)
    label = forms.CharField(required=False, max_length=100)
    note = forms.CharField(required=False, max_length=500)
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)


class ExtendForm(forms.Form):
    duration = forms.IntegerField(min_value=1)


class DetailsForm(forms.Form):
    label = forms.CharField(required=False, max_length=100, strip=True)
    note = forms.CharField(required=False, max_length=500, strip=True)


class RentalFilterForm(forms.Form):
    state = forms.ChoiceField(required=False)
    provider = forms.ChoiceField(required=False)
    member = forms.ChoiceField(required=False)
    q = forms.CharField(required=False, max_length=40, label="Number or label")

    def __init__(self, *args, team, **kwargs):
        from rentals.models import RentalState

        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "Any state"), *RentalState.choices]
        self.fields["provider"].choices = [("", "Any provider")] + [
            (str(a.code), a.label) for a in team.provider_accounts.order_by("label")
        ]
        self.fields["member"].choices = [("", "Anyone")] + [
            (str(m.user_id), m.user.get_username())
            for m in team.memberships.select_related("user").order_by("user__username")
        ]
