import threading
import time
import types

import pytest

from smvm.runs.execution import _Heartbeats

pytestmark = pytest.mark.unit


class _RecordingStore:
    def __init__(self, interval: float) -> None:
        self.settings = types.SimpleNamespace(stage_heartbeat_seconds=interval)
        self.beats: list[tuple[str, str, int]] = []
        self.beat = threading.Event()

    def heartbeat(self, run_id: str, stage: str, attempt: int) -> bool:
        self.beats.append((run_id, stage, attempt))
        self.beat.set()
        return True


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_one_thread_beats_every_running_stage_until_it_ends() -> None:
    heartbeats = _Heartbeats()
    fast, slow = _RecordingStore(0.02), _RecordingStore(0.05)
    with heartbeats.beating(fast, "RUN-A", "market_simulation", 2):
        beater = heartbeats._thread
        with heartbeats.beating(slow, "RUN-B", "decision_analysis", 1):
            _wait_for(lambda: len(fast.beats) >= 3 and len(slow.beats) >= 1)
            assert heartbeats._thread is beater, "a second stage joins the running thread"
    assert set(fast.beats) == {("RUN-A", "market_simulation", 2)}
    assert set(slow.beats) == {("RUN-B", "decision_analysis", 1)}
    ended = len(fast.beats)
    time.sleep(0.1)  # several intervals: a stage that ended is never touched again
    assert len(fast.beats) == ended


def test_a_stage_shorter_than_the_interval_is_never_beaten() -> None:
    heartbeats = _Heartbeats()
    store = _RecordingStore(10.0)
    with heartbeats.beating(store, "RUN-C", "idea_validation", 1):
        pass
    assert not store.beat.wait(0.05)
