"""django-q2 tasks of the webhooks: thin, take ids, call webhooks.services."""

from __future__ import annotations

from webhooks import services


def deliver(delivery_id: int) -> str:
    delivery = services.delivery_attempt(delivery_id=delivery_id)
    return "not due" if delivery is None else delivery.state


def deliver_due() -> int:
    services.deliveries_prune()
    return services.deliveries_due()
