"""The embedded default: run every stage in-process into a run directory, with no server at all."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smvm import __version__
from smvm.artifacts import RunDirectory
from smvm.clock import iso_z, utcnow
from smvm.ids import identify, validation_id_for
from smvm.intake.validation import validate_idea
from smvm.pipeline.stages import DECISION_STAGE, STAGES, StageContext


def run_pipeline(
    request: dict[str, Any],
    runs_dir: Path,
    *,
    on_stage: Callable[[str, int, int], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], RunDirectory]:
    """Run all seven stages in order and return ``(meta, run_dir)``; the directory matches a served run's.

    ``request`` is a normalized request (see :func:`smvm.intake.validation.parse_request`).
    """
    request = identify(request)
    run_id, configuration = request["run_id"], request["configuration"]
    run = {
        "run_id": run_id,
        "validation_id": validation_id_for(run_id),
        "project_id": request["project_id"],
        "created_at": iso_z(utcnow()),
    }
    run_dir = RunDirectory(runs_dir, request["project_id"], run_id)
    meta: dict[str, Any] = {
        **run,
        "status": "RUNNING",
        "seed": configuration["seed"],
        "configuration": configuration,
        "mode": "embedded",
        "run_directory": str(run_dir.path),
        "smvm_version": __version__,
        "stages": {},
    }
    run_dir.append_event({"at": iso_z(utcnow()), "run_id": run_id, "kind": "RUN_STARTED", "status": "RUNNING"})
    # Judged once, before any stage, as a served run's T0 judges it (RunStore.create_run); the first stage records it.
    judged = {**run, "validation": validate_idea(request)}
    for position, stage in enumerate(STAGES):
        if on_stage:
            on_stage(stage.name, position, len(STAGES))
        context = StageContext(run=judged, request=request, run_dir=run_dir, progress=on_progress or (lambda _: None))
        started = time.monotonic()
        summary = stage.execute(context)
        duration_ms = int((time.monotonic() - started) * 1000)
        meta["stages"][stage.name] = {"status": "SUCCEEDED", "duration_ms": duration_ms, "result": summary}
        run_dir.append_event(
            {
                "at": iso_z(utcnow()),
                "run_id": run_id,
                "kind": "STAGE_COMPLETED",
                "stage": stage.name,
                "status": "RUNNING",
                "data": {"summary": summary, "duration_ms": duration_ms, "artifacts": context.artifacts},
            }
        )
        if stage.name == DECISION_STAGE:
            meta["recommendation"] = summary["recommendation"]
            meta["confidence"] = summary["confidence"]
    meta["status"] = "COMPLETED"
    meta["completed_at"] = iso_z(utcnow())
    run_dir.append_event({"at": iso_z(utcnow()), "run_id": run_id, "kind": "RUN_COMPLETED", "status": "COMPLETED"})
    run_dir.write_json("meta.json", meta)
    return meta, run_dir
