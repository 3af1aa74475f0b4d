from __future__ import annotations

import datetime as dt

import pytest

from smvm.webhooks.models import DEAD, DELIVERED, DISABLED, PENDING, Outcome, next_transition, parse_retry_after

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)


@pytest.mark.parametrize("attempts, delay", [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0)])
def test_failures_follow_the_schedule_without_jitter(attempts: int, delay: float) -> None:
    transition = next_transition(Outcome(status_code=500), attempts=attempts, deferrals=0, delays=DELAYS, now=NOW)
    assert transition.status == PENDING and transition.attempts == attempts + 1
    assert transition.next_attempt_at == NOW + dt.timedelta(seconds=delay)


def test_sixth_failure_is_dead() -> None:
    transition = next_transition(Outcome(error="refused"), attempts=5, deferrals=0, delays=DELAYS, now=NOW)
    assert transition.status == DEAD and transition.attempts == 6


def test_success_and_gone() -> None:
    assert next_transition(Outcome(status_code=204), attempts=2, deferrals=0, delays=DELAYS, now=NOW).status == DELIVERED
    assert next_transition(Outcome(status_code=410), attempts=0, deferrals=0, delays=DELAYS, now=NOW).status == DISABLED


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_defers_without_spending_a_retry(status: int) -> None:
    transition = next_transition(
        Outcome(status_code=status, retry_after="7"), attempts=2, deferrals=0, delays=DELAYS, now=NOW
    )
    assert transition.status == PENDING and transition.attempts == 2 and transition.deferrals == 1
    assert transition.next_attempt_at == NOW + dt.timedelta(seconds=7)


def test_throttle_without_retry_after_is_a_failure() -> None:
    transition = next_transition(Outcome(status_code=429), attempts=0, deferrals=0, delays=DELAYS, now=NOW)
    assert transition.attempts == 1


def test_retry_after_http_date_and_garbage() -> None:
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("soon", NOW) is None


@pytest.mark.parametrize(
    "outcome, failure",
    [(Outcome(error="timeout"), True), (Outcome(status_code=500), True), (Outcome(status_code=404), False),
     (Outcome(status_code=503, retry_after="1"), False), (Outcome(status_code=410), False)],
)
def test_what_counts_against_the_breaker(outcome: Outcome, failure: bool) -> None:
    assert outcome.breaker_failure is failure
