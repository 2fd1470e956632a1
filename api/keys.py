"""Personal API keys: issuing, checking, scopes and the per-key rate limit.

A key is `PREFIX_HEAD` + 8 random characters (the prefix, stored in clear for
lookup and shown in lists) + 32 random characters, all letters and digits so
every SMS-Activate tool accepts it. The database keeps the SHA-256 of the
whole key, never the key.

Why a fast hash is right: slow password hashes (PBKDF2, Argon2) exist because
passwords are guessable; each guess must cost. A key's secret part is 32
characters drawn by `secrets` from 62, about 190 bits: nobody can enumerate
that, however fast each hash is. A slow hash would only cost every API call
tens of milliseconds (the gateway answers status polls in a few).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import secrets
import string
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone

import audit
from accounts.models import Membership, Team
from accounts.roles import Permission
from api.models import ApiKey, ApiOrder, Scope
from config.sql import converted, with_converters
from orders.models import Order
from providers.models import RateCounter
from providers.ratelimit import CacheStore, default_store

PREFIX_HEAD = "smsd"
PREFIX_RANDOM = 8
SECRET_LENGTH = 32
PREFIX_LENGTH = len(PREFIX_HEAD) + PREFIX_RANDOM
KEY_LENGTH = PREFIX_LENGTH + SECRET_LENGTH
ALPHABET = string.ascii_letters + string.digits
# `last_used_at` is written at most this often per key: a status poll every second
# costs no write.
LAST_USED_RESOLUTION = timedelta(seconds=60)

# What each scope needs of the member's role (accounts/roles.py).
SCOPE_PERMISSION = {Scope.READ: Permission.VIEW, Scope.ORDER: Permission.ORDER}


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_raw_key() -> str:
    """A fresh key: prefix (PREFIX_LENGTH characters) then the secret part."""
    return PREFIX_HEAD + _random(PREFIX_RANDOM) + _random(SECRET_LENGTH)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def split(raw: str) -> tuple[str, str]:
    """(prefix, secret part) of a key."""
    return raw[:PREFIX_LENGTH], raw[PREFIX_LENGTH:]


def looks_like_key(raw) -> bool:
    return (
        isinstance(raw, str)
        and len(raw) == KEY_LENGTH
        and raw.startswith(PREFIX_HEAD)
        and raw.isascii()
        and raw.isalnum()
    )


# --- scopes ---------------------------------------------------------------------------------


def scopes_for(membership) -> list[Scope]:
    """The scopes `membership`'s role allows, narrowest first."""
    return [s for s in Scope if membership.can(SCOPE_PERMISSION[s])]


def may(key: ApiKey, scope: Scope) -> bool:
    """True when `key` may act with `scope`: the key has it and its member's role
    (as it is now, not as it was when the key was made) allows it."""
    if scope == Scope.ORDER and key.scope != Scope.ORDER:
        return False
    return key.membership.can(SCOPE_PERMISSION[scope])


# --- authenticating -------------------------------------------------------------------------


def authenticate(
    raw, *, ip: str | None = None, now=None, activation: int | None = None, call: str = ""
) -> ApiKey | None:
    """The usable key `raw` is, or None (unknown, wrong, revoked or expired key).

    One indexed query (the key with its membership and team; with `activation`, a
    status poll's activation id, also that activation's state and last code, kept on
    `key.polled` for api.placement.activation_state). Records the use in
    `last_used_at`/`last_used_ip` at most once a minute, so frequent calls cost no
    write, and as an `api_key.used` audit event naming `call` (the gateway's action,
    or the REST method and path) at most once an hour or when the address changes
    (_touch). Never logs or raises with the key.
    """
    if not looks_like_key(raw):
        return None
    prefix, _secret = split(raw)
    key = _read_key(prefix, activation)
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
        return None
    now = now or timezone.now()
    if key.is_revoked or key.is_expired(now):
        return None
    _touch(key, ip, now, call)
    return key


# The key's query, written once as SQL. Every gateway and REST call starts with it and a
# status poll is little more than it, yet the ORM spent about 0.8 ms of CPU building the
# statement and its rows on every call, five times what running it costs (issue 14: the
# CPU per poll is what limits how many polls a second a machine answers). The columns
# are the models' fields and every value goes through the converters the ORM applies,
# so the instances are the ones it would make.
_READ = ((ApiKey, "k"), (Membership, "m"), (Team, "t"))
_POLL = ("state", "last_code")  # of the polled activation's order


@dataclass(frozen=True)
class _KeyQuery:
    sql: str  # takes the activation id (a poll only), then the prefix
    columns: list  # (column, its converters), in the order of the SQL's
    fields: list[list[str]]  # each model's attribute names, in column order


@functools.cache
def _key_query(alias: str, poll: bool) -> _KeyQuery:
    conn = connections[alias]
    q = conn.ops.quote_name
    columns, fields, selected = [], [], []
    for model, name in _READ:
        fields.append([f.attname for f in model._meta.concrete_fields])
        for field in model._meta.concrete_fields:
            selected.append(f"{name}.{q(field.column)}")
            columns.append(_converted(conn, field, name))
    tables = (
        f"{q(ApiKey._meta.db_table)} k"
        f" JOIN {q(Membership._meta.db_table)} m ON m.{q('id')} = k.{q('membership_id')}"
        f" JOIN {q(Team._meta.db_table)} t ON t.{q('id')} = m.{q('team_id')}"
    )
    if poll:
        # The key's member's activation in the key's team, as activation_state reads it.
        tables += (
            f" LEFT JOIN {q(ApiOrder._meta.db_table)} a ON a.{q('activation_id')} = %s"
            f" AND a.{q('team_id')} = k.{q('team_id')} AND a.{q('user_id')} = k.{q('user_id')}"
            f" LEFT JOIN {q(Order._meta.db_table)} o ON o.{q('id')} = a.{q('order_id')}"
        )
        selected.append(f"a.{q('id')}")
        columns.append(_converted(conn, ApiOrder._meta.pk, "a"))
        for name in _POLL:
            field = Order._meta.get_field(name)
            selected.append(f"o.{q(field.column)}")
            columns.append(_converted(conn, field, "o"))
    where = f"k.{q('prefix')} = %s"
    sql = f"SELECT {', '.join(selected)} FROM {tables} WHERE {where}"  # noqa: S608 - names, not values
    return _KeyQuery(sql=sql, columns=columns, fields=fields)


def _converted(conn, field, table: str) -> tuple:
    return with_converters(conn, field.get_col(table))


def _read_key(prefix: str, activation: int | None) -> ApiKey | None:
    """The key with `prefix`, its membership and team attached, or None; with
    `activation`, `key.polled` as authenticate describes it."""
    query = _key_query(connection.alias, activation is not None)
    row = _first_read(query.sql, [prefix] if activation is None else [activation, prefix])
    if row is None:
        return None
    values = converted(row, query.columns, connection)
    instances, start = [], 0
    for (model, _name), names in zip(_READ, query.fields, strict=True):
        instances.append(model.from_db(connection.alias, names, values[start : start + len(names)]))
        start += len(names)
    key, membership, team = instances
    membership.team = team
    key.membership, key.team = membership, team  # one team: the key's is its member's
    if activation is not None:
        link, *state = values[start:]
        key.polled = (activation, tuple(state) if link is not None else None)
    return key


def _first_read(sql: str, params: list):
    """The first row of `sql`, run as the request's first statement.

    With CONN_HEALTH_CHECKS Django checks a reused connection with its own SELECT 1
    before a request's first statement: a round trip more on every API call. Here the
    key's read is the check: it runs at once and, when the reused connection turns out
    to be dead, the connection is reopened and the read (which changes nothing) runs
    again, so a restarted database fails no call, as with Django's check.
    """
    check = (
        connection.health_check_enabled
        and not connection.health_check_done
        and connection.connection is not None
    )
    if check:
        connection.health_check_done = True
    try:
        return _fetch_one(sql, params)
    except (InterfaceError, OperationalError):
        if not check or connection.in_atomic_block:
            raise
        connection.close()
        return _fetch_one(sql, params)


def _fetch_one(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


# A key's use is an audit event at most this often, and whenever its address changes.
USE_AUDIT_RESOLUTION = timedelta(hours=1)


def _touch(key: ApiKey, ip: str | None, now, call: str) -> None:
    """Record a use; a conditional UPDATE, so concurrent calls write once a minute.

    The call that writes it also writes an `api_key.used` audit event when the key's
    last use was an hour ago or more, or from another address: the audit log shows
    when and from where every key was used without an event for each of a tool's
    status polls (what a key orders, cancels or finishes is audited call by call, as
    the portal's actions are).
    """
    since = now - LAST_USED_RESOLUTION
    if key.last_used_at is not None and key.last_used_at >= since:
        return
    first = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=since))
        .update(last_used_at=now, last_used_ip=ip)
    )
    quiet = key.last_used_at is None or key.last_used_at < now - USE_AUDIT_RESOLUTION
    moved = key.last_used_ip != ip
    key.last_used_at, key.last_used_ip = now, ip
    if first and (quiet or moved):
        audit.record(
            team=key.team,
            actor=key.user,
            action="api_key.used",
            target=key,
            payload={"name": key.name, "prefix": key.prefix, "call": call[:80]},
            ip=ip,
        )


# --- the per-key rate limit -----------------------------------------------------------------
#
# Fixed windows of API_KEY_RATE_PERIOD seconds, at most API_KEY_RATE_LIMIT requests in
# each, counted for every web worker together in the store providers.ratelimit picks:
# the cache when it counts atomically (Redis, local memory), else the RateCounter table.
# Not RateBudget's sliding window: that costs five statements and a transaction per
# request on the database store, and a tool polling getStatus every second must cost
# less than that (docs/BENCHMARKS.md). Here one request is one atomic increment: a
# cache INCR, or one INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement.


def retry_after(key: ApiKey, now: float | None = None) -> int:
    """0 when `key` may make a request now (the request is counted), else the whole
    seconds until its window ends (for a 429's Retry-After)."""
    period = float(settings.API_KEY_RATE_PERIOD)
    now = time.time() if now is None else now
    window = int(now // period)
    name = f"ak:{key.prefix}:{window}"
    store = default_store()
    if isinstance(store, CacheStore):
        count = store.incr(name, ttl=period * 2)
    else:
        count = _count_in_database(name, period)
    if count <= settings.API_KEY_RATE_LIMIT:
        return 0
    return max(1, math.ceil((window + 1) * period - now))


def _count_in_database(name: str, period: float) -> int:
    """One more request in the RateCounter row `name`; return the row's count."""
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    expires = timezone.now() + timedelta(seconds=period * 2)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({_q('key')}, {_q('count')}, {_q('expires')}) "  # noqa: S608 - names, not values
            f"VALUES (%s, 1, %s) ON CONFLICT ({_q('key')}) "
            f"DO UPDATE SET {_q('count')} = {table}.{_q('count')} + 1 RETURNING {_q('count')}",
            [name, connection.ops.adapt_datetimefield_value(expires)],
        )
        return cursor.fetchone()[0]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def too_many_requests(
    seconds: int, body: str = "", content_type: str = "text/plain"
) -> HttpResponse:
    """A 429 with Retry-After."""
    response = HttpResponse(body, status=429, content_type=content_type)
    response["Retry-After"] = str(seconds)
    return response
