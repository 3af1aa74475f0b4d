"""Domain errors: each carries the HTTP status and error code the API maps it to."""

from __future__ import annotations

from typing import Any


class SmvmError(Exception):
    """Base of every error SMVM raises on purpose.

    ``status`` and ``code`` let the one API error handler answer without knowing each class.
    """

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, run_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.run_id = run_id


class ConfigurationError(SmvmError):
    code = "CONFIGURATION_ERROR"


class RequestValidationError(SmvmError):
    """The payload is malformed; ``details`` maps each offending field to its messages."""

    status = 400
    code = "VALIDATION_ERROR"


class UnsupportedMediaTypeError(SmvmError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class RunNotFoundError(SmvmError):
    status = 404
    code = "NOT_FOUND"


class ArtifactNotFoundError(SmvmError):
    status = 404
    code = "ARTIFACT_NOT_FOUND"


class RunConflictError(SmvmError):
    """A run_id reused with a different payload."""

    status = 409
    code = "RUN_CONFLICT"


class InvalidTransitionError(SmvmError):
    status = 409
    code = "INVALID_TRANSITION"


class StageFailedError(SmvmError):
    """A stage hit a permanent problem (bad data, a bug): retrying would fail the same way."""

    code = "STAGE_FAILED"


class DependencyUnavailableError(SmvmError):
    status = 503
    code = "SERVICE_UNAVAILABLE"


class AuthenticationError(SmvmError):
    """Missing, malformed, unknown, expired or revoked bearer token (401 with WWW-Authenticate)."""

    status = 401
    code = "UNAUTHORIZED"


class PermissionDeniedError(SmvmError):
    status = 403
    code = "FORBIDDEN"


class IdempotencyKeyReusedError(SmvmError):
    """The Idempotency-Key was used before with a different request."""

    status = 409
    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyInUseError(SmvmError):
    """A request with this Idempotency-Key is still being processed."""

    status = 409
    code = "IDEMPOTENCY_KEY_IN_USE"


class MaintenanceError(SmvmError):
    """Writes are paused (maintenance); ``retry_after`` says for how many seconds."""

    status = 503
    code = "MAINTENANCE"

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
