"""A run's two tracks of stages: the T0 pipeline, and the T0+30 update that runs once observations arrive.

Both are rows of the same ``stages`` table (the update's positions follow the pipeline's), claimed, fenced, swept
and retried the same way; what differs is when a track starts and what its end means: the pipeline's end completes
the run, the update's end leaves it as it was (COMPLETED or FINALIZED) with a posterior decision beside its own.
"""

from __future__ import annotations

from smvm.pipeline.stages import STAGES, Stage
from smvm.pipeline.update_stages import UPDATE_STAGES

ALL_STAGES: tuple[Stage, ...] = (*STAGES, *UPDATE_STAGES)
ALL_STAGES_BY_NAME = {stage.name: stage for stage in ALL_STAGES}
#: The ``stages.position`` of each stage: the update track's follow the pipeline's.
POSITIONS = {stage.name: position for position, stage in enumerate(ALL_STAGES)}
UPDATE_STAGE_NAMES = frozenset(stage.name for stage in UPDATE_STAGES)
#: Positions at or past this belong to the update track (the sweeper's SQL uses it).
FIRST_UPDATE_POSITION = len(STAGES)


def track_of(stage_name: str) -> tuple[Stage, ...]:
    """The stages of the track ``stage_name`` belongs to, in order.

    :raises KeyError: for an unknown stage.
    """
    if stage_name not in ALL_STAGES_BY_NAME:
        raise KeyError(stage_name)
    return UPDATE_STAGES if stage_name in UPDATE_STAGE_NAMES else STAGES


def is_update(stage_name: str) -> bool:
    return stage_name in UPDATE_STAGE_NAMES


def next_stage(stage_name: str) -> str:
    """The stage after ``stage_name`` on its track, ``""`` at the track's end."""
    track = track_of(stage_name)
    index = [stage.name for stage in track].index(stage_name)
    return track[index + 1].name if index + 1 < len(track) else ""
