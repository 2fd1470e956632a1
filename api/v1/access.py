"""What every endpoint starts with: the request's key, checked for the scope it needs,
and the attribution its audit events carry."""

from __future__ import annotations

from ninja.responses import codes_4xx

import audit
from api import keys
from api.models import ApiKey, Scope
from api.v1 import schemas
from api.v1.errors import ApiError

ERRORS = {codes_4xx: schemas.ErrorOut, 503: schemas.ErrorOut}


def key_for(request, scope: Scope) -> ApiKey:
    """The request's key, when it may act with `scope`; else a 403 that says why."""
    key: ApiKey = request.auth
    if not keys.may(key, scope):
        what = "order, cancel or extend" if scope == Scope.ORDER else "read"
        raise ApiError(
            403,
            "forbidden",
            f"This key cannot {what}: its scope is {key.get_scope_display().lower()} "
            f"and the member is a {key.membership.get_role_display().lower()}.",
        )
    return key


def attributed(key: ApiKey):
    """Audit events recorded meanwhile name the key (`"via"` in their payload)."""
    return audit.attributed(api_key=key.name, prefix=key.prefix, via="rest")
