"""A run's directory on disk: atomic artifact writes with sha256, the events log and safe reads."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from smvm.crypto.cipher import ArtifactCipher, decrypt_without_key
from smvm.errors import ArtifactNotFoundError
from smvm.ids import is_safe_id

#: Artifacts a client may download through the API, by short name and by relative path.
PUBLIC_ARTIFACTS = {
    "idea.input.json": "idea.input.json",
    "validation_result.json": "validation_result.json",
    "market_data.json": "inputs/market_data.json",
    "personas.output.json": "outputs/personas.output.json",
    "competitors.output.json": "outputs/competitors.output.json",
    "simulation.config.json": "outputs/simulation.config.json",
    "simulation.result.json": "outputs/simulation.result.json",
    "decision.output.json": "outputs/decision.output.json",
    # After T0+30 observations: the update of the worlds, and the decision it made.
    "posterior.result.json": "outputs/posterior.result.json",
    "posterior.decision.json": "outputs/posterior.decision.json",
    "validation_report.md": "reports/validation_report.md",
    "analysis_report.pdf": "reports/analysis_report.pdf",
    "validation_summary.json": "validation_summary.json",
    "meta.json": "meta.json",
    "events.jsonl": "events.jsonl",
}


#: Suffix of the temporary file an atomic write renames into place; a process killed mid-write leaves one behind.
TEMP_SUFFIX = ".tmp"


def remove_stale_temp_files(root: Path, older_than_seconds: float, *, now: float | None = None) -> int:
    """Delete atomic-write leftovers (``.<name>.<random>.tmp``) under ``root`` older than ``older_than_seconds``.

    A write in progress is never that old when the age exceeds the stage hard time limit: the stage that owned it
    has been killed by then. :returns: how many files were removed.
    """
    cutoff = (now if now is not None else time.time()) - older_than_seconds
    removed = 0
    for path in Path(root).rglob(f".*{TEMP_SUFFIX}"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # removed meanwhile (another sweep, or the rename finished)
            continue
    return removed


def dump_json(value: Any) -> bytes:
    """The one JSON encoding for artifacts: sorted keys, so equal content gives equal bytes."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def run_directory_path(root: Path, project_id: str, run_id: str) -> Path:
    if not (is_safe_id(project_id, project=True) and is_safe_id(run_id)):
        raise ValueError("unsafe project_id or run_id")
    return Path(root) / project_id / "validation" / run_id


class RunDirectory:
    """``runs/{project_id}/validation/{run_id}/``; every write is temp file + rename.

    With a ``cipher`` (see :func:`smvm.crypto.cipher.cipher_for`) files are encrypted on disk and decrypted on read,
    so callers always see plaintext; hashes are of the plaintext, so they stay stable across re-runs and key rotation.
    """

    def __init__(self, root: Path, project_id: str, run_id: str, *, cipher: ArtifactCipher | None = None) -> None:
        self.path = run_directory_path(root, project_id, run_id)
        self.cipher = cipher

    def _resolve(self, relative: str) -> Path:
        parts = PurePosixPath(relative).parts
        if not parts or any(part in {"..", ""} or part.startswith("/") for part in parts):
            raise ArtifactNotFoundError(f"no artifact named {relative!r}")
        return self.path.joinpath(*parts)

    def write_bytes(self, relative: str, data: bytes, *, durable: bool = True) -> str:
        """Write atomically and return the sha256, so a re-run stage leaves the same bytes and hash.

        ``durable=False`` skips the fsync, for mirrors of PostgreSQL state (meta.json) that the next write rebuilds:
        the rename still keeps readers from seeing a torn file.
        """
        target = self._resolve(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        stored = self.cipher.encrypt(data) if self.cipher is not None else data
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(stored)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return hashlib.sha256(data).hexdigest()

    def write_json(self, relative: str, value: Any) -> str:
        return self.write_bytes(relative, dump_json(value))

    def write_text(self, relative: str, text: str) -> str:
        return self.write_bytes(relative, text.encode())

    def read_bytes(self, relative: str) -> bytes:
        target = self._resolve(relative)
        try:
            data = target.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFoundError(f"artifact {relative!r} does not exist yet") from None
        if self.cipher is None:
            return decrypt_without_key(data)
        return self.cipher.decrypt_lines(data) if target.name.endswith(".jsonl") else self.cipher.decrypt(data)

    def read_json(self, relative: str) -> Any:
        return json.loads(self.read_bytes(relative))

    def exists(self, relative: str) -> bool:
        return self._resolve(relative).is_file()

    def append_event(self, event: dict[str, Any]) -> None:
        """Append one line; O_APPEND keeps concurrent small writes from interleaving."""
        self.path.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(event, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()
        if self.cipher is not None:
            line = self.cipher.encrypt_lines(line)
        fd = os.open(self.path / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
