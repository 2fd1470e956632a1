"""Finding the verification code in an SMS text."""

from __future__ import annotations

import re

# "G-482913", "482-913", "482 913", "<#> 482913", "code: 4829": digits, maybe split once.
_SPLIT = re.compile(r"(?<![\d])(\d{3})[- ](\d{3})(?![\d])")
# Not part of a longer number or an amount ("1,250.00"), but a code may end a
# sentence ("is 553311, valid for ten minutes").
_PLAIN = re.compile(r"(?<![\d])(?<!\d[.,])(\d{4,8})(?![\d]|[.,]\d)")


def extract_code(text: str) -> str:
    """Return the most likely verification code in `text`, or "" when none is found."""
    if not text:
        return ""
    split = _SPLIT.search(text)
    if split:
        return split.group(1) + split.group(2)
    plain = _PLAIN.search(text)
    return plain.group(1) if plain else ""
