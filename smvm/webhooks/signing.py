"""Standard Webhooks signing: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` over the exact bytes sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_webhook_id() -> str:
    """A message id with no dots (the spec forbids them, they delimit the signed content)."""
    return f"msg_{secrets.token_hex(16)}"


def secret_bytes(secret: str) -> bytes:
    """Decode a ``whsec_``-prefixed base64 secret; a bare base64 string is accepted too."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    # Unpadded base64 is common in secrets copied around; accept it as the reference library does.
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    if "." in webhook_id:
        raise ValueError("webhook-id must not contain '.'")
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def active_secrets(setting: str) -> list[str]:
    """``SMVM_WEBHOOK_SECRET`` may hold several comma-separated secrets (newest first) while a rotation is under way."""
    return [part.strip() for part in setting.split(",") if part.strip()]


def sign_all(secrets_setting: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,`` signature per active secret, space-separated as the spec allows; a receiver accepts any match."""
    return " ".join(sign(secret, webhook_id, timestamp, body) for secret in active_secrets(secrets_setting))


def new_secret() -> str:
    """A fresh ``whsec_`` secret of 32 random bytes (``smvm secrets rotate``)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(
    secret: str, webhook_id: str, timestamp: int, body: bytes, correlation_id: str | None
) -> dict[str, str]:
    """Every header of one attempt: the three Standard Webhooks headers, content type and correlation id.

    ``secret`` is the setting's value: one secret, or several comma-separated during a rotation.
    """
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_all(secret, webhook_id, timestamp, body),
        "user-agent": "smvm-webhooks/1",
    }
    if correlation_id:
        headers["x-correlation-id"] = correlation_id
    return headers
