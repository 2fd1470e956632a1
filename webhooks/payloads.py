"""What an order or a rental looks like to a machine: the webhook's `data` and the
REST API's answers share these shapes (docs/API.md).

Money is a decimal string with its currency, times are ISO 8601 in UTC, ids are
the portal's UUID codes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def _time(value: datetime | None) -> str | None:
    """ISO 8601 to the millisecond, "Z" for UTC (as Django's and ninja's JSON write it)."""
    return DjangoJSONEncoder().default(value) if value else None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


iso_time = _time


def order_data(order) -> dict[str, Any]:
    """The order as JSON-ready values (prefetch `messages` for a list)."""
    return {
        "id": str(order.code),
        "state": order.state,
        "state_label": order.get_state_display(),
        "service": order.service_name,
        "service_slug": order.service.slug if order.service_id else None,
        "country": order.country_name,
        "country_iso": order.country.iso if order.country_id else None,
        "provider": order.account.label,
        "phone_number": order.international_number or None,
        "cost": _money(order.cost),
        "currency": order.currency,
        "code": order.last_code or None,
        "messages": [
            {"code": m.code or None, "text": m.text, "received_at": _time(m.received_at)}
            for m in order.messages.all()
        ],
        "ordered_by": order.ordered_by.get_username() if order.ordered_by_id else None,
        "note": order.note,
        "cancel_requested": order.cancel_requested,
        "cancel_available_at": _time(order.cancel_available_at),
        "expires_at": _time(order.expires_at),
        "created": _time(order.created),
        "finished_at": _time(order.finished_at),
        "error": order.error or None,
    }


def rental_message_data(message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "sender": message.sender,
        "text": message.text,
        "code": message.code or None,
        "received_at": _time(message.received_at),
    }


def rental_data(rental, *, messages=None) -> dict[str, Any]:
    """The rental as JSON-ready values; with `messages`, those messages too."""
    data = {
        "id": str(rental.code),
        "state": rental.state,
        "state_label": rental.get_state_display(),
        "label": rental.label,
        "service": rental.service_name,
        "country": rental.country_name,
        "provider": rental.account.label,
        "phone_number": rental.international_number or None,
        "cost": _money(rental.cost),
        "currency": rental.currency,
        "duration": rental.rented_length,
        "unit": rental.unit,
        "auto_extend": rental.auto_extend,
        "rented_by": rental.rented_by.get_username() if rental.rented_by_id else None,
        "message_count": rental.message_count,
        "started_at": _time(rental.started_at),
        "expires_at": _time(rental.expires_at),
        "created": _time(rental.created),
        "finished_at": _time(rental.finished_at),
    }
    if messages is not None:
        data["messages"] = [rental_message_data(m) for m in messages]
    return data
