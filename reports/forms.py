from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from reports.selectors import GROUPS


class ReportForm(forms.Form):
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From"
    )
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To"
    )
    group = forms.ChoiceField(
        choices=[(k, v[0]) for k, v in GROUPS.items()], required=False, label="Group by"
    )

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("“From” must be on or before “to”.")
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[since, until) as aware datetimes; this month by default."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        since: date = data.get("since") or today.replace(day=1)
        until: date = data.get("until") or today
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(since, time.min, tz),
            datetime.combine(until + timedelta(days=1), time.min, tz),
        )

    def grouping(self) -> str:
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("group") or "member"
