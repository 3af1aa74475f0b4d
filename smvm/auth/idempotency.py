"""Idempotency keys: the first request with a key runs; retries get its stored answer (Stripe's semantics)."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import psycopg2
import psycopg2.extras

from smvm.errors import IdempotencyKeyInUseError, IdempotencyKeyReusedError, RequestValidationError
from smvm.store.db import Database

MAX_KEY_LENGTH = 255


@dataclasses.dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()


def validate_key(key: str) -> None:
    """:raises RequestValidationError: for an empty, oversized or non-printable key."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise RequestValidationError(
            "Idempotency-Key must be 1-255 printable ASCII characters.", details={"Idempotency-Key": ["Invalid value."]}
        )


class IdempotencyStore:
    """Keys scoped per client; a key is claimed atomically (INSERT … ON CONFLICT), never SELECT-then-INSERT."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, client: str, key: str, fingerprint: str) -> StoredResponse | None:
        """Claim ``key`` for this request.

        :returns: ``None`` when this request owns the key and should run; the stored response for a retry.
        :raises IdempotencyKeyReusedError: the key was used with a different request.
        :raises IdempotencyKeyInUseError: the first request with this key is still running.
        """
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO idempotency_keys (client, key, fingerprint, state) VALUES (%s, %s, %s, 'IN_PROGRESS')"
                " ON CONFLICT (client, key) DO NOTHING RETURNING key",
                (client, key, fingerprint),
            )
            if cur.fetchone() is not None:
                return None
            cur.execute(
                "SELECT fingerprint, state, response_status, response_body, response_headers FROM idempotency_keys"
                " WHERE client = %s AND key = %s",
                (client, key),
            )
            row = cur.fetchone()
        if row is None:  # pruned between the two statements: treat as new on the client's next try
            raise IdempotencyKeyInUseError("Idempotency-Key is being recycled; retry.", details={"Idempotency-Key": key})
        if row["fingerprint"] != fingerprint:
            raise IdempotencyKeyReusedError(
                "Idempotency-Key was already used with a different request.", details={"Idempotency-Key": key}
            )
        if row["state"] == "IN_PROGRESS":
            raise IdempotencyKeyInUseError(
                "A request with this Idempotency-Key is still in progress.", details={"Idempotency-Key": key}
            )
        return StoredResponse(row["response_status"], bytes(row["response_body"]), dict(row["response_headers"] or {}))

    def complete(self, client: str, key: str, response: StoredResponse) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE idempotency_keys SET state = 'DONE', response_status = %s, response_body = %s,"
                " response_headers = %s WHERE client = %s AND key = %s",
                (response.status, psycopg2.Binary(response.body), psycopg2.extras.Json(response.headers), client, key),
            )

    def release(self, client: str, key: str) -> None:
        """Forget a claim whose request failed on our side (5xx), so the client's retry runs for real."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM idempotency_keys WHERE client = %s AND key = %s AND state = 'IN_PROGRESS'", (client, key))



def replay_headers(headers: dict[str, Any]) -> dict[str, str]:
    return {**{k: str(v) for k, v in headers.items()}, "Idempotent-Replayed": "true"}


