from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from accounts.dates import BoundedDateField, check_date_range

PERIODS = [
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("custom", "Custom dates"),
]
DEFAULT_PERIOD = "30"
# A custom period longer than this is refused (the report reads every day of it).
MAX_DAYS = 400


class ReportForm(forms.Form):
    period = forms.ChoiceField(
        choices=PERIODS, required=False, label="Period", initial=DEFAULT_PERIOD
    )
    since = BoundedDateField(label="From")
    until = BoundedDateField(label="To")
    originals = forms.BooleanField(required=False, label="Show original currencies")

    def clean(self):
        data = super().clean()
        check_date_range(data)
        if (data.get("since") or data.get("until")) and not data.get("period"):
            data["period"] = "custom"
        if data.get("period") == "custom":
            if not (data.get("since") and data.get("until")):
                raise forms.ValidationError("For custom dates, give both “from” and “to”.")
            if (data["until"] - data["since"]).days >= MAX_DAYS:
                raise forms.ValidationError(
                    f"Pick at most {MAX_DAYS} days; for longer, export a period at a time."
                )
        return data

    def dates(self) -> tuple[date, date]:
        """First and last day of the period (both included); the last 30 days by default,
        and for input that is not valid (the page shows why)."""
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        period = data.get("period") or DEFAULT_PERIOD
        if period == "custom":
            return data["since"], data["until"]
        if period == "last_month":
            last = today.replace(day=1) - timedelta(days=1)
            return last.replace(day=1), last
        if period.isdigit():
            return today - timedelta(days=int(period) - 1), today
        return today.replace(day=1), today

    def show_originals(self) -> bool:
        return bool(self.is_valid() and self.cleaned_data.get("originals"))

    def error_text(self) -> str:
        """Every error of the form in one line of plain words."""
        return " ".join(str(e) for errors in self.errors.values() for e in errors)


class BudgetForm(forms.Form):
    monthly_budget = forms.DecimalField(
        label="Team budget per month",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="Leave empty for no budget.",
    )
    reporting_currency = forms.ChoiceField(
        label="Reporting currency",
        help_text="Budgets, limits and report totals are kept in this currency.",
    )

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reporting_currency"].choices = [(c, c) for c in currencies]


class MemberLimitsForm(forms.Form):
    daily_spend_limit = forms.DecimalField(
        label="Daily limit", required=False, min_value=0, max_digits=12, decimal_places=2
    )
    monthly_spend_limit = forms.DecimalField(
        label="Monthly limit", required=False, min_value=0, max_digits=12, decimal_places=2
    )

    def clean(self):
        data = super().clean()
        daily, monthly = data.get("daily_spend_limit"), data.get("monthly_spend_limit")
        if daily is not None and monthly is not None and daily > monthly:
            raise forms.ValidationError("The daily limit cannot be more than the monthly one.")
        return data


class ThresholdForm(forms.Form):
    low_balance_threshold = forms.DecimalField(
        label="Alert below",
        required=False,
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=4,
        help_text="Leave empty for no alert.",
    )


class ReconcileForm(forms.Form):
    since = BoundedDateField(label="From")
    until = BoundedDateField(label="To")

    def clean(self):
        data = super().clean()
        check_date_range(data)
        if data.get("since") and data.get("until") and (data["until"] - data["since"]).days > 31:
            raise forms.ValidationError("Reconcile at most 31 days at a time.")
        return data

    def dates(self) -> tuple[date, date]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        until = data.get("until") or today
        since = data.get("since") or until - timedelta(days=6)
        if (until - since).days > 31:
            since = until - timedelta(days=31)
        return since, until
