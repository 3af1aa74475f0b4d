"""The embedded default: run every stage in-process into a run directory, with no server at all."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smvm import __version__
from smvm.artifacts import RunDirectory
from smvm.clock import iso_z, utcnow
from smvm.ids import new_run_id, seed_from_run_id, validation_id_for
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
    run_id = request["run_id"] or new_run_id()
    configuration = dict(request["configuration"])
    if configuration.get("seed") is None:
        configuration["seed"] = seed_from_run_id(run_id)
    request = {**request, "run_id": run_id, "configuration": configuration}
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
    for position, stage in enumerate(STAGES):
        if on_stage:
            on_stage(stage.name, position, len(STAGES))
        context = StageContext(run=run, request=request, run_dir=run_dir, progress=on_progress or (lambda _: None))
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
