"""smvm.logs: one masked JSON object per line, with context from contextvars and from extra=."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from smvm import logs
from smvm.config import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = logs.configure_logging(Settings(env="test", log_level="INFO"), service="worker", stream=buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logs.clear()


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_one_json_object_per_line_with_context_and_extras(stream: io.StringIO) -> None:
    logs.bind(correlation_id="CORR-1", task_id="T-1", task_name="smvm.stage.decision_analysis")
    logging.getLogger("smvm.test").warning("smvm.stage.failed", extra={"run_id": "RUN-1", "stage": "x", "attempt": 2})
    (line,) = _lines(stream)
    assert list(line)[:6] == ["ts", "level", "logger", "msg", "service", "env"]
    assert line["msg"] == "smvm.stage.failed" and line["level"] == "warning" and line["service"] == "worker"
    assert line["ts"].endswith("Z") and line["env"] == "test"
    assert {k: line[k] for k in ("correlation_id", "run_id", "stage", "attempt", "task_id", "task_name")} == {
        "correlation_id": "CORR-1", "run_id": "RUN-1", "stage": "x", "attempt": 2, "task_id": "T-1",
        "task_name": "smvm.stage.decision_analysis",
    }


def test_pii_is_masked_in_message_args_extras_and_exceptions(stream: io.StringIO) -> None:
    try:
        raise ValueError("bad submitter bob@example.com")
    except ValueError:
        logging.getLogger("smvm.test").exception(
            "contact %s at %s", "alice@example.com", "+44 20 7946 0958",
            extra={"error": "card 4111 1111 1111 1111", "payload": {"who": ["carol@example.org"]}},
        )
    text = stream.getvalue()
    for secret in ("alice@example.com", "7946 0958", "4111 1111", "carol@example.org", "bob@example.com"):
        assert secret not in text
    (line,) = _lines(stream)
    assert line["msg"] == "contact [EMAIL] at [PHONE]"
    assert line["payload"] == {"who": ["[EMAIL]"]} and "ValueError: bad submitter [EMAIL]" in line["exc"]


def test_clear_forgets_bound_fields_and_level_comes_from_settings(stream: io.StringIO) -> None:
    logs.bind(run_id="RUN-1")
    logs.clear()
    logging.getLogger("smvm.test").debug("smvm.test.hidden")
    logging.getLogger("smvm.test").info("smvm.test.shown")
    (line,) = _lines(stream)
    assert line["msg"] == "smvm.test.shown" and "run_id" not in line


def test_configure_logging_is_idempotent(stream: io.StringIO) -> None:
    logs.configure_logging(Settings(env="test"), service="worker", stream=stream)
    logging.getLogger("smvm.test").info("smvm.test.once")
    assert len(_lines(stream)) == 1


@pytest.mark.parametrize("detailed", [True, False])
def test_detailed_logging_flag_turns_on_our_debug_lines_only(detailed: bool) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    settings = Settings(env="test", log_level="INFO", detailed_logging=detailed)
    handler = logs.configure_logging(settings, service="api", stream=buffer)
    try:
        logging.getLogger("smvm.runs.execution").debug("smvm.stage.detail", extra={"note": "mail jane@example.com"})
        logging.getLogger("urllib3.connectionpool").debug("library chatter")
    finally:
        root.removeHandler(handler)
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name in ("smvm", "api", "workers"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    lines = _lines(buffer)
    assert [line["msg"] for line in lines] == (["smvm.stage.detail"] if detailed else [])
    assert "jane@example.com" not in buffer.getvalue(), "detailed lines are still masked"
