import time

import pytest

from loadtest.run import Receiver

pytestmark = pytest.mark.unit


def test_callback_lag_counts_decisions_apart_from_other_updates() -> None:
    receiver = Receiver()
    try:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 2)) + f".{int((now - 2) % 1 * 1e6):06d}Z"
        receiver.deliveries += [
            {"at": now, "path": "/validation/update", "webhook_id": "a", "payload": {"status": "DECISION_READY", "timestamp": stamp}},
            {"at": now, "path": "/validation/update", "webhook_id": "b", "payload": {"status": "running", "timestamp": stamp}},
            {"at": now, "path": "/validation/alert", "webhook_id": "c", "payload": {"timestamp": stamp}},
        ]
        lag = receiver.callback_lag()
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert lag["decision_ready"]["p50_ms"] == pytest.approx(2000, abs=1)
    assert lag["other_updates"]["p50_ms"] == pytest.approx(2000, abs=1)
    assert receiver.duplicates() == 0
