from __future__ import annotations

from django import forms

from webhooks.events import EVENTS
from webhooks.services import url_problem


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=500,
        strip=True,
        help_text="https to a public host; smsdesk POSTs each event there as JSON.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.com/smsdesk"}),
    )
    description = forms.CharField(max_length=100, required=False, strip=True)
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {meaning}") for name, meaning in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        initial=list(EVENTS),
        error_messages={"required": "Choose at least one event."},
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, personal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.personal = personal  # a member's endpoint: url_problem's stricter hosts

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        problem = url_problem(url, personal=self.personal)
        if problem:
            raise forms.ValidationError(problem)
        return url
