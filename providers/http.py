"""The one function through which every upstream request goes.

It applies the account's rate budget, sets timeouts, retries what is safe to
retry (with backoff, honouring Retry-After), maps transport failures to the
error taxonomy, logs one line per call, and keeps the API key out of every
log line and exception. Tests patch `providers.http.session_for` or point a
client at the sandbox.

`Transport.call` hands a client the whole answer; `Transport.stream_rows`
hands it the elements of a JSON array one at a time as the body arrives, for
answers too large to hold (SMSPool's 30 MB, 150,000-row price list).
"""

from __future__ import annotations

import email.utils
import itertools
import json as jsonlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from urllib3.exceptions import NameResolutionError, NewConnectionError

from providers.errors import InvalidRequest, ProviderError, RateLimited, UpstreamUnavailable
from providers.hosts import points_inside
from providers.ratelimit import RateBudget

log = logging.getLogger("providers.http")

T = TypeVar("T")

USER_AGENT = "smsdesk/0.1 (+https://github.com/smsdesk)"
REDACTED = "[redacted]"
SANDBOX_HEADER = "X-Smsdesk-Sandbox"

_local = threading.local()

# A streamed body is read in pieces of this many bytes.
STREAM_CHUNK = 64 * 1024
_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_GOES_ON = re.compile(r"[0-9.eE+-]*")

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


# A run of this many characters of a secret is treated as the secret: upstream
# errors echo shortened keys ("sbx_a1b2…" or 25 of 28 characters).
SECRET_RUN = 6


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every run of SECRET_RUN or more characters of any secret replaced."""
    spans = []
    for secret in secrets:
        spans += _secret_runs(text, secret)
    if not spans:
        return text
    out, last = [], 0
    for start, end in _merged(spans):
        out += [text[last:start], REDACTED]
        last = end
    out.append(text[last:])
    return "".join(out)


def _secret_runs(text: str, secret: str) -> list[tuple[int, int]]:
    """(start, end) of the stretches of `text` made of windows of `secret`."""
    if len(secret) < SECRET_RUN:
        return [m.span() for m in re.finditer(re.escape(secret), text)] if secret else []
    windows = {secret[i : i + SECRET_RUN] for i in range(len(secret) - SECRET_RUN + 1)}
    return [
        (i, i + SECRET_RUN)
        for i in range(len(text) - SECRET_RUN + 1)
        if text[i : i + SECRET_RUN] in windows
    ]


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


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


# Set by `counting()`: every request sent in its block adds one, whichever client
# sent it (the sync engine budgets an account's next cycle by what this one spent).
_sent: ContextVar[list[int] | None] = ContextVar("provider_requests_sent", default=None)


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the provider requests sent within the block (each attempt, by any client):
    `with counting() as sent: ...` then `sent[0]`."""
    sent = [0]
    token = _sent.set(sent)
    try:
        yield sent
    finally:
        _sent.reset(token)


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
        return self._retrying(call, lambda attempt: self._attempt(call, parse, attempt))

    def stream_rows(
        self,
        call: Call,
        parse: Callable[[Response], Iterable[Any]],
        *,
        parse_float: Callable[[str], Any] = float,
    ) -> Iterator[Any]:
        """Send `call` now and return an iterator over the elements of its JSON array
        body, each decoded as soon as it has arrived: the body is never held whole.

        Until the first element, everything is as for `call` (budget, timeouts,
        retries, logging, redaction, taxonomy): an answer that is not a 2xx JSON
        array (an error envelope, an HTML page, a 429 or 5xx) is read whole and
        goes through `parse`, which returns its rows or raises. After that nothing
        is retried: a body that breaks off or stops being JSON raises
        UpstreamUnavailable from the iterator. Read it to the end or close it.
        """
        return self._retrying(
            call, lambda attempt: self._open_rows(call, parse, attempt, parse_float)
        )

    def _retrying(self, call: Call, attempt_once: Callable[[int], T]) -> T:
        """`attempt_once(attempt)`, repeated while `_retry_delay` allows; secrets scrubbed."""
        waited = 0.0
        uncertain = False  # an earlier attempt may have been carried out
        for attempt in range(1, self.max_attempts + 1):
            try:
                return attempt_once(attempt)
            except ProviderError as exc:
                self._scrub(exc)
                if uncertain:
                    # A later refusal (a 429, say) does not undo an earlier attempt.
                    exc.details["earlier_attempt_unknown"] = True
                uncertain = uncertain or exc.outcome_unknown
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

    def _send(
        self,
        call: Call,
        attempt: int,
        read: Callable[[requests.Response], T],
        *,
        stream: bool = False,
    ) -> tuple[requests.Response, T]:
        """One request under the budget and timeouts, `read(raw)` (the body or its
        start) and one log line; transport failures as UpstreamUnavailable."""
        if points_inside(call.url):
            # Never send a key to the server's own network (providers/hosts.py).
            raise InvalidRequest(
                "This provider address is inside the network; smsdesk does not send keys there.",
                details={"not_sent": True},
            )
        if self.budget is not None:
            self.budget.acquire(max_wait=self.max_wait)
        sent = _sent.get()
        if sent is not None:
            sent[0] += 1
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
                stream=stream,
            )
            body = read(raw)
        except requests.RequestException as exc:
            self._log(call, path, type(exc).__name__, started, attempt)
            raise self._transport_error(exc) from None
        self._log(call, path, raw.status_code, started, attempt)
        return raw, body

    def _attempt(self, call: Call, parse: Callable[[Response], T], attempt: int) -> T:
        raw, text = self._send(call, attempt, lambda raw: raw.text)
        response = Response(raw.status_code, dict(raw.headers), text, urlsplit(call.url).path)
        return self._check_status(response, parse)

    def _open_rows(
        self,
        call: Call,
        parse: Callable[[Response], Iterable[Any]],
        attempt: int,
        parse_float: Callable[[str], Any],
    ) -> Iterator[Any]:
        raw, (start, rest) = self._send(call, attempt, _array_start_or_whole, stream=True)
        if rest is None:  # not a 2xx JSON array: read whole, handled as `call` does
            response = Response(raw.status_code, dict(raw.headers), start, urlsplit(call.url).path)
            return iter(self._check_status(response, parse))
        try:
            self._check_sandbox(raw.headers)
        except ProviderError:
            raw.close()
            raise
        return self._rows(raw, itertools.chain([start], rest), parse_float)

    def _rows(
        self, raw: requests.Response, chunks: Iterable[str], parse_float: Callable[[str], Any]
    ) -> Iterator[Any]:
        """The streamed elements; a failure half way raised as UpstreamUnavailable."""
        try:
            yield from json_array_items(chunks, parse_float=parse_float)
        except (requests.RequestException, ProviderError) as exc:
            if isinstance(exc, ProviderError):
                error = exc
            else:
                name = type(exc).__name__
                error = UpstreamUnavailable(f"The provider's answer broke off half way ({name}).")
            self._scrub(error)
            log.warning("%s streamed answer failed: %s", self.label, error.message)
            raise error from None
        finally:
            raw.close()

    def _check_sandbox(self, headers) -> None:
        if headers.get(SANDBOX_HEADER):
            self.sandbox_seen = True
            if not settings.SANDBOX_ENABLED:
                # Production never trades with the built-in sandbox by accident.
                raise InvalidRequest("The sandbox provider is disabled on this installation.")

    def _check_status(self, response: Response, parse: Callable[[Response], T]) -> T:
        self._check_sandbox(response.headers)
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
        # Each request at DEBUG: the sync engine logs one line per cycle at INFO
        # (sync.engine), which is what a demo or an operator reads.
        log.debug(
            "%s %s %s -> %s in %.0f ms (attempt %d)",
            self.label,
            call.method,
            redact(path, self.secrets),
            outcome,
            elapsed_ms,
            attempt,
        )


def _array_start_or_whole(raw: requests.Response) -> tuple[str, Iterator[str] | None]:
    """The start of a 2xx JSON array body and an iterator over the rest of it, or any
    other body read whole (and None)."""
    raw.encoding = raw.encoding or "utf-8"
    chunks = raw.iter_content(STREAM_CHUNK, decode_unicode=True)
    start = ""
    for chunk in chunks:
        start += chunk
        if start.strip():
            break
    if 200 <= raw.status_code < 300 and start.lstrip().startswith("["):
        return start, chunks
    return start + "".join(chunks), None


def json_array_items(chunks: Iterable[str], *, parse_float=float) -> Iterator[Any]:
    """The elements of a JSON array that arrives as text in `chunks`, in order, each
    decoded once it is complete (an element may span any number of chunks).

    Raises UpstreamUnavailable when the text is not a JSON array or ends before
    the array does; the elements before that point have been yielded.
    """
    decoder = jsonlib.JSONDecoder(parse_float=parse_float)
    buffer, opened, first = "", False, True
    for chunk in chunks:
        buffer += chunk
        pos = 0
        if not opened:
            pos = _SPACE.match(buffer).end()
            if pos == len(buffer):
                continue
            if buffer[pos] != "[":
                raise UpstreamUnavailable("The provider's answer is not a JSON list.")
            opened, pos = True, pos + 1
        while True:
            pos = _SPACE.match(buffer, pos).end()
            if first and buffer[pos : pos + 1] == "]":
                return
            try:
                item, end = decoder.raw_decode(buffer, pos)
            except jsonlib.JSONDecodeError:
                break  # the element goes on in the next chunk (or is not JSON)
            after = _SPACE.match(buffer, end).end()
            if after == len(buffer) or _number_goes_on(item, buffer, end):
                break  # the array may end, or the number go on ("1." "5"): wait for more
            if buffer[after] not in ",]":
                raise UpstreamUnavailable("The provider's answer is not a JSON list.")
            yield item
            if buffer[after] == "]":
                return
            pos, first = after + 1, False
        buffer = buffer[pos:]
    raise UpstreamUnavailable("The provider's answer ended before its list did.")


def _number_goes_on(item: Any, buffer: str, end: int) -> bool:
    """True when `item` is a number that only the end of `buffer` cut short ("1.", "2e")."""
    return not isinstance(item, dict | list | str) and bool(_NUMBER_GOES_ON.fullmatch(buffer, end))


def _never_sent(exc: requests.RequestException) -> bool:
    """True when no connection was made, so the provider cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)
