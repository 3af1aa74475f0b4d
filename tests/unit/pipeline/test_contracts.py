"""Every artifact a run writes holds what its contract in smvm/contracts.py says: each required key, no key the
contract does not name, each value of the declared kind. A producer that adds, drops or renames a key without
changing the contract fails here."""

from __future__ import annotations

import copy
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from smvm import contracts
from smvm.decision.update import analyse_update
from smvm.intake.validation import parse_request
from smvm.pipeline.runner import run_pipeline
from smvm.pipeline.stages import StageContext, load_bundle
from smvm.simulation.posterior import update

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
#: Contrasting ideas: the shipped example, an evidence-backed GO, a KILL, one with no evidence at all.
IDEAS = ("examples/idea.json", "examples/eval/saas-month_end_close.json", "examples/eval/saas-crowded_crm.json",
         "examples/eval/saas-site_meeting_notes.json")


def violations(value: Any, contract: Any, where: str = "") -> list[str]:
    """What in ``value`` breaks ``contract`` (a TypedDict or a type annotation), each with its path."""
    if contract is Any:
        return []
    if typing.is_typeddict(contract):
        if not isinstance(value, dict):
            return [f"{where or 'document'}: a {type(value).__name__}, not an object"]
        hints = typing.get_type_hints(contract)
        found = [f"{where}{key}: missing" for key in sorted(contract.__required_keys__ - value.keys())]
        found += [f"{where}{key}: not in the contract" for key in sorted(value.keys() - hints.keys())]
        for key in sorted(value.keys() & hints.keys()):
            found += violations(value[key], hints[key], f"{where}{key}.")
        return found
    options = typing.get_args(contract) if isinstance(contract, types.UnionType) else (contract,)
    for option in options:
        origin = typing.get_origin(option) or option
        if option is type(None) and value is None:
            return []
        if typing.is_typeddict(option) and not violations(value, option, where):
            return []
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return []
        if origin in (str, int, bool, list, dict) and isinstance(value, origin):
            if origin is int and isinstance(value, bool):
                continue
            return []
    return [f"{where.rstrip('.')}: {type(value).__name__} where the contract says {contract}"]


def _body(path: str) -> dict[str, Any]:
    doc = json.loads((ROOT / path).read_text())
    body = copy.deepcopy(doc["request"] if "expected" in doc else doc)
    body.setdefault("configuration", {})["seed"] = 7
    body["run_id"] = f"RUN-CONTRACT-{Path(path).stem}"
    return body


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("contract-runs")
    return {path: run_pipeline(parse_request(_body(path)), root) for path in IDEAS}


@pytest.mark.parametrize("idea", IDEAS)
def test_every_artifact_of_a_run_keeps_its_contract(runs, idea) -> None:
    meta, run_dir = runs[idea]
    for relative, contract in contracts.ARTIFACT_CONTRACTS.items():
        assert violations(run_dir.read_json(relative), contract) == [], relative
    for name, stage in meta["stages"].items():
        assert isinstance(stage["result"], dict), name


def test_the_reports_bundle_and_the_t0_30_update_keep_theirs(runs) -> None:
    meta, run_dir = runs["examples/idea.json"]
    request = parse_request(_body("examples/idea.json"))
    run = {key: meta[key] for key in ("run_id", "validation_id", "project_id", "created_at")}
    bundle = load_bundle(StageContext(run=run, request={**request, "run_id": meta["run_id"]}, run_dir=run_dir))
    assert violations(bundle, contracts.ReportBundle) == []
    observed = {"window_days": 30, "paying_customers": 12, "churned_customers": 1, "mrr": 1800.0,
                "acquisition_spend": 9000.0}
    posterior = update(run_dir.read_json("outputs/simulation.config.json"), observed)
    assert violations(posterior, contracts.PosteriorResult) == []
    decision = analyse_update(run_dir.read_json("outputs/decision.output.json"), posterior)
    assert violations(decision, contracts.PosteriorDecision) == []
    assert violations({**bundle, "posterior": posterior, "posterior_decision": decision}, contracts.ReportBundle) == []


def test_the_check_sees_a_missing_an_unknown_and_a_mistyped_key(runs) -> None:
    _, run_dir = runs["examples/idea.json"]
    decision = run_dir.read_json("outputs/decision.output.json")
    decision.pop("why")
    decision["verdict"] = "GO"
    decision["score"] = "high"
    assert violations(decision, contracts.Decision) == [
        "why: missing", "verdict: not in the contract", "score: str where the contract says <class 'float'>"]
    assert violations({**run_dir.read_json("outputs/decision.output.json"), "pivot": None}, contracts.Decision) == []
