"""Request and reply objects plus a tiny regex router (stdlib only)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import Message as MimeMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Request:
    """One parsed HTTP request; `path` is relative to the protocol prefix."""

    method: str
    path: str
    full_path: str
    query: dict[str, str]
    headers: MimeMessage
    body: bytes
    base_url: str  # scheme://host:port as the caller addressed us
    params: dict[str, str] = field(default_factory=dict)  # filled by the router
    _form: dict[str, str] | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default) or default

    def form(self) -> dict[str, str]:
        """Fields of a urlencoded or multipart body (first value wins)."""
        if self._form is None:
            self._form = _parse_form(self.header("Content-Type"), self.body)
        return self._form

    def json(self) -> Any:
        """The JSON body, {} when empty; raises ValueError when it is not JSON."""
        if not self.body.strip():
            return {}
        return json.loads(self.body)

    def value(self, name: str, default: str = "") -> str:
        """A parameter from the form body or the query string (SMSPool, SMS-Activate)."""
        form = self.form()
        if name in form:
            return form[name]
        return self.query.get(name, default)

    def bearer(self) -> str:
        auth = self.header("Authorization")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return ""


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Set by a failure mode: close the connection without answering.
    drop: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, default=_json_default, ensure_ascii=False).encode()
    return Reply(status, body, "application/json", dict(headers or {}))


def text_reply(status: int, text: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8", dict(headers or {}))


def html_reply(status: int, html: str) -> Reply:
    return Reply(status, html.encode(), "text/html; charset=utf-8")


def _parse_form(content_type: str, body: bytes) -> dict[str, str]:
    if not body:
        return {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    if kind in ("application/x-www-form-urlencoded", "", "text/plain"):
        try:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        except ValueError:
            return {}
        out: dict[str, str] = {}
        for key, value in pairs:
            out.setdefault(key, value)
        return out
    return {}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    out: dict[str, str] = {}
    if not message.is_multipart():
        return out
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        out.setdefault(str(name), payload.decode("utf-8", "replace"))
    return out


Handler = Callable[[Request], Reply]


class Router:
    """Maps (method, path regex) to handlers; named groups become `request.params`."""

    def __init__(self) -> None:
        self.routes: list[tuple[frozenset[str], re.Pattern[str], Handler, str]] = []

    def add(self, methods: str, pattern: str, handler: Handler, name: str = "") -> None:
        """Register `handler` for space-separated `methods` on the full-match `pattern`."""
        compiled = re.compile(pattern)
        self.routes.append((frozenset(methods.split()), compiled, handler, name or pattern))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], str] | None:
        """(handler, params, route name), or None; a known path with a wrong method is None too."""
        for methods, pattern, handler, name in self.routes:
            found = pattern.fullmatch(path)
            if found and method in methods:
                return handler, found.groupdict(), name
        return None

    def endpoint(self, method: str, path: str) -> str:
        """The route name used in statistics ("?" for unknown paths)."""
        found = self.match(method, path)
        return found[2] if found else "?"
