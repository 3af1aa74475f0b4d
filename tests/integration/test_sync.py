"""The T0+30 sync with three beat processes over three simulated days: each due run is synced exactly once."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest

from smvm.config import Settings
from smvm.runs.store import RunStore
from smvm.store.db import Database
from tests.integration import harness
from tests.integration.conftest import settings_environ
from tests.integration.receiver import Receiver
from tests.integration.test_callbacks import SECRET, _new_run, callback_settings  # noqa: F401 - fixture reuse

pytestmark = pytest.mark.integration

DAY1 = dt.datetime(2031, 3, 1, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def tractionbuild() -> Iterator[Receiver]:
    server = Receiver(SECRET, harness.free_port())
    counter = iter(range(1, 1000))
    server.responder = lambda received: (201, {}, json.dumps({"reference_id": f"TB-{next(counter)}"}).encode())
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def sync_stack(callback_settings: Settings,  # noqa: F811 - the imported fixture, requested by name
               tractionbuild: Receiver, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("sync-logs")
    clock = log_dir / "clock"
    # Beats tick as soon as they start: keep their clock before the test's days until its runs are completed, or a
    # first tick at DAY1 can record day 0 with nothing due yet (seen once: day 0 never synced).
    clock.write_text((DAY1 - dt.timedelta(days=10)).isoformat())
    settings = callback_settings.with_overrides(
        tractionbuild_base_url=tractionbuild.url, results_sync_tick_seconds=1.0, clock_file=clock,
        results_sync_after_days=30.0,
    )
    env = settings_environ(settings)
    processes = {
        "callbacks": harness.celery_worker("smvm.callbacks", env, log_dir, name="sy-callbacks").start(),
        "maintenance": harness.celery_worker("smvm.maintenance", env, log_dir, concurrency=2, name="sy-maint").start(),
    }
    for index in range(3):
        processes[f"beat{index}"] = harness.celery_beat(env, log_dir, name=f"sy-beat{index}").start()
    try:
        for name in ("callbacks", "maintenance"):
            harness.wait_for_worker(processes[name])
        yield settings, clock, processes
    finally:
        harness.stop_all(processes.values())


def _complete(store: RunStore, run_id: str, completed_at: dt.datetime) -> None:
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET status = 'COMPLETED', completed_at = %s WHERE run_id = %s", (completed_at, run_id))


def test_three_beats_three_days_each_due_run_synced_once(sync_stack, tractionbuild) -> None:
    settings, clock, processes = sync_stack
    store = harness.wired_store(Database(settings.database_url, minconn=1, maxconn=2), settings)  # type: ignore[arg-type]
    # One run becomes due on each simulated day (completed 30 days before that day's 02:00).
    runs = []
    for day in range(3):
        run = _new_run(store, "http://127.0.0.1:9/unused")  # update callbacks to a closed port die harmlessly
        _complete(store, run["run_id"], DAY1 - dt.timedelta(days=30 - day, hours=1, minutes=5))
        runs.append(run)
    path = "/api/v1/projects/{}/validation-results"

    def synced() -> list[str]:
        return [r.json()["run_id"] for r in tractionbuild.received() if r.path.endswith("/validation-results")]

    for day in range(3):
        clock.write_text((DAY1 + dt.timedelta(days=day)).isoformat())
        harness.wait_until(lambda day=day: len(synced()) >= day + 1, timeout=30,
                           what=f"day {day} sync\n" + "\n".join(p.log()[-2000:] for p in processes.values()))
    time.sleep(3)  # several more ticks from all three beats: nothing more may be sent
    assert sorted(synced()) == sorted(run["run_id"] for run in runs)
    assert all(r.verified for r in tractionbuild.received())
    first = next(r for r in tractionbuild.received() if r.path == path.format(runs[0]["project_id"])).json()
    assert set(first["files"]) >= {"decision_output", "run_metadata", "events_log"}
    with store.db.transaction() as cur:
        cur.execute("SELECT run_id, tractionbuild_reference, persisted_at FROM runs WHERE run_id = ANY(%s)",
                    ([run["run_id"] for run in runs],))
        rows = cur.fetchall()
        cur.execute("SELECT logical_date FROM scheduled_jobs WHERE job = 'results_sync' ORDER BY logical_date")
        dates = [row["logical_date"] for row in cur.fetchall()]
    assert all(row["tractionbuild_reference"].startswith("TB-") and row["persisted_at"] for row in rows)
    assert dates[-3:] == [(DAY1 + dt.timedelta(days=day)).date() for day in range(3)]
    assert len(dates) == len(set(dates))


def test_a_posterior_ready_after_the_sync_goes_with_the_next_days_sync_once(sync_stack, tractionbuild) -> None:
    settings, clock, _ = sync_stack
    store = harness.wired_store(Database(settings.database_url, minconn=1, maxconn=2), settings)  # type: ignore[arg-type]
    run = _new_run(store, "http://127.0.0.1:9/unused")
    day3 = DAY1 + dt.timedelta(days=3)
    _complete(store, run["run_id"], day3 - dt.timedelta(days=30, hours=1, minutes=5))

    def syncs() -> list[dict]:
        return [r.json() for r in tractionbuild.received()
                if r.path.endswith("/validation-results") and r.json()["run_id"] == run["run_id"]]

    clock.write_text(day3.isoformat())
    harness.wait_until(lambda: len(syncs()) == 1, timeout=30, what="the run's T0+30 sync")
    # Observations arrived at T0+30 and the update track finished after the sync was queued.
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET posterior = %s WHERE run_id = %s",
                    (json.dumps({"recommendation": "GO", "ready_at": dt.datetime.now(dt.UTC).isoformat()}), run["run_id"]))
    time.sleep(2)  # more ticks on the same logical date: the posterior waits for the next day's sync
    assert len(syncs()) == 1
    clock.write_text((day3 + dt.timedelta(days=1)).isoformat())
    harness.wait_until(lambda: len(syncs()) == 2, timeout=30, what="the posterior's sync on the next day")
    time.sleep(3)  # several more ticks from all three beats: sent once
    assert len(syncs()) == 2
    assert "posterior_decision" in syncs()[1]["files"]
