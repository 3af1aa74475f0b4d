"""The callbacks outbox: a run's events become delivery rows in the event's own transaction.

``RunStore`` is handed ``Outbox.record`` as an event hook by whoever builds it (``api.create_app``,
``workers.context``); the rows it writes are published after commit through the ``Publisher`` it was given.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from smvm.artifacts import RunDirectory
from smvm.callbacks import payloads
from smvm.clock import utcnow
from smvm.config import Settings
from smvm.crypto.cipher import cipher_for
from smvm.errors import ArtifactNotFoundError
from smvm.features.flags import run_mode
from smvm.webhooks import models
from smvm.webhooks.policy import destination_key
from smvm.webhooks.signing import new_webhook_id

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Sends one delivery message per id to the callbacks queue, ``countdown`` seconds from now.

    The Celery side provides it (``workers.publishing.CeleryPublisher``), since smvm imports no Celery; without one
    (the embedded CLI) deliveries wait for the due-poller. ``run_ids`` (delivery id -> run id) lets each message's
    task id start with its run id, as the stages' do, for Flower's search.
    """

    def __call__(self, ids: list[int], countdown: float | None = None, *, routine: bool = False,
                 run_ids: Mapping[int, str | None]) -> None: ...


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

def publish(
    publisher: Publisher | None, ids: list[int], countdown: float | None = None, *, routine: bool = False,
    run_ids: Mapping[int, str | None] | None = None,
) -> None:
    """Hint the callbacks workers; never raises, because the due-poller is the durable path.

    :param routine: updates that may wait behind decisions and alerts on the callbacks queue (``URGENT_EVENTS``).
    :param run_ids: each delivery's run, for task ids that start with it (Flower); see ``DeliveryService.publish``.
    """
    if not ids or publisher is None:
        return
    try:
        publisher(ids, countdown, routine=routine, run_ids=run_ids or {})
    except Exception:  # noqa: BLE001 - broker down: the row stays due and beat's poller sends it later
        log.warning("smvm.webhooks.publish_failed", extra={"deliveries": ids[:20]}, exc_info=True)


def update_event_type(event_kind: str) -> str:
    """The delivery's ``event_type`` for a run event's update: ``validation.update.decision_ready``."""
    return f"validation.update.{event_kind.lower()}"


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

    def __init__(
        self, settings: Settings, publisher: Publisher | None, *, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.publisher = publisher
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
        mock = run_mode(run) == "mock"
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
            publish(self.publisher, alert_ids, run_ids=runs)
            publish(self.publisher, updates, routine=routine, run_ids=runs)

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
