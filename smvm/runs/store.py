"""The run store: create runs, claim and fence stage attempts, record transitions and events."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import platform
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg2.extras

from smvm import __version__, gate, lifecycle, logs
from smvm.artifacts import RunDirectory, dump_json
from smvm.calibration import records
from smvm.clock import iso_z, utcnow
from smvm.config import Settings
from smvm.crypto.cipher import cipher_for, open_request, seal_request
from smvm.errors import InvalidTransitionError, RunConflictError, RunNotFoundError
from smvm.ids import identify, validation_id_for
from smvm.intake.observations import predictable
from smvm.intake.validation import fingerprint, validate_idea
from smvm.pipeline import tracks
from smvm.pipeline.stages import DECISION_STAGE, STAGES
from smvm.pipeline.update_stages import POSTERIOR_DECISION_STAGE, UPDATE_STAGES
from smvm.store.db import Database

log = logging.getLogger(__name__)

_LOOKUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,159}")
_RUN_COLUMNS = (
    "run_id, validation_id, project_id, status, request, response, validation, seed, run_dir, correlation_id,"
    " callback_url, current_stage, recommendation, confidence, completion, finalization, error, created_at,"
    " updated_at, started_at, completed_at, validated_at, finalized_at, estimated_completion, deadline_at,"
    " persisted_at, tractionbuild_reference, posterior"
)


#: Run statuses in which a stage of each track may run: the pipeline's while the run is active; the T0+30 update's
#: once the run completed (and after finalize, should TractionBuild finalize while the update is still running).
_RUN_STATUSES_FOR = {False: lifecycle.ACTIVE_STATUSES, True: (lifecycle.COMPLETED, lifecycle.FINALIZED)}
#: SQL: the stages the sweeper watches (a pipeline stage of an active run, an update stage of a finished run).
_MOVING = ("(r.status IN ('INITIATED', 'RUNNING')"
           " OR (s.position >= %(first_update)s AND r.status IN ('COMPLETED', 'FINALIZED')))")

_ACTIONS = {lifecycle.FINALIZED: "finalized", lifecycle.CANCELLED: "cancelled", lifecycle.COMPLETED: "marked complete",
            lifecycle.INCOMPLETE: "marked complete"}


def _refusal(status: str, target: str) -> str:
    """Why a client transition is refused, in the client's terms ("The run is already finalized.")."""
    action = _ACTIONS.get(target, target.lower())
    if status == target and not lifecycle.RUN_TRANSITIONS.get(status):
        return f"The run is already {action}."
    if not lifecycle.RUN_TRANSITIONS.get(status):
        return f"The run is already {status.lower()}; it can no longer be {action}."
    return f"The run is {status}; it cannot be {action} now."


def _client_part(stored: dict[str, Any] | None, payload: dict[str, Any]) -> dict[str, Any]:
    """What the client sent, out of a stored finalization that also holds SMVM's side."""
    return {key: (stored or {}).get(key) for key in payload}


def update_status(stages: list[dict[str, Any]]) -> str | None:
    """The T0+30 update's state from its stage rows: ``running``, ``ready``, ``failed``, or ``None`` if never started."""
    update = [stage for stage in stages if tracks.is_update(stage["name"])]
    if not update:
        return None
    if any(stage["status"] == lifecycle.STAGE_FAILED for stage in update):
        return "failed"
    return "ready" if all(stage["status"] == lifecycle.STAGE_SUCCEEDED for stage in update) else "running"


def final_word(run: dict[str, Any], stages: list[dict[str, Any]]) -> dict[str, Any]:
    """SMVM's final word on a run, said which decision it is and where the update stands."""
    posterior = run.get("posterior") or {}
    return {
        "recommendation": gate.final_recommendation(run),
        "confidence": posterior.get("confidence", run.get("confidence")),
        "source": gate.recommendation_source(run),
        "prior_recommendation": run.get("recommendation"),
        "verdict_probabilities": posterior.get("verdict_probabilities"),
        "update": update_status(stages),
    }


def estimate_seconds(configuration: dict[str, Any]) -> float:
    """A deliberately pessimistic wall-time estimate: queueing plus simulation work that grows with paths."""
    return 10.0 + configuration["simulation_iterations"] / 50_000


@dataclasses.dataclass
class _Pending:
    """Events recorded inside a transaction, mirrored to events.jsonl and meta.json only after commit."""

    run_dir: RunDirectory | None = None
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    snapshot: dict[str, Any] | None = None
    after_commit: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    def flush(self) -> None:
        # Publishing deliveries is a hint only (beat's poller is the durable path), so it runs after commit.
        for callback in self.after_commit:
            callback()
        if self.run_dir is None:
            return
        for event in self.events:
            self.run_dir.append_event(event)
        if self.snapshot is not None:
            self.run_dir.write_bytes("meta.json", dump_json(self.snapshot), durable=False)


#: ``hook(cursor, run, event)``: runs in the event's transaction; may return a function to call after commit.
EventHook = Callable[[Any, dict[str, Any], dict[str, Any]], Callable[[], None] | None]


class RunStore:
    """All run, stage and event state; PostgreSQL is the truth, files mirror it."""

    def __init__(self, db: Database, settings: Settings, *, event_hooks: Sequence[EventHook] = ()) -> None:
        """:param event_hooks: called inside the transaction of every event; the callbacks outbox
            (``smvm.callbacks.outbox.Outbox.record``) writes its delivery rows there, atomically with the state
            change, and returns what to publish after commit. The processes pass it in (``api.create_app``,
            ``workers.context``); a store without hooks records runs and sends nothing.
        """
        self.db = db
        self.settings = settings
        # Built here so a production process without SMVM_ENCRYPTION_KEYS fails at startup, not at its first write.
        self.cipher = cipher_for(settings)
        self.event_hooks = list(event_hooks)

    # -- helpers ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked_run(self, run_id: str) -> Iterator[tuple[Any, dict[str, Any] | None, _Pending]]:
        """One transaction holding the run row's lock; what it records reaches the files only after commit."""
        pending = _Pending()
        with self.db.transaction() as cur:
            run = self._load_run(cur, run_id, lock=True)
            if run is not None:
                pending.run_dir = self.run_directory(run)
            yield cur, run, pending
        pending.flush()

    def run_directory(self, run: dict[str, Any]) -> RunDirectory:
        return RunDirectory(self.settings.runs_dir, run["project_id"], run["run_id"], cipher=self.cipher)

    def _event(
        self,
        cur: Any,
        pending: _Pending,
        run: dict[str, Any],
        kind: str,
        *,
        stage: str | None = None,
        attempt: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        data = data or {}
        cur.execute(
            "INSERT INTO events (run_id, kind, status, stage, attempt, data) VALUES (%s, %s, %s, %s, %s, %s)"
            " RETURNING id, at",
            (run["run_id"], kind, run["status"], stage, attempt, psycopg2.extras.Json(data)),
        )
        row = cur.fetchone()
        event = {
            "id": row["id"],
            "at": iso_z(row["at"]),
            "run_id": run["run_id"],
            "kind": kind,
            "status": run["status"],
            "stage": stage,
            "attempt": attempt,
            "correlation_id": run.get("correlation_id"),
            "data": data,
        }
        pending.events.append(event)
        for hook in self.event_hooks:
            after_commit = hook(cur, run, event)
            if after_commit is not None:
                pending.after_commit.append(after_commit)

    def _snapshot(self, run: dict[str, Any], stages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        snapshot = {
            "run_id": run["run_id"],
            "validation_id": run["validation_id"],
            "project_id": run["project_id"],
            "status": run["status"],
            "seed": run["seed"],
            "current_stage": run.get("current_stage"),
            "recommendation": run.get("recommendation"),
            "confidence": run.get("confidence"),
            "correlation_id": run.get("correlation_id"),
            "configuration": run["request"]["configuration"],
            "source_system": run["request"]["metadata"].get("source_system"),
            "run_directory": run["run_dir"],
            "smvm_version": __version__,
        }
        for key in ("created_at", "started_at", "completed_at", "validated_at", "finalized_at", "updated_at"):
            value = run.get(key)
            snapshot[key] = iso_z(value) if isinstance(value, dt.datetime) else value
        if stages is not None:
            snapshot["stages"] = {
                stage["name"]: {"status": stage["status"], "attempt": stage["attempt"]} for stage in stages
            }
        return snapshot

    def _load_run(self, cur: Any, run_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        cur.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = %s" + (" FOR UPDATE" if lock else ""), (run_id,))
        return open_request(cur.fetchone(), self.cipher)

    def _stages(self, cur: Any, run_id: str) -> list[dict[str, Any]]:
        cur.execute("SELECT * FROM stages WHERE run_id = %s ORDER BY position", (run_id,))
        return list(cur.fetchall())

    def _set_run(self, cur: Any, run: dict[str, Any], **changes: Any) -> dict[str, Any]:
        changes["updated_at"] = utcnow()
        assignments = ", ".join(f"{column} = %s" for column in changes)
        values = [psycopg2.extras.Json(v) if isinstance(v, dict | list) else v for v in changes.values()]
        cur.execute(f"UPDATE runs SET {assignments} WHERE run_id = %s", (*values, run["run_id"]))
        run.update(changes)
        return run

    # -- lookups ---------------------------------------------------------------------------------------------

    def resolve(self, identifier: str) -> dict[str, Any]:
        """Find a run by run_id or validation_id.

        :raises RunNotFoundError: when neither matches.
        """
        # Ids are path-safe by construction; anything else (NUL bytes, traversal) cannot exist, so skip the query.
        if not _LOOKUP_ID.fullmatch(identifier):
            raise RunNotFoundError(f"no validation run {identifier[:140]!r}", details={"id": identifier[:140]})
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = %s OR validation_id = %s LIMIT 1",
                (identifier, identifier),
            )
            run = cur.fetchone()
        if run is None:
            raise RunNotFoundError(f"no validation run {identifier!r}", details={"id": identifier})
        return run

    def detail(self, identifier: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        run = self.resolve(identifier)
        return run, self.stages(run["run_id"])

    def stages(self, run_id: str) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            return self._stages(cur, run_id)

    def calibration(self) -> dict[str, Any]:
        """The calibration ledger's coverage overall, by domain and by metric (:func:`smvm.calibration.ledger.summarise`)."""
        with self.db.transaction() as cur:
            return records.coverage(cur)

    def artifacts(self, run_id: str) -> dict[str, str]:
        with self.db.transaction() as cur:
            cur.execute("SELECT path, sha256 FROM artifacts WHERE run_id = %s ORDER BY path", (run_id,))
            return {row["path"]: row["sha256"] for row in cur.fetchall()}

    def list_runs(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        recommendation: str | None = None,
        created_after: dt.datetime | None = None,
        created_before: dt.datetime | None = None,
        limit: int = 20,
        offset: int = 0,
        project_patterns: list[str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first; ``project_patterns`` (SQL LIKE) restricts to the projects a token may see."""
        clauses: list[str] = []
        params: list[Any] = []
        if project_patterns is not None:
            clauses.append("project_id LIKE ANY (%s)")
            params.append(project_patterns)
        for column, value in (("project_id", project_id), ("status", status), ("recommendation", recommendation)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if created_after is not None:
            clauses.append("created_at >= %s")
            params.append(created_after)
        if created_before is not None:
            clauses.append("created_at < %s")
            params.append(created_before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.db.transaction() as cur:
            cur.execute(f"SELECT count(*) AS total FROM runs {where}", params)
            total = cur.fetchone()["total"]
            cur.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created_at DESC, run_id DESC LIMIT %s OFFSET %s",
                (*params, limit, offset),
            )
            return [open_request(row, self.cipher) for row in cur.fetchall()], total

    # -- T0: create -----------------------------------------------------------------------------------------

    def create_run(self, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Record a validated request as a new run with its first stage enqueued (T0).

        The same run_id with the same payload returns the original run; with another payload it conflicts.

        :returns: ``(run, created)``; enqueue the first stage only when ``created`` and after this returns.
        :raises RunConflictError: the run_id exists with a different payload.
        """
        request_fingerprint = fingerprint(request)
        now = utcnow()
        stored_request = identify(request, now)
        run_id, configuration = stored_request["run_id"], stored_request["configuration"]
        if self.settings.mock_mode:
            # Fixed per run at T0, so workers pick the mock stages whatever their own flag says (smvm/features).
            stored_request["mode"] = "mock"
        validation = validate_idea(stored_request)
        run_dir = RunDirectory(self.settings.runs_dir, request["project_id"], run_id, cipher=self.cipher)
        estimated = now + dt.timedelta(seconds=estimate_seconds(configuration))
        validation_id = validation_id_for(run_id)
        row = {
            "run_id": run_id,
            "validation_id": validation_id,
            "project_id": request["project_id"],
            "status": lifecycle.INITIATED,
            "request": stored_request,
            "request_fingerprint": request_fingerprint,
            "validation": validation,
            "seed": configuration["seed"],
            "run_dir": str(run_dir.path),
            # The body's correlation id, else the one the caller bound for this request (the API's X-Correlation-ID).
            "correlation_id": request.get("correlation_id") or logs.current().get("correlation_id"),
            "callback_url": request["metadata"].get("callback_url"),
            "submitter_hash": request["metadata"].get("submitter_hash"),
            "created_at": now,
            "updated_at": now,
            "estimated_completion": estimated,
            "deadline_at": now + dt.timedelta(seconds=configuration["timeout_seconds"]),
        }
        row["response"] = self._t0_response(row)
        pending = _Pending(run_dir)
        with self.db.transaction() as cur:
            columns = ", ".join(row)
            placeholders = ", ".join(["%s"] * len(row))
            values = [psycopg2.extras.Json(v) if isinstance(v, dict | list) else v
                      for v in {**row, "request": seal_request(row["request"], self.cipher)}.values()]
            cur.execute(
                f"INSERT INTO runs ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"
                f" RETURNING {_RUN_COLUMNS}",
                values,
            )
            inserted = cur.fetchone()
            if inserted is None:
                cur.execute(
                    "SELECT run_id, request_fingerprint, response FROM runs WHERE run_id = %s OR validation_id = %s",
                    (run_id, validation_id),
                )
                existing = cur.fetchone()
                if existing is not None and existing["request_fingerprint"] == request_fingerprint:
                    run = self._load_run(cur, existing["run_id"])
                    return run, False
                raise RunConflictError(
                    f"run {run_id!r} already exists with a different payload", run_id=run_id,
                    details={"run_id": run_id},
                )
            psycopg2.extras.execute_values(
                cur,
                "INSERT INTO stages (run_id, name, position, queue, status, enqueued_at) VALUES %s",
                [
                    (
                        run_id,
                        stage.name,
                        position,
                        stage.queue,
                        lifecycle.STAGE_ENQUEUED if position == 0 else lifecycle.STAGE_PENDING,
                        now if position == 0 else None,
                    )
                    for position, stage in enumerate(STAGES)
                ],
            )
            # The row as stored, with the plaintext request this call already holds (no second read or decrypt).
            run = {**inserted, "request": stored_request}
            self._event(cur, pending, run, "RUN_INITIATED", data={"validation": validation})
            pending.snapshot = self._snapshot(run)
        pending.flush()
        return run, True

    def _t0_response(self, row: dict[str, Any]) -> dict[str, Any]:
        base = self.settings.public_base_url.rstrip("/")
        validation = row["validation"]
        return {
            "run_id": row["run_id"],
            "validation_id": row["validation_id"],
            "project_id": row["project_id"],
            "status": lifecycle.INITIATED,
            "estimated_completion": iso_z(row["estimated_completion"]),
            "run_directory": row["run_dir"],
            "webhook_urls": {
                "status_updates": f"{base}/api/v1/validation/{row['run_id']}/status",
                "completion": f"{base}/api/v1/validation/{row['run_id']}/results",
            },
            "validation_results": {
                "schema_compliance": validation["schema_compliance"],
                "business_logic_check": validation["business_logic_check"],
                "risk_assessment": validation["risk_assessment"],
                "recommendations": validation["recommendations"],
            },
            "metadata": {
                "created_at": iso_z(row["created_at"]),
                "python_version": platform.python_version(),
                "smvm_version": __version__,
                "request_shape": row["request"]["metadata"]["request_shape"],
                "seed": row["seed"],
            },
        }

    # -- stage execution (workers) ----------------------------------------------------------------------------

    def claim_stage(self, run_id: str, stage_name: str, *, worker: str | None = None) -> tuple[dict[str, Any], int] | None:
        """Start an attempt of a stage, fencing out duplicates and stale messages.

        :returns: ``(run, attempt)`` when this caller now owns the stage, ``None`` when the message should be
            dropped (run gone or no longer active, stage already done or held by a live attempt, an earlier stage
            unfinished, or the redelivery cap reached, in which case the stage and run are FAILED here).
        """
        pending = _Pending()
        with self.db.transaction() as cur:
            claimed = self._claim(cur, pending, run_id, stage_name, worker)
        pending.flush()
        return claimed

    def _claim(
        self, cur: Any, pending: _Pending, run_id: str, stage_name: str, worker: str | None
    ) -> tuple[dict[str, Any], int] | None:
        now = utcnow()
        update = tracks.is_update(stage_name)
        run = self._load_run(cur, run_id, lock=True)
        if run is None or run["status"] not in _RUN_STATUSES_FOR[update]:
            return None
        pending.run_dir = self.run_directory(run)
        # The deadline is the T0 pipeline's; the update starts weeks later and is bounded by its own attempts.
        if not update and run["deadline_at"] is not None and now > run["deadline_at"]:
            self._expire(cur, pending, run)
            return None
        stages = self._stages(cur, run_id)
        stage = next((s for s in stages if s["name"] == stage_name), None)
        if stage is None or any(s["status"] != lifecycle.STAGE_SUCCEEDED for s in stages[: stage["position"]]):
            return None
        if stage["status"] in (lifecycle.STAGE_SUCCEEDED, lifecycle.STAGE_FAILED, lifecycle.STAGE_CANCELLED):
            return None
        if stage["status"] == lifecycle.STAGE_RUNNING:
            stale_before = now - dt.timedelta(seconds=self.settings.stage_stale_after_seconds)
            if stage["heartbeat_at"] is not None and stage["heartbeat_at"] > stale_before:
                return None
        if stage["attempt"] >= self.settings.stage_max_attempts:
            self._fail(cur, pending, run, stage_name, stage["attempt"], f"redelivery cap reached: {stage['attempt']} attempts")
            return None
        attempt = stage["attempt"] + 1
        cur.execute(
            "UPDATE stages SET status = 'RUNNING', attempt = %s, started_at = %s, heartbeat_at = %s, worker = %s,"
            " finished_at = NULL WHERE run_id = %s AND name = %s",
            (attempt, now, now, worker, run_id, stage_name),
        )
        if run["status"] == lifecycle.INITIATED:
            self._set_run(cur, run, status=lifecycle.RUNNING, started_at=now, current_stage=stage_name)
            self._event(cur, pending, run, "RUN_STARTED", stage=stage_name)
        else:
            self._set_run(cur, run, current_stage=stage_name)
        self._event(cur, pending, run, "STAGE_STARTED", stage=stage_name, attempt=attempt, data={"worker": worker})
        return run, attempt

    def heartbeat(self, run_id: str, stage_name: str, attempt: int) -> bool:
        """Mark a live attempt; ``False`` means this attempt has been superseded and should stop."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE stages SET heartbeat_at = now() WHERE run_id = %s AND name = %s AND attempt = %s"
                " AND status = 'RUNNING'",
                (run_id, stage_name, attempt),
            )
            return cur.rowcount == 1

    def complete_stage(
        self,
        run_id: str,
        stage_name: str,
        attempt: int,
        *,
        summary: dict[str, Any],
        artifacts: dict[str, str],
        duration_ms: int,
    ) -> str | None:
        """Record a stage's success, fenced by attempt, and enqueue the next one in the same transaction.

        :returns: the next stage's name, ``""`` when the run is now COMPLETED, or ``None`` when fenced out.
        """
        now = utcnow()
        with self._locked_run(run_id) as (cur, run, pending):
            if run is None:
                return None
            cur.execute(
                "UPDATE stages SET status = 'SUCCEEDED', finished_at = %s, heartbeat_at = %s, duration_ms = %s,"
                " result = %s, last_error = NULL WHERE run_id = %s AND name = %s AND attempt = %s AND status = 'RUNNING'",
                (now, now, duration_ms, psycopg2.extras.Json(summary), run_id, stage_name, attempt),
            )
            update = tracks.is_update(stage_name)
            if cur.rowcount != 1 or run["status"] not in _RUN_STATUSES_FOR[update]:
                return None
            for path, sha in artifacts.items():
                size = (pending.run_dir.path / path).stat().st_size
                cur.execute(
                    "INSERT INTO artifacts (run_id, path, stage, sha256, size_bytes) VALUES (%s, %s, %s, %s, %s)"
                    " ON CONFLICT (run_id, path) DO UPDATE SET sha256 = EXCLUDED.sha256,"
                    " size_bytes = EXCLUDED.size_bytes, stage = EXCLUDED.stage, created_at = now()",
                    (run_id, path, stage_name, sha, size),
                )
            self._event(
                cur, pending, run, "STAGE_COMPLETED", stage=stage_name, attempt=attempt,
                data={"summary": summary, "duration_ms": duration_ms, "artifacts": artifacts},
            )
            if stage_name == DECISION_STAGE:
                self._set_run(
                    cur, run, recommendation=summary.get("recommendation"), confidence=summary.get("confidence")
                )
                self._event(cur, pending, run, "DECISION_READY", stage=stage_name, data=summary)
            if stage_name == POSTERIOR_DECISION_STAGE:
                records.insert(cur, run, summary.get("ledger") or [])
            next_stage = tracks.next_stage(stage_name)
            stages = None
            if next_stage:
                cur.execute(
                    "UPDATE stages SET status = 'ENQUEUED', enqueued_at = %s WHERE run_id = %s AND name = %s"
                    " AND status = 'PENDING'",
                    (now, run_id, next_stage),
                )
            elif update:
                self._posterior_ready(cur, pending, run, stage_name)
                stages = self._stages(cur, run_id)
            else:
                self._set_run(cur, run, status=lifecycle.COMPLETED, completed_at=now, current_stage=None)
                self._event(cur, pending, run, "RUN_COMPLETED")
                stages = self._stages(cur, run_id)
            pending.snapshot = self._snapshot(run, stages)
        return next_stage

    def _posterior_ready(self, cur: Any, pending: _Pending, run: dict[str, Any], stage_name: str) -> None:
        """The update's last stage succeeded: the posterior decision, its reports and the ledger are all written, so
        the gate, the results, finalize and TractionBuild switch to it together."""
        cur.execute("SELECT result FROM stages WHERE run_id = %s AND name = %s", (run["run_id"], POSTERIOR_DECISION_STAGE))
        decided = cur.fetchone()["result"]
        posterior = {key: decided.get(key) for key in
                     ("recommendation", "confidence", "verdict_probabilities", "prior_recommendation", "changed")}
        posterior["ready_at"] = iso_z(utcnow())
        self._set_run(cur, run, posterior=posterior, current_stage=None)
        self._event(cur, pending, run, "POSTERIOR_READY", stage=stage_name, data=posterior)

    def release_stage(self, run_id: str, stage_name: str, attempt: int, error: str) -> bool:
        """Hand a stage back after a transient failure so it can be re-enqueued; fenced by attempt."""
        with self._locked_run(run_id) as (cur, run, pending):
            if run is None:
                return False
            cur.execute(
                "UPDATE stages SET status = 'ENQUEUED', enqueued_at = now(), last_error = %s"
                " WHERE run_id = %s AND name = %s AND attempt = %s AND status = 'RUNNING'",
                (error[:2000], run_id, stage_name, attempt),
            )
            if cur.rowcount != 1:
                return False
            self._event(cur, pending, run, "STAGE_RETRY", stage=stage_name, attempt=attempt, data={"error": error[:500]})
        return True

    def fail_stage(self, run_id: str, stage_name: str, attempt: int, error: str) -> bool:
        """Fail a stage permanently and the run with it; fenced by attempt."""
        with self._locked_run(run_id) as (cur, run, pending):
            if run is None or run["status"] not in _RUN_STATUSES_FOR[tracks.is_update(stage_name)]:
                return False
            cur.execute(
                "SELECT attempt, status FROM stages WHERE run_id = %s AND name = %s FOR UPDATE", (run_id, stage_name)
            )
            stage = cur.fetchone()
            if stage is None or stage["attempt"] != attempt or stage["status"] != lifecycle.STAGE_RUNNING:
                return False
            self._fail(cur, pending, run, stage_name, attempt, error)
        return True

    def _fail(self, cur: Any, pending: _Pending, run: dict[str, Any], stage_name: str, attempt: int, error: str) -> None:
        if tracks.is_update(stage_name):
            self._fail_update(cur, pending, run, stage_name, attempt, error)
            return
        cur.execute(
            "UPDATE stages SET status = 'FAILED', finished_at = now(), last_error = %s WHERE run_id = %s AND name = %s",
            (error[:2000], run["run_id"], stage_name),
        )
        cur.execute(
            "UPDATE stages SET status = 'CANCELLED' WHERE run_id = %s AND status IN ('PENDING', 'ENQUEUED')",
            (run["run_id"],),
        )
        self._set_run(cur, run, status=lifecycle.FAILED, error={"stage": stage_name, "message": error[:2000]})
        self._event(cur, pending, run, "STAGE_FAILED", stage=stage_name, attempt=attempt, data={"error": error[:500]})
        self._event(cur, pending, run, "RUN_FAILED", stage=stage_name)
        pending.snapshot = self._snapshot(run, self._stages(cur, run["run_id"]))

    def _fail_update(self, cur: Any, pending: _Pending, run: dict[str, Any], stage_name: str, attempt: int,
                     error: str) -> None:
        """A failed update ends the update only: the run keeps its status and its T0 decision, which stays SMVM's
        recommendation (a later PUT complete cannot restart it: the observations are recorded once)."""
        cur.execute(
            "UPDATE stages SET status = 'FAILED', finished_at = now(), last_error = %s WHERE run_id = %s AND name = %s",
            (error[:2000], run["run_id"], stage_name),
        )
        cur.execute(
            "UPDATE stages SET status = 'CANCELLED' WHERE run_id = %s AND position >= %s"
            " AND status IN ('PENDING', 'ENQUEUED')",
            (run["run_id"], tracks.FIRST_UPDATE_POSITION),
        )
        self._set_run(cur, run, current_stage=None)
        self._event(cur, pending, run, "STAGE_FAILED", stage=stage_name, attempt=attempt, data={"error": error[:500]})
        self._event(cur, pending, run, "POSTERIOR_FAILED", stage=stage_name, data={"error": error[:500]})
        pending.snapshot = self._snapshot(run, self._stages(cur, run["run_id"]))

    def _expire(self, cur: Any, pending: _Pending, run: dict[str, Any]) -> None:
        """timeout_seconds passed: keep what was produced and stop (INCOMPLETE)."""
        cur.execute(
            "UPDATE stages SET status = 'CANCELLED' WHERE run_id = %s AND status IN ('PENDING', 'ENQUEUED', 'RUNNING')",
            (run["run_id"],),
        )
        self._set_run(cur, run, status=lifecycle.INCOMPLETE, current_stage=None)
        self._event(cur, pending, run, "RUN_INCOMPLETE", data={"reason": "timeout_seconds exceeded"})
        pending.snapshot = self._snapshot(run, self._stages(cur, run["run_id"]))

    # -- client transitions ---------------------------------------------------------------------------------

    def _transition(
        self,
        found: dict[str, Any],
        target: str,
        kind: str,
        changes: dict[str, Any] | Callable[[Any, dict[str, Any]], dict[str, Any]],
        *,
        also: Callable[[Any, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Apply a client transition to a run already looked up; the status is checked again under the row lock.

        :param changes: the columns to set, or a function of the cursor and the locked run returning them.
        :param also: more writes in the same transaction, given the cursor and the run.
        """
        run_id = found["run_id"]
        with self._locked_run(run_id) as (cur, run, pending):
            if run is None:  # erased between the lookup and the lock
                raise RunNotFoundError(f"no validation run {run_id!r}", details={"id": run_id})
            if not lifecycle.can_transition(run["status"], target):
                raise InvalidTransitionError(
                    _refusal(run["status"], target),
                    run_id=run_id,
                    details={"status": run["status"], "requested": target},
                )
            if target == lifecycle.CANCELLED:
                cur.execute(
                    "UPDATE stages SET status = 'CANCELLED' WHERE run_id = %s AND status IN ('PENDING', 'ENQUEUED', 'RUNNING')",
                    (run_id,),
                )
            if callable(changes):
                changes = changes(cur, run)
            self._set_run(cur, run, status=target, **changes)
            if also is not None:
                also(cur, run)
            self._event(cur, pending, run, kind, data={k: v for k, v in changes.items() if isinstance(v, dict)})
            pending.snapshot = self._snapshot(run, self._stages(cur, run_id))
        return run

    def mark_complete(self, identifier: str, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """T0+30: the client considers validation complete; store what it sent and, when it observed something the
        model predicts on a run with a decision, start the posterior update (its stage rows, first one ENQUEUED).

        :returns: ``(run, update_started)``; publish the update's first stage only when ``update_started``, after
            this returns.
        :raises InvalidTransitionError: before the pipeline finished, after finalization, or when already marked
            complete with a different payload (the same payload again is a no-op).
        """
        run = self.resolve(identifier)
        if run["validated_at"] is not None:
            if run["completion"] == payload:
                return run, False
            raise InvalidTransitionError(
                "validation already marked complete with a different payload", run_id=run["run_id"],
                details={"status": run["status"], "validated_at": iso_z(run["validated_at"])},
            )
        if run["status"] not in (lifecycle.COMPLETED, lifecycle.INCOMPLETE):
            self._refuse(run, "complete")
        started: list[bool] = []

        def start_update(cur: Any, locked: dict[str, Any]) -> None:
            if locked["status"] == lifecycle.COMPLETED and locked["recommendation"] is not None \
                    and predictable(payload.get("observed_metrics")):
                self._insert_update_stages(cur, locked["run_id"])
                started.append(True)

        run = self._transition(run, run["status"], "RUN_VALIDATED", {"completion": payload, "validated_at": utcnow()},
                               also=start_update)
        return run, bool(started)

    def _insert_update_stages(self, cur: Any, run_id: str) -> None:
        now = utcnow()
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO stages (run_id, name, position, queue, status, enqueued_at) VALUES %s"
            " ON CONFLICT (run_id, name) DO NOTHING",
            [(run_id, stage.name, tracks.POSITIONS[stage.name], stage.queue,
              lifecycle.STAGE_ENQUEUED if index == 0 else lifecycle.STAGE_PENDING, now if index == 0 else None)
             for index, stage in enumerate(UPDATE_STAGES)],
        )

    def finalize(self, identifier: str, payload: dict[str, Any]) -> dict[str, Any]:
        """T32: SMVM's final recommendation (the posterior one where observations updated it, else the T0 one), with
        TractionBuild's go/no-go recorded beside it and any disagreement flagged; terminal.

        :raises InvalidTransitionError: unless the run is COMPLETED or INCOMPLETE (a repeat with the same payload
            returns the finalized run).
        """
        run = self.resolve(identifier)
        if run["status"] == lifecycle.FINALIZED and _client_part(run["finalization"], payload) == payload:
            return run

        def record(cur: Any, locked: dict[str, Any]) -> dict[str, Any]:
            smvm = final_word(locked, self._stages(cur, locked["run_id"]))
            said = payload.get("decision")
            agrees = None if said is None or smvm["recommendation"] is None else \
                said == gate.GO_WORDS[smvm["recommendation"]]
            return {"finalization": {**payload, "smvm": smvm, "agrees": agrees}, "finalized_at": utcnow()}

        return self._transition(run, lifecycle.FINALIZED, "RUN_FINALIZED", record)

    def cancel(self, identifier: str, reason: str | None) -> dict[str, Any]:
        run = self.resolve(identifier)
        return self._transition(run, lifecycle.CANCELLED, "RUN_CANCELLED", {"error": {"cancelled": reason or "client request"}})

    @staticmethod
    def _refuse(run: dict[str, Any], action: str) -> None:
        raise InvalidTransitionError(
            _refusal(run["status"], lifecycle.COMPLETED), run_id=run["run_id"],
            details={"status": run["status"], "requested": action},
        )

    # -- recovery (sweeper) ---------------------------------------------------------------------------------

    def find_stuck_stages(self, queue_depths: Mapping[str, int] | None = None) -> list[tuple[str, str, str]]:
        """Stages that should be moving and are not: enqueued but never started, or RUNNING with a stale heartbeat.

        ``queue_depths`` (messages per queue, waiting or reserved by a worker, from the broker) tells a backlog from
        a loss: while a queue holds at least as many messages as it has ENQUEUED stages, an old unstarted stage is
        only waiting its turn, and re-enqueuing it every sweep would flood the queue with duplicates exactly when it
        is busiest.
        Without depths (broker unreachable) every old unstarted stage is re-enqueued.

        :returns: ``(run_id, stage, reason)`` tuples; re-enqueue each (claiming fences duplicates).
        """
        now = utcnow()
        unstarted = now - dt.timedelta(seconds=self.settings.stage_unstarted_after_seconds)
        stale = now - dt.timedelta(seconds=self.settings.stage_stale_after_seconds)
        with self.db.transaction() as cur:
            waiting_on: list[str] = []
            if queue_depths is not None:
                cur.execute(
                    "SELECT s.queue, count(*) AS enqueued FROM stages s JOIN runs r USING (run_id)"
                    f" WHERE {_MOVING} AND s.status = 'ENQUEUED' GROUP BY s.queue",
                    {"first_update": tracks.FIRST_UPDATE_POSITION},
                )
                waiting_on = [row["queue"] for row in cur.fetchall()
                              if queue_depths.get(row["queue"], 0) >= row["enqueued"]]
            cur.execute(
                "SELECT s.run_id, s.name, CASE WHEN s.status = 'ENQUEUED' THEN 'unstarted' ELSE 'stale_heartbeat' END"
                " AS reason FROM stages s JOIN runs r USING (run_id)"
                f" WHERE {_MOVING} AND ("
                "  (s.status = 'ENQUEUED' AND s.enqueued_at < %(unstarted)s AND NOT s.queue = ANY(%(waiting)s::text[]))"
                "  OR (s.status = 'RUNNING' AND coalesce(s.heartbeat_at, s.started_at) < %(stale)s))"
                " ORDER BY s.enqueued_at LIMIT 500",
                {"unstarted": unstarted, "waiting": waiting_on, "stale": stale,
                 "first_update": tracks.FIRST_UPDATE_POSITION},
            )
            rows = [(row["run_id"], row["name"], row["reason"]) for row in cur.fetchall()]
            if rows:
                # Re-stamp so the next sweep gives the new message time to be picked up.
                psycopg2.extras.execute_values(
                    cur,
                    "UPDATE stages s SET enqueued_at = now() FROM (VALUES %s) AS v(run_id, name)"
                    " WHERE s.run_id = v.run_id AND s.name = v.name AND s.status = 'ENQUEUED'",
                    [(run_id, name) for run_id, name, _ in rows],
                )
        return rows

    def expire_overdue_runs(self) -> list[str]:
        """Move runs past their ``timeout_seconds`` to INCOMPLETE."""
        expired = []
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT run_id FROM runs WHERE status IN ('INITIATED', 'RUNNING') AND deadline_at < now() LIMIT 500"
            )
            candidates = [row["run_id"] for row in cur.fetchall()]
        for run_id in candidates:
            with self._locked_run(run_id) as (cur, run, pending):
                if run is None or run["status"] not in lifecycle.ACTIVE_STATUSES:
                    continue
                self._expire(cur, pending, run)
            expired.append(run_id)
        return expired
