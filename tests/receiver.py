"""A local callback receiver (the Edge Function's stand-in): records every delivery, can fail on purpose."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class CallbackReceiver:
    def __init__(self, fail_first: int = 0, fail_status: int = 503, retry_after: str | None = None):
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> "CallbackReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    failing = len(receiver.deliveries) < receiver.fail_first
                    status = receiver.fail_status if failing else 200
                    receiver.deliveries.append(Delivery(self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                if failing and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/functions/v1/report-callback"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def successful(self) -> list[Delivery]:
        return [d for d in self.received() if 200 <= d.answered < 300]
