from __future__ import annotations

import pytest

from smvm.artifacts import RunDirectory
from smvm.config import Settings
from smvm.crypto.cipher import MAGIC, ArtifactCipher, cipher_for, generate_key, open_request, rotate_tree, seal_request
from smvm.errors import ConfigurationError

pytestmark = pytest.mark.unit


def test_files_on_disk_are_ciphertext_and_read_back_plain(tmp_path) -> None:
    run_dir = RunDirectory(tmp_path, "PROJ-1", "RUN-1", cipher=ArtifactCipher([generate_key()]))
    digest = run_dir.write_json("outputs/decision.output.json", {"recommendation": "GO"})
    run_dir.append_event({"kind": "RUN_STARTED"})
    run_dir.append_event({"kind": "RUN_COMPLETED"})
    raw = (run_dir.path / "outputs/decision.output.json").read_bytes()
    # Look for a quoted JSON key: a quote cannot occur in Fernet's base64 text, whereas a bare "GO" does by chance.
    assert raw.startswith(MAGIC) and b'"recommendation"' not in raw
    assert b"RUN_STARTED" not in (run_dir.path / "events.jsonl").read_bytes()
    assert run_dir.read_json("outputs/decision.output.json") == {"recommendation": "GO"}
    assert run_dir.read_bytes("events.jsonl").count(b"\n") == 2
    # Hash of the plaintext: stable across re-runs and rotations although the ciphertext differs each time.
    assert digest == RunDirectory(tmp_path, "PROJ-2", "RUN-1").write_json("x.json", {"recommendation": "GO"})


def test_encrypted_files_are_refused_without_the_key(tmp_path) -> None:
    RunDirectory(tmp_path, "P", "R", cipher=ArtifactCipher([generate_key()])).write_json("a.json", {"x": 1})
    with pytest.raises(ConfigurationError):
        RunDirectory(tmp_path, "P", "R").read_json("a.json")
    from smvm.crypto.cipher import DecryptionError

    with pytest.raises(DecryptionError):
        RunDirectory(tmp_path, "P", "R", cipher=ArtifactCipher([generate_key()])).read_json("a.json")


def test_rotation_keeps_old_files_readable_then_rewrites_them(tmp_path) -> None:
    old, new = generate_key(), generate_key()
    RunDirectory(tmp_path, "P", "R", cipher=ArtifactCipher([old])).write_json("a.json", {"x": 1})
    RunDirectory(tmp_path, "P", "R", cipher=ArtifactCipher([old])).append_event({"kind": "E"})
    rotated = ArtifactCipher([new, old])
    assert RunDirectory(tmp_path, "P", "R", cipher=rotated).read_json("a.json") == {"x": 1}
    assert rotate_tree(tmp_path, rotated)["rewritten"] == 2
    only_new = RunDirectory(tmp_path, "P", "R", cipher=ArtifactCipher([new]))
    assert only_new.read_json("a.json") == {"x": 1}
    assert b'"E"' in only_new.read_bytes("events.jsonl")


def test_stored_request_is_sealed_except_configuration() -> None:
    cipher = ArtifactCipher([generate_key()])
    request = {"project_id": "P", "business_idea": {"description": "secret idea"}, "configuration": {"seed": 1}}
    sealed = seal_request(request, cipher)
    assert "secret idea" not in str(sealed) and sealed["configuration"] == {"seed": 1}
    assert open_request({"request": sealed}, cipher)["request"] == request
    assert open_request({"request": request}, cipher)["request"] == request  # rows from before encryption


@pytest.mark.parametrize(("settings", "on"), [
    (Settings(env="development"), False),
    (Settings(env="test", encryption_keys=(generate_key(),)), True),
    (Settings(env="production", encryption_enabled=False), False),
])
def test_encryption_defaults(settings, on) -> None:
    assert (cipher_for(settings) is not None) is on


def test_production_without_a_key_fails_at_startup() -> None:
    with pytest.raises(ConfigurationError, match="SMVM_ENCRYPTION_KEYS"):
        cipher_for(Settings(env="production"))
