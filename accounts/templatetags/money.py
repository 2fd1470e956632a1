"""`{% load money %}`: `{{ amount|money:currency }}` and `{{ amount|money_approx:"USD" }}`.

The rule (config/money.py): the currency's own precision, more places only where
the amount has them (a provider's 0.0125 price); estimates round to the currency.
"""

from __future__ import annotations

from django import template

from config.money import amount_text, money_text

register = template.Library()


@register.filter
def money(amount, currency="") -> str:
    """ "36.27 USD", "15,000 IDR", "0.0125 USD"; "—" when there is no amount."""
    return money_text(amount, str(currency or ""))


@register.filter
def money_approx(amount, currency="USD") -> str:
    """An estimate in the currency's precision: "≈ 1.20 USD"."""
    return money_text(amount, str(currency or ""), approx=True)


@register.filter
def amount(amount, currency="") -> str:
    """The number alone ("15,000"), for columns whose heading names the currency."""
    return amount_text(amount, str(currency or ""), grouping=True) or "—"


@register.filter
def amount_approx(amount, currency="USD") -> str:
    """An estimate's number alone, in the currency's precision ("1.20")."""
    return amount_text(amount, str(currency or ""), approx=True, grouping=True) or "—"
