"""Exchange rates as the reports, budgets and limits use them.

Amounts stay in their provider's currency (SMSCode bills in IDR). To add them up,
each amount converts with the rate of its day: the `providers.ExchangeRate` of its
currency with the latest `valid_from` on or before that day. Days before a
currency's first known rate use that first rate. A currency with no rate at all
cannot be converted: callers say so in plain words (`MissingRate`).

Rates are read once per report or check (`Rates.load`), never per entry.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from providers.models import ExchangeRate

USD = "USD"


class MissingRate(ValueError):
    """No exchange rate is known for a currency; the message is for people."""

    def __init__(self, currency: str):
        self.currency = currency
        super().__init__(
            f"smsdesk has no exchange rate for {currency} yet, so amounts in {currency} "
            "cannot be added to amounts in other currencies. Rates are read from providers "
            "that publish them, or entered by an administrator (Admin → Exchange rates)."
        )


@dataclass
class Rates:
    """Units per US dollar of some currencies, by the day they apply from."""

    days: dict[str, list[date]] = field(default_factory=dict)
    values: dict[str, list[Decimal]] = field(default_factory=dict)

    @classmethod
    def load(cls, currencies: Iterable[str], until: date | None = None) -> Rates:
        """Every rate of `currencies` (US dollars need none) that applies up to `until`
        (and the first one of each, for days before it): one query."""
        wanted = {c.upper() for c in currencies if c and c.upper() != USD}
        rates = cls()
        if not wanted:
            return rates
        rows = ExchangeRate.objects.filter(currency__in=wanted).order_by("currency", "valid_from")
        for currency, valid_from, per_usd in rows.values_list(
            "currency", "valid_from", "units_per_usd"
        ):
            if until is not None and valid_from > until and rates.days.get(currency):
                continue
            rates.days.setdefault(currency, []).append(valid_from)
            rates.values.setdefault(currency, []).append(per_usd)
        return rates

    def per_usd(self, currency: str, day: date) -> Decimal:
        """Units of `currency` per US dollar on `day`; raises MissingRate."""
        currency = currency.upper()
        if currency == USD:
            return Decimal(1)
        days = self.days.get(currency)
        if not days:
            raise MissingRate(currency)
        i = bisect.bisect_right(days, day) - 1
        return self.values[currency][max(i, 0)]

    def has(self, currency: str) -> bool:
        return currency.upper() == USD or bool(self.days.get(currency.upper()))

    def convert(self, amount: Decimal, currency: str, to: str, day: date) -> Decimal:
        """`amount` in `currency` as `to`, with the rates of `day` (unrounded)."""
        if currency.upper() == to.upper():
            return amount
        return amount / self.per_usd(currency, day) * self.per_usd(to, day)


def convert(amount: Decimal, currency: str, to: str, day: date | None = None) -> Decimal:
    """One conversion with the rates of `day` (today by default); raises MissingRate."""
    day = day or timezone.localdate()
    if currency.upper() == to.upper():
        return amount
    return Rates.load({currency, to}, until=day).convert(amount, currency, to, day)


def usd_value(amount: Decimal, currency: str, day: date | None = None) -> Decimal:
    """`amount` in US dollars at the rate of `day` (today by default), to 4 places."""
    return convert(amount, currency, USD, day).quantize(Decimal("0.0001"))
