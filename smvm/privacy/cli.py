"""``smvm erase --project P | --submitter S [--yes]``: delete a data subject's runs and files, leaving an audit entry."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smvm.config import Settings


def register(subparsers: Any) -> None:
    """Add the ``erase`` command to the ``smvm`` parser's subcommands."""
    erase = subparsers.add_parser(
        "erase", help="delete every run (rows, events, deliveries, files) of a project or a submitter, with an audit entry"
    )
    subject = erase.add_mutually_exclusive_group(required=True)
    subject.add_argument("--project", help="a project_id")
    subject.add_argument("--submitter", help="the submitter's identifier (e.g. e-mail) or its sha256:<hex> hash")
    erase.add_argument("--requested-by", default="smvm-cli",
                       help="who asked for the erasure, recorded in the audit entry (a ticket or operator id, not PII;"
                            " default: %(default)s)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    erase.set_defaults(handler=_cmd_erase)


def _confirmed(count: int, subject: str) -> bool:
    """Ask on the terminal (the JSON result alone goes to stdout); anything but y/yes, or no answer, is a no."""
    print(f"Erase {count} run(s) of {subject} (rows, events, deliveries and files)? This cannot be undone. [y/N] ",
          end="", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def _cmd_erase(args: argparse.Namespace, settings: Settings) -> int:
    from smvm.privacy.erasure import count_runs, erase_project, erase_submitter
    from smvm.store.db import Database

    settings.require("database_url")
    db = Database(settings.database_url, minconn=1, maxconn=1)  # type: ignore[arg-type]
    try:
        if not args.yes:
            subject = f"project {args.project}" if args.project else "that submitter"
            if not _confirmed(count_runs(db, project_id=args.project, submitter=args.submitter), subject):
                print("smvm erase: not confirmed; nothing erased", file=sys.stderr)
                return 1
        if args.project:
            entry = erase_project(db, settings, args.project, requested_by=args.requested_by)
        else:
            entry = erase_submitter(db, settings, args.submitter, requested_by=args.requested_by)
    finally:
        db.close()
    print(json.dumps(entry, indent=2, sort_keys=True))
    return 0
