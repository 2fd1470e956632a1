"""Amounts as people read them: in the currency's own precision, never a float.

One rule for pages and CSV alike. An amount shows at least its currency's
precision (USD 2 places, IDR 0) and more only when it really has more: providers
price to the 4th decimal place (the database keeps 4), and a 0.0125 USD charge
shown as "0.01" would misstate what was paid. So 100.0000 USD reads "100.00",
36.2700000000000 reads "36.27", 0.0125 reads "0.0125", 15000.0000 IDR "15,000".

Estimates (US-dollar equivalents through configured exchange rates) round to the
currency's precision instead (`approx=True`): more digits would claim a precision
the rate does not have.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units where they differ from 2; IDR is written without its
# minor unit in practice (and by every provider that bills in it).
PLACES = {"IDR": 0, "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "HUF": 0, "UGX": 0, "KWD": 3}
DEFAULT_PLACES = 2
# What providers price in, and what amounts are stored with.
PROVIDER_PLACES = 4


def places_for(currency: str) -> int:
    """Decimal places the currency is written with (2 unless listed in PLACES)."""
    return PLACES.get((currency or "").strip().upper(), DEFAULT_PLACES)


def as_decimal(amount) -> Decimal | None:
    """`amount` as a Decimal, or None when it is empty or not a number."""
    if amount is None or amount == "" or isinstance(amount, bool):
        return None
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


def amount_text(amount, currency: str, *, approx: bool = False, grouping: bool = False) -> str:
    """The number part of an amount in `currency`: "36.27", "0.0125", "15000" ("" when
    `amount` is not a number). `grouping` separates thousands with commas (pages)."""
    value = as_decimal(amount)
    if value is None:
        return ""
    least = places_for(currency)
    value = value.quantize(Decimal(1).scaleb(-PROVIDER_PLACES), ROUND_HALF_UP)
    if approx:
        places = least
    else:
        digits = value.normalize().as_tuple().exponent
        places = min(max(least, -digits if isinstance(digits, int) else 0), PROVIDER_PLACES)
    value = value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # never "-0.00"
    return f"{value:,.{places}f}" if grouping else f"{value:.{places}f}"


def money_text(amount, currency: str, *, approx: bool = False) -> str:
    """ "36.27 USD", "15,000 IDR", "≈ 1.20 USD" with `approx`; "—" for no amount."""
    number = amount_text(amount, currency, approx=approx, grouping=True)
    if not number:
        return "—"
    text = f"{number} {currency}".strip()
    return f"≈ {text}" if approx else text
