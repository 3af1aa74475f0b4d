"""Fixture hub shared by every test level; integration fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smvm.config import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped integration test is a failure: a silent skip would hide a missing server."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [report for report in (reporter.stats.get("skipped", []) if reporter else [])
               if "integration" in getattr(report, "keywords", {})]
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} integration test(s) skipped; failing the run", red=True)
        session.exitstatus = 1


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", runs_dir=tmp_path / "runs")


@pytest.fixture(scope="session")
def example_body() -> dict[str, Any]:
    return json.loads((EXAMPLES / "idea.json").read_text())


@pytest.fixture
def celery_app_factory() -> Iterator[Callable[[Settings], Any]]:
    """Celery apps built for one test. Building one makes it the process's default app, which is where callback
    hints from in-process code are published; the previous default is put back afterwards, so a later test never
    publishes to a broker (or a Redis db) that is gone."""
    from celery import current_app

    from workers.app import create_celery

    previous = current_app._get_current_object()
    built: list[Any] = []

    def build(settings: Settings) -> Any:
        built.append(create_celery(settings))
        return built[-1]

    yield build
    for app in built:
        app.close()
    # Both: Celery resolves the app a task publishes with from the thread's current app before the default one.
    previous.set_current()
    previous.set_default()
