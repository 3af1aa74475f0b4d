"""The report after T0+30: the posterior verdict on the first page and the section on what the first days changed."""

import copy
import re

import pytest

from smvm.calibration import ledger
from smvm.decision.update import final_recommendation
from smvm.reports import pdf as pdf_module
from smvm.reports.content import build_report
from smvm.reports.render import build_validation_summary, render_markdown_report, render_pdf_report
from smvm.reports.vocabulary import CODE_NAMES, dollars, observation_name, share
from tests.unit.reports.pdftext import text_lines

pytestmark = pytest.mark.unit

TITLE = "What the first 30 days changed"
CASES = ["strong", "weak", "zero", "middle"]


def section(report):
    return next(s for s in report["sections"] if s["key"] == "first_days")


def md_section(md):
    return md.split(f"## {TITLE}")[1].split("\n## ")[0]


def pdf_words(bundle):
    """The PDF's text, one space between words, with lines joined as a reader would read them."""
    return " ".join(" ".join(text_lines(render_pdf_report(bundle))).split())


def odds_row(label, recommendation, probs):
    return f"| {label} | {recommendation} | {share(probs['GO'])} | {share(probs['PIVOT'])} | {share(probs['KILL'])} |"


@pytest.mark.parametrize("case", CASES)
def test_the_section_follows_the_answer_when_observations_are_in(updated_bundles, case):
    bundle = updated_bundles[case]
    md = render_markdown_report(bundle)
    headings = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    assert headings[:3] == ["The answer", TITLE, "How the T0 verdict was reached"]
    assert TITLE in pdf_words(bundle)
    summary = build_validation_summary(bundle)
    assert summary["first_30_days"]["window_days"] == 30
    assert summary["report"]["sections"][0]["title"] == TITLE


@pytest.mark.parametrize("kind", ["GO", "KILL", "PIVOT", "NO_EVIDENCE"])
def test_without_observations_there_is_no_section_and_the_t0_verdict_leads(bundles, kind):
    bundle = bundles[kind]
    md = render_markdown_report(bundle)
    assert "What the first" not in md and "Updated with the first" not in md
    assert "What the first" not in pdf_words(bundle)
    summary = build_validation_summary(bundle)
    assert "first_30_days" not in summary
    assert summary["final_recommendation"]["source"] == "prior"
    assert summary["final_recommendation"]["recommendation"] == bundle["decision"]["recommendation"]


def test_an_update_without_its_decision_leaves_the_t0_report(updated_bundles, bundles):
    # The update stage wrote its result but the decision stage has not run: nothing is half-reported.
    bundle = copy.deepcopy(updated_bundles["strong"])
    del bundle["posterior_decision"]
    assert render_markdown_report(bundle) == render_markdown_report(bundles["PIVOT"])


@pytest.mark.parametrize("case", CASES)
def test_the_headline_verdict_is_the_final_recommendation(updated_bundles, case):
    bundle = updated_bundles[case]
    final = final_recommendation(bundle["decision"], bundle["posterior_decision"])
    report = build_report(bundle)
    assert report["verdict"]["recommendation"] == final["recommendation"]
    assert report["verdict"]["probabilities"] == final["verdict_probabilities"]
    md = render_markdown_report(bundle)
    answer = md.split(f"## {TITLE}")[0]
    assert f"**Verdict: {final['recommendation']}.**" in answer
    assert f"*Updated with the first 30 days' observations. At T0 the verdict was " \
           f"{bundle['decision']['recommendation']} (" in answer
    probs = final["verdict_probabilities"]
    assert f"**How sure:** GO {share(probs['GO'])}, PIVOT {share(probs['PIVOT'])}, KILL {share(probs['KILL'])}" in answer
    assert build_validation_summary(bundle)["final_recommendation"] == final
    words = pdf_words(bundle)
    assert f"GO {share(probs['GO'])} PIVOT {share(probs['PIVOT'])} KILL {share(probs['KILL'])}" in words
    assert "Updated with the first 30 days' observations." in words


def test_a_changed_verdict_says_so_and_keeps_the_t0_one_visible(updated_bundles):
    bundle = updated_bundles["weak"]
    before, after = bundle["decision"], bundle["posterior_decision"]
    assert after["changed"] and (before["recommendation"], after["recommendation"]) == ("PIVOT", "KILL")
    text = md_section(render_markdown_report(bundle))
    assert odds_row("At T0", "PIVOT", before["verdict_probabilities"]) in text
    assert odds_row("After the first 30 days", "KILL", after["verdict_probabilities"]) in text
    assert "The verdict changed: PIVOT at T0, KILL now." in text
    facts = build_validation_summary(bundle)["first_30_days"]
    assert facts["changed"] is True
    assert facts["before"]["verdict_probabilities"] == before["verdict_probabilities"]
    assert facts["after"]["verdict_probabilities"] == after["verdict_probabilities"]
    # The first page never offers a way to reach the verdict it now shows.
    answer = render_markdown_report(bundle).split(f"## {TITLE}")[0]
    assert "would make it a KILL" not in answer


def test_an_unchanged_verdict_says_so(updated_bundles):
    bundle = updated_bundles["middle"]
    assert not bundle["posterior_decision"]["changed"]
    md = render_markdown_report(bundle)
    assert "The verdict did not change: PIVOT at T0 and now." in md_section(md)
    assert "your observations confirm it" in md.split(f"## {TITLE}")[0]


@pytest.mark.parametrize("case", CASES)
def test_the_observation_that_moved_the_verdict_most_is_named(updated_bundles, case):
    bundle = updated_bundles[case]
    top = bundle["posterior"]["moved_most"][0]["observation"]
    name = observation_name(top)
    if bundle["posterior"]["moved_most"][0]["shift"] < 0.005:
        # Nothing moved the odds visibly (the zero case: no customers is what slow benchmark adoption predicts).
        assert "No observation on its own moves the verdict's odds visibly" in md_section(render_markdown_report(bundle))
        return
    report = build_report(bundle)
    assert name.lower() in report["summary"]["drivers"][0].lower()
    md = render_markdown_report(bundle)
    assert f"What moved the verdict most: {name[0].lower() + name[1:]}." in md_section(md)
    assert build_validation_summary(bundle)["first_30_days"]["moved_most"]["observation"] == top
    assert f"What moved the verdict most: {name[0].lower() + name[1:]}." in pdf_words(bundle)


def test_an_observation_that_moves_nothing_is_still_named(updated_bundles):
    bundle = copy.deepcopy(updated_bundles["middle"])
    for entry in bundle["posterior"]["moved_most"]:
        entry["shift"] = 0.001
    name = observation_name(bundle["posterior"]["moved_most"][0]["observation"])
    text = md_section(render_markdown_report(bundle))
    assert "No observation on its own moves the verdict's odds visibly" in text and name.lower() in text.lower()


@pytest.mark.parametrize("case", CASES)
def test_each_observation_is_read_against_its_t0_forecast(updated_bundles, case):
    bundle = updated_bundles[case]
    text = md_section(render_markdown_report(bundle))
    facts = build_validation_summary(bundle)["first_30_days"]["observations"]
    assert {f["observation"] for f in facts} == set(bundle["posterior"]["predictive"])
    for fact in facts:
        entry = bundle["posterior"]["predictive"][fact["observation"]]
        outside = not ledger.inside(entry["pit"], 0.80)
        row = next(line for line in text.splitlines() if line.startswith(f"| {fact['name']} |"))
        assert ("inside its 80 % range" in row) != outside
        assert (f"{fact['name']} (" in text and "fell outside the 80 % range" in text) or not outside
        assert fact["inside_80"] is not outside


def test_observations_far_above_the_forecast_are_said_plainly(updated_bundles):
    text = md_section(render_markdown_report(updated_bundles["strong"]))
    assert "Paying customers (93) fell outside the 80 % range of the T0 forecast: higher than 99 % of what it " \
           "allowed." in text
    zero = md_section(render_markdown_report(updated_bundles["zero"]))
    assert "Paying customers (0) fell outside the 80 % range of the T0 forecast: lower than" in zero
    assert "Every observation fell inside the 80 % range" in md_section(render_markdown_report(
        updated_bundles["middle"]))


@pytest.mark.parametrize("case", CASES)
def test_an_unused_observation_and_its_reason_appear_everywhere(updated_bundles, case):
    bundle = updated_bundles[case]
    unused = bundle["posterior"]["unused"]
    assert unused
    text, words = md_section(render_markdown_report(bundle)), pdf_words(bundle)
    for entry in unused:
        line = f"{observation_name(entry['observation'])}: {entry['reason']}."
        assert f"- {line}" in text
        assert " ".join(line.split()[:6]) in words
    assert build_validation_summary(bundle)["first_30_days"]["unused"] == unused


def test_a_tempered_update_says_it_was_softened_and_asks_for_a_re_run(updated_bundles):
    strong, middle = updated_bundles["strong"], updated_bundles["middle"]
    assert strong["posterior"]["likelihood"]["tempered"] and not middle["posterior"]["likelihood"]["tempered"]
    weight = f"{strong['posterior']['likelihood']['tempering']:.0%}"
    assert f"so the update was softened: they count for {weight} of their weight" in \
        md_section(render_markdown_report(strong))
    assert build_report(strong)["summary"]["next_steps"][0].startswith("Re-run the validation with the first 30 days'")
    assert "softened" not in render_markdown_report(middle)
    assert not build_report(middle)["summary"]["next_steps"][0].startswith("Re-run")


def test_an_observation_beyond_the_forecast_that_was_not_tempered_is_flagged(updated_bundles):
    # Every future can explain an observation equally badly; then nothing is tempered, yet the model cannot
    # account for it, and the reader is told so.
    bundle = copy.deepcopy(updated_bundles["strong"])
    bundle["posterior"]["likelihood"]["tempered"] = False
    text = md_section(render_markdown_report(bundle))
    assert "softened" not in text
    assert "An observation this far outside its forecast is one the T0 model cannot account for" in text
    assert build_report(bundle)["summary"]["next_steps"][0].startswith("Re-run the validation")


@pytest.mark.parametrize("case", CASES)
def test_inputs_outputs_and_fans_before_and_after_are_shown(updated_bundles, case):
    bundle = updated_bundles[case]
    post = bundle["posterior"]
    report = build_report(bundle)
    figures = {b["chart"]: b for b in section(report)["blocks"] if b["kind"] == "figure"}
    assert figures["revenue_update"]["data"]["t0"] == post["fans"]["prior"]
    assert figures["revenue_update"]["data"]["now"] == post["fans"]["posterior"]
    inputs = figures["input_shifts"]
    assert len(inputs["table"]["rows"]) == len(post["inputs"])
    assert {p["name"] for p in inputs["data"]["panels"]} <= {r[0] for r in inputs["table"]["rows"]} | {
        "Customers at the start", "Early adoption", "Word of mouth", "Market size", "Willingness to pay",
        "Product advantage", "Competitor strength", "Monthly churn", "Acquisition cost (CAC)", "Price"}
    text = md_section(render_markdown_report(bundle))
    npv = post["outputs"]["npv"]
    assert f"| Value created (NPV) | {dollars(npv['prior']['p50'])} (" in text
    assert f"| {dollars(npv['posterior']['p50'])} ({dollars(npv['posterior']['p10'])} to " \
           f"{dollars(npv['posterior']['p90'])}) |" in text
    # The first page's value created is the updated one, with the T0 figure beside it.
    key = {k["name"]: k for k in report["summary"]["key_numbers"]}["Value created, median (NPV)"]
    assert key["value"] == dollars(npv["posterior"]["p50"]) and dollars(npv["prior"]["p50"]) in key["note"]


def test_inputs_stated_exactly_get_a_table_row_and_no_empty_chart(updated_bundles):
    bundle = copy.deepcopy(updated_bundles["strong"])
    bundle["posterior"]["inputs"] = [r for r in bundle["posterior"]["inputs"] if r["input"] == "price"]
    blocks = section(build_report(bundle))["blocks"]
    assert "input_shifts" not in {b.get("chart") for b in blocks}
    assert "| Price per customer account | monthly recurring revenue (MRR) | $300/month (stated) | not updated: stated " \
           "exactly |" in md_section(render_markdown_report(bundle))
    assert render_pdf_report(bundle).startswith(b"%PDF")


@pytest.mark.parametrize("case", CASES)
def test_markdown_pdf_and_summary_say_the_same_section(updated_bundles, case):
    bundle = updated_bundles[case]
    report = build_report(bundle)
    text, words = md_section(render_markdown_report(bundle)), pdf_words(bundle)
    for block in section(report)["blocks"]:
        if block["kind"] == "paragraph":
            assert block["text"] in text
            assert " ".join(block["text"].split()[:5]) in words
        elif block["kind"] == "table":
            for row in block["rows"]:
                assert "| " + " | ".join(row) + " |" in text
                assert all(cell in words for cell in row[1:] if len(cell) < 20)
        elif block["kind"] == "figure":
            assert block["caption"] in text and block["title"] in words
    summary = build_validation_summary(bundle)
    assert summary["report"]["summary"] == report["summary"]
    summarised = summary["report"]["sections"][0]
    assert [b["kind"] for b in summarised["blocks"]] == [b["kind"] for b in section(report)["blocks"]]
    assert all("data" not in b for b in summarised["blocks"])


@pytest.mark.parametrize("case", CASES)
def test_updated_reports_read_plainly_and_explain_their_terms(updated_bundles, case):
    md = render_markdown_report(updated_bundles[case])
    readable = md.split("## Glossary")[0]
    for name in (*CODE_NAMES, "paying_customers", "churned_customers", "acquisition_spend", "moved_most"):
        assert name not in readable, name
    terms = {e["term"] for e in build_report(updated_bundles[case])["glossary"]}
    assert {"T0", "Percentile in the T0 forecast"} <= terms


def test_updated_pdfs_keep_every_page_full_and_are_deterministic(updated_bundles):
    for case in CASES:
        writer = pdf_module._Writer(build_report(updated_bundles[case]), "2026-11-28T03:05:01Z")
        writer.render()
        assert min(writer.fill[:-1]) > 0.55, (case, writer.fill)
    assert render_pdf_report(updated_bundles["zero"]) == render_pdf_report(updated_bundles["zero"])


def calibration(domain_count):
    figures = {"count": 12, "inside_50": 0.5, "inside_80": 0.75, "inside_95": 0.92}
    domain = {"count": domain_count, "inside_50": 1 / 3, "inside_80": 2 / 3, "inside_95": 1.0}
    return {"levels": [0.5, 0.8, 0.95], "overall": figures, "by_domain": {"saas": domain, "retail": figures},
            "by_metric": {}}


@pytest.mark.parametrize(("domain_count", "line"), [
    (3, "Calibration record for saas ideas: 3 observations scored so far; 33% fell inside SMVM's 50 % intervals, "
        "67% inside its 80 % and 100% inside its 95 % intervals."),
    (0, ledger.one_line(calibration(0))),
])
def test_the_calibration_record_is_one_line_in_every_report_that_has_it(bundle_copy, domain_count, line):
    bundle = bundle_copy("GO")
    bundle["calibration"] = calibration(domain_count)
    md = render_markdown_report(bundle)
    assert f"*{line}*" in md.split("## How the verdict")[0]
    assert " ".join(line.split()) in pdf_words(bundle)
    summary = build_validation_summary(bundle)
    assert summary["calibration"]["line"] == line
    assert summary["calibration"]["scope"] == ("saas" if domain_count else "all domains")
    assert "Calibration record" in {e["term"] for e in build_report(bundle)["glossary"]}


def test_no_calibration_record_without_a_ledger(bundles, updated_bundles):
    for bundle in (bundles["GO"], updated_bundles["strong"]):
        assert "Calibration record" not in render_markdown_report(bundle)
        assert "Calibration record" not in pdf_words(bundle)
        assert "calibration" not in build_validation_summary(bundle)


def test_the_gate_and_the_summarys_contract_fields_follow_the_updated_verdict(updated_bundles):
    # GET /gate answers the posterior verdict once it is ready (smvm.gate): the report and the summary say the same.
    bundle = updated_bundles["weak"]
    after = bundle["posterior_decision"]
    assert (bundle["decision"]["gate_decision"], after["gate_decision"]) == ("proceed", "reject")
    assert "**TractionBuild gate: reject (on the verdict updated with the first 30 days, KILL" in \
        render_markdown_report(bundle)
    summary = build_validation_summary(bundle)
    assert (summary["recommendation"], summary["gate_decision"]) == ("KILL", "reject")
    assert summary["verdict_probabilities"] == after["verdict_probabilities"]
    assert summary["final_recommendation"]["source"] == "posterior"
