"""In-process API apps on the real test database, for features whose effect is one request away."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from flask import Flask

from api import create_app
from smvm.config import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "examples" / "idea.json").read_text())


def settings_for(database_url: str, redis_url: str, runs_dir: Path, **overrides: Any) -> Settings:
    return Settings(env="test", auth_required=False, database_url=database_url, broker_url=redis_url,
                    redis_url=redis_url, runs_dir=runs_dir, callback_allow_http=True,
                    callback_allowed_hosts=("127.0.0.1", "localhost"), **overrides)


def app_for(settings: Settings, enqueued: list[str] | None = None) -> Flask:
    """The real app factory; publishing is recorded instead of sent (no workers here)."""
    sink = enqueued if enqueued is not None else []
    return create_app(settings, enqueue=lambda run_id, from_stage=None: sink.append(run_id))


def new_body(callback_url: str | None = None) -> dict[str, Any]:
    body = json.loads(json.dumps(EXAMPLE))
    body["run_id"] = f"RUN-IT-{uuid.uuid4().hex[:12]}"
    if callback_url:
        body.setdefault("metadata", {})["callback_url"] = callback_url
    return body
