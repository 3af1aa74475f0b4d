"""The four feature flags by their contract names, and which pipeline stages a run executes."""

from __future__ import annotations

from typing import Any

from smvm.config import Settings
from smvm.pipeline.stages import Stage
from smvm.pipeline.tracks import ALL_STAGES_BY_NAME

#: The seed's flag names; each is a boolean ``SMVM_<NAME>`` setting.
FLAG_NAMES = ("validation_enabled", "async_callbacks", "detailed_logging", "mock_mode")


def flags(settings: Settings) -> dict[str, bool]:
    """The flags in force, as the integration health endpoint and logs report them."""
    return {name: bool(getattr(settings, name)) for name in FLAG_NAMES}


def run_mode(run_or_request: dict[str, Any]) -> str:
    """``"mock"`` for a sandbox run, else ``"live"``; fixed at T0 in the stored request (smvm.runs.store)."""
    request = run_or_request.get("request", run_or_request)
    return "mock" if (request or {}).get("mode") == "mock" else "live"


def stage_for(run: dict[str, Any], name: str) -> Stage:
    """The stage to execute for this run: the mock variant for a sandbox run, else the real one.

    Chosen from the run, not from the worker's own flag, so a run never mixes real and mock artifacts even while
    a deployment flips the flag with runs in flight.
    """
    if run_mode(run) == "mock":
        from smvm.features.mock import MOCK_STAGES_BY_NAME

        return MOCK_STAGES_BY_NAME[name]
    return ALL_STAGES_BY_NAME[name]
