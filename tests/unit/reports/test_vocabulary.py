"""Plain names, units and the glossary."""

import re

import pytest

from smvm.reports import charts
from smvm.reports.content import build_report
from smvm.reports.render import render_markdown_report
from smvm.reports.vocabulary import CODE_NAMES, GLOSSARY, glossary_for, input_value, plain

pytestmark = pytest.mark.unit

#: Every term of art the report may print, and the glossary entry that explains it.
JARGON = {r"\bNPV\b": "NPV", r"\bLTV/CAC\b": "LTV/CAC", r"\bARR\b": "ARR", r"\bCAC\b": "CAC", r"\bHHI\b": "HHI",
          r"\bP(?:10|50|90)\b": "P10 / P50 / P90", r"\bSAM\b": "SAM", r"\bSOM\b": "SOM", r"\bTAM\b": "TAM",
          r"\bP\((?:GO|KILL|PIVOT|NPV)": "P(...)", r"[Tt]ornado": "Tornado", r"[Ss]ynthetic": "Synthetic"}


@pytest.mark.parametrize("kind", ["GO", "KILL", "PIVOT", "NO_EVIDENCE"])
def test_no_engine_name_reaches_the_reader(bundles, kind):
    md = render_markdown_report(bundles[kind])
    readable = md.split("## Glossary")[0]  # the glossary names the method it explains
    for name in CODE_NAMES:
        assert name not in readable, name
    assert "Sobol ST" not in readable and "P10 NPV" not in readable


@pytest.mark.parametrize("kind", ["GO", "KILL", "PIVOT", "NO_EVIDENCE"])
def test_every_term_of_art_used_is_in_the_glossary_and_only_those(bundles, kind):
    report = build_report(bundles[kind])
    md = render_markdown_report(bundles[kind])
    body = md.split("## Glossary")[0]
    terms = {e["term"] for e in report["glossary"]}
    for pattern, term in JARGON.items():
        if re.search(pattern, body):
            assert term in terms, term
    glossary = md.split("## Glossary")[1].split("## Provenance")[0]
    assert all(f"**{term}**" in glossary for term in terms)


def test_glossary_prints_only_the_terms_a_text_uses():
    entries = {e["term"] for e in glossary_for("Median NPV $1.2M; ARR at month 36 $3M")}
    assert entries == {"NPV", "ARR"}
    assert set(GLOSSARY) >= {"NPV", "HHI", "Synthetic", "Contribution to variance"}


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("churn", 0.0214, "2.1%/month"), ("churn", 0.0035, "0.35%/month"), ("cac", 1998.4, "$1,998"),
    ("opex", 95_000.0, "$95k/month"), ("gross_margin", 0.8, "80%"), ("wtp_level", 1.15, "x1.15"),
    ("discount_rate", 0.15, "15%/year"), ("product_advantage", 0.2, "+0.20"), ("price", 125.0, "$125/month"),
])
def test_every_input_value_carries_its_unit(name, value, expected):
    assert input_value(name, value) == expected


def test_engine_names_in_other_stages_text_become_plain_names():
    assert plain("but competitor_strength keeps its benchmark") == "but competitor strength keeps its benchmark"
    assert plain("Hold monthly churn at 2%") == "Hold monthly churn at 2%"


@pytest.mark.parametrize(("value", "label"), [(1.2e6, "$1.2M"), (5e5, "$500k"), (-2e6, "-$2M"), (0.0, "$0"),
                                              (250.0, "$250"), (2.5e9, "$2.5B")])
def test_dollar_axes_read_in_dollars(value, label):
    assert charts.money_tick(value) == label


def test_close_ticks_get_enough_digits_to_differ():
    ticks = charts.nice_ticks(6.72e6, 6.76e6, 4)
    labels = charts._distinct(ticks, charts.money_tick)
    assert len(set(labels)) == len(labels) and all(lbl.startswith("$6.7") for lbl in labels)


@pytest.mark.parametrize("kind", ["GO", "KILL", "PIVOT", "NO_EVIDENCE"])
def test_synthetic_personas_and_competitors_are_marked_wherever_they_appear(bundles, kind):
    bundle = bundles[kind]
    md = render_markdown_report(bundle)
    for persona in bundle["personas"]["personas"]:
        assert f"| {persona['name']} (synthetic) |" in md
    for comp in bundle["competitors"]["top_5"]:
        row = next(line for line in md.splitlines() if line.startswith(f"| {comp['name']} |"))
        assert ("synthetic (invented)" in row) == comp["synthetic"]
    report = build_report(bundle)
    legend = next(b for s in report["sections"] for b in s["blocks"]
                  if b["kind"] == "figure" and b["chart"] == "positioning")["data"]["points"]
    named = {c["name"] for c in bundle["competitors"]["competitors"] if not c["synthetic"]}
    assert all(p["synthetic"] == (p["name"] not in named) for p in legend)
    assert "synthetic" in report["summary"]["footnote"]
