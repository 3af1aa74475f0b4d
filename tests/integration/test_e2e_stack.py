"""The whole stack as `make up` starts it: the Procfile under honcho (web, the four workers, beat and Flower), a
database migrated by `smvm db upgrade`, a token from `smvm tokens create`; then one run from POST to its signed
callbacks, its results, and Flower seeing every worker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import requests

from tests.integration import harness
from tests.integration.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "whsec_" + "ZTJlLXN0YWNrLXNlY3JldC1mb3ItdGhlLXdob2xlLXRlc3Q="
FLOWER_LOGIN = ("oncall", "e2e-flower-login")
#: `make up`'s process list (the release step, `smvm db upgrade`, is run first, as make up runs it).
PROCESSES = ("web", "pipeline", "simulation", "callbacks", "maintenance", "beat", "flower")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET, harness.free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def up(module_redis_url: str, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    workdir = tmp_path_factory.mktemp("make-up")
    # A directory of its own, as a deployment has: the Procfile's relative paths (deploy/, var/) resolve in it.
    shutil.copy(harness.ROOT / "Procfile", workdir / "Procfile")
    (workdir / "deploy").symlink_to(harness.ROOT / "deploy")
    (workdir / "var").mkdir()
    web, flower = harness.free_port(), harness.free_port()
    admin = os.environ.get("SMVM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with harness.throwaway_database(admin, "smvm_e2e", migrate=False) as database_url:
        env = {
            "PATH": f"{harness.BIN}:/usr/bin:/bin", "HOME": str(workdir), "PYTHONUNBUFFERED": "1",
            "SMVM_ENV_FILE": "", "SMVM_ENV": "development",
            "SMVM_DATABASE_URL": database_url, "SMVM_BROKER_URL": module_redis_url, "SMVM_REDIS_URL": module_redis_url,
            "SMVM_WEBHOOK_SECRET": SECRET, "SMVM_CALLBACK_ALLOW_HTTP": "true", "SMVM_CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
            "SMVM_BIND": f"127.0.0.1:{web}", "SMVM_PUBLIC_BASE_URL": f"http://127.0.0.1:{web}",
            "SMVM_WEB_CONCURRENCY": "1", "SMVM_FLOWER_PORT": str(flower),
            "SMVM_FLOWER_BASIC_AUTH": ":".join(FLOWER_LOGIN), "SMVM_RUNS_DIR": str(workdir / "runs"),
            "SMVM_PROBE_DIR": str(workdir / "probes"), "PROMETHEUS_MULTIPROC_DIR": str(workdir / "var" / "prometheus"),
        }

        def smvm(*args: str) -> str:
            done = subprocess.run([str(harness.BIN / "smvm"), *args], cwd=workdir, env=env, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout

        smvm("db", "upgrade")
        created = smvm("tokens", "create", "--name", "e2e", "--scopes", "runs:admin", "--projects", "*",
                       "--expires-in", "1d")
        token = re.search(r"smvm_[A-Za-z0-9_-]+", created)
        assert token, created
        argv = [str(harness.BIN / "honcho"), "-e", "/dev/null", "-f", "Procfile", "start", *PROCESSES]
        honcho = harness.Process("honcho", argv, env, workdir, cwd=workdir).start()
        try:
            harness.wait_until(lambda: requests.get(f"http://127.0.0.1:{web}/readyz", timeout=2).status_code == 200,
                               timeout=60, what="the web process ready\n" + honcho.log()[-3000:])
            yield {"api": f"http://127.0.0.1:{web}/api/v1", "flower": f"http://127.0.0.1:{flower}",
                   "headers": {"Authorization": f"Bearer {token.group(0)}"}, "honcho": honcho}
        finally:
            honcho.stop(timeout=30)


def test_a_run_goes_from_post_to_signed_callbacks_through_the_procfile_stack(up, receiver, example_body) -> None:
    body = {**example_body, "project_id": "E2E-1",
            "metadata": {**example_body["metadata"], "callback_url": receiver.url}}
    accepted = requests.post(f"{up['api']}/validation/runs", json=body, headers=up["headers"], timeout=30)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]

    def updates() -> list[dict]:
        return [r.json() for r in receiver.received() if r.path.endswith("/validation/update")
                and r.json()["run_id"] == run_id]

    harness.wait_until(lambda: any(u["status"] == "completed" for u in updates()), timeout=120,
                       what="the run's last callback\n" + up["honcho"].log()[-4000:])
    assert all(r.verified for r in receiver.received()), "every callback carries a valid Standard Webhooks signature"
    events = [u["event"] for u in updates()]
    assert "DECISION_READY" in events and events.count("RUN_COMPLETED") == 1
    results = requests.get(f"{up['api']}/validation/{run_id}/results", headers=up["headers"], timeout=30).json()
    assert results["status"] == "COMPLETED" and results["decision"]["recommendation"] in ("GO", "PIVOT", "KILL")
    report = requests.get(f"{up['api']}/validation/{run_id}/artifacts/analysis_report.pdf", headers=up["headers"],
                          timeout=30)
    assert report.status_code == 200 and report.content.startswith(b"%PDF-")

    def workers() -> set[str]:
        answer = requests.get(f"{up['flower']}/api/workers", params={"refresh": "1"}, auth=FLOWER_LOGIN,
                              timeout=20).json()
        return {name.split("@")[0] for name in answer}

    harness.wait_until(lambda: workers() >= {"pipeline", "simulation", "callbacks", "maintenance"}, timeout=60,
                       interval=1, what="Flower listing the Procfile's four workers")
