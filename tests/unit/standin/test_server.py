"""The TractionBuild stand-in acknowledges what is signed with its secret and refuses what is not."""

from __future__ import annotations

import time

import pytest

from smvm.standin.server import StandIn
from smvm.webhooks.signing import new_secret, signed_headers

pytestmark = pytest.mark.unit


def test_standin_acknowledges_verified_and_refuses_forged() -> None:
    secret = new_secret()
    standin = StandIn(secret, fail=1)
    body = b'{"run_id": "R"}'
    headers = signed_headers(secret, "msg_1", int(time.time()), body, None)
    assert standin.handle("POST", "/validation/update", headers, body)[0] == 503  # told to fail once
    assert standin.handle("POST", "/validation/update", headers, body) == (200, {"status": "acknowledged"})
    status, answer = standin.handle("POST", "/api/v1/projects/P/validation-results", headers, body)
    assert status == 200 and answer["reference_id"].startswith("ref_")
    forged = signed_headers(new_secret(), "msg_1", int(time.time()), body, None)
    assert standin.handle("POST", "/validation/alert", forged, body)[0] == 401
