"""Redirects to a target the client chose (a form's `next`): only to this site."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, target: str | None) -> str | None:
    """Return `target` when it is a path on this site, else None.

    A path must start with "/" (a bare word is not a URL, and Django's
    `redirect()` would try it as a view name) and pass Django's
    `url_has_allowed_host_and_scheme` for this host ("//evil.example" and
    "/\\\\evil.example" do not; neither do schemes such as "javascript:").
    """
    if not target or not target.startswith("/"):
        return None
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else None


def redirect_next(request: HttpRequest, target: str | None, fallback: str) -> HttpResponseRedirect:
    """Redirect to `target` when `safe_next` allows it, else to `fallback` (a URL we built)."""
    return HttpResponseRedirect(safe_next(request, target) or fallback)
