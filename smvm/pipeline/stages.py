"""The seven pipeline stages: each reads earlier artifacts from the run directory and writes its own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import platform
from collections.abc import Callable, Mapping
from typing import Any

from smvm import __version__
from smvm.artifacts import RunDirectory
from smvm.clock import iso_z
from smvm.contracts import (
    DataIngestionSummary,
    DecisionSummary,
    IdeaValidationSummary,
    ReportBundle,
    ReportSummary,
    SimulationSummary,
    SynthesisSummary,
    ValidationResult,
)
from smvm.decision.analysis import analyse_decision
from smvm.market.competitors import synthesize_competitors
from smvm.market.ingestion import ingest_market_data
from smvm.market.personas import synthesize_personas
from smvm.queues import PIPELINE_QUEUE, SIMULATION_QUEUE
from smvm.reports.render import build_validation_summary, render_markdown_report, render_pdf_report
from smvm.simulation.config import build_simulation_config
from smvm.simulation.execution import run_simulation


@dataclasses.dataclass
class StageContext:
    """What a stage may touch: the run's identity, its normalized request and its directory."""

    run: dict[str, Any]
    request: dict[str, Any]
    run_dir: RunDirectory
    progress: Callable[[float], None] = lambda fraction: None
    artifacts: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The calibration ledger's summary (smvm.calibration.ledger) for stages that state it; None where no store
    #: keeps one (embedded runs).
    calibration: dict[str, Any] | None = None

    @property
    def seed(self) -> int:
        return int(self.request["configuration"]["seed"])

    def write_json(self, relative: str, value: Any) -> None:
        self.artifacts[relative] = self.run_dir.write_json(relative, value)

    def write_bytes(self, relative: str, data: bytes) -> None:
        self.artifacts[relative] = self.run_dir.write_bytes(relative, data)

    def read_json(self, relative: str) -> Any:
        return self.run_dir.read_json(relative)


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    queue: str
    execute: Callable[[StageContext], Mapping[str, Any]]
    produces: tuple[str, ...]
    #: The reports state the calibration ledger's record: the runner reads it for this stage.
    reads_calibration: bool = False


def _idea_validation(ctx: StageContext) -> IdeaValidationSummary:
    # Judged once, at T0 (the 202 answer carries it; the embedded runner judges before its first stage too).
    validation: ValidationResult = ctx.run["validation"]
    ctx.write_json("idea.input.json", ctx.request)
    ctx.write_json("validation_result.json", validation)
    return {
        "business_logic_check": validation["business_logic_check"],
        "risk_assessment": validation["risk_assessment"],
        "issues": len(validation["issues"]),
    }


def _data_ingestion(ctx: StageContext) -> DataIngestionSummary:
    market = ingest_market_data(ctx.request)
    ctx.write_json("inputs/market_data.json", market)
    return {"domain": market.get("domain"), "data_quality": market.get("data_quality", {}).get("score")}


def _persona_synthesis(ctx: StageContext) -> SynthesisSummary:
    count = ctx.request["configuration"]["persona_count"]
    personas = synthesize_personas(ctx.request, ctx.read_json("inputs/market_data.json"), count=count, seed=ctx.seed)
    ctx.write_json("outputs/personas.output.json", personas)
    return {"personas": len(personas.get("personas", []))}


def _competitor_analysis(ctx: StageContext) -> SynthesisSummary:
    count = ctx.request["configuration"]["competitor_count"]
    competitors = synthesize_competitors(
        ctx.request, ctx.read_json("inputs/market_data.json"), count=count, seed=ctx.seed
    )
    ctx.write_json("outputs/competitors.output.json", competitors)
    return {"competitors": len(competitors.get("competitors", []))}


def _market_simulation(ctx: StageContext) -> SimulationSummary:
    configuration = ctx.request["configuration"]
    config = build_simulation_config(
        ctx.request,
        ctx.read_json("inputs/market_data.json"),
        ctx.read_json("outputs/personas.output.json"),
        ctx.read_json("outputs/competitors.output.json"),
        iterations=configuration["simulation_iterations"],
        seed=ctx.seed,
        sampler=configuration.get("sampler", "sobol"),
        scenario=configuration.get("scenario", "base"),
        validation=ctx.read_json("validation_result.json"),
    )
    ctx.write_json("outputs/simulation.config.json", config)
    result = run_simulation(config, progress=ctx.progress)
    ctx.write_json("outputs/simulation.result.json", result)
    return simulation_summary(result, requested=configuration["simulation_iterations"])


def simulation_summary(result: dict[str, Any], *, requested: int) -> SimulationSummary:
    """The market simulation's stage summary (``/status``, callbacks): paths simulated and the headline metrics.

    The result keeps its metrics under ``metrics`` and its path counts under ``paths`` (``requested``/``used``);
    a flat result (the mock simulation's) is read as is.
    """
    metrics = result.get("metrics") if isinstance(result.get("metrics"), dict) else {}
    paths = result.get("paths")
    used = paths.get("used", requested) if isinstance(paths, dict) else paths if isinstance(paths, int) else requested
    summary: SimulationSummary = {"paths": used, "paths_requested": requested}
    for key in ("p_npv_positive", "npv_p50"):
        value = metrics.get(key, result.get(key))
        if isinstance(value, int | float):
            summary[key] = value
    verdict = result.get("verdict")
    if isinstance(verdict, dict) and verdict.get("verdict"):
        summary["verdict"] = verdict["verdict"]
    return summary


def _decision_analysis(ctx: StageContext) -> DecisionSummary:
    decision = analyse_decision(
        ctx.request,
        ctx.read_json("validation_result.json"),
        ctx.read_json("inputs/market_data.json"),
        ctx.read_json("outputs/personas.output.json"),
        ctx.read_json("outputs/competitors.output.json"),
        ctx.read_json("outputs/simulation.result.json"),
        ctx.read_json("outputs/simulation.config.json"),
    )
    ctx.write_json("outputs/decision.output.json", decision)
    return {
        "recommendation": decision["recommendation"],
        "confidence": decision["confidence"],
        "score": decision.get("score"),
    }


REPORTS = ("reports/validation_report.md", "reports/analysis_report.pdf", "validation_summary.json")


def report_generation(ctx: StageContext) -> ReportSummary:
    bundle = load_bundle(ctx)
    ctx.write_bytes("reports/validation_report.md", render_markdown_report(bundle).encode())
    ctx.write_bytes("reports/analysis_report.pdf", render_pdf_report(bundle))
    bundle["artifacts"] = {**bundle["artifacts"], **ctx.artifacts}
    ctx.write_json("validation_summary.json", build_validation_summary(bundle))
    return {"reports": list(REPORTS)}


def load_bundle(ctx: StageContext) -> ReportBundle:
    """Everything the reports need, read back from the artifacts earlier stages wrote."""
    names = {
        "validation": "validation_result.json",
        "market_data": "inputs/market_data.json",
        "personas": "outputs/personas.output.json",
        "competitors": "outputs/competitors.output.json",
        "simulation_config": "outputs/simulation.config.json",
        "simulation_result": "outputs/simulation.result.json",
        "decision": "outputs/decision.output.json",
    }
    bundle: dict[str, Any] = {key: ctx.read_json(path) for key, path in names.items()}
    # After T0+30 observations, the posterior decision (and the update behind it) join the reports.
    for key, path in (("posterior", "outputs/posterior.result.json"),
                      ("posterior_decision", "outputs/posterior.decision.json")):
        if ctx.run_dir.exists(path):
            bundle[key] = ctx.read_json(path)
            names[key] = path
    if ctx.calibration is not None:
        bundle["calibration"] = ctx.calibration
    bundle["request"] = ctx.request
    bundle["run"] = {
        "run_id": ctx.run["run_id"],
        "validation_id": ctx.run["validation_id"],
        "project_id": ctx.run["project_id"],
        "seed": ctx.seed,
        "created_at": _as_text(ctx.run.get("created_at")),
        "smvm_version": __version__,
        "python_version": platform.python_version(),
    }
    bundle["artifacts"] = {
        path: _sha256(ctx.run_dir.read_bytes(path)) for path in ("idea.input.json", *names.values())
    }
    return bundle


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _as_text(value: Any) -> Any:
    """Run rows from PostgreSQL carry datetimes; artifacts carry ISO 8601 text."""
    if isinstance(value, dt.datetime):
        return iso_z(value)
    return value


STAGES: tuple[Stage, ...] = (
    Stage("idea_validation", PIPELINE_QUEUE, _idea_validation, ("idea.input.json", "validation_result.json")),
    Stage("data_ingestion", PIPELINE_QUEUE, _data_ingestion, ("inputs/market_data.json",)),
    Stage("persona_synthesis", PIPELINE_QUEUE, _persona_synthesis, ("outputs/personas.output.json",)),
    Stage("competitor_analysis", PIPELINE_QUEUE, _competitor_analysis, ("outputs/competitors.output.json",)),
    Stage(
        "market_simulation",
        SIMULATION_QUEUE,
        _market_simulation,
        ("outputs/simulation.config.json", "outputs/simulation.result.json"),
    ),
    Stage("decision_analysis", PIPELINE_QUEUE, _decision_analysis, ("outputs/decision.output.json",)),
    Stage(
        "report_generation",
        PIPELINE_QUEUE,
        report_generation,
        REPORTS,
        reads_calibration=True,
    ),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
STAGES_BY_NAME = {stage.name: stage for stage in STAGES}
#: The stage whose success is DECISION_READY: what TractionBuild's gate waits for.
DECISION_STAGE = "decision_analysis"
