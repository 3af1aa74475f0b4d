"""``smvm dlq list | show | replay | purge``: the dead-letter store from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from smvm.config import Settings
from smvm.store.db import Database
from smvm.webhooks.services import DeliveryService


def _when(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _service(settings: Settings) -> DeliveryService:
    settings.require("database_url")
    return DeliveryService(Database(settings.database_url, minconn=1, maxconn=1), settings, None)  # type: ignore[arg-type]


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "ids": [int(value) for value in (getattr(args, "id", None) or [])] or None,
        "run_id": args.run,
        "since": args.since,
        "until": args.until,
    }


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    rows, total = _service(settings).list_dead(limit=args.limit, **_filters(args))
    if args.json:
        _print({"total": total, "items": rows})
        return 0
    for row in rows:
        print(f"{row['id']:>8}  {row['webhook_id']}  {row['run_id'] or '-'}  {row['event_type']}  "
              f"attempts={row['attempts']} last={row['last_status'] or row['last_error']}  dead_at={row['dead_at']}")
    print(f"{total} dead letter(s)")
    return 0


def _cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    _print(_service(settings).show(args.delivery))
    return 0


def _require_filter(args: argparse.Namespace, action: str) -> dict[str, Any]:
    filters = _filters(args)
    if not any(value is not None for value in filters.values()) and not args.all:
        raise SystemExit(f"smvm dlq {action}: give --id, --run, --since/--until, or --all")
    return filters


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    ids = _service(settings).replay(**_require_filter(args, "replay"))
    # The rows are PENDING and due now: beat's due-poller sends them within SMVM_DELIVERY_POLL_SECONDS.
    print(f"replayed {len(ids)} dead letter(s): {', '.join(map(str, ids)) or '-'}")
    return 0


def _cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    count = _service(settings).purge(**_require_filter(args, "purge"))
    print(f"purged {count} dead letter(s)")
    return 0


def _add_filters(parser: argparse.ArgumentParser, *, ids: bool = True) -> None:
    if ids:
        parser.add_argument("--id", action="append", help="a delivery id (repeatable)")
    parser.add_argument("--run", help="only this run's dead letters")
    parser.add_argument("--since", type=_when, help="dead at or after this ISO 8601 time")
    parser.add_argument("--until", type=_when, help="dead before this ISO 8601 time")


def register(subparsers: Any) -> None:
    """Add the ``dlq`` command group to the ``smvm`` parser."""
    dlq = subparsers.add_parser("dlq", help="dead-lettered callbacks: list, show, replay, purge")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)

    listing = commands.add_parser("list", help="dead letters, newest first")
    _add_filters(listing, ids=False)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_cmd_list)

    show = commands.add_parser("show", help="one delivery by id or webhook-id, with its attempts")
    show.add_argument("delivery")
    show.set_defaults(handler=_cmd_show)

    for name, handler, text in (
        ("replay", _cmd_replay, "send again with the same webhook-id and a fresh retry budget"),
        ("purge", _cmd_purge, "delete for good"),
    ):
        command = commands.add_parser(name, help=text)
        _add_filters(command)
        command.add_argument("--all", action="store_true", help=f"{name} every dead letter")
        command.set_defaults(handler=handler)
