"""A circuit breaker per destination host whose state lives in Redis, so every worker process shares it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

_PREFIX = "smvm:breaker:"
#: Idle breaker keys expire so a destination seen once does not linger in Redis forever.
_KEY_TTL_SECONDS = 7 * 24 * 3600

# INCR the failure count; open (or re-open after a failed probe) once the threshold is reached. Atomic in Redis,
# so two workers failing at once cannot both miss the threshold.
_RECORD_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local open_until = redis.call('GET', KEYS[2])
if open_until or failures >= tonumber(ARGV[1]) then
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
    redis.call('DEL', KEYS[3])
    if open_until then return 2 end
    return 1
end
return 0
"""

# Success closes the breaker; answers whether it had been open, so the caller can redrive dead letters.
_RECORD_SUCCESS = """
local was_open = redis.call('GET', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if was_open then return 1 end
return 0
"""


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
        self._failure = redis_client.register_script(_RECORD_FAILURE)
        self._success = redis_client.register_script(_RECORD_SUCCESS)

    @staticmethod
    def _keys(host: str) -> list[str]:
        return [f"{_PREFIX}{host}:failures", f"{_PREFIX}{host}:open_until", f"{_PREFIX}{host}:probe"]

    def state(self, host: str) -> str:
        failures_key, open_key, _ = self._keys(host)
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
        """:returns: ``True`` when this failure opened (or re-opened) the breaker."""
        opened_until = self._clock() + self.cooldown
        result = self._failure(keys=self._keys(host), args=[self.threshold, repr(opened_until), _KEY_TTL_SECONDS])
        return int(result) > 0

    def record_success(self, host: str) -> bool:
        """:returns: ``True`` when this success closed a breaker that was open or half-open."""
        return bool(int(self._success(keys=self._keys(host), args=[])))
