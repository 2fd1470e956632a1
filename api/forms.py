from __future__ import annotations

from django import forms

from api.models import Scope
from api.services import NAME_MAX
from webhooks.forms import EndpointForm

EXPIRY_CHOICES = [("", "Never"), ("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days")]


class KeyForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX,
        help_text="What uses it: “QA pipeline”, “my laptop”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ, label="May")
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def __init__(self, *args, scopes: list[Scope], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [(s.value, s.label) for s in scopes]
        if Scope.ORDER in scopes:
            self.fields["scope"].initial = Scope.ORDER


class KeyWebhookForm(EndpointForm):
    """A personal webhook: one of the member's usable keys, the URL and the events."""

    key = forms.ChoiceField(label="For the key", choices=[])

    def __init__(self, *args, keys, **kwargs):
        super().__init__(*args, prefix="webhook", personal=True, **kwargs)
        del self.fields["description"], self.fields["enabled"]
        self.fields["key"].choices = [(str(k.code), k.name) for k in keys]
        self.order_fields(["key", "url", "events"])
