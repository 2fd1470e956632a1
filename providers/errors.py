"""The one error family every provider client raises.

Callers never see `requests` exceptions, raw bodies or provider-specific
codes: each failure is one of the classes below, with the provider's own
human message (HTML stripped) kept for the portal to show. `retryable` tells
the HTTP chokepoint whether trying again can help.
"""

from __future__ import annotations

import html
import re
from typing import ClassVar

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def clean_message(text: object, limit: int = 500) -> str:
    """Return `text` as one line of plain text: tags stripped, entities decoded."""
    if text is None:
        return ""
    plain = html.unescape(_TAG.sub(" ", str(text)))
    plain = _SPACE.sub(" ", plain).strip()
    plain = re.sub(r"\s+([:.,;!?])", r"\1", plain)
    return plain[:limit]


class ProviderError(Exception):
    category: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    default_message: ClassVar[str] = "The provider reported an error."

    def __init__(
        self,
        message: object = "",
        *,
        retry_after: float | None = None,
        provider_code: str = "",
        field_errors: dict[str, str] | None = None,
        details: dict | None = None,
    ):
        self.message = clean_message(message) or self.default_message
        self.retry_after = retry_after
        self.provider_code = provider_code
        self.field_errors = field_errors or {}
        self.details = details or {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    @property
    def outcome_unknown(self) -> bool:
        """True when the provider may have carried the request out although it failed.

        A refusal the provider stated (out of stock, bad key, 429...) means it did
        nothing, unless an earlier attempt of the same request was lost; a lost or
        unreadable answer leaves the outcome open.
        """
        return bool(self.details.get("earlier_attempt_unknown"))


class OutOfStock(ProviderError):
    category = "out_of_stock"
    default_message = "No numbers are in stock for this service and country."


class InsufficientBalance(ProviderError):
    category = "insufficient_balance"
    default_message = "The provider account's balance is too low."


class PriceTooHigh(ProviderError):
    """No offer at or below the maximum price (or no price at all)."""

    category = "price_too_high"
    default_message = "No number is available at or below the maximum price."


class NotFound(ProviderError):
    category = "not_found"
    default_message = "The provider does not know this order or rental."


class CancelTooEarly(ProviderError):
    category = "cancel_too_early"
    default_message = "The provider does not allow cancelling this number yet."


class RateLimited(ProviderError):
    category = "rate_limited"
    retryable = True
    default_message = "Too many requests to the provider; try again shortly."


class AuthFailed(ProviderError):
    category = "auth_failed"
    default_message = "The provider rejected the API key."


class InvalidRequest(ProviderError):
    """The provider refused the request as it stands (bad parameter, wrong state)."""

    category = "invalid_request"
    default_message = "The provider refused the request."


class UpstreamUnavailable(ProviderError):
    """5xx, timeout, connection failure, or a body that is not what the API sends."""

    category = "upstream_unavailable"
    retryable = True
    default_message = "The provider is not answering properly right now."

    @property
    def outcome_unknown(self) -> bool:
        # Only a request that never left (no connection made) is known to have
        # done nothing; a timeout, a hang-up, a 5xx or an unreadable body may
        # come after the provider acted.
        return not self.details.get("not_sent") or super().outcome_unknown


class Unsupported(ProviderError):
    category = "unsupported"
    default_message = "This provider does not support that operation."


ALL_ERRORS: tuple[type[ProviderError], ...] = (
    OutOfStock,
    InsufficientBalance,
    PriceTooHigh,
    NotFound,
    CancelTooEarly,
    RateLimited,
    AuthFailed,
    InvalidRequest,
    UpstreamUnavailable,
    Unsupported,
)
