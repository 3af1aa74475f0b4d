"""Delivering the outbox: one fenced attempt per message, the due-poller's durable path, dead and held deliveries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from smvm.callbacks.outbox import URGENT_EVENTS, Publisher, publish, update_event_type
from smvm.clock import utcnow
from smvm.config import Settings
from smvm.store.db import Database
from smvm.webhooks import models, transport
from smvm.webhooks.breaker import CircuitBreaker, Permit
from smvm.webhooks.errors import DeliveryNotFoundError, DestinationRejectedError, DestinationUnresolvedError
from smvm.webhooks.policy import Destination, check_destination, destination_key
from smvm.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

#: A claimed delivery nobody finished (worker killed mid-request) becomes due again this long after its timeout.
LEASE_MARGIN_SECONDS = 15.0

#: A held row's reason, in SQL (see ``models.HOLD_REASONS``).
HOLD_REASON_SQL = "(CASE WHEN status = 'DISABLED' THEN 'disabled' ELSE coalesce(hold_reason, 'queued') END)"


def _hold_reason(transition: models.Transition) -> str | None:
    if transition.status == models.DISABLED:
        return models.DESTINATION_DISABLED
    if transition.status == models.PENDING:
        return models.HOLD_FOR_TRANSITION.get(transition.reason, models.RETRYING)
    return None


@dataclasses.dataclass(frozen=True)
class AttemptResult:
    """What the task should do next: nothing, or publish again after ``retry_in`` seconds."""

    delivery_id: int
    outcome: str
    status: str | None = None
    retry_in: float | None = None
    run_id: str | None = None


class DeliveryService:
    """Attempts and dead letters; every decision is a row update fenced by a claim token."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        breaker: CircuitBreaker | None,
        publisher: Publisher | None = None,
        *,
        send: Callable[..., models.Outcome] = transport.post,
        check: Callable[..., Destination] = check_destination,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.breaker = breaker
        self.publisher = publisher
        self._send = send
        self._check = check
        self._clock = clock

    # -- one attempt ----------------------------------------------------------------------------------------

    def _claim(self, delivery_id: int) -> dict[str, Any] | None:
        lease = self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
        with self.db.transaction() as cur:
            # A small tolerance: a countdown message may land a few milliseconds before next_attempt_at.
            cur.execute(
                "UPDATE deliveries SET status = 'SENDING', claim_token = %s, lease_until = %s, updated_at = now()"
                " WHERE id = %s AND ((status = 'PENDING' AND next_attempt_at <= %s)"
                " OR (status = 'SENDING' AND lease_until < %s)) RETURNING *",
                (secrets.token_hex(8), self._clock() + dt.timedelta(seconds=lease), delivery_id,
                 self._clock() + dt.timedelta(milliseconds=100), self._clock()),
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute("SELECT 1 FROM disabled_destinations WHERE url = %s", (row["url"],))
            if cur.fetchone() is not None:
                cur.execute(
                    "UPDATE deliveries SET status = 'DISABLED', claim_token = NULL, lease_until = NULL,"
                    " hold_reason = 'disabled', last_error = 'destination disabled (410 Gone)', updated_at = now()"
                    " WHERE id = %s",
                    (delivery_id,),
                )
                return None
            return row

    def attempt(self, delivery_id: int) -> AttemptResult:
        """Send delivery ``delivery_id`` once if it is due and unclaimed, then record the outcome.

        Safe to call for any id any number of times: duplicates and early or stale messages do nothing.
        """
        row = self._claim(delivery_id)
        if row is None:
            return AttemptResult(delivery_id, "skipped")
        try:
            destination = self._check(row["url"], self.settings, **({"trusted": True} if row["kind"] == models.SYNC else {}))
        except DestinationUnresolvedError as exc:
            # DNS may be down for a while: a failed attempt like any other, retried on schedule and counted by
            # the host's breaker, and dead only when the retries run out.
            outcome = models.Outcome(error=exc.message)
            self._record_breaker(destination_key(row["url"]), outcome, probe=False)
            return self._finish(row, outcome, models.next_transition(
                outcome, attempts=row["attempts"], deferrals=row["deferrals"],
                delays=self.settings.webhook_retry_delays, now=self._clock()))
        except DestinationRejectedError as exc:
            # A URL that fails the SSRF policy will fail every time: dead at once, with the reason, for the DLQ.
            return self._finish(row, models.Outcome(error=exc.message), models.Transition(
                models.DEAD, row["attempts"], row["deferrals"], None, "destination rejected by SSRF policy"))
        permit = self._permit(destination.key)
        if not permit.allowed:
            return self._defer_for_breaker(row, permit.retry_at or time.time() + self.settings.breaker_cooldown_seconds)
        now = self._clock()
        body = row["body"].encode()
        headers = signed_headers(
            self.settings.webhook_secret or "", row["webhook_id"], int(now.timestamp()), body, row["correlation_id"]
        )
        outcome = self._send(destination, body, headers, timeout=self.settings.webhook_timeout_seconds)
        self._record_breaker(destination.key, outcome, probe=permit.probe)
        transition = models.next_transition(
            outcome, attempts=row["attempts"], deferrals=row["deferrals"],
            delays=self.settings.webhook_retry_delays, now=self._clock(),
        )
        return self._finish(row, outcome, transition)

    def _permit(self, host: str) -> Permit:
        if self.breaker is None:
            return Permit(True)
        try:
            return self.breaker.allow(host)
        except Exception:  # noqa: BLE001 - Redis down: fail open; PostgreSQL still bounds retries per delivery
            log.warning("smvm.webhooks.breaker_unavailable", extra={"destination": host}, exc_info=True)
            return Permit(True)

    def _record_breaker(self, host: str, outcome: models.Outcome, *, probe: bool) -> None:
        if self.breaker is None:
            return
        try:
            if outcome.breaker_failure:
                if self.breaker.record_failure(host):
                    log.warning("smvm.webhooks.breaker_open", extra={"destination": host})
            elif outcome.ok or probe:
                if self.breaker.record_success(host):
                    log.info("smvm.webhooks.breaker_closed", extra={"destination": host})
                    if self.settings.breaker_redrive_on_close:
                        ids = self.replay(destination=host, reenable=False)
                        log.info("smvm.webhooks.redriven", extra={"destination": host, "count": len(ids)})
                        self.publish(ids)
        except Exception:  # noqa: BLE001 - losing one breaker update only shifts when it opens
            log.warning("smvm.webhooks.breaker_unavailable", extra={"destination": host}, exc_info=True)

    def _defer_for_breaker(self, row: dict[str, Any], retry_at: float) -> AttemptResult:
        """The breaker is open: wait for it without spending a retry."""
        when = dt.datetime.fromtimestamp(retry_at, dt.UTC)
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE deliveries SET status = 'PENDING', next_attempt_at = %s, claim_token = NULL,"
                " lease_until = NULL, hold_reason = 'breaker_open', updated_at = now() WHERE id = %s AND claim_token = %s",
                (when, row["id"], row["claim_token"]),
            )
        return AttemptResult(row["id"], "breaker_open", models.PENDING, max((when - self._clock()).total_seconds(), 0.0),
                             row["run_id"])

    def _finish(self, row: dict[str, Any], outcome: models.Outcome, transition: models.Transition) -> AttemptResult:
        now = self._clock()
        status = transition.status
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE deliveries SET status = %s, attempts = %s, deferrals = %s, next_attempt_at = coalesce(%s,"
                " next_attempt_at), claim_token = NULL, lease_until = NULL, last_attempt_at = %s, last_status = %s,"
                " last_error = %s, response = %s, updated_at = now(), hold_reason = %s,"
                " delivered_at = CASE WHEN %s = 'DELIVERED' THEN %s ELSE delivered_at END,"
                " dead_at = CASE WHEN %s = 'DEAD' THEN %s ELSE NULL END"
                " WHERE id = %s AND claim_token = %s",
                (status, transition.attempts, transition.deferrals, transition.next_attempt_at, now,
                 outcome.status_code, outcome.error, (outcome.body or "")[:2000] or None, _hold_reason(transition),
                 status, now, status, now, row["id"], row["claim_token"]),
            )
            if cur.rowcount != 1:
                # Our lease expired and another worker took over; its record wins.
                return AttemptResult(row["id"], "fenced")
            cur.execute(
                "INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, error, outcome)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (row["id"], transition.attempts, now, outcome.status_code, outcome.error, transition.reason),
            )
            if status == models.DISABLED:
                cur.execute(
                    "INSERT INTO disabled_destinations (url, reason) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (row["url"], f"410 Gone from delivery {row['webhook_id']}"),
                )
                cur.execute(
                    "UPDATE deliveries SET status = 'DISABLED', last_error = 'destination disabled (410 Gone)',"
                    " hold_reason = 'disabled', updated_at = now() WHERE url = %s AND status = 'PENDING'",
                    (row["url"],),
                )
            if status == models.DELIVERED and row["kind"] == models.SYNC and row["run_id"]:
                self._store_reference(cur, row, outcome)
        extra = {"delivery_id": row["id"], "webhook_id": row["webhook_id"], "run_id": row["run_id"],
                 "attempt": transition.attempts, "status_code": outcome.status_code}
        if status == models.DEAD:
            log.error("smvm.webhooks.dead", extra={**extra, "error": outcome.error})
        elif status == models.DISABLED:
            log.warning("smvm.webhooks.destination_disabled", extra={**extra, "url": row["url"]})
        else:
            log.info(f"smvm.webhooks.{transition.reason.replace(' ', '_')}", extra=extra)
        retry_in = None
        if status == models.PENDING and transition.next_attempt_at is not None:
            retry_in = max((transition.next_attempt_at - now).total_seconds(), 0.0)
        return AttemptResult(row["id"], transition.reason, status, retry_in, row["run_id"])

    @staticmethod
    def _store_reference(cur: Any, row: dict[str, Any], outcome: models.Outcome) -> None:
        try:
            reference = json.loads(outcome.body or "{}").get("reference_id")
        except (ValueError, AttributeError):
            reference = None
        cur.execute(
            "UPDATE runs SET tractionbuild_reference = coalesce(%s, tractionbuild_reference),"
            " persisted_at = coalesce(persisted_at, now()), updated_at = now() WHERE run_id = %s",
            (str(reference) if reference is not None else None, row["run_id"]),
        )

    def publish(self, ids: list[int], countdown: float | None = None, *, routine: bool = False) -> None:
        """:func:`~smvm.callbacks.outbox.publish` for ids from a query (due, replayed, redriven), after looking up their runs."""
        if not ids or self.publisher is None:
            return
        with self.db.transaction() as cur:
            cur.execute("SELECT id, run_id FROM deliveries WHERE id = ANY(%s)", (list(ids),))
            run_ids = {row["id"]: row["run_id"] for row in cur.fetchall()}
        publish(self.publisher, ids, countdown, routine=routine, run_ids=run_ids)

    def publish_retry(self, result: AttemptResult) -> None:
        """The fast path of a retry: a message due when the row's next attempt is (the row holds the real schedule)."""
        if result.retry_in is not None:
            publish(self.publisher, [result.delivery_id], result.retry_in, run_ids={result.delivery_id: result.run_id})

    # -- the durable path ----------------------------------------------------------------------------------

    def due(
        self, *, grace_seconds: float = 1.0, limit: int = 500, queued: int | None = None
    ) -> tuple[list[int], list[int]]:
        """Deliveries that should have been attempted by now (lost message, dead worker, flushed Redis), as
        ``(urgent, routine)`` ids to publish.

        A SENDING row whose lease ran out is always due: its worker died holding it. ``queued`` (callbacks messages
        waiting or reserved by a worker, from the broker) tells a backlog from a loss for PENDING rows: only as many
        overdue rows as the queue is short of are due, oldest first. Re-publishing every overdue row on each poll
        flooded the queue with duplicates exactly when it was busiest, ahead of the decisions. Without ``queued``
        (broker unreachable) every overdue row is due.
        """
        now = self._clock()
        overdue = now - dt.timedelta(seconds=grace_seconds)
        routine = "kind = %s AND NOT event_type = ANY(%s) AS routine"
        urgent_types = [update_event_type(kind) for kind in URGENT_EVENTS]
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT id, {routine} FROM deliveries WHERE status = 'SENDING' AND lease_until < %s"
                " ORDER BY lease_until LIMIT %s",
                (models.UPDATE, urgent_types, now, limit),
            )
            rows = cur.fetchall()
            budget = limit - len(rows)
            if queued is not None and budget > 0:
                cur.execute("SELECT count(*) AS n FROM deliveries WHERE status = 'PENDING' AND next_attempt_at <= %s",
                            (overdue,))
                budget = min(budget, cur.fetchone()["n"] - queued)
            if budget > 0:
                cur.execute(
                    f"SELECT id, {routine} FROM deliveries WHERE status = 'PENDING' AND next_attempt_at <= %s"
                    " ORDER BY next_attempt_at LIMIT %s",
                    (models.UPDATE, urgent_types, overdue, budget),
                )
                rows += cur.fetchall()
        return [row["id"] for row in rows if not row["routine"]], [row["id"] for row in rows if row["routine"]]

    # -- dead letters ----------------------------------------------------------------------------------------

    @staticmethod
    def _filters(
        *, ids: list[int] | None = None, run_id: str | None = None, since: dt.datetime | None = None,
        until: dt.datetime | None = None, destination: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses, params = ["status = 'DEAD'"], []
        if ids:
            clauses.append("id = ANY(%s)")
            params.append(list(ids))
        for column, value in (("run_id", run_id), ("destination", destination)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if since is not None:
            clauses.append("dead_at >= %s")
            params.append(since)
        if until is not None:
            clauses.append("dead_at < %s")
            params.append(until)
        return " AND ".join(clauses), params

    def list_dead(self, *, limit: int = 100, offset: int = 0, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        where, params = self._filters(**filters)
        with self.db.transaction() as cur:
            cur.execute(f"SELECT count(*) AS total FROM deliveries WHERE {where}", params)
            total = cur.fetchone()["total"]
            cur.execute(
                "SELECT id, webhook_id, run_id, kind, event_type, url, destination, attempts, replays, last_status,"
                f" last_error, created_at, dead_at FROM deliveries WHERE {where} ORDER BY dead_at DESC, id DESC"
                " LIMIT %s OFFSET %s",
                (*params, limit, offset),
            )
            return list(cur.fetchall()), total

    def show(self, identifier: str | int) -> dict[str, Any]:
        """One delivery by id or webhook-id, with its attempts.

        :raises DeliveryNotFoundError: when neither matches.
        """
        with self.db.transaction() as cur:
            if str(identifier).isdigit():
                cur.execute("SELECT * FROM deliveries WHERE id = %s", (int(identifier),))
            else:
                cur.execute("SELECT * FROM deliveries WHERE webhook_id = %s", (str(identifier),))
            row = cur.fetchone()
            if row is None:
                raise DeliveryNotFoundError(f"no delivery {identifier!r}", details={"id": str(identifier)})
            cur.execute(
                "SELECT attempt, at, status_code, error, outcome FROM delivery_attempts WHERE delivery_id = %s"
                " ORDER BY id", (row["id"],),
            )
            row["attempt_log"] = list(cur.fetchall())
        row.pop("claim_token", None)
        return row

    def replay(self, *, reenable: bool = True, **filters: Any) -> list[int]:
        """Move matching dead letters back to PENDING with a fresh retry budget, a new hold clock and the same
        webhook-id.

        Only DEAD rows change, so concurrent replays (an operator and the breaker's redrive) cannot double-send.

        :param reenable: an operator's replay also re-enables the destinations of the replayed rows that had answered
            410 Gone (replaying says they are back); the breaker's redrive does not.
        :returns: the ids to publish.
        """
        where, params = self._filters(**filters)
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE deliveries SET status = 'PENDING', attempts = 0, deferrals = 0, replays = replays + 1,"
                " next_attempt_at = now(), dead_at = NULL, hold_reason = NULL, held_since = now(), updated_at = now()"
                f" WHERE {where} RETURNING id, url",
                params,
            )
            rows = cur.fetchall()
            ids = [row["id"] for row in rows]
            if reenable and rows:
                cur.execute("DELETE FROM disabled_destinations WHERE url = ANY(%s)", (sorted({row["url"] for row in rows}),))
        if ids:
            log.info("smvm.webhooks.replayed", extra={"count": len(ids)})
        return ids

    def purge(self, **filters: Any) -> int:
        """Delete matching dead letters for good. :returns: how many."""
        where, params = self._filters(**filters)
        with self.db.transaction() as cur:
            cur.execute(f"DELETE FROM deliveries WHERE {where}", params)
            return cur.rowcount

    # -- held deliveries -----------------------------------------------------------------------------------

    def held(self, *, destination: str | None = None) -> list[dict[str, Any]]:
        """Deliveries neither delivered nor dead, grouped by destination and reason (``models.HOLD_REASONS``),
        oldest group first, each with its count and the age of its oldest row."""
        clause, params = ("AND destination = %s", [destination]) if destination else ("", [])
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT destination, {HOLD_REASON_SQL} AS reason, count(*) AS count, min(held_since) AS oldest,"
                " extract(epoch FROM %s - min(held_since)) AS age FROM deliveries"
                f" WHERE status IN ('PENDING', 'SENDING', 'DISABLED') {clause} GROUP BY 1, 2 ORDER BY oldest",
                [self._clock(), *params],
            )
            return [{"destination": row["destination"], "reason": row["reason"], "count": row["count"],
                     "oldest_created_at": row["oldest"], "oldest_age_seconds": round(max(float(row["age"]), 0.0), 3)}
                    for row in cur.fetchall()]

    def expire_held(self) -> list[int]:
        """Dead-letter deliveries held longer than ``SMVM_WEBHOOK_MAX_HOLD_HOURS``, with that reason as last_error.

        A delivery waiting behind a breaker that never closes, or for a destination that answered 410, would
        otherwise wait for ever, unseen by the dead-letter alerts; in flight (SENDING) rows are left to finish.
        :returns: the ids that became dead letters.
        """
        hours = self.settings.webhook_max_hold_hours
        cutoff = self._clock() - dt.timedelta(hours=hours)
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE deliveries SET status = 'DEAD', dead_at = now(), updated_at = now(), claim_token = NULL,"
                " lease_until = NULL, last_error = %s || " + HOLD_REASON_SQL + " || coalesce(': ' || last_error, ''),"
                " hold_reason = NULL WHERE status IN ('PENDING', 'DISABLED') AND held_since < %s RETURNING id, run_id",
                (f"held for more than {hours:g} h, ", cutoff),
            )
            rows = cur.fetchall()
        if rows:
            log.error("smvm.webhooks.held_expired", extra={"count": len(rows), "max_hold_hours": hours,
                                                          "deliveries": [row["id"] for row in rows][:20]})
        return [row["id"] for row in rows]

    def counts(self) -> dict[str, int]:
        with self.db.transaction() as cur:
            cur.execute("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
            return {row["status"]: row["n"] for row in cur.fetchall()}
