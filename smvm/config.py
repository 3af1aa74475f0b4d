"""Typed settings built from ``SMVM_*`` environment variables: the only module that reads the environment."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from smvm.errors import ConfigurationError

ENVIRONMENTS = ("production", "staging", "development", "test")


def _coerce_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _coerce_floats(value: str) -> tuple[float, ...]:
    return tuple(float(part) for part in value.split(",") if part.strip())


def _coerce_strings(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every tunable of SMVM. Build it with :meth:`from_environ`; tests pass their own values."""

    env: str = "production"
    database_url: str | None = None
    broker_url: str | None = None
    redis_url: str | None = None
    runs_dir: Path = Path("runs")
    public_base_url: str = "http://127.0.0.1:8000"
    tractionbuild_base_url: str | None = None
    webhook_secret: str | None = None
    log_level: str = "INFO"

    db_pool_min: int = 1
    db_pool_max: int = 10
    db_connect_timeout: int = 5

    max_iterations: int = 1_000_000

    # Celery time limits; the visibility timeout must exceed the longest hard limit or Redis
    # re-delivers a still-running stage to a second worker (see shared/reference, section 1.2).
    stage_soft_time_limit: int = 300
    stage_time_limit: int = 360
    broker_visibility_timeout: int = 900
    stage_max_attempts: int = 5
    stage_heartbeat_seconds: float = 10.0
    stage_stale_after_seconds: float = 60.0
    stage_unstarted_after_seconds: float = 60.0
    sweeper_interval_seconds: float = 30.0

    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    webhook_timeout_seconds: float = 30.0
    breaker_failure_threshold: int = 5
    breaker_cooldown_seconds: float = 30.0
    callback_allow_http: bool = False
    callback_allowed_hosts: tuple[str, ...] = ()
    # How often beat looks for due or abandoned deliveries (the durable path; countdowns are the fast path).
    delivery_poll_seconds: float = 5.0
    # A delivery still held (not delivered, not dead) this long after it was recorded or replayed becomes a dead
    # letter: a breaker that never closes or a 410 destination must not hide callbacks for ever.
    webhook_max_hold_hours: float = 24.0
    breaker_redrive_on_close: bool = True
    quality_warning_threshold: float = 0.5
    timeline_slip_factor: float = 1.5

    results_sync_after_days: float = 30.0
    results_sync_hour_utc: int = 2
    retention_days: int = 365
    results_sync_tick_seconds: float = 600.0
    results_sync_catchup_days: int = 7
    # Test-only clock: when set, beat jobs read "now" (ISO 8601) from this file to simulate days passing.
    clock_file: Path | None = None

    # Liveness/readiness files for processes without an HTTP server (workers, beat); see workers/probes.py.
    probe_dir: Path = Path("var/probes")

    # --- Access (see smvm/auth) ---
    auth_required: bool = True
    # /metrics stays open for scrapers unless set false (then it needs a runs:admin token).
    metrics_public: bool = True
    # The seed's per-token limits; any "N/second|minute|hour" string flask-limiter understands.
    rate_limit_create: str = "100/minute"
    rate_limit_status: str = "1000/minute"
    rate_limit_results: str = "100/minute"
    rate_limit_complete: str = "50/minute"
    rate_limit_finalize: str = "20/minute"
    rate_limit_default: str = "300/minute"
    idempotency_retention_hours: float = 48.0
    # Writes answer 503 with Retry-After while set; reads and health keep working.
    maintenance_mode: bool = False
    maintenance_retry_after_seconds: int = 600
    # Recurring windows ("SUN 02:00-04:00", UTC; comma-separated) during which writes get 503; see smvm/maintenance.py.
    maintenance_windows: tuple[str, ...] = ()

    # --- Feature flags (the integration contract's names; see smvm/features) ---
    validation_enabled: bool = True
    async_callbacks: bool = True
    detailed_logging: bool = False
    mock_mode: bool = False

    # --- Integration edges (see smvm/integration_health.py, smvm/allowlist.py) ---
    integration_health_timeout_seconds: float = 3.0
    # Client addresses allowed on the API (CIDRs, comma-separated); empty allows everyone. Health stays open.
    allowed_client_cidrs: tuple[str, ...] = ()
    # How many reverse proxies in front of the API append to X-Forwarded-For (0: use the socket's address).
    trusted_proxy_count: int = 0

    # --- Encryption at rest (see smvm/crypto) ---
    # Fernet keys, comma-separated: the first encrypts, all decrypt. Required outside development.
    encryption_keys: tuple[str, ...] = ()
    # Unset: on outside development. Set false only for a deployment that encrypts its disks another way.
    encryption_enabled: bool | None = None

    # --- Flower (python -m workers.flower; see workers/flower.py) ---
    flower_port: int = 5555
    # "user:password"; required outside development, where a default or placeholder login is refused.
    flower_basic_auth: str | None = None

    @property
    def is_development(self) -> bool:
        return self.env in {"development", "test"}

    @property
    def encrypts_at_rest(self) -> bool:
        return self.encryption_enabled if self.encryption_enabled is not None else not self.is_development

    def require(self, *names: str) -> None:
        """Fail fast at process start when a setting the process needs is missing.

        :raises ConfigurationError: naming every missing ``SMVM_*`` variable at once.
        """
        missing = [f"SMVM_{name.upper()}" for name in names if not getattr(self, name)]
        if missing:
            raise ConfigurationError(f"missing required configuration: {', '.join(missing)}")

    def require_service_secrets(self) -> None:
        """Outside development, a process that serves or signs (the web, every worker, beat) refuses to start
        without the secrets it needs; in development the fixed development secret stands in.

        :raises ConfigurationError: naming each missing ``SMVM_*`` variable.
        """
        if not self.is_development:
            self.require("webhook_secret")

    def with_overrides(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``SMVM_*`` variables, coerce their types and apply environment-dependent defaults.

        :raises ConfigurationError: on an unparsable value or a secret missing outside development.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        errors: list[str] = []
        for field in dataclasses.fields(cls):
            raw = environ.get(f"SMVM_{field.name.upper()}")
            if raw is None:
                continue
            try:
                values[field.name] = _coerce(field.type, raw)
            except ValueError as exc:
                errors.append(f"SMVM_{field.name.upper()}: {exc}")
        if errors:
            raise ConfigurationError("; ".join(errors))
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.env not in ENVIRONMENTS:
            raise ConfigurationError(f"SMVM_ENV must be one of {', '.join(ENVIRONMENTS)}, not {settings.env!r}")
        if not settings.runs_dir.is_absolute():
            # Fixed once, against this process's working directory: the runs table, the T0 answer and the logs then
            # name one directory, and a CLI started elsewhere (`smvm erase`) is not silently pointed at another.
            settings = settings.with_overrides(runs_dir=settings.runs_dir.absolute())
        if settings.broker_url is None and settings.redis_url:
            settings = settings.with_overrides(broker_url=settings.redis_url)
        if settings.webhook_secret is None and settings.is_development:
            # A fixed development secret keeps local callbacks verifiable; production must set its own.
            settings = settings.with_overrides(webhook_secret="whsec_ZGV2ZWxvcG1lbnQtb25seS1zZWNyZXQtMzJieXRlcw==")
        return settings


#: The file the ``smvm`` command and the make targets read settings from, in the working directory.
ENV_FILE = ".env"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file, as ``set -a; . ./.env`` reads the plain ones it holds: comments and
    blank lines skipped, an optional ``export``, values optionally in single or double quotes. No expansion.

    :raises ConfigurationError: on a line that is not ``KEY=value``.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ConfigurationError(f"{path}:{number}: not KEY=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()  # a comment after an unquoted value, as the shell reads it
        values[key] = value
    return values


def environ_with_env_file(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> dict[str, str]:
    """The environment completed by the ``.env`` file in ``cwd`` (``SMVM_ENV_FILE`` names another, empty for none).

    A variable already in the environment wins over the file, so ``SMVM_X=... smvm ...`` does what it says; the
    make targets pass the file through this same function (``smvm env --export``), so they all read it alike.
    """
    environ = dict(os.environ if environ is None else environ)
    name = environ.get("SMVM_ENV_FILE", ENV_FILE)
    if not name:
        return environ
    path = Path(name) if Path(name).is_absolute() else (cwd or Path.cwd()) / name
    if not path.is_file():
        return environ
    return {**read_env_file(path), **environ}


def _coerce(annotation: object, raw: str) -> object:
    kind = str(annotation)
    if kind.startswith("bool"):
        return _coerce_bool(raw)
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    if kind.startswith("Path"):
        return Path(raw)
    if kind.startswith("tuple[float"):
        return _coerce_floats(raw)
    if kind.startswith("tuple[str"):
        return _coerce_strings(raw)
    return raw or None
