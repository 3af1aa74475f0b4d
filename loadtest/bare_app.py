"""Baseline 1: a bare Flask endpoint that only pushes the request body to Redis, served like the real API."""

from __future__ import annotations

import os

import redis
from flask import Flask, request

application = Flask(__name__)
_redis = redis.Redis.from_url(os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/14"))


@application.post("/push")
def push() -> tuple[dict[str, str], int]:
    _redis.lpush("loadtest.bare", request.get_data())
    return {"status": "queued"}, 202
