"""Malformed requests against the real server: always a 4xx envelope naming the field; no run, no file."""

from __future__ import annotations

import pytest
import requests

from tests.bad_inputs import BAD_BODIES, BAD_RAW

pytestmark = pytest.mark.integration


def _nothing_created(stack, store) -> None:
    with store.db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM runs WHERE project_id IN ('PROJ-BAD-1', 'P1')")
        assert cur.fetchone()["n"] == 0
    assert not (stack.settings.runs_dir / "PROJ-BAD-1").exists()


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[case for case, _, _ in BAD_BODIES])
def test_bad_body_is_refused_naming_the_field(stack, store, case, body, field) -> None:
    response = stack.post_run(body)
    assert 400 <= response.status_code < 500, response.text
    envelope = response.json()
    assert envelope["error"] == "VALIDATION_ERROR"
    assert field in envelope["details"], envelope
    assert envelope["correlation_id"]
    _nothing_created(stack, store)


@pytest.mark.parametrize(("case", "raw", "content_type", "status"), BAD_RAW, ids=[case for case, *_ in BAD_RAW])
def test_bad_raw_body_is_refused(stack, store, case, raw, content_type, status) -> None:
    response = requests.post(stack.api("/validation/runs"), data=raw, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == status, response.text[:500]
    assert response.json()["error"]
    _nothing_created(stack, store)


def test_bad_lifecycle_bodies_are_400(stack) -> None:
    # Unknown id is checked after the body, so a bad body gets 400 even for a missing run.
    put = requests.put(stack.api("/validation/RUN-x/complete"), json={"observed_metrics": {"a": "NaN-ish"}}, timeout=5)
    assert put.status_code == 400 and "observed_metrics" in put.json()["details"]
    post = requests.post(stack.api("/validation/RUN-x/finalize"), json={"decision": "maybe"}, timeout=5)
    assert post.status_code == 400 and "decision" in post.json()["details"]
