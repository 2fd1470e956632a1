"""A local HTTP receiver for webhook tests: records every request, answers as scripted."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Listens on 127.0.0.1 (a free port); `answers` are the status codes of the next
    requests in turn (200 once they run out); `delay` seconds before each answer."""

    def __init__(self, answers: list[int] | None = None, delay: float = 0.0) -> None:
        self.answers = list(answers or [])
        self.delay = delay
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                time.sleep(receiver.delay)
                reply = b"ok" if status < 300 else b"receiver says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/smsdesk"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
