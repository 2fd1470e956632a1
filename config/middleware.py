"""Response headers Django has no setting for."""

from __future__ import annotations

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin


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
