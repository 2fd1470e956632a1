"""/api/v1/ URLs: ninja's, each answering a wrong method in the envelope, then a catch-all
that answers any other path under /api/v1/ with the envelope's 404."""

from __future__ import annotations

from functools import wraps

from django.http import Http404
from django.urls import URLPattern, include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from api.v1.app import api
from api.v1.errors import envelope


def _enveloped(view):
    """`view`, with the answers ninja makes outside its exception handlers (a wrong
    method, its root's 404) turned into the envelope."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return envelope(404, "not_found", "No such endpoint: see /api/v1/docs.")
        kind = response.get("Content-Type", "")
        if response.status_code < 400 or kind.startswith("application/json"):
            return response
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            reply = envelope(405, "method_not_allowed", f"Use {allowed or 'another method'} here.")
            reply["Allow"] = allowed
            return reply
        if response.status_code == 404:
            return envelope(404, "not_found", "No such endpoint: see /api/v1/docs.")
        return envelope(response.status_code, "error", "The request could not be answered.")

    return wrapper


@csrf_exempt
def not_found(request, rest=""):
    return envelope(404, "not_found", "No such endpoint: see /api/v1/docs.")


_patterns, _app, _namespace = api.urls
_wrapped = [
    URLPattern(p.pattern, _enveloped(p.callback), p.default_args, p.name) for p in _patterns
]

urlpatterns = [
    path("", include((_wrapped, _app), namespace=_namespace)),
    re_path(r"^(?P<rest>.*)$", not_found, name="api_v1_not_found"),
]
