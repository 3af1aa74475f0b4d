import pytest
from marshmallow import ValidationError

from smvm.market.schemas import EvidenceSchema

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
        ({"competitors": [{"name": "A", "share": 0.6}, {"name": "B", "share": 0.6}]}, "competitors", "sum"),
        ({"competitors": [{"name": "A"}, {"name": "a"}]}, "competitors", "unique"),
        ({"competitors": [{"name": f"C{i}"} for i in range(51)]}, "competitors", "Length"),
        ({"competitors": [{"price": 3}]}, "competitors", "required"),
        ({"channels": [{"name": "ads", "cac": 100}]}, "channels", "required"),
        ({"traction": {"customers": -1, "monthly_revenue": 10, "months": 3}}, "traction", "greater than or equal"),
        ({"traction": {"customers": 1.5, "monthly_revenue": 10, "months": 3}}, "traction", "integer"),
        ({"priors": {"nonsense": {"low": 1, "likely": 2, "high": 3}}}, "priors", "Unknown input"),
        ({"priors": {"churn": {"low": 0.05, "likely": 0.02, "high": 0.03}}}, "priors", "low <= likely <= high"),
        ({"priors": {"churn": {"low": 0.01, "likely": float("nan"), "high": 0.03}}}, "priors", "finite"),
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
        {"competitors": [{"name": "A", "price": 10, "share": 0.4, "strengths": ["brand"]}, {"name": "B"}]},
        {"channels": [{"name": "ads", "cac": 100, "share": 0.5}], "traction": {"customers": 3, "monthly_revenue": 90,
                                                                             "months": 2}},
        {"priors": {"churn": {"low": 0.01, "likely": 0.01, "high": 0.01}}},
    ],
)
def test_valid_evidence_loads(evidence):
    assert isinstance(EvidenceSchema().load(evidence), dict)
