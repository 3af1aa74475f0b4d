"""What each stage reads and writes, in one place.

Stages hand each other JSON artifacts in the run directory, never objects in memory, so a stage can run in another
process, be retried, or be read by the reports and by TractionBuild later. Each artifact's contract is a TypedDict
defined here, in one module at the bottom of the layers, so that the producer and every reader can import it:

==========================================  ======================  ==========================================
artifact                                    contract                produced by
==========================================  ======================  ==========================================
``validation_result.json``                  ``ValidationResult``    ``smvm.intake.validation.validate_idea``
``inputs/market_data.json``                 ``MarketData``          ``smvm.market.ingestion.ingest_market_data``
``outputs/personas.output.json``            ``Personas``            ``smvm.market.personas.synthesize_personas``
``outputs/competitors.output.json``         ``Competitors``         ``smvm.market.competitors.synthesize_competitors``
``outputs/simulation.config.json``          ``SimulationConfig``    ``smvm.simulation.config.build_simulation_config``
``outputs/simulation.result.json``          ``SimulationResult``    ``smvm.simulation.execution.run_simulation``
``outputs/decision.output.json``            ``Decision``            ``smvm.decision.analysis.analyse_decision``
(the reports' input)                        ``ReportBundle``        ``smvm.pipeline.stages.load_bundle``
``outputs/posterior.result.json``           ``PosteriorResult``     ``smvm.simulation.posterior.update``
``outputs/posterior.decision.json``         ``PosteriorDecision``   ``smvm.decision.update.analyse_update``
==========================================  ======================  ==========================================

``idea.input.json`` is the normalized request itself. Mock-mode runs (``smvm.features.mock``) write the same paths
with small fixed stand-ins marked ``"mode": "mock"``; they are not held to these contracts.

Each stage also returns a summary, the ``*Summary`` types below: ``/status`` and the callbacks show it.
``tests/unit/pipeline/test_contracts.py`` runs the pipeline on four contrasting example ideas, and the T0+30 update
on one, and checks every artifact against its contract: a key added, dropped or renamed without changing the
contract fails the suite.
"""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired only from evaluated annotations.
from typing import Any, NotRequired, TypedDict

# -- the idea checks ------------------------------------------------------------------------------------------------


class ValidationResult(TypedDict):
    """``validate_idea``'s answer; ``failed`` in ``business_logic_check`` is a knock-out for the decision."""

    schema_compliance: str  # "passed": the request parsed (a failure is a 400 and never gets here)
    business_logic_check: str  # "passed" | "warning" | "failed"
    risk_assessment: str  # "low" | "medium" | "high"
    issues: list[dict[str, Any]]  # {"code", "field", "message", "severity"}: one per doubt or broken rule
    recommendations: list[str]


# -- the market stages ----------------------------------------------------------------------------------------------


class MarketData(TypedDict):
    """``ingest_market_data``: the domain's priors after the client's evidence, with where each input came from."""

    run_id: str
    project_id: str
    priors_version: str  # the benchmark set the priors come from (smvm/market/data)
    domain: dict[str, Any]  # {"name", "how": "given" by the client or inferred, "keyword_hits"}
    market: dict[str, Any]  # TAM, SAM, SOM in USD, reachable accounts and reference prices, where each came from
    inputs: dict[str, Any]  # input name -> low, likely, high, distribution, unit, source (prior or evidence), grade
    correlations: list[dict[str, Any]]  # {"a", "b", "rank_corr", "reason"}
    willingness_to_pay: dict[str, Any]  # the price and WTP the simulation uses, and their source
    evidence: dict[str, Any]  # what each piece of client evidence did to which input
    facts: dict[str, Any]  # the client's facts as the decision's rules read them (team, financials, traction)
    technical: dict[str, Any]  # feasibility from the stated technology, or the declared weak prior
    data_quality: dict[str, Any]  # {"score": 0..1, "grades", "notes"}: how much rests on the client's evidence


class Personas(TypedDict):
    """``synthesize_personas``: synthetic customer segments drawn from the run's seed and the facts."""

    domain: str
    count: int
    seed: int
    method: str
    synthetic: bool  # always true: every persona is invented, and says so
    wtp_unit: str
    personas: list[dict[str, Any]]  # landscape 0's segments: SAM share, WTP, adoption, churn, expansion
    landscapes: dict[str, Any]  # the other draws of the segment mix the simulation integrates over


class Competitors(TypedDict):
    """``synthesize_competitors``: the client's named competitors plus synthetic ones, fitted to the shares given."""

    count: int
    named: int  # how many the client named
    synthetic: int  # how many were invented (each marked "synthetic": true in ``competitors``)
    seed: int
    method: str
    competitors: list[dict[str, Any]]  # landscape 0's competitors: name, share, price, quality, synthetic
    top_5: list[dict[str, Any]]
    concentration_hhi: float  # Herfindahl-Hirschman index of the shares, 0..10,000
    outside_share: float  # the share of demand served by nobody listed
    positioning_matrix: dict[str, Any]  # price against quality, for the report's map
    landscapes: dict[str, Any]  # the other draws of what nobody named


# -- the simulation and the T0+30 update ----------------------------------------------------------------------------


class SimulationConfig(TypedDict):
    """``build_simulation_config``: the inputs' distributions, the market, segments, landscapes and the verdict's
    rules, with the paths and seed; ``run_simulation`` reads nothing else."""

    run_id: str
    project_id: str
    model_version: str
    seed: int
    sampler: str  # "sobol" (scrambled, randomised QMC) or "mc"
    scenario: str
    horizon_months: int
    paths: dict[str, Any]  # {"requested", "initial", "decision_grade_floor", "chunk_size", "max_iterations"}
    inputs: list[dict[str, Any]]  # one per uncertain input: name, distribution, parameters, source
    correlation: dict[str, Any]  # the Gaussian copula's matrix over ``inputs``, repaired to be positive definite
    market: dict[str, Any]
    segments: list[dict[str, Any]]
    landscapes: dict[str, Any]  # persona and competitor draws the paths are spread over
    mnl: dict[str, Any]  # the choice model's coefficients
    shocks: dict[str, Any]  # monthly demand shocks
    scenarios: dict[str, Any]  # the named scenarios' input shifts
    analyses: dict[str, Any]  # which analyses run: tornado, Sobol, scenarios, fan charts
    convergence: dict[str, Any]  # the stopping rule: target half-widths and the most paths
    execution: dict[str, Any]  # {"threads": ...}
    verdict: dict[str, Any]  # what the verdict reads: the client's facts, evidence grades, levers, flip points


class SimulationResult(TypedDict):
    """``run_simulation``: outcome distributions, charts' data, sensitivity, scenarios and the verdict over worlds."""

    model_version: str
    seed: int
    sampler: str
    scenario: str
    horizon_months: int
    paths: dict[str, Any]  # {"requested", "used", "chunk_size", "chunks", "replicates"}
    units: dict[str, Any]  # each output's unit
    metrics: dict[str, Any]  # headline figures: p_npv_positive, npv_p50, arr, break-even, LTV/CAC, ...
    outputs: dict[str, Any]  # output name -> summary statistics
    quantiles: dict[str, Any]
    replicates: list[dict[str, Any]]  # per RQMC replicate estimates, for the confidence intervals
    convergence: dict[str, Any]
    fan_charts: dict[str, Any]  # monthly P10..P90 bands
    npv_histogram: dict[str, Any]
    breakeven_cdf: dict[str, Any]
    pnl: list[dict[str, Any]]  # yearly P&L and cash, median path
    sensitivity: dict[str, Any]  # tornado, Sobol indices, rank importance, failure drivers
    scenarios: dict[str, Any]  # {"paths", "common_random_numbers", "results": per scenario, the headline metrics}
    verdict: dict[str, Any]  # the verdict over plausible worlds: probabilities, score, what would change it


class PosteriorResult(TypedDict):
    """``posterior.update``: the T0 worlds weighted by how likely each makes what the client observed."""

    window_days: int
    window_months: int
    observations: dict[str, Any]  # as PUT complete recorded them
    used: list[str]  # observations the model predicts, so the ones that weighted the worlds
    unused: list[str]
    likelihood: dict[str, Any]  # each observation's error model, the tempering, the effective number of worlds left
    prior: dict[str, Any]  # the verdict, score and verdict probabilities before
    posterior: dict[str, Any]  # and after
    moved_most: list[dict[str, Any]]  # observations ranked by how far they moved the verdict
    inputs: list[dict[str, Any]]  # prior against posterior for each input the observations touched
    measured: list[str]  # inputs the observations pinned down (spread or median moved enough to count)
    outputs: dict[str, Any]  # 36-month outcomes before and after
    fans: dict[str, Any]  # monthly bands before and after
    predictive: dict[str, Any]  # each observable's prior predictive quantiles (the calibration ledger reads them)


# -- the decision ---------------------------------------------------------------------------------------------------


class Decision(TypedDict):
    """``analyse_decision``: the verdict, how sure, why, what would change it and what to do next."""

    run_id: str
    project_id: str
    recommendation: str  # "GO" | "PIVOT" | "KILL"
    gate_decision: str  # "proceed" | "hold" | "reject" (smvm/gate.py)
    score: float  # 0..100
    confidence: float  # the verdict's probability over plausible worlds
    verdict_probabilities: dict[str, Any]  # {"GO", "PIVOT", "KILL"} -> probability
    borderline: bool  # true when the runner-up is close enough that more evidence could flip it
    runner_up: dict[str, Any]
    verdict_stability: dict[str, Any] | None  # worlds judged, raw probabilities, standard errors; None in mock runs
    why: list[str]
    what_would_change_it: list[dict[str, Any]]  # per top driver, the value at which the verdict flips
    needs_evidence: list[dict[str, Any]]  # the evidence that would most reduce the uncertainty
    next_steps: list[str]
    knockouts: list[dict[str, Any]]  # must-meet rules: rule, message, share of worlds breaking it, confirmed share
    go_gates_failed: list[dict[str, Any]]  # GO's conditions not met: rule, message, share of worlds failing
    thresholds: dict[str, Any]
    dimensions: list[dict[str, Any]]  # the score's parts, each with weight and evidence
    key_factors: list[dict[str, Any]]
    critical_success_factors: list[str]
    risk_assessment: dict[str, Any]  # market, execution, technical: level, score, drivers
    evidence: dict[str, Any]  # which inputs rest on the client's evidence
    synthetic: dict[str, Any]  # what in the run was invented (personas, competitors), said in every output
    pivot: dict[str, Any] | None  # the suggested pivot, when the verdict is PIVOT
    deliverables: dict[str, Any]


class PosteriorDecision(TypedDict):
    """``analyse_update``: the verdict again, on the worlds the T0+30 observations weighted."""

    source: str  # "posterior"
    recommendation: str
    gate_decision: str
    score: float
    confidence: float
    verdict_probabilities: dict[str, Any]
    borderline: bool
    runner_up: dict[str, Any]
    prior: dict[str, Any]  # the T0 verdict it replaces
    changed: bool
    far_outside: list[str]  # observations beyond the forecast's 99 % range: the model may be wrong, not the plan
    why: list[str]
    window_days: int
    observations: dict[str, Any]
    observed_against_forecast: list[dict[str, Any]]
    moved_most: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    outputs: dict[str, Any]
    unused: list[str]
    likelihood: dict[str, Any]
    critical_success_factors: list[str]


# -- the reports' input ---------------------------------------------------------------------------------------------


class RunIdentity(TypedDict):
    run_id: str
    validation_id: str
    project_id: str
    seed: int
    created_at: str | None
    smvm_version: str
    python_version: str


class ReportBundle(TypedDict):
    """One run's artifacts, read back, with its identity: the one source of the markdown, the PDF and
    ``validation_summary.json``, so they cannot disagree."""

    request: dict[str, Any]  # the normalized request (smvm.intake.validation.parse_request)
    run: RunIdentity
    validation: ValidationResult
    market_data: MarketData
    personas: Personas
    competitors: Competitors
    simulation_config: SimulationConfig
    simulation_result: SimulationResult
    decision: Decision
    #: artifact path -> sha256 of its bytes, for the report's provenance
    artifacts: dict[str, str]
    #: only after T0+30 observations: the update and the decision made again
    posterior: NotRequired[PosteriorResult]
    posterior_decision: NotRequired[PosteriorDecision]
    #: the calibration ledger's summary, where a store keeps one (served runs)
    calibration: NotRequired[dict[str, Any]]


# -- stage summaries and the artifact table --------------------------------------------------------------------------


#: Every artifact a live T0 run writes as JSON, with its contract.
ARTIFACT_CONTRACTS: dict[str, type] = {
    "validation_result.json": ValidationResult,
    "inputs/market_data.json": MarketData,
    "outputs/personas.output.json": Personas,
    "outputs/competitors.output.json": Competitors,
    "outputs/simulation.config.json": SimulationConfig,
    "outputs/simulation.result.json": SimulationResult,
    "outputs/decision.output.json": Decision,
}


class IdeaValidationSummary(TypedDict):
    business_logic_check: str
    risk_assessment: str
    issues: int


class DataIngestionSummary(TypedDict):
    domain: dict[str, object]
    data_quality: float | None


class SynthesisSummary(TypedDict, total=False):
    personas: int  # persona synthesis
    competitors: int  # competitor analysis


class SimulationSummary(TypedDict):
    paths: int
    paths_requested: int
    p_npv_positive: NotRequired[float]
    npv_p50: NotRequired[float]
    verdict: NotRequired[str]


class DecisionSummary(TypedDict):
    recommendation: str
    confidence: float
    score: float | None


class ReportSummary(TypedDict):
    reports: list[str]
