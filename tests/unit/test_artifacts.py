from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from smvm.artifacts import RunDirectory, remove_stale_temp_files
from smvm.errors import ArtifactNotFoundError

pytestmark = pytest.mark.unit


def test_atomic_write_returns_sha_and_leaves_no_temp_files(tmp_path) -> None:
    run_dir = RunDirectory(tmp_path, "P1", "RUN-1")
    sha = run_dir.write_json("outputs/x.json", {"b": 1, "a": 2})
    data = (run_dir.path / "outputs/x.json").read_bytes()
    assert sha == hashlib.sha256(data).hexdigest()
    assert list(json.loads(data)) == ["a", "b"], "keys are sorted so equal content gives equal bytes"
    assert [p.name for p in (run_dir.path / "outputs").iterdir()] == ["x.json"]
    assert run_dir.write_json("outputs/x.json", {"a": 2, "b": 1}) == sha


@pytest.mark.parametrize("name", ["../x", "a/../../b", "/etc/passwd", ""])
def test_traversal_is_refused(tmp_path, name) -> None:
    with pytest.raises(ArtifactNotFoundError):
        RunDirectory(tmp_path, "P1", "RUN-1").read_bytes(name)


def test_unsafe_ids_cannot_make_a_directory(tmp_path) -> None:
    with pytest.raises(ValueError):
        RunDirectory(tmp_path, "../P", "RUN-1")


def test_events_append_one_line_each(tmp_path) -> None:
    run_dir = RunDirectory(tmp_path, "P1", "RUN-1")
    run_dir.append_event({"kind": "A"})
    run_dir.append_event({"kind": "B"})
    lines = (run_dir.path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["A", "B"]


def test_stale_atomic_write_leftovers_are_removed_and_nothing_else(tmp_path):
    run_dir = RunDirectory(tmp_path, "PROJ-1", "RUN-1")
    run_dir.write_json("outputs/decision.output.json", {"ok": True})
    folder = run_dir.path / "outputs"
    stale = folder / ".decision.output.json.k3j2h1.tmp"  # what a worker killed mid-write leaves
    fresh = folder / ".simulation.result.json.a8b7c6.tmp"  # a write that may still be in progress
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    now = time.time()
    os.utime(stale, (now - 7200, now - 7200))

    assert remove_stale_temp_files(tmp_path, older_than_seconds=3600, now=now) == 1
    assert not stale.exists() and fresh.exists()
    assert run_dir.read_json("outputs/decision.output.json") == {"ok": True}
