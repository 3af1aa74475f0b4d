"""``smvm secrets rotate``: rotate the webhook signing secret without a moment when TractionBuild rejects us."""

from __future__ import annotations

import argparse
from typing import Any

from smvm.config import Settings
from smvm.errors import ConfigurationError
from smvm.webhooks.signing import active_secrets, new_secret


def _cmd_secrets_rotate(args: argparse.Namespace, settings: Settings) -> int:
    current = active_secrets(settings.webhook_secret or "")
    if args.finish:
        if not current:
            raise ConfigurationError("SMVM_WEBHOOK_SECRET is not set: nothing to finish")
        print(f"SMVM_WEBHOOK_SECRET={current[0]}")
        return 0
    # New first, current kept: deliveries carry both signatures until TractionBuild verifies with the new one.
    print(f"SMVM_WEBHOOK_SECRET={','.join([new_secret(), *current[: max(args.keep, 0)]])}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``secrets`` command group to the ``smvm`` parser."""
    secrets = subparsers.add_parser("secrets", help="webhook signing secrets")
    secret_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    rotate_secret = secret_commands.add_parser(
        "rotate", help="print SMVM_WEBHOOK_SECRET with a new secret first and the current one(s) kept"
    )
    rotate_secret.add_argument("--keep", type=int, default=1, help="how many current secrets to keep (default 1)")
    rotate_secret.add_argument("--finish", action="store_true", help="end a rotation: keep only the newest secret")
    rotate_secret.set_defaults(handler=_cmd_secrets_rotate)
