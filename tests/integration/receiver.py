"""A real HTTP receiver for callback tests: records every request, verifies every signature independently, fails on cue."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    verified: bool
    error: str | None = None

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


#: Decides the answer to one request: ``(status, headers, body)``.
Responder = Callable[[Received], tuple[int, dict[str, str], bytes]]


def ok(_: Received) -> tuple[int, dict[str, str], bytes]:
    return 200, {}, b'{"ok": true}'


class Receiver:
    """A threaded ``http.server`` on 127.0.0.1 that can be stopped ("down") and started again on the same port."""

    def __init__(self, secret: str, port: int) -> None:
        self.secret = secret
        self.port = port
        self.requests: list[Received] = []
        self.responder: Responder = ok
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._failures: list[tuple[int, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 500, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, headers or {})] * count)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                error = None
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError as exc:
                    verified, error = False, str(exc)
                received = Received(self.path, headers, body, time.monotonic(), 0, verified, error)
                with receiver._lock:
                    if receiver._failures:
                        status, extra = receiver._failures.pop(0)
                        answer = (status, extra, b'{"error": "scripted failure"}')
                    else:
                        answer = receiver.responder(received)
                    received.status = answer[0]
                    receiver.requests.append(received)
                self.send_response(answer[0])
                for key, value in answer[1].items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer[2])))
                self.end_headers()
                self.wfile.write(answer[2])

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self, path: str | None = None, *, status: int | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if (path is None or r.path == path) and (status is None or r.status == status)]

    def delivered_ids(self) -> list[str]:
        """webhook-ids of the requests answered 2xx, in order (duplicates kept, so tests can count them)."""
        return [r.webhook_id for r in self.received() if 200 <= r.status < 300]
