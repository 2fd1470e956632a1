"""What a member sees when an order action fails: plain words and a next step."""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.errors import ActionError


@dataclass
class Alternative:
    """Somewhere else the same number could come from."""

    label: str  # "SMSPool (sandbox): WhatsApp / United Kingdom"
    price: str  # "0.42 USD"
    stock: int | None
    account_code: str = ""
    service_slug: str = ""
    country_iso: str = ""


class OrderActionError(ActionError):
    """An order action that could not be done; `message` is for the member, and
    `alternatives` say where else the same number could come from."""

    def __init__(self, message: str, *, alternatives: list[Alternative] | None = None, **kw):
        super().__init__(message, **kw)
        self.alternatives = alternatives or []


@dataclass
class CancelLocked(Exception):
    """The provider does not allow cancelling yet; `seconds` until it does."""

    seconds: int
    scheduled: bool = False
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"This number can be cancelled in {self.seconds} s."
