"""workers.signals: the correlation id travels publisher → headers → task context, and task context is cleared."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from smvm import logs
from workers import signals

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_context():
    logs.clear()
    yield
    logs.clear()


def test_publish_copies_the_bound_correlation_id_and_masks_argument_reprs() -> None:
    logs.bind(correlation_id="CORR-7")
    headers = {"argsrepr": "('RUN-1', 'bob@example.com')", "kwargsrepr": "{'phone': '+44 20 7946 0958'}"}
    signals.propagate_correlation_id(headers=headers)
    assert headers["smvm_correlation_id"] == headers["correlation_id"] == "CORR-7"
    assert headers["argsrepr"] == "('RUN-1', '[EMAIL]')" and headers["kwargsrepr"] == "{'phone': '[PHONE]'}"


def test_publish_without_a_bound_id_adds_no_header() -> None:
    headers = {"argsrepr": "('RUN-1',)"}
    signals.propagate_correlation_id(headers=headers)
    assert headers == {"argsrepr": "('RUN-1',)"}


def test_prerun_binds_ids_from_the_message_and_postrun_clears_them() -> None:
    logs.bind(run_id="stale")  # left over from a previous task in this child
    task = SimpleNamespace(name="smvm.stage.market_simulation", request=SimpleNamespace(smvm_correlation_id="CORR-9"))
    signals.bind_task_context(task_id="RUN-2.market_simulation.ab", task=task, args=("RUN-2",))
    assert dict(logs.current()) == {
        "task_id": "RUN-2.market_simulation.ab", "task_name": "smvm.stage.market_simulation",
        "correlation_id": "CORR-9", "run_id": "RUN-2", "stage": "market_simulation",
    }
    signals.clear_task_context(state="SUCCESS")
    assert dict(logs.current()) == {}


def test_prerun_of_a_non_stage_task_binds_no_run() -> None:
    task = SimpleNamespace(name="smvm.callbacks.deliver", request=SimpleNamespace())
    signals.bind_task_context(task_id="t-1", task=task, args=(42,))
    assert dict(logs.current()) == {"task_id": "t-1", "task_name": "smvm.callbacks.deliver"}
