"""``smvm mock-tractionbuild``: a small real HTTP server (stdlib) answering as TractionBuild's handlers do."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from smvm.webhooks.signing import active_secrets

_RESULTS_PATH = re.compile(r"^/api/v1/projects/(?P<project_id>[^/]+)/validation-results$")
ROUTES = ("/validation/update", "/validation/alert", "/api/v1/projects/{project_id}/validation-results")


@dataclasses.dataclass
class Received:
    """One request as the stand-in saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None
    status: int
    answer: dict[str, Any]

    def json(self) -> Any:
        return json.loads(self.body)


class StandIn:
    """State shared by the handler threads: secrets, scripted failures and everything received."""

    def __init__(self, secrets_setting: str = "", *, fail: int = 0, fail_rate: float = 0.0,
                 fail_status: int = 503, out: TextIO | None = None, seed: int | None = None) -> None:
        self.secrets = active_secrets(secrets_setting)
        self.fail_remaining = fail
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self.out = out
        self.received: list[Received] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: dict[str, str]) -> bool | None:
        """``None`` when no secret is configured (nothing to check); else whether any secret verifies."""
        if not self.secrets:
            return None
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def _should_fail(self) -> bool:
        with self._lock:
            if self.fail_remaining > 0:
                self.fail_remaining -= 1
                return True
            return self.fail_rate > 0 and self._random.random() < self.fail_rate

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """The answer to one request; records it and prints it when ``out`` is set."""
        if method == "GET":
            status, answer = (200, {"status": "ok", "service": "tractionbuild-standin"}) if path == "/health" else (
                404, {"error": "NOT_FOUND"})
            return status, answer
        verified: bool | None = None
        match = _RESULTS_PATH.match(path)
        if path not in ("/validation/update", "/validation/alert") and match is None:
            status, answer = 404, {"error": "NOT_FOUND", "routes": list(ROUTES)}
        else:
            verified = self.verify(body, headers)
            if verified is False:
                status, answer = 401, {"error": "INVALID_SIGNATURE"}
            elif self._should_fail():
                status, answer = self.fail_status, {"error": "SCRIPTED_FAILURE"}
            elif match is not None:
                status, answer = 200, {"reference_id": f"ref_{secrets.token_hex(8)}", "status": "stored"}
            else:
                status, answer = 200, {"status": "acknowledged"}
        entry = Received(method, path, headers, body, verified, status, answer)
        with self._lock:
            self.received.append(entry)
        if self.out is not None:
            self.out.write(describe(entry) + "\n")
            self.out.flush()
        return status, answer


def describe(entry: Received) -> str:
    """One readable block per request: when, route, signature check, answer, and the payload's key fields."""
    at = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
    check = {True: "signature ok", False: "SIGNATURE INVALID", None: "signature not checked"}[entry.verified]
    lines = [f"[{at}] {entry.method} {entry.path}  {check}  -> {entry.status} {json.dumps(entry.answer)}"]
    try:
        payload = entry.json()
    except ValueError:
        return lines[0] + f"\n    (body is not JSON, {len(entry.body)} bytes)"
    if isinstance(payload, dict):
        keys = ("run_id", "sequence", "event", "status", "step_name", "current_stage", "progress", "alert_type", "mode",
                "project_id")
        shown = {key: payload[key] for key in keys if key in payload}
        if isinstance(payload.get("decision"), dict):
            shown["decision"] = {k: payload["decision"].get(k) for k in ("recommendation", "confidence")}
        if isinstance(payload.get("files"), dict):
            shown["files"] = sorted(name for name, value in payload["files"].items() if value is not None)
        lines.append("    " + json.dumps(shown, default=str))
    lines.append(f"    webhook-id={entry.headers.get('webhook-id', '-')}")
    return "\n".join(lines)


def make_server(standin: StandIn, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A threaded server bound to ``host:port`` (0 picks a free port: read ``server.server_address``)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "tractionbuild-standin/1"

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, answer = standin.handle(method, self.path.split("?", 1)[0], headers, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # describe() already prints every request readably

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve(standin: StandIn, host: str, port: int) -> None:  # pragma: no cover - the CLI's foreground loop
    server = make_server(standin, host, port)
    print(f"TractionBuild stand-in on http://{host}:{server.server_address[1]}  routes: GET /health, "
          + ", ".join(f"POST {route}" for route in ROUTES), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
