"""Finding the verification code in an SMS text."""

from __future__ import annotations

import re

# "G-482913", "482-913", "482 913", "<#> 482913", "code: 4829": digits, maybe split once.
_SPLIT = re.compile(r"(?<![\d])(\d{3})[- ](\d{3})(?![\d])")
_PLAIN = re.compile(r"(?<![\d.,])(\d{4,8})(?![\d.,])")


def extract_code(text: str) -> str:
    """Return the most likely verification code in `text`, or "" when none is found."""
    if not text:
        return ""
    split = _SPLIT.search(text)
    if split:
        return split.group(1) + split.group(2)
    plain = _PLAIN.search(text)
    return plain.group(1) if plain else ""
