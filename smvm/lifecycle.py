"""Run and stage states, and which transitions between them are legal."""

from __future__ import annotations

INITIATED = "INITIATED"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FINALIZED = "FINALIZED"
FAILED = "FAILED"
INCOMPLETE = "INCOMPLETE"
CANCELLED = "CANCELLED"

RUN_STATUSES = (INITIATED, RUNNING, COMPLETED, FINALIZED, FAILED, INCOMPLETE, CANCELLED)
ACTIVE_STATUSES = (INITIATED, RUNNING)

#: status -> statuses it may move to. COMPLETED -> COMPLETED is PUT /complete (the status name stays).
RUN_TRANSITIONS: dict[str, tuple[str, ...]] = {
    INITIATED: (RUNNING, FAILED, INCOMPLETE, CANCELLED),
    RUNNING: (COMPLETED, FAILED, INCOMPLETE, CANCELLED),
    COMPLETED: (COMPLETED, FINALIZED),
    INCOMPLETE: (INCOMPLETE, FINALIZED),
    FINALIZED: (),
    FAILED: (),
    CANCELLED: (),
}

STAGE_PENDING = "PENDING"
STAGE_ENQUEUED = "ENQUEUED"
STAGE_RUNNING = "RUNNING"
STAGE_SUCCEEDED = "SUCCEEDED"
STAGE_FAILED = "FAILED"
STAGE_CANCELLED = "CANCELLED"

# Statuses the callback payloads use: the seed's lower-case words.
CALLBACK_STATUS = {
    INITIATED: "running",
    RUNNING: "running",
    COMPLETED: "completed",
    FINALIZED: "completed",
    FAILED: "failed",
    INCOMPLETE: "incomplete",
    CANCELLED: "cancelled",
}


def can_transition(current: str, target: str) -> bool:
    return target in RUN_TRANSITIONS.get(current, ())
