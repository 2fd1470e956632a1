"""The one error envelope: `{"error": {"code": ..., "message": ..., ...}}` for every error."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from accounts.errors import ActionError

# An ActionError's category -> the HTTP status it answers with.
SPEND_CATEGORIES = {"spend_limit", "daily_limit", "team_budget", "no_exchange_rate"}
STATUS_FOR_CATEGORY = {
    "forbidden": 403,
    "invalid": 422,
    "invalid_request": 422,
    "not_found": 404,
    "rate_limited": 503,
    "upstream_unavailable": 503,
    **dict.fromkeys(SPEND_CATEGORIES, 402),
}


class ApiError(Exception):
    """An error answer: HTTP `status`, a stable `code`, a plain-words `message`, and any
    `extra` fields for the envelope (`retry_after` also sets the Retry-After header)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def envelope(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    body = {"error": {"code": code, "message": message, **extra}}
    response = JsonResponse(body, status=status)
    if extra.get("retry_after"):
        response["Retry-After"] = str(int(extra["retry_after"]))
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="smsdesk"'
    return response


def from_action(exc: ActionError, **extra: Any) -> ApiError:
    """The ApiError for a refused order or rental action."""
    # A provider limiting requests says when to come back; anything else is refused.
    category = exc.category or ("rate_limited" if exc.retry_after else "refused")
    status = STATUS_FOR_CATEGORY.get(category, 409)
    if exc.next_step:
        extra["next_step"] = exc.next_step
    if exc.retry_after:
        extra["retry_after"] = max(1, int(exc.retry_after + 0.999))
    return ApiError(status, category, exc.message, **extra)
