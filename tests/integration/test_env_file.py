"""`.env` is read one way by every smvm command and make target: the README's `cp .env.example .env` is enough for
`smvm tokens list` and `make migrate`, not only for `make up`."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration import harness

pytestmark = pytest.mark.integration


@pytest.fixture
def env_file(database_url, tmp_path):
    """A .env naming a fresh database, and an environment that names none (as a new shell would)."""
    with harness.throwaway_database(database_url, "smvm_dotenv", migrate=False) as url:
        path = tmp_path / "project.env"
        path.write_text(f"# as in .env.example\nSMVM_ENV=development\nSMVM_DATABASE_URL={url}\n")
        environ = {key: value for key, value in os.environ.items() if not key.startswith("SMVM_")}
        yield {**environ, "SMVM_ENV_FILE": str(path)}


def _run(argv: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=harness.ROOT, env=environ, capture_output=True, text=True, timeout=120, check=False)


def test_make_migrate_and_the_cli_read_the_env_file(env_file) -> None:
    environ = env_file
    migrated = _run(["make", "--no-print-directory", "migrate"], environ)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "applied: 0001_runs" in migrated.stdout
    listed = _run([str(harness.BIN / "smvm"), "tokens", "list"], environ)
    assert listed.returncode == 0, listed.stderr
    created = _run([str(harness.BIN / "smvm"), "tokens", "create", "--name", "dotenv"], environ)
    assert created.returncode == 0 and "smvm_" in created.stdout, created.stderr


def test_the_environment_wins_and_make_targets_get_the_same_values(env_file) -> None:
    environ = env_file
    exported = _run([str(harness.BIN / "smvm"), "env", "--export"], {**environ, "SMVM_ENV": "test"})
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert any(line.startswith("export SMVM_DATABASE_URL=") for line in lines)
    assert not any(line.startswith("export SMVM_ENV=") for line in lines), "a variable already set wins"
    refused = _run([str(harness.BIN / "smvm"), "tokens", "list"],
                   {**environ, "SMVM_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"})
    assert refused.returncode != 0, "the environment's (unreachable) database was used, not the file's"
