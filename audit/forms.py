from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.utils import timezone

from accounts.dates import BoundedDateField, check_date_range
from audit.labels import action_label
from audit.models import AuditEvent


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(required=False)
    action = forms.ChoiceField(required=False)
    since = BoundedDateField()
    until = BoundedDateField()

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        events = AuditEvent.objects.filter(team=team).order_by()
        actors = events.values_list("actor_name", flat=True).distinct().order_by("actor_name")
        actions = events.values_list("action", flat=True).distinct().order_by("action")
        self.fields["actor"].choices = [("", "Anyone"), *[(a, a) for a in actors]]
        # Words to read, the raw action as the value (the URL keeps ?action=order.placed).
        labelled = sorted(((a, f"{action_label(a)} ({a})") for a in actions), key=lambda c: c[1])
        self.fields["action"].choices = [("", "Any action"), *labelled]

    def clean(self):
        data = super().clean()
        check_date_range(data)
        return data

    def filter(self, events):
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_name=data["actor"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        tz = timezone.get_current_timezone()
        if data.get("since"):
            events = events.filter(created__gte=datetime.combine(data["since"], time.min, tz))
        if data.get("until"):
            events = events.filter(created__lte=datetime.combine(data["until"], time.max, tz))
        return events
