import pytest
from marshmallow import ValidationError

from smvm.intake.evidence import EvidenceSchema, FinancialsSchema, RetentionSchema, TeamSchema, TechnologySchema

pytestmark = pytest.mark.unit

VW_OK = {"too_cheap": 5, "cheap": 10, "expensive": 30, "too_expensive": 50}


@pytest.mark.parametrize(
    ("evidence", "field", "message"),
    [
        ({"cac": float("nan")}, "cac", "finite"),
        ({"cac": float("inf")}, "cac", "finite"),
        ({"cac": -5}, "cac", "greater than 0"),
        ({"cac": "cheap"}, "cac", "valid number"),
        ({"price_points": []}, "price_points", "Length"),
        ({"price_points": [10, -1]}, "price_points", "greater than 0"),
        ({"wtp_survey": [{**VW_OK, "cheap": 60}]}, "wtp_survey", "too_cheap <= cheap"),
        ({"wtp_survey": [{"too_cheap": 1, "cheap": 2, "expensive": 3}]}, "wtp_survey", "required"),
        ({"wtp_survey": [VW_OK] * 1001}, "wtp_survey", "Length"),
        ({"competitors": [{"name": "A", "share": 1.5}]}, "competitors", "between 0 and 1"),
        ({"competitors": [{"name": "A", "price": -1}]}, "competitors", "between 0"),
        ({"competitors": [{"name": "A", "share": 0.6}, {"name": "B", "share": 0.6}]}, "competitors", "sum"),
        ({"competitors": [{"name": "A"}, {"name": "a"}]}, "competitors", "unique"),
        ({"competitors": [{"name": f"C{i}"} for i in range(51)]}, "competitors", "Length"),
        ({"competitors": [{"price": 3}]}, "competitors", "required"),
        ({"channels": [{"name": "ads", "cac": 100}]}, "channels", "required"),
        ({"traction": {"customers": -1, "monthly_revenue": 10, "months": 3}}, "traction", "greater than or equal"),
        ({"traction": {"customers": 1.5, "monthly_revenue": 10, "months": 3}}, "traction", "integer"),
        ({"traction": {"customers": 0, "monthly_revenue": 500, "months": 3}}, "traction", "without paying customers"),
        ({"traction": {"customers": 12, "monthly_revenue": 0, "months": 3}}, "traction", "bring revenue"),
        ({"traction": {"customers": 12, "monthly_revenue": 100, "months": 0}}, "traction", "greater than or equal"),
        ({"priors": {"nonsense": {"low": 1, "likely": 2, "high": 3}}}, "priors", "Unknown input"),
        ({"priors": {"churn": {"low": 0.05, "likely": 0.02, "high": 0.03}}}, "priors", "low <= likely <= high"),
        ({"priors": {"churn": {"low": 0.01, "likely": float("nan"), "high": 0.03}}}, "priors", "finite"),
        ({"priors": {"churn": {"low": -0.01, "likely": 0.02, "high": 0.03}}}, "priors", "below the physical range"),
        ({"priors": {"churn": {"low": 0.1, "likely": 0.5, "high": 1.0}}}, "priors", "above the physical range"),
        ({"priors": {"gross_margin": {"low": 0.5, "likely": 2.0, "high": 5.0}}}, "priors", "above the physical range"),
        ({"priors": {"price": {"low": -10, "likely": 5, "high": 9}}}, "priors", "below the physical range"),
        ({"surprise": 1}, "surprise", "Unknown field"),
    ],
)
def test_evidence_validation_errors(evidence, field, message):
    with pytest.raises(ValidationError) as exc:
        EvidenceSchema().load(evidence)
    assert field in exc.value.messages
    assert message.lower() in str(exc.value.messages[field]).lower()


@pytest.mark.parametrize(
    "evidence",
    [
        {},
        {"cac": 500, "price_points": [49, 99]},
        {"wtp_survey": [VW_OK, {"too_cheap": 1, "cheap": 1, "expensive": 1, "too_expensive": 1}]},
        {"competitors": [{"name": "A", "price": 0, "share": 0.4, "strengths": ["brand"]}, {"name": "B"}]},
        {"channels": [{"name": "ads", "cac": 100, "share": 0.5}], "traction": {"customers": 3, "monthly_revenue": 90,
                                                                             "months": 2}},
        {"traction": {"customers": 0, "monthly_revenue": 0, "months": 12}},
        {"priors": {"churn": {"low": 0.0, "likely": 0.01, "high": 0.01}}},
    ],
)
def test_valid_evidence_loads(evidence):
    assert isinstance(EvidenceSchema().load(evidence), dict)


@pytest.mark.parametrize(
    ("schema", "body", "field", "message"),
    [
        (RetentionSchema, {"monthly_churn": 1.0, "customers": 10, "months": 3}, "monthly_churn", "below 1"),
        (RetentionSchema, {"monthly_churn": -0.1, "customers": 10, "months": 3}, "monthly_churn", "at least 0"),
        (RetentionSchema, {"monthly_churn": 0.05}, "customers", "measured over"),
        (RetentionSchema, {}, "monthly_churn", "cohort"),
        (RetentionSchema, {"cohort": [{"month": 1, "retained": 0.9}]}, "cohort_size", "starting size"),
        (RetentionSchema, {"cohort": [{"month": 1, "retained": 0.8}, {"month": 3, "retained": 0.9}],
                           "cohort_size": 50}, "cohort", "cannot rise"),
        (RetentionSchema, {"cohort": [{"month": 1, "retained": 0}], "cohort_size": 50}, "cohort", "greater than 0"),
        (FinancialsSchema, {"gross_margin": 1.5}, "gross_margin", "between -1 and 1"),
        (FinancialsSchema, {"planned_price": 0}, "planned_price", "greater than 0"),
        (FinancialsSchema, {"planned_price": -9}, "planned_price", "greater than 0"),
        (FinancialsSchema, {"monthly_burn": -1}, "monthly_burn", "between 0"),
        (FinancialsSchema, {"runway": 3}, "runway", "Unknown field"),
        (TeamSchema, {"founders": -1}, "founders", "greater than or equal"),
        (TeamSchema, {"relevant_experience_years": 99}, "relevant_experience_years", "less than or equal"),
        (TechnologySchema, {"integrations": 1000}, "integrations", "less than or equal"),
        (TechnologySchema, {"hardware": "yes please"}, "hardware", "boolean"),
    ],
)
def test_fact_validation_errors(schema, body, field, message):
    with pytest.raises(ValidationError) as exc:
        schema().load(body)
    assert field in exc.value.messages
    assert message.lower() in str(exc.value.messages[field]).lower()


def test_valid_facts_load():
    assert RetentionSchema().load({"monthly_churn": 0.0, "customers": 5, "months": 1})["monthly_churn"] == 0.0
    assert RetentionSchema().load({"cohort": [{"month": 6, "retained": 0.7}], "cohort_size": 40})["cohort_size"] == 40
    assert FinancialsSchema().load({"gross_margin": -0.2, "monthly_burn": 0, "cash_on_hand": 0})["gross_margin"] == -0.2
    assert TechnologySchema().load({"hardware": True, "integrations": 0})["hardware"] is True
    assert TeamSchema().load({"founders": 2, "prior_exits": 1})["founders"] == 2
