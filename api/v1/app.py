"""The NinjaAPI of /api/v1/: bearer-key authentication, the per-key rate limit, and every
error (ninja's own included) in the one envelope."""

from __future__ import annotations

import logging

from django.http import Http404
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from accounts.access import client_ip
from api import keys
from api.v1.errors import ApiError, envelope
from api.v1.hooks import router as hooks_router
from api.v1.routes import router

log = logging.getLogger(__name__)

DESCRIPTION = """Order numbers, read codes and rentals for pipelines, with a personal
API key (Settings → API in the portal): `Authorization: Bearer <key>`. Read-only keys
list and read; order keys also buy, cancel, ask for another code, finish and extend.
Every error answers `{"error": {"code": ..., "message": ...}}`. Lists are newest first
with cursor pagination (`next_cursor`). docs/API.md has examples and the webhooks."""


class KeyAuth(HttpBearer):
    """A personal API key as a bearer token; over its rate limit, 429 with Retry-After."""

    def authenticate(self, request, token):
        call = f"{request.method} {request.path}"
        key = keys.authenticate(token, ip=client_ip(request), call=call)
        if key is None:
            return None
        wait = keys.retry_after(key)
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests with this key; wait {wait} s.",
                retry_after=wait,
            )
        return key


api = NinjaAPI(
    title="smsdesk API",
    version="1",
    description=DESCRIPTION,
    auth=KeyAuth(),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
    docs=Swagger(settings={"persistAuthorization": False, "tryItOutEnabled": False}),
)
api.add_router("", router)
api.add_router("", hooks_router)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return envelope(exc.status, exc.code, exc.message, **exc.extra)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return envelope(
        401,
        "unauthorized",
        "Send a valid personal API key: Authorization: Bearer <key> (revoked and expired "
        "keys are refused).",
    )


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    details = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())[1:]) or "body",
            "message": error.get("msg", "invalid"),
        }
        for error in exc.errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return envelope(422, "invalid_request", summary or "The request is not valid.", details=details)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return envelope(404, "not_found", "Nothing here.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return envelope(exc.status_code, code.get(exc.status_code, "error"), str(exc.message))


@api.exception_handler(Exception)
def _server_error(request, exc):
    log.exception("REST API request failed: %s %s", request.method, request.path)
    return envelope(500, "server_error", "Something went wrong on smsdesk's side.")
