"""The sandbox HTTP server: stdlib ThreadingHTTPServer, prefix routing, the
request pipeline (statistics, rate limit, failure injection, handling) and
one log line per request without API keys or query strings.

    server = SandboxServer(config=SandboxConfig(time_scale=50)).start()
    server.base_url      # "http://127.0.0.1:PORT"
    server.state         # the simulated upstream, for direct inspection
    server.stop()
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from providers.sandbox import catalog
from providers.sandbox.config import SandboxConfig
from providers.sandbox.control import Control
from providers.sandbox.faults import Faults
from providers.sandbox.http import Reply, Request, json_reply, text_reply
from providers.sandbox.protocols.base import Protocol
from providers.sandbox.protocols.numpool import NumPool
from providers.sandbox.protocols.smsactivate import SmsActivate
from providers.sandbox.protocols.smscode import SmsCode
from providers.sandbox.protocols.smspool import SmsPool
from providers.sandbox.ratelimit import SlidingWindow
from providers.sandbox.state import SandboxState

log = logging.getLogger("providers.sandbox")

MAX_BODY = 1024 * 1024  # SMSCode's documented cap; a sane one for the others
MAX_DRAIN = 16 * MAX_BODY  # read (and drop) an oversized body up to this size
SANDBOX_HEADER = ("X-Smsdesk-Sandbox", "1")


class SandboxServer:
    """The four provider protocols plus /control on one port."""

    def __init__(self, config: SandboxConfig | None = None, state: SandboxState | None = None):
        self.config = config or (state.config if state else SandboxConfig())
        self.config.validate()
        catalog.warm()  # build the price lists now, not inside the first request
        self.state = state or SandboxState(self.config)
        self.limiter = SlidingWindow()
        self.faults = Faults(self.config)
        self.apps: list[Protocol] = [
            SmsPool(self.state),
            NumPool(self.state),
            SmsCode(self.state),
            SmsActivate(self.state),
        ]
        self.control = Control(self)
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------
    def bind(self) -> SandboxServer:
        """Open the listening socket (port 0 picks a free one) and load saved state."""
        if self.config.state_file and self.state.load_file(self.config.state_file):
            log.info("sandbox state loaded from %s", self.config.state_file)
        self._httpd = _HTTPServer((self.config.host, self.config.port), _Handler)
        self._httpd.sandbox = self
        return self

    def start(self) -> SandboxServer:
        """Serve in a background thread; return self (for tests and embedding)."""
        if self._httpd is None:
            self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until stop() (the management command)."""
        if self._httpd is None:
            self.bind()
        assert self._httpd is not None
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving, wake delayed ("timeout") responses and save state if configured."""
        self.stopping.set()
        for app in self.apps:
            app.close()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            if self._thread is not None:
                httpd.shutdown()
                self._thread.join(timeout=5)
            httpd.server_close()
            httpd.close_connections()  # keep-alive clients must not reach a stopped server
        if self.config.state_file:
            self.state.save_file(self.config.state_file)
            log.info("sandbox state saved to %s", self.config.state_file)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not bound"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def urls(self, base_url: str | None = None) -> dict[str, str]:
        """The base URL to store for each provider kind."""
        base = base_url or self.base_url
        return {
            "smspool": f"{base}/smspool",
            "numpool": f"{base}/numpool/api/v1",
            "smscode": f"{base}/smscode",
            "smsactivate": f"{base}/smsactivate",
            "control": f"{base}/control",
        }

    def url(self, kind: str) -> str:
        return self.urls()[kind]

    # --- the request pipeline ---------------------------------------------------------
    def app_for(self, path: str) -> tuple[Protocol | Control | None, str]:
        """The app serving `path` and the path relative to its prefix."""
        for app in (*self.apps, self.control):
            prefix = app.prefix
            if path == prefix or path.startswith(prefix + "/"):
                rest = path[len(prefix) :]
                return app, (rest.rstrip("/") or "/") if app is not self.control else (rest or "/")
        return None, path

    def dispatch(self, request: Request) -> tuple[Reply, float]:
        """The reply to `request` and how long to hold it back (timeout mode), from the
        catalogue `config.catalog_size` names now (`--set`, /control/config)."""
        with catalog.sized(self.config.catalog_size):
            return self._dispatch(request)

    def _dispatch(self, request: Request) -> tuple[Reply, float]:
        app, request.path = self.app_for(request.path)
        if app is None:
            return json_reply(
                404, {"error": "Unknown sandbox path.", "urls": self.urls(request.base_url)}
            ), 0
        if isinstance(app, Control):
            return app.handle(request), 0
        key, endpoint = app.api_key(request), app.endpoint(request)
        limit = self.config.rate_limit(app.name)
        wait = self.limiter.hit((app.name, key), *limit) if limit and key else None
        self.state.stats.count(app.name, key, endpoint, limited=wait is not None)
        if wait is not None:
            return app.rate_limited(request, wait), 0
        mode = self.faults.pick(app.name, endpoint)
        if mode == "http_500":
            return app.server_error(request), 0
        if mode and mode.startswith("html"):
            return app.html_error(request, self.faults.html_status(mode)), 0
        if mode == "malformed":
            return app.malformed(request), 0
        if mode == "drop":
            return Reply(0, b"", drop=True), 0
        if mode == "http_429":
            return app.rate_limited(request, 1.0), 0
        reply = app.handle(request)
        # The worst cases for a write: the upstream acts, and then the answer comes
        # too late for the caller ("timeout"), late ("slow") or never ("drop_after").
        if mode == "drop_after":
            return Reply(0, b"", drop=True), 0
        delays = {"timeout": self.config.failure_timeout_seconds, "slow": self.config.slow_seconds}
        return reply, delays.get(mode, 0)

    def too_large(self, path: str) -> Reply:
        return text_reply(413, "Request Entity Too Large")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # pollers and benchmarks open many connections at once
    sandbox: SandboxServer

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self.connections_lock:
            if open_:
                self.connections.add(connection)
            else:
                self.connections.discard(connection)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now, self.connections = list(self.connections), set()
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: pollers reuse their connections
    server_version = "smsdesk-sandbox/1.0"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection gives its thread back after this
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr line; `_log` writes a redacted one."""

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        started = time.monotonic()
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._drain(length)
            self.close_connection = True
            self._log(split.path, 413, started)
            self._send(sandbox.too_large(split.path))
            return
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            full_path=split.path,
            query=dict(reversed(parse_qsl(split.query, keep_blank_values=True))),
            headers=self.headers,
            body=body,
            base_url="http://"
            + (self.headers.get("Host") or f"{sandbox.config.host}:{sandbox.port}"),
        )
        try:
            reply, delay = sandbox.dispatch(request)
        except Exception:
            log.exception("sandbox handler failed for %s %s", self.command, split.path)
            reply, delay = text_reply(500, "sandbox error"), 0
        if reply.drop:
            self._drop()
            self._log(split.path, "drop", started)
            return
        if delay and sandbox.stopping.wait(delay):
            self.close_connection = True
        self._log(split.path, reply.status, started)  # before the caller can read the answer
        self._send(reply)

    def _drain(self, length: int) -> None:
        remaining = min(length, MAX_DRAIN)
        while remaining > 0:
            chunk = self.rfile.read(min(65536, remaining))
            if not chunk:
                break
            remaining -= len(chunk)

    def _drop(self) -> None:
        """Close the connection without a byte of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header(*SANDBOX_HEADER)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            # Headers and body in one write: two small writes on a keep-alive
            # connection meet Nagle and delayed ACKs and cost 40 ms a request.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(reply.body)
            self.flush_headers()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the caller gave up (e.g. timed out) first

    def _log(self, path: str, status: object, started: float) -> None:
        if self.server.sandbox.config.log_requests:
            # The path only: SMS-Activate puts api_key in the query string. At DEBUG:
            # the demo shows the portal's one line per sync cycle, not every request.
            log.debug(
                "%s %s %s %.1fms", self.command, path, status, (time.monotonic() - started) * 1000
            )
