"""Log formatting for production: one JSON object per line, request and task ids, no secrets.

`LOG_FORMAT=json` (settings.LOGGING) switches the console handler to
`JsonFormatter`; the default `text` keeps the readable development lines. Both
formatters scrub what must never reach a log file (`scrub`), as a second line of
defence: provider keys are kept out at the source (`providers.http`), but an
unexpected exception's traceback can quote a URL with `api_key=` in it.

`ContextFilter` (on the console handler) puts the current request id (set by
`config.middleware.RequestIdMiddleware`) and, inside a task cluster worker, the
django-q2 task id on every record. Only stdlib here, so gunicorn's master
process (`config/gunicorn.conf.py`) can use the formatter before Django loads.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)

REDACTED = "[redacted]"
# Keys in a URL's query string (SMS-Activate's `?api_key=`, as providers.http
# redacts them), bearer tokens, and the token of a password reset link. Only after
# `?` or `&`: the sync engine's own `token=` (a lease owner) is no secret.
_SECRETS = (
    (
        re.compile(r"(?i)([?&](?:api_key|apikey|key|token|secret|password)=)[^&\s\"'<>]+"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(/reset/[^/\s]+/)(?!set-password\b)[^/\s]+"), r"\1" + REDACTED),
)

# Attributes a record may carry (as `extra=`) that the JSON line keeps. Anything
# else is left out: Django attaches the whole request to some records.
EXTRA_FIELDS = ("status_code", "http")


def scrub(text: str) -> str:
    """`text` with query-string keys, bearer tokens and password-reset tokens replaced."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` (None outside a request or a task) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        _connect_task_signals()
        if getattr(record, "request_id", None) is None:
            # django.request logs a 5xx after the middleware has returned, but hands
            # the request over with the record.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id.get()
        if getattr(record, "task_id", None) is None:
            record.task_id = task_id.get()
        return True


class TextFormatter(logging.Formatter):
    """The readable development format, scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, pid, and the
    request id, task id, exception and whitelisted extras when present."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Python's warnings would otherwise reach stderr as bare text between the JSON
        # lines (Django no longer routes them through logging).
        logging.captureWarnings(True)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "pid": record.process,
        }
        for name in ("request_id", "task_id", *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = scrub(record.exc_text)
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


# --- task ids in the task cluster -------------------------------------------------------

_task_signals_connected = False


def _connect_task_signals() -> None:
    """Follow django-q2's pre/post execute signals once the app registry is ready.

    Called from the filter because nothing else of ours runs in every qcluster
    process early enough: each worker logs "ready for work" before its first
    task, which connects the signals in that process.
    """
    global _task_signals_connected
    if _task_signals_connected:
        return
    from django.apps import apps

    if not apps.ready or not apps.is_installed("django_q"):
        return
    from django_q.signals import post_execute_in_worker, pre_execute

    pre_execute.connect(_task_started, dispatch_uid="config.logs.task_started")
    post_execute_in_worker.connect(_task_ended, dispatch_uid="config.logs.task_ended")
    _task_signals_connected = True


def _task_started(sender, task, **kwargs) -> None:
    task_id.set(task.get("id"))


def _task_ended(sender, task, **kwargs) -> None:
    task_id.set(None)
