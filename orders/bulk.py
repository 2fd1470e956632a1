"""What a bulk action on the board's selected rows did, told in one message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

# How each outcome reads in the summary, in the order it is told.
OUTCOMES = {
    "cancelled": "cancelled",
    "scheduled": "scheduled to cancel as soon as the provider allows",
    "ended": "had already ended",
    "done": "marked done",
    "asked for another code": "asked for another code",
}
REASONS_SHOWN = 3


@dataclass
class Outcome:
    """{outcome: numbers} and the refusals, each with its reason."""

    done: dict[str, list[str]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def add(self, outcome: str, label: str) -> None:
        self.done.setdefault(outcome, []).append(label)

    def refuse(self, label: str, reason: str) -> None:
        self.refused.append((label, reason))

    def summary(self, action: str) -> str:
        """ "3 cancelled, 1 scheduled to cancel …, 1 refused: +1555…: why." """
        parts = [f"{len(self.done[k])} {text}" for k, text in OUTCOMES.items() if k in self.done]
        if self.refused:
            parts.append(f"{len(self.refused)} refused: {self._reasons()}")
        text = ", ".join(parts) or "Nothing was selected"
        return text if text.endswith(".") else text + "."

    def _reasons(self) -> str:
        """The refusals grouped by reason, a few numbers named for each."""
        by_reason: dict[str, list[str]] = {}
        for label, reason in self.refused:
            by_reason.setdefault(reason.rstrip("."), []).append(label)
        told = []
        for reason, labels in list(by_reason.items())[:REASONS_SHOWN]:
            more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
            names = ", ".join(labels[:3]) + more
            told.append(f"{names}: {reason}")
        if len(by_reason) > REASONS_SHOWN:
            told.append(f"{len(by_reason) - REASONS_SHOWN} other reasons (see each order)")
        return "; ".join(told)


def valid_codes(codes: list[str]) -> list[uuid.UUID]:
    """The order codes among `codes` that are well-formed (the others are refused)."""
    valid = []
    for text in codes:
        try:
            valid.append(uuid.UUID(text.strip()))
        except (ValueError, AttributeError):
            continue
    return valid
