"""The events a webhook can receive, and the audiences a personal endpoint can hear.

webhooks/listeners.py turns audit events into them; webhooks/services.py sends them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TEST_EVENT = "webhook.test"

# Event name -> what it means, in the order the portal lists them.
EVENTS: dict[str, str] = {
    "order.code_received": "A code (or another SMS) arrived for an order",
    "order.completed": "An order was finished (done, or used and timed out)",
    "order.cancelled": "An order was cancelled and refunded",
    "order.expired": "An order expired without a code and was refunded",
    "order.refunded": "The provider refunded an order",
    "rental.message_received": "A rented number received messages",
}


# Who an event is about, beyond its team. A personal endpoint's audience names one
# ("api-key:<code>"); apps above this one (api: an API key's orders and its member's
# rentals) register what each kind reaches and whether it is still live (a revoked
# key's endpoint hears nothing and cannot be enabled or tested), so webhooks never
# imports them.
@dataclass(frozen=True)
class AudienceKind:
    prefix: str  # of the audiences of this kind: "api-key:"
    reached: Callable[[int, str, str], set[str]]  # (team id, event, target code) -> audiences
    is_live: Callable[[int, str], bool]  # (team id, audience) -> may it hear events


_kinds: dict[str, AudienceKind] = {}


def register_audience_kind(kind: AudienceKind) -> None:
    _kinds[kind.prefix] = kind


def audiences_of(team_id: int, event: str, target_code: str) -> set[str]:
    """Every audience the event about `target_code` reaches (besides the whole team)."""
    found: set[str] = set()
    for kind in _kinds.values():
        found |= kind.reached(team_id, event, target_code)
    return found


def audience_is_live(team_id: int, audience: str) -> bool:
    """True while `audience` (a personal endpoint's) may hear events; an unknown kind never."""
    for prefix, kind in _kinds.items():
        if audience.startswith(prefix):
            return kind.is_live(team_id, audience)
    return False
