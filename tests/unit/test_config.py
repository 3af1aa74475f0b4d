from __future__ import annotations

import re
from pathlib import Path

import pytest

from smvm.config import Settings
from smvm.errors import ConfigurationError

pytestmark = pytest.mark.unit


def test_defaults_are_production_with_no_secrets() -> None:
    settings = Settings.from_environ({})
    assert settings.env == "production"
    assert settings.webhook_secret is None and settings.database_url is None


def test_values_are_coerced() -> None:
    settings = Settings.from_environ({
        "SMVM_ENV": "development",
        "SMVM_RUNS_DIR": "/tmp/x",
        "SMVM_DB_POOL_MAX": "7",
        "SMVM_SWEEPER_INTERVAL_SECONDS": "2.5",
        "SMVM_WEBHOOK_RETRY_DELAYS": "0.1,0.2",
        "SMVM_CALLBACK_ALLOW_HTTP": "yes",
        "SMVM_CALLBACK_ALLOWED_HOSTS": "127.0.0.1, localhost",
        "SMVM_REDIS_URL": "redis://r:6379/1",
    })
    assert settings.runs_dir == Path("/tmp/x")
    assert settings.db_pool_max == 7
    assert settings.sweeper_interval_seconds == 2.5
    assert settings.webhook_retry_delays == (0.1, 0.2)
    assert settings.callback_allow_http is True
    assert settings.callback_allowed_hosts == ("127.0.0.1", "localhost")
    assert settings.broker_url == "redis://r:6379/1", "the broker defaults to the Redis URL"
    assert settings.webhook_secret, "development gets a fixed secret"


def test_a_relative_runs_dir_is_fixed_against_the_working_directory(tmp_path, monkeypatch) -> None:
    # Stored in runs.run_dir and in the T0 answer: a relative value would mean another directory to each process
    # (or `smvm erase`) started somewhere else.
    monkeypatch.chdir(tmp_path)
    assert Settings.from_environ({"SMVM_RUNS_DIR": "var/runs"}).runs_dir == tmp_path / "var" / "runs"
    assert Settings.from_environ({}).runs_dir == tmp_path / "runs"


@pytest.mark.parametrize(("environ", "message"), [
    ({"SMVM_DB_POOL_MAX": "many"}, "SMVM_DB_POOL_MAX"),
    ({"SMVM_CALLBACK_ALLOW_HTTP": "perhaps"}, "SMVM_CALLBACK_ALLOW_HTTP"),
    ({"SMVM_ENV": "prod"}, "SMVM_ENV"),
])
def test_bad_values_fail_at_startup(environ, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_environ(environ)


def test_require_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="SMVM_DATABASE_URL, SMVM_BROKER_URL"):
        Settings().require("database_url", "broker_url")


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    import dataclasses

    missing = [f"SMVM_{f.name.upper()}" for f in dataclasses.fields(Settings) if f"SMVM_{f.name.upper()}" not in example]
    assert not missing


def test_readme_documents_every_setting() -> None:
    import dataclasses

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [f"SMVM_{f.name.upper()}" for f in dataclasses.fields(Settings) if f"`SMVM_{f.name.upper()}`" not in readme]
    assert not missing


@pytest.mark.parametrize("env", ["production", "staging"])
def test_service_processes_need_the_webhook_secret_outside_development(env) -> None:
    with pytest.raises(ConfigurationError, match="SMVM_WEBHOOK_SECRET"):
        Settings(env=env).require_service_secrets()
    Settings(env=env, webhook_secret="whsec_c2VjcmV0").require_service_secrets()


def test_development_signs_with_its_fixed_secret() -> None:
    settings = Settings.from_environ({"SMVM_ENV": "development"})
    assert settings.webhook_secret and settings.webhook_secret.startswith("whsec_")
    settings.require_service_secrets()


def test_env_file_is_read_like_the_shell_reads_plain_assignments(tmp_path) -> None:
    from smvm.config import read_env_file

    env = tmp_path / ".env"
    env.write_text("# a comment\n\nSMVM_ENV=development\nexport SMVM_LOG_LEVEL=DEBUG\n"
                   "SMVM_MAINTENANCE_WINDOWS=\"SUN 02:00-04:00\"\nSMVM_FLOWER_BASIC_AUTH='a:b c'\n"
                   "SMVM_RUNS_DIR=runs  # where runs go\nSMVM_CLOCK_FILE=\n")
    assert read_env_file(env) == {
        "SMVM_ENV": "development", "SMVM_LOG_LEVEL": "DEBUG", "SMVM_MAINTENANCE_WINDOWS": "SUN 02:00-04:00",
        "SMVM_FLOWER_BASIC_AUTH": "a:b c", "SMVM_RUNS_DIR": "runs", "SMVM_CLOCK_FILE": "",
    }
    env.write_text("SMVM_ENV\n")
    with pytest.raises(ConfigurationError, match=":1: not KEY=value"):
        read_env_file(env)


def test_the_environment_wins_over_the_env_file_and_the_file_can_be_switched_off(tmp_path) -> None:
    from smvm.config import environ_with_env_file

    (tmp_path / ".env").write_text("SMVM_DATABASE_URL=postgresql://from-file/db\nSMVM_ENV=development\n")
    merged = environ_with_env_file({"SMVM_ENV": "test"}, cwd=tmp_path)
    assert merged == {"SMVM_DATABASE_URL": "postgresql://from-file/db", "SMVM_ENV": "test"}
    assert environ_with_env_file({"SMVM_ENV_FILE": ""}, cwd=tmp_path) == {"SMVM_ENV_FILE": ""}
    other = tmp_path / "other.env"
    other.write_text("SMVM_LOG_LEVEL=WARNING\n")
    assert environ_with_env_file({"SMVM_ENV_FILE": str(other)}, cwd=tmp_path)["SMVM_LOG_LEVEL"] == "WARNING"
    assert environ_with_env_file({}, cwd=tmp_path / "nowhere") == {}


_VARIABLE = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")
_GROUP = re.compile(r"^# --- (.+?) -+$")


def env_example_entries() -> list[tuple[str | None, str, str, str]]:
    """``(group heading or None, variable, example value, description)`` per variable of .env.example, in order:
    the description is the comment right above the variable (a commented ``# VAR=value`` line counts as one)."""
    entries: list[tuple[str | None, str, str, str]] = []
    group: str | None = None
    comment: list[str] = []
    for line in (Path(__file__).resolve().parents[2] / ".env.example").read_text().splitlines():
        heading, variable = _GROUP.match(line), _VARIABLE.match(line)
        if heading:
            group, comment = heading.group(1), []
        elif variable:
            entries.append((group, variable.group(1), variable.group(2), " ".join(comment)))
            group, comment = None, []
        elif line.startswith("# "):
            comment.append(line[2:])
        else:
            comment = []
    return entries


def test_each_setting_has_its_own_description_in_env_example_and_the_readme() -> None:
    entries = env_example_entries()
    names = [name for _, name, _, _ in entries]
    assert len(names) == len(set(names)), "a variable listed twice"
    descriptions = [description for _, _, _, description in entries]
    assert all(descriptions), [name for _, name, _, description in entries if not description]
    assert len(descriptions) == len(set(descriptions)), "two variables share one description"
    assert all(d.rstrip().endswith((".", ")")) for d in descriptions), "a description ends mid-sentence"
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| `[^`]*` \| (.*) \|$", readme, flags=re.MULTILINE))
    for _, name, _, description in entries:
        assert rows.get(name) == description, f"README's row for {name} differs from .env.example's comment"
    assert {"SMVM_BIND", "SMVM_WEB_CONCURRENCY", "SMVM_FLOWER_PORT", "SMVM_FLOWER_BASIC_AUTH"} <= set(rows)
