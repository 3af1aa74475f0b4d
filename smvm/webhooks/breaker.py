"""A circuit breaker per destination host whose state lives in Redis, so every worker process shares it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

_PREFIX = "smvm:breaker:"
#: Idle breaker keys expire so a destination seen once does not linger in Redis forever.
_KEY_TTL_SECONDS = 7 * 24 * 3600

@dataclasses.dataclass(frozen=True)
class Permit:
    """May this delivery go now? If not, ``retry_at`` (epoch seconds) is when the breaker may let it through."""

    allowed: bool
    probe: bool = False
    retry_at: float | None = None


class CircuitBreaker:
    """closed → open after ``threshold`` consecutive failures → half-open single probe after ``cooldown`` → closed."""

    def __init__(
        self, redis_client: Any, *, threshold: int, cooldown: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis_client
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock

    @staticmethod
    def _keys(host: str) -> list[str]:
        return [f"{_PREFIX}{host}:failures", f"{_PREFIX}{host}:open_until", f"{_PREFIX}{host}:probe"]

    def state(self, host: str) -> str:
        _, open_key, _ = self._keys(host)
        open_until = self._redis.get(open_key)
        if open_until is None:
            return "closed"
        return "open" if self._clock() < float(open_until) else "half_open"

    def allow(self, host: str) -> Permit:
        _, open_key, probe_key = self._keys(host)
        open_until = self._redis.get(open_key)
        if open_until is None:
            return Permit(True)
        now = self._clock()
        if now < float(open_until):
            return Permit(False, retry_at=float(open_until))
        # Half-open: exactly one worker wins the probe; the lock expires if that worker dies mid-request.
        if self._redis.set(probe_key, "1", nx=True, ex=max(int(self.cooldown), 1) + 60):
            return Permit(True, probe=True)
        return Permit(False, retry_at=now + max(self.cooldown / 2, 0.5))

    def record_failure(self, host: str) -> bool:
        """:returns: ``True`` when this failure opened (or re-opened, after a failed probe) the breaker."""
        failures_key, open_key, probe_key = self._keys(host)
        # INCR is atomic, so concurrent failures from several workers are all counted; two workers crossing the
        # threshold together both write the same kind of open_until, which is harmless.
        pipe = self._redis.pipeline()
        pipe.incr(failures_key)
        pipe.expire(failures_key, _KEY_TTL_SECONDS)
        pipe.get(open_key)
        failures, _, open_until = pipe.execute()
        if open_until is None and int(failures) < self.threshold:
            return False
        pipe = self._redis.pipeline()
        pipe.set(open_key, repr(self._clock() + self.cooldown), ex=_KEY_TTL_SECONDS)
        pipe.delete(probe_key)
        pipe.execute()
        return True

    def record_success(self, host: str) -> bool:
        """:returns: ``True`` when this success closed a breaker that was open or half-open."""
        failures_key, open_key, probe_key = self._keys(host)
        pipe = self._redis.pipeline()
        pipe.get(open_key)
        pipe.delete(failures_key, open_key, probe_key)
        was_open, _ = pipe.execute()
        return was_open is not None
