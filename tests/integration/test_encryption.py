"""Encryption at rest with the real store: artifacts and request payloads unreadable without the key, API unchanged."""

from __future__ import annotations

import json

import pytest

from smvm import cli
from smvm.crypto.cipher import MAGIC, generate_key
from smvm.runs.store import RunStore
from tests.integration import harness
from tests.integration.inproc import app_for, new_body, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
def rotation_database(database_url):
    """`smvm keys rotate` rewrites every run in its database, so this test gets one of its own."""
    with harness.throwaway_database(database_url, "smvm_rot") as url:
        yield url


def test_encrypted_run_reads_unchanged_and_survives_rotation(rotation_database, redis_url, tmp_path, monkeypatch, capsys) -> None:
    old, new = generate_key(), generate_key()
    database_url = rotation_database
    settings = settings_for(database_url, redis_url, tmp_path, encryption_keys=(old,))
    app = app_for(settings)
    client = app.test_client()
    body = new_body()
    run_id = client.post("/api/v1/validation/runs", json=body).get_json()["run_id"]
    store: RunStore = app.extensions["smvm.store"]
    run, _ = store.detail(run_id)
    store.run_directory(run).write_json("outputs/decision.output.json", {"recommendation": "GO", "confidence": 0.9})

    # On disk and in PostgreSQL: ciphertext only.
    on_disk = (store.run_directory(run).path / "outputs/decision.output.json").read_bytes()
    # A quoted key cannot occur in the base64 ciphertext (a bare b"GO" did, by chance, about one run in twenty).
    assert on_disk.startswith(MAGIC) and b'"recommendation"' not in on_disk
    assert b"RUN_INITIATED" not in (store.run_directory(run).path / "events.jsonl").read_bytes()
    with store.db.transaction() as cur:
        cur.execute("SELECT request::text AS raw FROM runs WHERE run_id = %s", (run_id,))
        raw = cur.fetchone()["raw"]
    assert body["business_idea"]["description"][:20] not in raw and "encrypted" in raw

    # Through the API: plaintext, as before.
    assert client.get(f"/api/v1/validation/{run_id}/artifacts/decision.output.json").get_json()["recommendation"] == "GO"
    assert client.get(f"/api/v1/validation/{run_id}/status").status_code == 200

    # Rotate: new key first, old kept, everything still reads; `smvm keys rotate`; then the old key can go.
    for name, value in {"SMVM_ENV": "test", "SMVM_RUNS_DIR": str(tmp_path), "SMVM_DATABASE_URL": database_url,
                        "SMVM_ENCRYPTION_KEYS": f"{new},{old}"}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["keys", "rotate"]) == 0
    assert "re-encrypted" in capsys.readouterr().out
    only_new = app_for(settings.with_overrides(encryption_keys=(new,))).test_client()
    assert only_new.get(f"/api/v1/validation/{run_id}/artifacts/decision.output.json").get_json()["recommendation"] == "GO"
    status = only_new.get(f"/api/v1/validation/{run_id}/status")
    assert status.status_code == 200, status.get_json()
    events = only_new.get(f"/api/v1/validation/{run_id}/artifacts/events.jsonl").get_data()
    assert json.loads(events.splitlines()[0])["kind"] == "RUN_INITIATED"
