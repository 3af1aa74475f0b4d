"""``smvm dlq list | held | show | replay | purge``: dead letters and held deliveries from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from smvm.callbacks.delivery import DeliveryService
from smvm.config import Settings
from smvm.store.db import Database


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


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m {int(seconds % 60):02d}s"


def _print_held(groups: list[dict[str, Any]], settings: Settings) -> None:
    held = sum(group["count"] for group in groups)
    print(f"{held} held (not delivered, not dead; dead letters after {settings.webhook_max_hold_hours:g} h)"
          + (":" if groups else ""))
    for group in groups:
        print(f"  {group['destination']:<40} {group['reason']:<13} {group['count']:>6}  oldest {_age(group['oldest_age_seconds'])}")


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    rows, total = service.list_dead(limit=args.limit, **_filters(args))
    groups = service.held()
    if args.json:
        _print({"total": total, "items": rows, "held": groups})
        return 0
    for row in rows:
        print(f"{row['id']:>8}  {row['webhook_id']}  {row['run_id'] or '-'}  {row['event_type']}  "
              f"attempts={row['attempts']} last={row['last_status'] or row['last_error']}  dead_at={row['dead_at']}")
    print(f"{total} dead letter(s)")
    # A delivery waiting behind an open breaker or a 410 is not dead yet, and on-call must still see it.
    _print_held(groups, settings)
    return 0


def _cmd_held(args: argparse.Namespace, settings: Settings) -> int:
    groups = _service(settings).held(destination=args.destination)
    if args.json:
        _print({"max_hold_hours": settings.webhook_max_hold_hours, "groups": groups})
        return 0
    _print_held(groups, settings)
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
    dlq = subparsers.add_parser("dlq", help="callbacks that have not arrived: list, held, show, replay, purge")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)

    listing = commands.add_parser("list", help="dead letters, newest first")
    _add_filters(listing, ids=False)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_cmd_list)

    held = commands.add_parser("held", help="deliveries not delivered and not dead yet, per destination and reason")
    held.add_argument("--destination", help="only this host:port")
    held.add_argument("--json", action="store_true")
    held.set_defaults(handler=_cmd_held)

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
