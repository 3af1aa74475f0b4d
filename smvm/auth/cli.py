"""``smvm tokens create | list | revoke``: manage API bearer tokens."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re

from smvm.auth.tokens import SCOPES, TokenStore
from smvm.config import Settings
from smvm.store.db import Database

_DURATION = re.compile(r"(\d+)([mhd])")


def _parse_duration(text: str) -> dt.timedelta:
    match = _DURATION.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError("use a number followed by m, h or d, e.g. 90d")
    amount, unit = int(match.group(1)), match.group(2)
    unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
    return dt.timedelta(**{unit_name: amount})


def _store(settings: Settings) -> TokenStore:
    settings.require("database_url")
    return TokenStore(Database(settings.database_url, maxconn=1))  # type: ignore[arg-type]


def _create(args: argparse.Namespace, settings: Settings) -> int:
    expires = dt.datetime.now(dt.UTC) + args.expires_in if args.expires_in else None
    raw, row = _store(settings).create(args.name, args.scopes.split(","), args.projects.split(","), expires_at=expires)
    print(f"token {row['token_id']} ({row['name']}) scopes={','.join(row['scopes'])} projects={','.join(row['projects'])}"
          f" expires={row['expires_at'].isoformat() if row['expires_at'] else 'never'}")
    print("Store this token now; it is not shown again:")
    print(raw)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    rows = _store(settings).list()
    if args.json:
        print(json.dumps(rows, default=str, indent=2))
        return 0
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        print(f"{row['token_id']}  {state:8} {row['name']:24} {','.join(row['scopes']):32} {','.join(row['projects'])}"
              f"  expires={row['expires_at'] or 'never'}  last_used={row['last_used_at'] or 'never'}")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    if _store(settings).revoke(args.token_id):
        print(f"revoked {args.token_id}")
        return 0
    print(f"no active token {args.token_id}")
    return 1


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tokens = commands.add_parser("tokens", help="API bearer tokens (stored only as hashes)")
    actions = tokens.add_subparsers(dest="tokens_command", required=True)
    create = actions.add_parser("create", help="create a token and print it once")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. tractionbuild-prod")
    create.add_argument("--scopes", default="runs:read,runs:write",
                        help=f"comma-separated subset of {', '.join(SCOPES)} (default: %(default)s)")
    create.add_argument("--projects", default="*",
                        help="comma-separated project ids or patterns with * (default: %(default)s, every project)")
    create.add_argument("--expires-in", type=_parse_duration, help="e.g. 90d, 12h, 30m (default: never expires)")
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")
    revoke.set_defaults(handler=_revoke)
