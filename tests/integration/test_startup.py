"""Production refuses unsafe defaults at start-up: the web, every worker and beat without SMVM_WEBHOOK_SECRET, and
Flower with a default or placeholder login. Each is the real process, started as the Procfile starts it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.integration import harness

pytestmark = pytest.mark.integration


@pytest.fixture
def production_env(own_redis_url: str, tmp_path) -> dict[str, str]:
    """Everything production needs except the webhook secret (the database is never reached: they stop first)."""
    return {
        "PATH": str(harness.BIN) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SMVM_ENV": "production",
        "SMVM_ENV_FILE": "",
        "SMVM_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/never-reached",
        "SMVM_REDIS_URL": own_redis_url,
        "SMVM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SMVM_TRACTIONBUILD_BASE_URL": "https://tractionbuild.example.com",
        "SMVM_PROBE_DIR": str(tmp_path / "probes"),
        "SMVM_BIND": f"127.0.0.1:{harness.free_port()}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=harness.ROOT, env=env, capture_output=True, text=True, timeout=90, check=False)


def _argv(role: str, tmp_path: Path) -> list[str]:
    # Beat gets a schedule file of its own: it deletes and recreates a schedule file it cannot read.
    return {
        "web": [str(harness.BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "api.wsgi:application"],
        "worker": [str(harness.BIN / "celery"), "-A", "workers.celery_app", "worker", "--queues", "smvm.callbacks",
                   "--pool", "solo", "--without-mingle", "--without-gossip"],
        "beat": [str(harness.BIN / "celery"), "-A", "workers.celery_app", "beat", "--schedule",
                 str(tmp_path / "beat-schedule")],
    }[role]


@pytest.mark.parametrize("role", ["web", "worker", "beat"])
def test_each_process_refuses_to_start_in_production_without_the_webhook_secret(role, production_env, tmp_path) -> None:
    result = _run(_argv(role, tmp_path), production_env)
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "missing required configuration: SMVM_WEBHOOK_SECRET" in result.stdout + result.stderr


@pytest.mark.parametrize("login", [None, "admin:admin", "oncall:CHANGE-ME"])
def test_flower_refuses_a_default_login_in_production(login, production_env) -> None:
    env = {**production_env, "SMVM_WEBHOOK_SECRET": "whsec_c2VjcmV0LWZvci1mbG93ZXItdGVzdA=="}
    if login:
        env["SMVM_FLOWER_BASIC_AUTH"] = login
    result = _run([str(harness.BIN / "python"), "-m", "workers.flower", "--persistent=False"], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "SMVM_FLOWER_BASIC_AUTH" in result.stderr
