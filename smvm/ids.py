"""Run and validation identifiers, and the rule that keeps client-supplied ids safe as path segments."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

# Ids become directory names under the runs root, so nothing that could traverse or hide a path.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SAFE_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def is_safe_id(value: str, *, project: bool = False) -> bool:
    pattern = SAFE_PROJECT_ID if project else SAFE_ID
    return bool(pattern.fullmatch(value)) and ".." not in value


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"RUN-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def validation_id_for(run_id: str, sequence: int = 1) -> str:
    body = run_id[4:] if run_id.startswith("RUN-") else run_id
    return f"VAL-{body}-{sequence:03d}"


def identify(request: dict[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """The request with its run id (the client's, else a new one) and its seed (the client's, else one derived
    from the run id) filled in: what makes every run, served or embedded, reproducible from its id."""
    run_id = request["run_id"] or new_run_id(now)
    configuration = dict(request["configuration"])
    if configuration.get("seed") is None:
        configuration["seed"] = seed_from_run_id(run_id)
    return {**request, "run_id": run_id, "configuration": configuration}


def seed_from_run_id(run_id: str) -> int:
    """A stable 63-bit seed, so a run without an explicit seed is still reproducible from its id."""
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big") >> 1
