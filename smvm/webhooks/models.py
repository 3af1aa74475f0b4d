"""Delivery states and the pure retry decision: what one attempt's outcome does to a delivery."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils

PENDING = "PENDING"
SENDING = "SENDING"
DELIVERED = "DELIVERED"
DEAD = "DEAD"
DISABLED = "DISABLED"
DELIVERY_STATUSES = (PENDING, SENDING, DELIVERED, DEAD, DISABLED)

#: Why a delivery that is neither delivered nor dead is waiting ("held"): the column ``hold_reason``, except that a
#: DISABLED row reads as ``disabled`` and a row never attempted as ``queued``.
QUEUED = "queued"
RETRYING = "retrying"
THROTTLED = "throttled"
BREAKER_OPEN = "breaker_open"
DESTINATION_DISABLED = "disabled"
HOLD_REASONS = (QUEUED, RETRYING, THROTTLED, BREAKER_OPEN, DESTINATION_DISABLED)
HOLD_WORDS = ("queued: not attempted yet (a backlog, or lost messages the due-poller re-publishes); retrying: an "
              "attempt failed and a retry is scheduled; throttled: the receiver answered 429/503 with Retry-After; "
              "breaker_open: the destination's circuit breaker is open; disabled: the destination answered 410 Gone")
#: A transition's reason (``Transition.reason``) -> the hold reason it leaves a PENDING row with.
HOLD_FOR_TRANSITION = {"retry scheduled": RETRYING, "deferred by Retry-After": THROTTLED}

UPDATE = "update"
ALERT = "alert"
SYNC = "sync"

#: Statuses that ask us to slow down rather than report a broken destination (Standard Webhooks "Operations").
THROTTLE_STATUSES = (429, 503)
#: A deferral never spends a retry, so cap them: a receiver answering 429 forever must still end up dead.
MAX_DEFERRALS = 50
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened on the wire for one attempt."""

    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None
    body: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def breaker_failure(self) -> bool:
        """Transport errors and 5xx say the host is unwell; 4xx, 410 and throttling are the receiver's answer."""
        if self.status_code is None:
            return True
        return self.status_code >= 500 and not (self.status_code in THROTTLE_STATUSES and self.retry_after)


@dataclasses.dataclass(frozen=True)
class Transition:
    """The delivery row after an attempt: its status, attempts spent and when to try next."""

    status: str
    attempts: int
    deferrals: int
    next_attempt_at: dt.datetime | None
    reason: str


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None`` if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def next_transition(
    outcome: Outcome, *, attempts: int, deferrals: int, delays: tuple[float, ...], now: dt.datetime
) -> Transition:
    """Decide the next state after attempt number ``attempts + 1`` had ``outcome``.

    The first attempt is not a retry: ``len(delays)`` retries follow it (1, 2, 4, 8, 16 s by default, no jitter),
    then the delivery is dead.
    """
    if outcome.ok:
        return Transition(DELIVERED, attempts + 1, deferrals, None, "delivered")
    if outcome.status_code == 410:
        return Transition(DISABLED, attempts + 1, deferrals, None, "destination answered 410 Gone")
    if outcome.status_code in THROTTLE_STATUSES and deferrals < MAX_DEFERRALS:
        wait = parse_retry_after(outcome.retry_after, now)
        if wait is not None:
            # Throttling is not a failure of this message: wait as asked without spending a retry.
            return Transition(PENDING, attempts, deferrals + 1, now + dt.timedelta(seconds=wait), "deferred by Retry-After")
    spent = attempts + 1
    if spent > len(delays):
        return Transition(DEAD, spent, deferrals, None, "retries exhausted")
    return Transition(PENDING, spent, deferrals, now + dt.timedelta(seconds=delays[spent - 1]), "retry scheduled")
