"""Fernet encryption at rest: the first configured key encrypts, every key decrypts, so keys rotate without downtime."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from smvm.config import Settings
from smvm.errors import ConfigurationError, SmvmError

#: Marks an encrypted file (or events.jsonl line). Files without it are plaintext written before encryption was on,
#: and stay readable, so turning encryption on needs no migration (``smvm keys rotate`` encrypts them in place).
MAGIC = b"SMVMENC1:"


class DecryptionError(SmvmError):
    """Encrypted data that no configured key opens (a key was dropped before ``smvm keys rotate`` ran)."""

    code = "DECRYPTION_FAILED"


def generate_key() -> str:
    return Fernet.generate_key().decode()


class ArtifactCipher:
    """Encrypts bytes as ``MAGIC + Fernet token``; decrypts with any configured key."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigurationError("encryption needs at least one key in SMVM_ENCRYPTION_KEYS")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ConfigurationError(f"SMVM_ENCRYPTION_KEYS: not a Fernet key ({exc})") from None

    def encrypt(self, data: bytes) -> bytes:
        return MAGIC + self._fernet.encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        """:raises DecryptionError: the data is encrypted and no configured key opens it."""
        if not data.startswith(MAGIC):
            return data
        try:
            return self._fernet.decrypt(data[len(MAGIC):])
        except InvalidToken:
            raise DecryptionError("no configured encryption key opens this data") from None

    def rotate(self, data: bytes) -> bytes:
        """Re-encrypt under the first key (plaintext gets encrypted); unchanged bytes mean nothing to do."""
        if not data.startswith(MAGIC):
            return self.encrypt(data)
        try:
            return MAGIC + self._fernet.rotate(data[len(MAGIC):])
        except InvalidToken:
            raise DecryptionError("no configured encryption key opens this data") from None

    def encrypt_lines(self, data: bytes) -> bytes:
        """events.jsonl is append-only: each line is encrypted on its own so O_APPEND writes stay atomic."""
        return b"".join(self.encrypt(line) + b"\n" for line in data.splitlines())

    def decrypt_lines(self, data: bytes) -> bytes:
        return b"".join(self.decrypt(line) + b"\n" for line in data.splitlines() if line)

    def rotate_lines(self, data: bytes) -> bytes:
        return b"".join(self.rotate(line) + b"\n" for line in data.splitlines() if line)


def decrypt_without_key(data: bytes) -> bytes:
    """What a reader without a cipher gets: plaintext as is, encrypted data refused."""
    if data.startswith(MAGIC) or b"\n" + MAGIC in data:
        raise ConfigurationError("data is encrypted at rest; set SMVM_ENCRYPTION_KEYS to read it")
    return data


@functools.lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> ArtifactCipher:
    return ArtifactCipher(keys)


def cipher_for(settings: Settings) -> ArtifactCipher | None:
    """The cipher a process uses, or ``None`` when encryption at rest is off (development by default).

    :raises ConfigurationError: encryption is on (production by default) and no key is configured.
    """
    if settings.encryption_keys:
        return _cipher(tuple(settings.encryption_keys))
    if settings.encrypts_at_rest:
        raise ConfigurationError(
            "SMVM_ENCRYPTION_KEYS is required outside development (generate one with `smvm keys generate`),"
            " or set SMVM_ENCRYPTION_ENABLED=false if the disks are encrypted another way"
        )
    return None


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        # Temp files of an in-flight atomic write are renamed over the target, never read.
        if path.is_file() and not path.name.startswith("."):
            yield path


def rotate_tree(root: Path, cipher: ArtifactCipher) -> dict[str, int]:
    """Re-encrypt every file under ``root`` with the first key, in place and atomically per file.

    Safe to run while workers write: a file rewritten concurrently is either fully old or fully new, and both read.
    """
    counts = {"rewritten": 0, "unchanged": 0}
    for path in _files(root):
        data = path.read_bytes()
        rotated = cipher.rotate_lines(data) if path.name.endswith(".jsonl") else cipher.rotate(data)
        if rotated == data:
            counts["unchanged"] += 1
            continue
        tmp = path.with_name(f".{path.name}.rotate.tmp")
        tmp.write_bytes(rotated)
        os.replace(tmp, path)
        counts["rewritten"] += 1
    return counts


def seal_request(request: dict[str, Any], cipher: ArtifactCipher | None) -> dict[str, Any]:
    """The form of a normalized request stored in ``runs.request``.

    Encrypted whole, with only ``configuration`` (numbers, no client text) and ``mode`` left clear for operators'
    SQL; nothing queries other request fields in SQL, and every reader goes through :func:`open_request`.
    """
    if cipher is None:
        return request
    token = cipher.encrypt(json.dumps(request, sort_keys=True, default=str).encode()).decode()
    sealed: dict[str, Any] = {"encrypted": token, "configuration": request.get("configuration")}
    if "mode" in request:
        sealed["mode"] = request["mode"]
    return sealed


def open_request(row: dict[str, Any] | None, cipher: ArtifactCipher | None) -> dict[str, Any] | None:
    """A run row with its ``request`` decrypted, if it was sealed; rows from before encryption pass unchanged."""
    if row is None or not isinstance(row.get("request"), dict) or "encrypted" not in row["request"]:
        return row
    data = row["request"]["encrypted"].encode()
    plain = cipher.decrypt(data) if cipher is not None else decrypt_without_key(data)
    return {**row, "request": json.loads(plain)}


def rotate_requests(db: Any, cipher: ArtifactCipher, *, batch: int = 200) -> int:
    """Re-seal every stored request payload under the first key (plaintext ones get encrypted). :returns: how many."""
    import psycopg2.extras

    count, last = 0, ""
    while True:
        with db.transaction() as cur:
            cur.execute(
                "SELECT run_id, request FROM runs WHERE run_id > %s ORDER BY run_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (last, batch),
            )
            rows = list(cur.fetchall())
            for row in rows:
                request = open_request(row, cipher)["request"]  # type: ignore[index]
                cur.execute("UPDATE runs SET request = %s WHERE run_id = %s",
                            (psycopg2.extras.Json(seal_request(request, cipher)), row["run_id"]))
            count += len(rows)
        if len(rows) < batch:
            return count
        last = rows[-1]["run_id"]
