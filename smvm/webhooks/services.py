"""The callbacks outbox: record deliveries with state changes, attempt them once each, and manage dead letters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from smvm.artifacts import RunDirectory
from smvm.config import Settings
from smvm.crypto.cipher import cipher_for
from smvm.errors import ArtifactNotFoundError
from smvm.store.db import Database
from smvm.webhooks import models, payloads, transport
from smvm.webhooks.breaker import CircuitBreaker, Permit
from smvm.webhooks.errors import DeliveryNotFoundError, DestinationRejectedError, DestinationUnresolvedError
from smvm.webhooks.policy import Destination, check_destination
from smvm.webhooks.signing import new_webhook_id, signed_headers

log = logging.getLogger(__name__)

#: Publishes delivery ids to the callbacks queue (``countdown`` seconds from now); set by the Celery side, since
#: smvm imports no Celery. Unset (the embedded CLI), deliveries wait for the due-poller.
#: ``publisher(ids, countdown, routine=..., run_ids=...)``: sends one delivery message per id; ``run_ids`` (delivery
#: id -> run id) lets the message's task id start with the run id, as the stages' do, for Flower's search.
Publisher = Callable[..., None]
_publisher: Publisher | None = None

#: The run's creation event, recorded at T0 in the API request, and the event of its first stage claim.
T0_EVENT = "RUN_INITIATED"
FIRST_CLAIM_EVENT = "RUN_STARTED"
#: Updates a client acts on at once. Under a backlog of progress updates (a burst of runs) these and alerts are
#: delivered first; every other update keeps its place, so a run's terminal update still arrives after its progress.
#: Updates carry a ``sequence`` for receivers that keep only the newest (README).
URGENT_EVENTS = frozenset({"DECISION_READY", "POSTERIOR_READY"})
#: The decision document each decision event's update carries.
_DECISION_DOCUMENTS = {"DECISION_READY": "outputs/decision.output.json",
                       "POSTERIOR_READY": "outputs/posterior.decision.json"}

#: A claimed delivery nobody finished (worker killed mid-request) becomes due again this long after its timeout.
LEASE_MARGIN_SECONDS = 15.0


def set_publisher(publisher: Publisher | None) -> None:
    global _publisher
    _publisher = publisher


def publish(
    ids: list[int], countdown: float | None = None, *, routine: bool = False, run_ids: dict[int, str | None] | None = None
) -> None:
    """Hint the callbacks workers; never raises, because the due-poller is the durable path.

    :param routine: updates that may wait behind decisions and alerts on the callbacks queue (``URGENT_EVENTS``).
    :param run_ids: each delivery's run, for task ids that start with it (Flower); see ``DeliveryService.publish``.
    """
    if not ids or _publisher is None:
        return
    try:
        _publisher(ids, countdown, routine=routine, run_ids=run_ids or {})
    except Exception:  # noqa: BLE001 - broker down: the row stays due and beat's poller sends it later
        log.warning("smvm.webhooks.publish_failed", extra={"deliveries": ids[:20]}, exc_info=True)


def update_event_type(event_kind: str) -> str:
    """The delivery's ``event_type`` for a run event's update: ``validation.update.decision_ready``."""
    return f"validation.update.{event_kind.lower()}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def destination_key(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def _join(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def insert_delivery(
    cur: Any,
    *,
    run_id: str | None,
    kind: str,
    event_type: str,
    url: str,
    payload: dict[str, Any],
    dedupe_key: str,
    correlation_id: str | None,
) -> int | None:
    """Add one outbox row in the caller's transaction. :returns: its id, or ``None`` if it already existed."""
    cur.execute(
        "INSERT INTO deliveries (webhook_id, dedupe_key, run_id, kind, event_type, url, destination, body,"
        " correlation_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        (new_webhook_id(), dedupe_key, run_id, kind, event_type, url, destination_key(url),
         payloads.encode(payload), correlation_id),
    )
    row = cur.fetchone()
    return row["id"] if row else None


class Outbox:
    """The run store's event hook: every event of a run with a callback URL becomes delivery rows, atomically."""

    def __init__(self, settings: Settings, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.settings = settings
        self._clock = clock

    def record(self, cur: Any, run: dict[str, Any], event: dict[str, Any]) -> Callable[[], None] | None:
        """Write this event's update and alerts; :returns: a function that publishes them, to call after commit."""
        callback_url = run.get("callback_url")
        # async_callbacks off (a feature flag): nothing is recorded, so nothing is ever sent; clients poll.
        if not callback_url or not payloads.is_news(event) or not self.settings.async_callbacks:
            return None
        cur.execute(
            "SELECT name, status, attempt, duration_ms, result FROM stages WHERE run_id = %s ORDER BY position",
            (run["run_id"],),
        )
        stages = list(cur.fetchall())
        decision = self._decision(run, _DECISION_DOCUMENTS[event["kind"]]) if event["kind"] in _DECISION_DOCUMENTS \
            else None
        update = payloads.build_update_v1(run, event, stages, decision)
        mock = (run.get("request") or {}).get("mode") == "mock"
        if mock:  # a sandbox run must never be mistaken for a real validation
            update["mode"] = "mock"
        updates = [insert_delivery(
            cur, run_id=run["run_id"], kind=models.UPDATE, event_type=update_event_type(event["kind"]),
            url=_join(callback_url, "validation/update"), payload=update,
            dedupe_key=f"{run['run_id']}:update:{event['id']}", correlation_id=run.get("correlation_id"),
        )]
        alerts = payloads.alerts_for_event(
            run, event, decision=decision, now=self._clock(),
            quality_threshold=self.settings.quality_warning_threshold, slip_factor=self.settings.timeline_slip_factor,
        )
        alert_ids = []
        for alert_type, message, details in alerts:
            alert_ids.append(insert_delivery(
                cur, run_id=run["run_id"], kind=models.ALERT, event_type=f"validation.alert.{alert_type}",
                url=_join(callback_url, "validation/alert"),
                payload=payloads.build_alert_v1(run, alert_type, message, details, event["at"])
                | ({"mode": "mock"} if mock else {}),
                # One alert of each type per run: a slow run must not page the client on every stage.
                dedupe_key=f"{run['run_id']}:alert:{alert_type}", correlation_id=run.get("correlation_id"),
            ))
        if event["kind"] == T0_EVENT:
            # The 202 answer already carries what this update says, so T0 spends no Celery publish on it: the
            # run's first stage claim publishes it below, or the due-poller does if the pipeline is backed up.
            return None
        if event["kind"] == FIRST_CLAIM_EVENT:
            # Every never-attempted row of the run: the T0 ones and those this event just wrote, in order.
            cur.execute(
                "SELECT id, kind FROM deliveries WHERE run_id = %s AND status = 'PENDING' AND attempts = 0 ORDER BY id",
                (run["run_id"],),
            )
            rows = cur.fetchall()
            updates = [row["id"] for row in rows if row["kind"] == models.UPDATE]
            alert_ids = [row["id"] for row in rows if row["kind"] != models.UPDATE]
        updates = [delivery_id for delivery_id in updates if delivery_id is not None]
        alert_ids = [delivery_id for delivery_id in alert_ids if delivery_id is not None]
        if not updates and not alert_ids:
            return None
        routine = event["kind"] not in URGENT_EVENTS

        runs = {delivery_id: run["run_id"] for delivery_id in [*alert_ids, *updates]}

        def publish_created() -> None:
            publish(alert_ids, run_ids=runs)
            publish(updates, routine=routine, run_ids=runs)

        return publish_created

    def _decision(self, run: dict[str, Any], path: str) -> dict[str, Any] | None:
        try:
            run_dir = RunDirectory(
                self.settings.runs_dir, run["project_id"], run["run_id"], cipher=cipher_for(self.settings)
            )
            return run_dir.read_json(path)
        except (ArtifactNotFoundError, OSError, ValueError):
            log.warning("smvm.webhooks.decision_unreadable", extra={"run_id": run["run_id"]})
            return None


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
        *,
        send: Callable[..., models.Outcome] = transport.post,
        check: Callable[..., Destination] = check_destination,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.breaker = breaker
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
        """:func:`publish` for ids from a query (due, replayed, redriven), after looking up their runs."""
        if not ids or _publisher is None:
            return
        with self.db.transaction() as cur:
            cur.execute("SELECT id, run_id FROM deliveries WHERE id = ANY(%s)", (list(ids),))
            run_ids = {row["id"]: row["run_id"] for row in cur.fetchall()}
        publish(ids, countdown, routine=routine, run_ids=run_ids)

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
