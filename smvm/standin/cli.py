"""``smvm mock-tractionbuild``: run the TractionBuild stand-in in the foreground."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from smvm.config import Settings
from smvm.standin.server import StandIn, serve


def _cmd_mock_tractionbuild(args: argparse.Namespace, settings: Settings) -> int:
    # The same secret(s) SMVM signs with, unless given: then `make up` + this command verify out of the box.
    secret = ",".join(args.secret) if args.secret else (settings.webhook_secret or "")
    standin = StandIn(secret, fail=args.fail, fail_rate=args.fail_rate, fail_status=args.fail_status, out=sys.stdout)
    serve(standin, args.host, args.port)
    return 0


def register(subparsers: Any) -> None:
    """Add ``mock-tractionbuild`` to the ``smvm`` parser."""
    command = subparsers.add_parser(
        "mock-tractionbuild", help="a TractionBuild stand-in: receives callbacks and the results sync, verifies, prints"
    )
    command.add_argument("--host", default="127.0.0.1")
    command.add_argument("--port", type=int, default=9000)
    command.add_argument("--secret", action="append", help="whsec_ secret to verify with (repeatable;"
                         " default: SMVM_WEBHOOK_SECRET)")
    command.add_argument("--fail", type=int, default=0, help="answer the next N POSTs with --fail-status")
    command.add_argument("--fail-rate", type=float, default=0.0, help="answer this share of POSTs with --fail-status")
    command.add_argument("--fail-status", type=int, default=503)
    command.set_defaults(handler=_cmd_mock_tractionbuild)
