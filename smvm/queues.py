"""The Celery queues SMVM's work is routed to, named once: the workers consume them, /metrics counts them, and the
deploy files scale one worker Deployment per queue (tests/unit/deploy checks that they agree)."""

from __future__ import annotations

PIPELINE_QUEUE = "smvm.pipeline"
SIMULATION_QUEUE = "smvm.simulation"
CALLBACKS_QUEUE = "smvm.callbacks"
MAINTENANCE_QUEUE = "smvm.maintenance"
QUEUES = (PIPELINE_QUEUE, SIMULATION_QUEUE, CALLBACKS_QUEUE, MAINTENANCE_QUEUE)


def priority_list_suffix(priority: int) -> str:
    """What kombu appends to a queue's name for the Redis list holding its messages of ``priority`` (0, 3, 6 or 9)."""
    return f"\x06\x16{priority}" if priority else ""


#: kombu's Redis transport keeps each queue as one list per priority step; a queue's depth is the sum of them all.
PRIORITY_LIST_SUFFIXES = tuple(priority_list_suffix(priority) for priority in (0, 3, 6, 9))
