"""/metrics under gunicorn (deploy/gunicorn.conf.py, 2 workers) reports HTTP, run, stage, queue and beat series."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import redis
import requests

from tests.integration import harness

pytestmark = pytest.mark.integration


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


@pytest.fixture(scope="module")
def metrics_web(stack, tmp_path_factory):
    """A second API server started exactly as the Procfile's web line, on the stack's database and broker."""
    env = dict(stack.env)
    port = harness.free_port()
    prom_dir = tmp_path_factory.mktemp("prom")
    env.update(SMVM_BIND=f"127.0.0.1:{port}", SMVM_WEB_CONCURRENCY="2", SMVM_WEB_THREADS="2",
               PROMETHEUS_MULTIPROC_DIR=str(prom_dir))
    argv = [str(harness.BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "api.wsgi:application"]
    process = harness.Process("web-metrics", argv, env, tmp_path_factory.mktemp("metrics-logs")).start()
    try:
        harness.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", process, prom_dir
    finally:
        process.stop()


def test_metrics_aggregate_every_gunicorn_worker_and_read_state(stack, metrics_web, example_body) -> None:
    base, process, prom_dir = metrics_web
    accepted = stack.post_run({**example_body, "project_id": "METRICS-1"})
    assert accepted.status_code == 202, accepted.text
    stack.wait_for_status(accepted.json()["run_id"])
    pids = set(re.findall(r"Booting worker with pid: (\d+)", process.log()))
    assert len(pids) == 2, process.log()[-2000:]
    before = _samples(requests.get(f"{base}/metrics", timeout=10).text)
    healthz = 'smvm_http_requests_total{method="GET",route="/healthz",status="200"}'
    # Requests on fresh connections until both gunicorn workers have served some (each writes its own file).
    sent = 0
    while sent < 10 or (sent < 400 and len(list(prom_dir.glob("counter_*.db"))) < 2):
        assert requests.get(f"{base}/healthz", timeout=5, headers={"Connection": "close"}).status_code == 200
        sent += 1
    assert len(list(prom_dir.glob("counter_*.db"))) == 2
    assert requests.get(f"{base}/api/v1/validation/NO-SUCH-RUN/status", timeout=5).status_code == 404

    samples = _samples(requests.get(f"{base}/metrics", timeout=10).text)
    # HTTP series from every worker, merged: the count is exact whichever worker answered each scrape.
    assert samples[healthz] - before.get(healthz, 0) == sent
    duration_count = healthz.replace("smvm_http_requests_total", "smvm_http_request_duration_seconds_count")
    assert samples[duration_count] - before.get(duration_count, 0) == sent
    assert samples['smvm_http_requests_total{method="GET",route="/api/v1/validation/<identifier>/status",status="404"}'] == 1
    assert not any("NO-SUCH-RUN" in name for name in samples)  # route templates, never raw paths
    # State from PostgreSQL.
    assert samples['smvm_metrics_source_up{dependency="postgresql"}'] == 1
    assert samples['smvm_metrics_source_up{dependency="redis"}'] == 1
    assert samples['smvm_runs{status="COMPLETED"}'] >= 1
    assert samples['smvm_runs_finished_total{outcome="succeeded"}'] >= 1
    assert samples["smvm_validation_success_ratio"] > 0
    assert samples['smvm_stage_duration_seconds_count{stage="market_simulation"}'] >= 1
    assert samples['smvm_stage_duration_recent_seconds{quantile="0.95",stage="market_simulation"}'] > 0
    assert samples['smvm_queue_last_started_timestamp_seconds{queue="smvm.simulation"}'] > 0
    # Queues from Redis, breakers always present, dead letters once the deliveries table exists.
    for queue in ("smvm.pipeline", "smvm.simulation", "smvm.callbacks", "smvm.maintenance"):
        assert f'smvm_queue_depth{{queue="{queue}"}}' in samples
    assert 'smvm_webhook_breakers{state="open"}' in samples
    if "deliveries" in _tables(stack):
        assert "smvm_webhook_dead_letters" in samples


def test_queue_depth_follows_redis_and_the_sweeper_is_counted(stack, metrics_web) -> None:
    base, _, _ = metrics_web
    from workers.app import create_celery

    client = redis.Redis.from_url(stack.settings.broker_url)
    keys = ["smvm.simulation" + suffix for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169")]
    app = create_celery(stack.settings)
    # The simulation worker stops consuming while its queue is filled and scraped, as on-call would pause it: left
    # running it discarded these messages about as fast as a loaded machine published them, and the queue held
    # too few to tell a depth from zero.
    worker = [harness.worker_hostname("smvm.simulation")]
    assert app.control.cancel_consumer("smvm.simulation", destination=worker, reply=True, timeout=10), "no reply"
    try:
        for _ in range(150):  # well-formed messages for a task no worker knows: discarded once consumed again
            app.send_task("smvm.test.unknown_task", queue="smvm.simulation")
        before = sum(client.llen(key) for key in keys)
        samples = _samples(requests.get(f"{base}/metrics", timeout=10).text)
        after = sum(client.llen(key) for key in keys)
    finally:
        assert app.control.add_consumer("smvm.simulation", destination=worker, reply=True, timeout=10), "no reply"
    assert after <= samples['smvm_queue_depth{queue="smvm.simulation"}'] <= before
    assert after >= 140, "the paused queue keeps what was published (one message may be in flight)"
    harness.wait_until(lambda: sum(client.llen(key) for key in keys) == 0, timeout=60, what="simulation queue drained")
    # Beat runs the sweeper every couple of seconds in the test stack; its success is recorded for /metrics.
    harness.wait_until(
        lambda: "smvm_sweeper_last_run_timestamp_seconds" in _samples(requests.get(f"{base}/metrics", timeout=10).text),
        timeout=30, what="sweeper tick recorded",
    )


def _tables(stack) -> set[str]:
    import psycopg2

    with psycopg2.connect(stack.settings.database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cur.fetchall()}


def test_promtool_finds_nothing_wrong_in_a_scrape_after_a_completed_run(stack, metrics_web, example_body) -> None:
    """`promtool check metrics` (Debian's prometheus package) lints names, types and labels: a gauge carrying a
    quantile label, a counter without _total, ... An SRE's CI runs it; so do we."""
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool is not installed (apt-get install prometheus)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    base, _, _ = metrics_web
    run_id = stack.post_run({**example_body, "project_id": "METRICS-PROMTOOL"}).json()["run_id"]
    stack.wait_for_status(run_id)
    scrape = requests.get(f"{base}/metrics", timeout=10).text
    assert "smvm_stage_duration_recent_seconds_count" in scrape  # the windowed summary is in this scrape
    result = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=60,
                            check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), result.stdout + result.stderr
