from __future__ import annotations

from django import forms

from accounts.roles import Role


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class InviteForm(forms.Form):
    identifier = forms.CharField(
        label="Username or email",
        max_length=254,
        strip=True,
        help_text="The person must already have a smsdesk login.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class SpendLimitForm(forms.Form):
    monthly_spend_limit = forms.DecimalField(
        label="Monthly limit (USD)",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="Leave empty for no limit.",
    )
