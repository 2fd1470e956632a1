"""Response headers Django has no setting for, and the request id."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

from config import logs


def permissions_policy(policy: dict[str, list[str]]) -> str:
    """Return the Permissions-Policy header value: `camera=(), geolocation=(self)`."""
    return ", ".join(
        f"{feature}=({' '.join(origins)})" for feature, origins in sorted(policy.items())
    )


class PermissionsPolicyMiddleware(MiddlewareMixin):
    """Add `settings.PERMISSIONS_POLICY` to every response that has none yet."""

    def process_response(self, request, response):
        policy = getattr(settings, "PERMISSIONS_POLICY", None)
        if policy and "Permissions-Policy" not in response:
            response.headers["Permissions-Policy"] = permissions_policy(policy)
        return response


# A proxy's request id is taken as it is only when it looks like one (nginx's
# $request_id is 32 hex digits); anything else could forge or break log lines.
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_for(request) -> str:
    """Return the id of this request: the trusted proxy's X-Request-ID (behind a proxy
    the operator trusts, TRUST_X_FORWARDED_FOR) when well formed, else a new one."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    if settings.TRUST_X_FORWARDED_FOR and _REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give every request an id: on `request.request_id`, on every log record written
    while it runs (config.logs.ContextFilter) and in the X-Request-ID response header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_for(request)
        token = logs.request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            logs.request_id.reset(token)
        response.headers[REQUEST_ID_HEADER] = request.request_id
        return response
