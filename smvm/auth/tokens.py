"""Token lifecycle and authentication: tokens are random, shown once, and stored only as SHA-256 hashes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import hashlib
import hmac
import re
import secrets
from typing import Any

from smvm.errors import AuthenticationError, PermissionDeniedError, RequestValidationError
from smvm.store.db import Database

SCOPES = ("runs:read", "runs:write", "runs:admin")
TOKEN_PREFIX = "smvm_"
_PROJECT_PATTERN = re.compile(r"[A-Za-z0-9*][A-Za-z0-9_.*-]{0,63}")


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: a token's identity, scopes and the projects it may touch."""

    token_id: str
    name: str
    scopes: tuple[str, ...]
    projects: tuple[str, ...]

    def has_scope(self, scope: str) -> bool:
        # runs:admin implies every other scope; write does not imply read (a submit-only client is legitimate).
        return scope in self.scopes or "runs:admin" in self.scopes

    def allows_project(self, project_id: str) -> bool:
        return any(fnmatch.fnmatchcase(project_id, pattern) for pattern in self.projects)

    def require_scope(self, scope: str) -> None:
        """:raises PermissionDeniedError: when the token lacks ``scope``."""
        if not self.has_scope(scope):
            raise PermissionDeniedError(f"token lacks the {scope} scope", details={"required_scope": scope})

    def sql_project_patterns(self) -> list[str]:
        """The project patterns as SQL LIKE patterns (``*`` → ``%``, literal ``_`` and ``%`` escaped)."""
        return [p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%") for p in self.projects]


def _stale_before() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _validate(scopes: list[str], projects: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        errors["scopes"] = [f"Must be a non-empty subset of {', '.join(SCOPES)}."]
    bad = [p for p in projects if not _PROJECT_PATTERN.fullmatch(p)]
    if not projects or bad:
        errors["projects"] = ["Must be project ids or patterns with '*' (letters, digits, '_', '.', '-')."]
    if errors:
        raise RequestValidationError("Invalid token definition.", details=errors)


class TokenStore:
    """Create, list, revoke and check API tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, scopes: list[str], projects: list[str], *, expires_at: dt.datetime | None = None
    ) -> tuple[str, dict[str, Any]]:
        """:returns: ``(raw_token, row)``; the raw token is never stored and cannot be shown again."""
        _validate(scopes, projects)
        token_id = secrets.token_hex(6)
        raw = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO api_tokens (token_id, name, token_hash, scopes, projects, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING token_id, name, scopes, projects, created_at, expires_at",
                (token_id, name, hash_token(raw), scopes, projects, expires_at),
            )
            return raw, cur.fetchone()

    def list(self) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT token_id, name, scopes, projects, created_at, expires_at, revoked_at, last_used_at"
                " FROM api_tokens ORDER BY created_at"
            )
            return list(cur.fetchall())

    def revoke(self, token_id: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL", (token_id,)
            )
            return cur.rowcount == 1

    def authenticate(self, authorization: str | None) -> Principal:
        """Check an ``Authorization`` header value.

        :raises AuthenticationError: missing, malformed, unknown, expired or revoked; ``details.reason`` says which.
        """
        if not authorization:
            raise AuthenticationError("Bearer token required.", details={"reason": "missing_token"})
        scheme, _, raw = authorization.partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
            raise AuthenticationError("Malformed bearer token.", details={"reason": "invalid_token"})
        digest = hash_token(raw)
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT token_id, name, token_hash, scopes, projects, expires_at, revoked_at, last_used_at"
                " FROM api_tokens WHERE token_hash = %s",
                (digest,),
            )
            row = cur.fetchone()
            if row is not None and (row["last_used_at"] is None or row["last_used_at"] < _stale_before()):
                # At most one write a minute per token: a burst of calls must not queue on one hot row.
                cur.execute("UPDATE api_tokens SET last_used_at = now() WHERE token_id = %s", (row["token_id"],))
        # The lookup is by hash, so timing reveals nothing about the secret; compare anyway to be explicit.
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            raise AuthenticationError("Unknown bearer token.", details={"reason": "invalid_token"})
        if row["revoked_at"] is not None:
            raise AuthenticationError("Token has been revoked.", details={"reason": "revoked_token"})
        if row["expires_at"] is not None and row["expires_at"] <= dt.datetime.now(dt.UTC):
            raise AuthenticationError("Token has expired.", details={"reason": "expired_token"})
        return Principal(row["token_id"], row["name"], tuple(row["scopes"]), tuple(row["projects"]))

    def audit(self, entry: dict[str, Any]) -> None:
        columns = ", ".join(entry)
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO audit_log ({columns}) VALUES ({', '.join(['%s'] * len(entry))})", list(entry.values())
            )
