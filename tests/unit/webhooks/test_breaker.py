from __future__ import annotations

import fakeredis
import pytest

from smvm.webhooks.breaker import CircuitBreaker

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breakers(clock: Clock) -> tuple[CircuitBreaker, CircuitBreaker]:
    server = fakeredis.FakeServer()
    # Two workers, one Redis: the state is shared.
    return tuple(  # type: ignore[return-value]
        CircuitBreaker(fakeredis.FakeRedis(server=server), threshold=5, cooldown=30, clock=clock) for _ in range(2)
    )


def test_opens_after_five_consecutive_failures_across_workers(breakers, clock) -> None:
    first, second = breakers
    for index in range(4):
        assert not (first if index % 2 else second).record_failure("h:443")
    assert first.allow("h:443").allowed
    assert second.record_failure("h:443")
    permit = first.allow("h:443")
    assert not permit.allowed and permit.retry_at == clock.now + 30


def test_success_resets_the_count(breakers) -> None:
    first, _ = breakers
    for _ in range(4):
        first.record_failure("h:443")
    assert not first.record_success("h:443")
    assert not first.record_failure("h:443")
    assert first.state("h:443") == "closed"


def test_half_open_allows_a_single_probe_then_closes_or_reopens(breakers, clock) -> None:
    first, second = breakers
    for _ in range(5):
        first.record_failure("h:443")
    clock.now += 31
    assert first.state("h:443") == "half_open"
    probe = first.allow("h:443")
    assert probe.allowed and probe.probe
    assert not second.allow("h:443").allowed
    assert first.record_failure("h:443")  # the probe failed: open again for a full cool-down
    assert not second.allow("h:443").allowed
    clock.now += 31
    assert second.allow("h:443").probe
    assert second.record_success("h:443")
    assert first.allow("h:443").allowed and first.state("h:443") == "closed"


def test_hosts_are_independent(breakers) -> None:
    first, _ = breakers
    for _ in range(5):
        first.record_failure("a:443")
    assert first.allow("b:443").allowed
