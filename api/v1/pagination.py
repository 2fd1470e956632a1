"""Cursor pagination: newest first, `next_cursor` names the last row of a page.

A cursor is opaque to clients (url-safe base64 of the row's creation time and id), so
pages stay stable while new rows arrive at the top.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from django.db.models import Q, QuerySet

from api.v1.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def _encode(row) -> str:
    raw = json.dumps([row.created.isoformat(), row.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_text, pk = json.loads(raw)
        created = datetime.fromisoformat(created_text)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_cursor", "This cursor is not one smsdesk gave out.") from exc
    if not isinstance(pk, int) or not 0 < pk < 2**63 or created.tzinfo is None:
        raise ApiError(422, "invalid_cursor", "This cursor is not one smsdesk gave out.")
    if not 2000 <= created.year < 9999:
        raise ApiError(422, "invalid_cursor", "This cursor is not one smsdesk gave out.")
    return created, pk


def page(rows: QuerySet, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of `rows` (newest first) after `cursor`; returns (rows, next cursor or None)."""
    rows = rows.order_by("-created", "-id")
    if cursor:
        created, pk = _decode(cursor)
        rows = rows.filter(Q(created__lt=created) | Q(created=created, id__lt=pk))
    found = list(rows[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, (_encode(found[-1]) if more and found else None)
