"""``python -m workers.flower [flower options]``: Flower, refusing a default or placeholder login outside development.

The Procfile and every deploy file start Flower this way. The login reaches Flower through its FLOWER_BASIC_AUTH
variable rather than the command line, where any local user could read it in the process list.
"""

from __future__ import annotations

import os
import sys

from smvm.config import Settings
from smvm.errors import ConfigurationError

#: Logins shipped in examples and docs (and common defaults): never good enough outside development.
_PLACEHOLDER_PASSWORDS = frozenset({"admin", "password", "change-me", "changeme", "secret", "flower"})
MIN_PASSWORD_LENGTH = 8


def basic_auth(settings: Settings) -> str:
    """The ``user:password`` Flower must require.

    :raises ConfigurationError: outside development, when SMVM_FLOWER_BASIC_AUTH is unset, malformed, or a
        default, placeholder or short password; in development an unset value falls back to ``admin:admin``.
    """
    value = (settings.flower_basic_auth or "").strip()
    if settings.is_development:
        return value or "admin:admin"
    user, _, password = value.partition(":")
    if not user or not password:
        raise ConfigurationError("SMVM_FLOWER_BASIC_AUTH must be set to user:password outside development")
    if (password.lower() in _PLACEHOLDER_PASSWORDS or password.lower() == user.lower()
            or len(password) < MIN_PASSWORD_LENGTH):
        raise ConfigurationError(
            "SMVM_FLOWER_BASIC_AUTH holds a default or placeholder login; set a real password "
            f"(at least {MIN_PASSWORD_LENGTH} characters, not the user name)"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    """Check the login, then become ``celery -A workers.celery_app flower`` (same PID, for honcho and systemd)."""
    settings = Settings.from_environ()
    try:
        login = basic_auth(settings)
    except ConfigurationError as exc:
        print(f"smvm: {exc.message} (SMVM_ENV={settings.env})", file=sys.stderr)
        return 2
    env = {**os.environ, "FLOWER_BASIC_AUTH": login}
    args = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "flower", f"--port={settings.flower_port}",
            *(sys.argv[1:] if argv is None else argv)]
    os.execve(sys.executable, args, env)
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":  # pragma: no cover - the Procfile's entry point
    sys.exit(main())
