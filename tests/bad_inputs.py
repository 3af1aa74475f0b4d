"""Malformed T0 requests and the field each must be refused for; shared by unit and integration tests."""

from __future__ import annotations

import copy
from typing import Any

VALID: dict[str, Any] = {
    "project_id": "PROJ-BAD-1",
    "business_idea": {
        "title": "Ledgerly",
        "description": "Bookkeeping autopilot for freelance designers that reconciles invoices and bank feeds nightly",
        "target_market": "freelance designers in the US and EU",
        "value_proposition": "Books closed every night without a bookkeeper",
        "estimated_tam": 2_000_000_000,
        "estimated_sam": 300_000_000,
        "estimated_som": 15_000_000,
    },
    "configuration": {"simulation_iterations": 1000},
    "metadata": {"initiated_by": "tb-service", "source_system": "tractionbuild"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    node = body
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = value
    return body


def _without(path: str) -> dict[str, Any]:
    body = copy.deepcopy(VALID)
    node = body
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    del node[leaf]
    return body


#: (case id, JSON body, field the error must name)
BAD_BODIES: list[tuple[str, Any, str]] = [
    ("not-an-object", [1, 2, 3], "_schema"),
    ("string-body", "hello", "_schema"),
    ("empty-object", {}, "business_idea"),
    ("missing-project", _without("project_id"), "project_id"),
    ("missing-description", _without("business_idea.description"), "business_idea.description"),
    ("empty-description", _with("business_idea.description", ""), "business_idea.description"),
    ("description-wrong-type", _with("business_idea.description", 42), "business_idea.description"),
    ("description-too-long", _with("business_idea.description", "x" * 5001), "business_idea.description"),
    ("title-too-long", _with("business_idea.title", "t" * 201), "business_idea.title"),
    ("tam-negative", _with("business_idea.estimated_tam", -5), "business_idea.estimated_tam"),
    ("tam-string", _with("business_idea.estimated_tam", "lots"), "business_idea.estimated_tam"),
    ("tam-huge", _with("business_idea.estimated_tam", 1e300), "business_idea.estimated_tam"),
    ("sam-over-tam", _with("business_idea.estimated_sam", 3_000_000_000), "business_idea.estimated_sam"),
    ("som-over-sam", _with("business_idea.estimated_som", 400_000_000), "business_idea.estimated_som"),
    ("tam-zero", _with("business_idea.estimated_tam", 0), "business_idea.estimated_tam"),
    ("sam-zero", _with("business_idea.estimated_sam", 0), "business_idea.estimated_sam"),
    ("som-zero", _with("business_idea.estimated_som", 0), "business_idea.estimated_som"),
    ("tam-over-ceiling", _with("business_idea.estimated_tam", 5e12), "business_idea.estimated_tam"),
    ("som-over-half-sam", _with("business_idea.estimated_som", 200_000_000), "business_idea.estimated_som"),
    ("description-whitespace", _with("business_idea.description", " \t  \n "), "business_idea.description"),
    ("title-whitespace", _with("business_idea.title", "   "), "business_idea.title"),
    ("churn-override-negative", _with("evidence", {"priors": {"churn": {"low": -0.1, "likely": 0.02, "high": 0.05}}}),
     "evidence.priors.churn"),
    ("churn-override-at-one", _with("evidence", {"priors": {"churn": {"low": 0.1, "likely": 0.5, "high": 1.0}}}),
     "evidence.priors.churn"),
    ("margin-override-over-one", _with("evidence", {"priors": {"gross_margin": {"low": 0.5, "likely": 3, "high": 5}}}),
     "evidence.priors.gross_margin"),
    ("price-override-negative", _with("evidence", {"priors": {"price": {"low": -5, "likely": 10, "high": 20}}}),
     "evidence.priors.price"),
    ("price-point-negative", _with("evidence", {"price_points": [49, -1]}), "evidence.price_points.1"),
    ("competitor-price-negative", _with("evidence", {"competitors": [{"name": "A", "price": -3}]}),
     "evidence.competitors.0.price"),
    ("traction-revenue-without-customers",
     _with("evidence", {"traction": {"customers": 0, "monthly_revenue": 900, "months": 4}}),
     "evidence.traction.monthly_revenue"),
    ("gross-margin-over-one", _with("financials", {"gross_margin": 5.0}), "financials.gross_margin"),
    ("planned-price-negative", _with("financials", {"planned_price": -20}), "financials.planned_price"),
    ("burn-negative", _with("financials", {"monthly_burn": -1}), "financials.monthly_burn"),
    ("churn-observed-at-one", _with("retention", {"monthly_churn": 1.0, "customers": 40, "months": 3}),
     "retention.monthly_churn"),
    ("churn-without-base", _with("retention", {"monthly_churn": 0.04}), "retention.customers"),
    ("team-unknown-field", _with("team", {"ceo": "Ada"}), "team.ceo"),
    ("unknown-idea-field", _with("business_idea.colour", "blue"), "business_idea.colour"),
    ("unknown-top-field", _with("surprise", True), "surprise"),
    ("domain-unknown", _with("business_idea.domain", "astrology"), "business_idea.domain"),
    ("project-slash", _with("project_id", "a/b"), "project_id"),
    ("project-dotdot", _with("project_id", "a..b"), "project_id"),
    ("project-leading-dot", _with("project_id", ".hidden"), "project_id"),
    ("project-too-long", _with("project_id", "P" * 65), "project_id"),
    ("run-id-traversal", _with("run_id", "../../etc"), "run_id"),
    ("run-id-space", _with("run_id", "RUN 1"), "run_id"),
    ("iterations-zero", _with("configuration.simulation_iterations", 0), "configuration.simulation_iterations"),
    ("iterations-over-cap", _with("configuration.simulation_iterations", 1_000_001), "configuration.simulation_iterations"),
    ("iterations-float", _with("configuration.simulation_iterations", 1000.5), "configuration.simulation_iterations"),
    ("iterations-string", _with("configuration.simulation_iterations", "1000"), "configuration.simulation_iterations"),
    ("personas-zero", _with("configuration.persona_count", 0), "configuration.persona_count"),
    ("personas-too-many", _with("configuration.persona_count", 51), "configuration.persona_count"),
    ("competitors-negative", _with("configuration.competitor_count", -1), "configuration.competitor_count"),
    ("timeout-too-short", _with("configuration.timeout_seconds", 1), "configuration.timeout_seconds"),
    ("seed-negative", _with("configuration.seed", -1), "configuration.seed"),
    ("seed-too-big", _with("configuration.seed", 2**64), "configuration.seed"),
    ("sampler-unknown", _with("configuration.sampler", "quasi"), "configuration.sampler"),
    ("callback-not-url", _with("metadata.callback_url", "not a url"), "metadata.callback_url"),
    ("callback-ftp", _with("metadata.callback_url", "ftp://example.com/x"), "metadata.callback_url"),
    ("initiated-at-garbage", _with("metadata.initiated_at", "yesterday"), "metadata.initiated_at"),
    ("control-chars", _with("business_idea.title", "bad\x00title"), "business_idea.title"),
    ("html-in-text", _with("business_idea.description", "<script>alert(1)</script> steal cookies"), "business_idea.description"),
    ("configuration-not-object", _with("configuration", 7), "configuration"),
    ("legacy-urgency-unknown",
     {"project_id": "P1", "idea": {"description": "Valid legacy idea text here", "urgency": "yesterday"}}, "idea.urgency"),
    ("legacy-missing-description", {"project_id": "P1", "idea": {"domain": "finance"}}, "idea.description"),
    ("tractionbuild-missing-description", {"name": "Only a name"}, "description"),
    ("tractionbuild-avatars-not-list", {"name": "N", "description": "D is a description", "target_avatars": "managers"}, "target_avatars"),
]

#: (case id, raw bytes, content type, expected status)
BAD_RAW: list[tuple[str, bytes, str, int]] = [
    ("invalid-json", b"{not json", "application/json", 400),
    ("truncated-json", b'{"project_id": "P1", "business_idea": {', "application/json", 400),
    ("nan-literal", b'{"project_id": "P1", "business_idea": {"description": "x", "estimated_tam": NaN}}', "application/json", 400),
    ("infinity-literal", b'{"project_id": "P1", "business_idea": {"description": "x", "estimated_tam": Infinity}}',
     "application/json", 400),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    ("form-encoded", b"project_id=P1", "application/x-www-form-urlencoded", 415),
    ("text-plain", b'{"project_id": "P1"}', "text/plain", 415),
    ("empty-body", b"", "application/json", 400),
    ("too-large", b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}', "application/json", 413),
]
