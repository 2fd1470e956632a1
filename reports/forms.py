from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from accounts.dates import BoundedDateField, check_date_range
from reports.selectors import GROUPS


class ReportForm(forms.Form):
    since = BoundedDateField(label="From")
    until = BoundedDateField(label="To")
    group = forms.ChoiceField(
        choices=[(k, v[0]) for k, v in GROUPS.items()], required=False, label="Group by"
    )

    def clean(self):
        data = super().clean()
        check_date_range(data)
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[since, until) as aware datetimes; this month by default, and for input
        that is not valid (the page shows why)."""
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

    def error_text(self) -> str:
        """Every error of the form in one line of plain words."""
        return " ".join(str(e) for errors in self.errors.values() for e in errors)
