"""Date filters every page shares: dates outside what smsdesk can hold are refused
in plain words, never a 500, and the picker offers only the dates it accepts."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils import timezone

# Nothing in smsdesk predates this, and a date more than a decade ahead is a typo
# (9999-12-31 from a date picker overflowed the report's end of period).
EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 10


def date_bounds() -> tuple[date, date]:
    """Return the earliest and latest date a filter or report accepts: 1 January 2000
    and 31 December ten years from now."""
    return EARLIEST_DATE, date(timezone.localdate().year + YEARS_AHEAD, 12, 31)


def _words(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


class DatePicker(forms.DateInput):
    """A browser date picker that offers only the dates `date_bounds()` accepts."""

    input_type = "date"

    def get_context(self, name, value, attrs):
        earliest, latest = date_bounds()  # at render time: the bounds move with the date
        attrs = {**(attrs or {}), "min": earliest.isoformat(), "max": latest.isoformat()}
        return super().get_context(name, value, attrs)


class BoundedDateField(forms.DateField):
    """An optional date between `date_bounds()`, refused in plain words otherwise."""

    widget = DatePicker

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        earliest, latest = date_bounds()
        if value and not earliest <= value <= latest:
            raise forms.ValidationError(
                f"Pick a date between {_words(earliest)} and {_words(latest)}.", code="bounds"
            )


def check_date_range(data: dict) -> None:
    """Raise ValidationError when `data`'s "since" comes after its "until"."""
    if data.get("since") and data.get("until") and data["since"] > data["until"]:
        raise forms.ValidationError("“From” must be on or before “to”.", code="order")
