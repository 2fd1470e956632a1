from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.roles import Role


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        help_text="They get a link to create a login, or to join with the one they have.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args, may_grant_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_grant_owner:  # what the inviter's own role may grant (accounts.roles)
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]


class SignupForm(UserCreationForm):
    """A new login for an invited address: the email comes from the invitation."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class SpendLimitForm(forms.Form):
    monthly_spend_limit = forms.DecimalField(
        label="Monthly limit",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="Leave empty for no limit.",
    )
