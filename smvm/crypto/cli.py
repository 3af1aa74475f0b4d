"""``smvm keys generate|rotate``: encryption-at-rest keys."""

from __future__ import annotations

import argparse
from typing import Any

from smvm.config import Settings
from smvm.crypto.cipher import cipher_for, generate_key, rotate_requests, rotate_tree
from smvm.errors import ConfigurationError


def _cmd_keys_generate(args: argparse.Namespace, settings: Settings) -> int:
    key = generate_key()
    current = ",".join(settings.encryption_keys)
    print(f"SMVM_ENCRYPTION_KEYS={key}{',' + current if current else ''}")
    return 0


def _cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    cipher = cipher_for(settings)
    if cipher is None:
        raise ConfigurationError("encryption at rest is off: set SMVM_ENCRYPTION_KEYS (new key first) to rotate")
    files = rotate_tree(settings.runs_dir, cipher) if settings.runs_dir.exists() else {"rewritten": 0, "unchanged": 0}
    print(f"artifacts: {files['rewritten']} re-encrypted under the first key under {settings.runs_dir}")
    if settings.database_url and not args.files_only:
        from smvm.store.db import Database

        count = rotate_requests(Database(settings.database_url, minconn=1, maxconn=1), cipher)
        print(f"request payloads: {count} re-encrypted")
    print("Older keys can now be removed from SMVM_ENCRYPTION_KEYS.")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``keys`` command group to the ``smvm`` parser."""
    keys = subparsers.add_parser("keys", help="encryption-at-rest keys: generate, rotate")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    generate = key_commands.add_parser("generate", help="print SMVM_ENCRYPTION_KEYS with a new key first")
    generate.set_defaults(handler=_cmd_keys_generate)
    rotate = key_commands.add_parser("rotate", help="re-encrypt artifacts and stored requests in place with the first key")
    rotate.add_argument("--files-only", action="store_true", help="skip the stored request payloads in PostgreSQL")
    rotate.set_defaults(handler=_cmd_keys_rotate)
