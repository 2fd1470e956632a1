"""Gunicorn settings for the smsdesk web process: `gunicorn -c config/gunicorn.conf.py`.

Everything an operator tunes comes from the environment (docs/DEPLOY.md):

- `GUNICORN_BIND`: address(es) to listen on, comma separated; default
  `127.0.0.1:8000`, or `0.0.0.0:$PORT` when `PORT` is set (platforms that set it);
- `WEB_CONCURRENCY`: worker processes; default 2 × cores + 1, at most 8;
- `GUNICORN_THREADS`: threads per worker, default 1 (more switches to gthread);
- `GUNICORN_TIMEOUT`: seconds a request may take before its worker is replaced (30);
- `GUNICORN_GRACEFUL_TIMEOUT`: seconds workers get to finish on stop or reload (25);
- `GUNICORN_MAX_REQUESTS`: requests before a worker is replaced, with jitter (2000);
- `LOG_FORMAT=json`: access and error log lines as JSON objects (default `text`).

The access log goes to stdout, gunicorn's own messages and Django's to stderr.
With LOG_FORMAT=json each access line carries the request id the portal set
(X-Request-ID) and the path without secrets (config.logs.scrub).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gunicorn import glogging

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # gunicorn reads this file before it imports the app
    sys.path.insert(0, str(ROOT))

from config.logs import JsonFormatter, scrub  # noqa: E402


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "config.wsgi:application"
chdir = str(ROOT)
proc_name = "smsdesk-web"
_default_bind = f"0.0.0.0:{os.environ['PORT']}" if os.environ.get("PORT") else "127.0.0.1:8000"
bind = [b.strip() for b in os.environ.get("GUNICORN_BIND", _default_bind).split(",")]
workers = _int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# nginx buffers slow clients, so sync workers only ever wait on Django itself.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
keepalive = 5
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# Gunicorn 25+ opens a control socket in $HOME by default; several instances
# (and tests) on one host would share it. systemd uses signals instead.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


class JsonLogger(glogging.Logger):
    """Gunicorn's logger writing JSON lines: one object per request in the access log."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        http = access_fields(resp, environ, request_time)
        request_id = _header(resp.headers, "x-request-id")
        self.access_log.info(
            "%s %s %s",
            http["method"],
            http["path"],
            http["status"],
            extra={"http": http, "request_id": request_id},
        )


def access_fields(resp, environ: dict, request_time) -> dict:
    """Return the access-log fields of one request: no query string values that could
    hold a secret, no cookies, no request body."""
    status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
    fields = {
        "method": environ.get("REQUEST_METHOD"),
        "path": scrub(environ.get("PATH_INFO", "")),
        "status": int(status),
        "bytes": getattr(resp, "sent", None),
        "duration_ms": round(request_time.total_seconds() * 1000, 1),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }
    if environ.get("QUERY_STRING"):
        fields["query"] = scrub("?" + environ["QUERY_STRING"])[1:]
    if environ.get("HTTP_X_FORWARDED_FOR"):
        fields["forwarded_for"] = environ["HTTP_X_FORWARDED_FOR"]
    return fields


def _header(headers, name: str) -> str | None:
    for key, value in headers or ():
        if key.lower() == name:
            return value
    return None


if os.environ.get("LOG_FORMAT", "text") == "json":
    logger_class = JsonLogger
