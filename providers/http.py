"""The one function through which every upstream request goes.

It applies the account's rate budget, sets timeouts, retries what is safe to
retry (with backoff, honouring Retry-After), maps transport failures to the
error taxonomy, logs one line per call, and keeps the API key out of every
log line and exception. Tests patch `providers.http.session_for` or point a
client at the sandbox.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import NameResolutionError, NewConnectionError

from providers.errors import InvalidRequest, ProviderError, RateLimited, UpstreamUnavailable
from providers.ratelimit import RateBudget

log = logging.getLogger("providers.http")

T = TypeVar("T")

USER_AGENT = "smsdesk/0.1 (+https://github.com/smsdesk)"
REDACTED = "[redacted]"
SANDBOX_HEADER = "X-Smsdesk-Sandbox"

_local = threading.local()

# Keys some protocols carry in the query string (SMS-Activate's api_key).
_QUERY_SECRET = re.compile(r"(?i)\b(api_key|apikey|key|token)=[^&\s\"']+")


class RedactQuerySecrets(logging.Filter):
    """Masks `api_key=...` and friends in log records (urllib3 logs request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _QUERY_SECRET.sub(r"\1=" + REDACTED, message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(RedactQuerySecrets())


def session_for() -> requests.Session:
    """Return this thread's pooled session (keep-alive to each provider)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        _local.session = session
    return session


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class Call:
    """One request as a client describes it."""

    method: str
    url: str
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # True when sending the request twice cannot do anything twice (reads, or
    # writes the provider deduplicates by key). Only these are retried after a
    # timeout, a dropped connection or a 5xx.
    idempotent: bool = True


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    text: str
    url_path: str

    def json(self) -> Any:
        """Return the parsed body; raise UpstreamUnavailable when it is not JSON."""
        try:
            return jsonlib.loads(self.text)
        except ValueError as exc:
            snippet = "an empty body" if not self.text.strip() else "a body that is not JSON"
            if self.text.lstrip()[:1] == "<":
                snippet = "an HTML page"
            raise UpstreamUnavailable(
                f"The provider answered HTTP {self.status} with {snippet}."
            ) from exc

    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    """Sends a client's calls: budget, retries, logging, redaction."""

    def __init__(
        self,
        *,
        label: str,
        secrets: tuple[str, ...] = (),
        budget: RateBudget | None = None,
        timeout: tuple[float, float] | None = None,
        max_attempts: int = 3,
        max_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.label = label
        self.secrets = tuple(s for s in secrets if s)
        self.budget = budget
        self.timeout = timeout or settings.PROVIDER_TIMEOUT
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.sleep = sleep
        self.sandbox_seen = False  # a response came from the built-in sandbox

    def call(self, call: Call, parse: Callable[[Response], T]) -> T:
        """Send `call` and return `parse(response)`, retrying what is safe.

        Raises a ProviderError subclass for every failure; never a `requests`
        exception, never a message containing a secret.
        """
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(call, parse, attempt)
            except ProviderError as exc:
                self._scrub(exc)
                delay = self._retry_delay(exc, call, attempt, waited)
                if delay is None:
                    raise
                waited += delay
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_delay(
        self, exc: ProviderError, call: Call, attempt: int, waited: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if attempt >= self.max_attempts or not exc.retryable:
            return None
        if "budget" in exc.details:  # the budget already waited as long as allowed
            return None
        # A refused request (429, budget) was never executed; anything else may
        # have been, so only idempotent calls are repeated.
        if not call.idempotent and not isinstance(exc, RateLimited):
            return None
        backoff = random.uniform(0, min(4.0, 0.5 * 2 ** (attempt - 1)))
        delay = exc.retry_after if exc.retry_after is not None else backoff
        if waited + delay > self.max_wait:
            return None
        return delay

    def _attempt(self, call: Call, parse: Callable[[Response], T], attempt: int) -> T:
        if self.budget is not None:
            self.budget.acquire(max_wait=self.max_wait)
        path = urlsplit(call.url).path
        started = time.monotonic()
        try:
            raw = session_for().request(
                call.method,
                call.url,
                params=call.params,
                data=call.data,
                json=call.json,
                headers=call.headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
            text = raw.text
        except requests.RequestException as exc:
            self._log(call, path, type(exc).__name__, started, attempt)
            raise self._transport_error(exc) from None
        self._log(call, path, raw.status_code, started, attempt)
        response = Response(raw.status_code, dict(raw.headers), text, path)
        return self._check_status(response, parse)

    def _check_status(self, response: Response, parse: Callable[[Response], T]) -> T:
        if response.headers.get(SANDBOX_HEADER):
            self.sandbox_seen = True
            if not settings.SANDBOX_ENABLED:
                # Production never trades with the built-in sandbox by accident.
                raise InvalidRequest("The sandbox provider is disabled on this installation.")
        if response.status == 429:
            retry_after = response.retry_after()
            if self.budget is not None:
                self.budget.block_for(retry_after if retry_after is not None else 1.0)
            try:
                parse(response)
            except RateLimited as exc:
                exc.retry_after = exc.retry_after or retry_after
                raise
            except ProviderError:
                pass
            raise RateLimited(
                "The provider is rate limiting requests (HTTP 429).", retry_after=retry_after
            )
        if response.status >= 500:
            raise UpstreamUnavailable(
                f"The provider answered HTTP {response.status}.",
                retry_after=response.retry_after() if response.status == 503 else None,
            )
        return parse(response)

    def _transport_error(self, exc: requests.RequestException) -> UpstreamUnavailable:
        if _never_sent(exc):
            return UpstreamUnavailable(
                "Could not connect to the provider.", details={"not_sent": True}
            )
        if isinstance(exc, requests.Timeout):
            return UpstreamUnavailable("The provider did not answer in time.")
        if isinstance(exc, requests.ConnectionError):
            return UpstreamUnavailable("The provider hung up before answering.")
        return UpstreamUnavailable(f"The request to the provider failed ({type(exc).__name__}).")

    def _scrub(self, exc: ProviderError) -> None:
        """Remove the key from everything an error carries to callers and logs."""
        exc.message = redact(exc.message, self.secrets)
        exc.args = (exc.message,)
        exc.provider_code = redact(exc.provider_code, self.secrets)
        exc.field_errors = {
            redact(str(k), self.secrets): redact(str(v), self.secrets)
            for k, v in exc.field_errors.items()
        }
        exc.details = {
            k: redact(v, self.secrets) if isinstance(v, str) else v for k, v in exc.details.items()
        }

    def _log(self, call: Call, path: str, outcome, started: float, attempt: int) -> None:
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info(
            "%s %s %s -> %s in %.0f ms (attempt %d)",
            self.label,
            call.method,
            redact(path, self.secrets),
            outcome,
            elapsed_ms,
            attempt,
        )


def _never_sent(exc: requests.RequestException) -> bool:
    """True when no connection was made, so the provider cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)
