"""DeliveryService's own decisions, on a real PostgreSQL (the row is the record) with the wire, the DNS check and
the clock replaced: what one attempt sends, records and asks to be published, for each answer it can get."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from standardwebhooks.webhooks import Webhook

from smvm.callbacks.delivery import DeliveryService
from smvm.callbacks.outbox import insert_delivery
from smvm.config import Settings
from smvm.store.db import Database
from smvm.webhooks import models
from smvm.webhooks.breaker import CircuitBreaker
from smvm.webhooks.errors import DestinationRejectedError
from smvm.webhooks.policy import Destination
from tests.integration import harness

pytestmark = pytest.mark.integration

SECRET = "whsec_" + "dGVzdC1vbmx5LXNlY3JldC1mb3ItZGVsaXZlcnktMDEyMzQ1"
URL = "https://tractionbuild.example/hooks/validation/update"
DELAYS = (1.0, 2.0, 4.0)


class Wire:
    """The transport: answers in turn, and remembers what was sent."""

    def __init__(self, *answers: models.Outcome) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[Destination, bytes, dict[str, str]]] = []

    def __call__(self, destination: Destination, body: bytes, headers: dict[str, str], *, timeout: float) -> models.Outcome:
        self.sent.append((destination, body, headers))
        return self.answers.pop(0)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _resolved(url: str, settings: Settings, **_: Any) -> Destination:
    return Destination(url=url, scheme="https", host="tractionbuild.example", port=443, address="192.0.2.10",
                       path="/hooks/validation/update")


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    base = os.environ.get("SMVM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with harness.throwaway_database(base, "smvm_ds") as url:
        database = Database(url, minconn=1, maxconn=2)
        yield database
        database.close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(env="test", webhook_secret=SECRET, webhook_retry_delays=DELAYS, webhook_timeout_seconds=5.0,
                    breaker_failure_threshold=1, breaker_cooldown_seconds=30.0, runs_dir=tmp_path)


def _service(db: Database, settings: Settings, wire: Wire, clock: Clock, *, breaker: CircuitBreaker | None = None,
             published: list[tuple[list[int], float | None, dict]] | None = None, check=_resolved) -> DeliveryService:
    def publisher(ids, countdown=None, *, routine=False, run_ids=None):
        if published is not None:
            published.append((list(ids), countdown, dict(run_ids or {})))

    return DeliveryService(db, settings, breaker, publisher, send=wire, check=check, clock=clock)


def _delivery(db: Database, name: str, url: str = URL) -> int:
    with db.transaction() as cur:
        delivery_id = insert_delivery(cur, run_id=None, kind=models.UPDATE, event_type="validation.update.stage_started",
                                      url=url, payload={"hello": name}, dedupe_key=f"{name}-{os.urandom(4).hex()}",
                                      correlation_id="CORR-1")
        cur.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = %s", (delivery_id,))
    assert delivery_id is not None
    return delivery_id


def _row(db: Database, delivery_id: int) -> dict[str, Any]:
    with db.transaction() as cur:
        cur.execute("SELECT * FROM deliveries WHERE id = %s", (delivery_id,))
        return cur.fetchone()


def test_a_delivered_attempt_is_signed_recorded_and_not_sent_twice(db, settings) -> None:
    wire, clock = Wire(models.Outcome(status_code=204)), Clock()
    service = _service(db, settings, wire, clock)
    delivery_id = _delivery(db, "ok")
    result = service.attempt(delivery_id)
    assert (result.outcome, result.status, result.retry_in) == ("delivered", models.DELIVERED, None)
    (destination, body, headers), = wire.sent
    assert destination.address == "192.0.2.10", "the address the policy resolved is the one connected to"
    assert Webhook(SECRET).verify(body, headers) == {"hello": "ok"}  # the reference implementation verifies it
    assert headers["x-correlation-id"] == "CORR-1"
    row = _row(db, delivery_id)
    assert row["status"] == models.DELIVERED and row["attempts"] == 1 and row["claim_token"] is None
    assert service.attempt(delivery_id).outcome == "skipped" and len(wire.sent) == 1, "a duplicate message is harmless"


def test_a_failed_attempt_is_retried_on_schedule_through_the_publisher(db, settings) -> None:
    published: list = []
    wire, clock = Wire(models.Outcome(status_code=503), models.Outcome(error="connection refused")), Clock()
    service = _service(db, settings, wire, clock, published=published)
    delivery_id = _delivery(db, "retry")
    result = service.attempt(delivery_id)
    assert result.status == models.PENDING and result.retry_in == pytest.approx(DELAYS[0], abs=0.01)
    service.publish_retry(result)
    assert published == [([delivery_id], result.retry_in, {delivery_id: None})]
    assert service.attempt(delivery_id).outcome == "skipped", "not due before its time"
    clock.now += dt.timedelta(seconds=DELAYS[0] + 0.5)
    second = service.attempt(delivery_id)
    assert second.retry_in == pytest.approx(DELAYS[1], abs=0.01) and _row(db, delivery_id)["attempts"] == 2
    webhook_ids = {headers["webhook-id"] for _, _, headers in wire.sent}
    assert webhook_ids == {_row(db, delivery_id)["webhook_id"]}, "every retry keeps the webhook-id"


def test_retries_run_out_into_a_dead_letter(db, settings) -> None:
    wire, clock = Wire(*[models.Outcome(status_code=500)] * (len(DELAYS) + 1)), Clock()
    service = _service(db, settings, wire, clock)
    delivery_id = _delivery(db, "dead")
    for _ in range(len(DELAYS) + 1):
        result = service.attempt(delivery_id)
        clock.now += dt.timedelta(seconds=60)
    assert result.status == models.DEAD and result.retry_in is None
    assert _row(db, delivery_id)["attempts"] == len(DELAYS) + 1
    assert [row["id"] for row in service.list_dead(ids=[delivery_id])[0]] == [delivery_id]


def test_an_open_breaker_defers_without_spending_a_retry_or_sending(db, settings) -> None:
    breaker = CircuitBreaker(fakeredis.FakeRedis(), threshold=1, cooldown=30.0)
    wire, clock = Wire(models.Outcome(status_code=502)), Clock()
    service = _service(db, settings, wire, clock, breaker=breaker)
    first, second = _delivery(db, "b1"), _delivery(db, "b2")
    service.attempt(first)  # one failure opens the breaker for the host (threshold 1)
    result = service.attempt(second)
    assert result.outcome == "breaker_open" and result.retry_in and result.retry_in > 0
    assert len(wire.sent) == 1, "nothing is sent to a host behind an open breaker"
    row = _row(db, second)
    assert row["attempts"] == 0 and row["hold_reason"] == "breaker_open" and row["status"] == models.PENDING


def test_a_url_the_policy_rejects_is_dead_at_once_with_the_reason(db, settings) -> None:
    def rejecting(url: str, settings: Settings, **_: Any) -> Destination:
        raise DestinationRejectedError("callback URL resolves to a private address", details={"url": url})

    wire, clock = Wire(), Clock()
    delivery_id = _delivery(db, "ssrf")
    result = _service(db, settings, wire, clock, check=rejecting).attempt(delivery_id)
    assert result.status == models.DEAD and wire.sent == []
    assert "private address" in _row(db, delivery_id)["last_error"]


def test_gone_disables_the_destination_and_holds_its_other_deliveries(db, settings) -> None:
    url = "https://tractionbuild.example/gone/validation/update"
    wire, clock = Wire(models.Outcome(status_code=410)), Clock()
    service = _service(db, settings, wire, clock)
    first, waiting = _delivery(db, "gone1", url), _delivery(db, "gone2", url)
    assert service.attempt(first).status == models.DISABLED
    assert _row(db, waiting)["status"] == models.DISABLED, "the destination's other deliveries wait with it"
    assert service.attempt(waiting).outcome == "skipped" and len(wire.sent) == 1
    assert any(group["reason"] == "disabled" for group in service.held(destination="tractionbuild.example:443"))
