import copy
import json
from pathlib import Path

import pytest

from smvm.intake.validation import parse_request
from smvm.pipeline.decide import decide

EVAL = Path(__file__).resolve().parents[3] / "examples" / "eval"


def eval_body(name):
    return copy.deepcopy(json.loads((EVAL / f"{name}.json").read_text())["request"])


def run(body, *, seed=7, full=False):
    request = parse_request(copy.deepcopy(body))
    request["run_id"] = "RUN-D"
    return decide(request, seed=seed, verdict_only=not full)


@pytest.fixture(scope="session")
def full_runs():
    """Full decision documents for three contrasting ideas of the evaluation set (computed once)."""
    names = {"GO": "saas-month_end_close", "PIVOT": "saas-renewal_tracker_price", "KILL": "saas-crowded_crm"}
    return {verdict: run(eval_body(name), full=True) for verdict, name in names.items()}
