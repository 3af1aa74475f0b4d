"""The report's content, built once from a run bundle: the markdown, the PDF and the summary all render this.

A report is a dict (JSON-ready): ``verdict`` and ``summary`` (the founder's first page), ``sections`` (each a
title and a list of blocks: paragraph, bullets, table, figure, subheading) and ``glossary``. Renderers decide
layout only; every sentence and number is written here, next to the number it describes, so the three outputs
cannot disagree and a sentence cannot contradict its figure.

After T0+30 the bundle carries the posterior update and decision: the verdict becomes the posterior one (what
``smvm.decision.update.final_recommendation`` recommends), the section on what the first days changed opens the
analyst's sections and ``first_30_days`` holds its figures. ``calibration`` is the ledger's one line when the bundle
carries the ledger's summary.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from smvm.calibration import ledger
from smvm.contracts import ReportBundle
from smvm.decision import rules
from smvm.decision.update import final_recommendation
from smvm.reports.vocabulary import (
    dollars,
    glossary_for,
    input_name,
    input_value,
    lower_name,
    months,
    observation_name,
    observation_value,
    plain,
    ratio,
    share,
    short_name,
)
from smvm.simulation import distributions

#: What each verdict asks of the founder, in one line.
_HEADLINES = {
    "GO": "Go ahead: the plan creates value in most plausible futures, and that holds where we had to assume "
          "benchmarks.",
    "PIVOT": "Not as planned: the plan is viable but short of GO. Change it, or prove the numbers below, before "
             "scaling.",
    "PIVOT_EVIDENCE": "Not yet: the answer rests on numbers you have not measured. Get the evidence below before "
                      "deciding.",
    "KILL": "Stop this plan: it fails on your own figures, and no single change we simulated makes it viable.",
}
_COLOURS = {"GO": (46, 125, 50), "PIVOT": (230, 145, 0), "KILL": (198, 40, 40)}
_SCENARIO_NAMES = {"base": "Base case", "bear": "Bear case", "bull": "Bull case", "downturn": "Downturn",
                   "price_cut": "Price cut", "competitor_entry": "Competitor entry", "hype_cycle": "Hype cycle",
                   "seasonality": "Seasonality"}
_KNOCKOUT_WORDS = {
    "unit_economics": "each customer costs more to win than it ever pays back (LTV/CAC below 1)",
    "no_scale": "even winning the whole reachable market would not pay the fixed costs",
    "no_demand": "revenue after three years covers less than a tenth of the fixed costs",
    "tam_gate": "the total market is below the $1M minimum",
    "t0_failed": "a check of your own figures failed",
}
_GATE_WORDS = {
    "npv_positive": "creates value (NPV above 0)",
    "ltv_cac": f"returns at least {rules.GO_LTV_CAC:g}x its acquisition cost per customer (LTV/CAC)",
    "cac_payback": f"pays back each customer's acquisition cost within {rules.GO_PAYBACK_MONTHS:g} months",
}
#: An effect smaller than this (a share of futures) is not worth a sentence.
_MATERIAL = 0.05


def _para(text: str) -> dict[str, Any]:
    return {"kind": "paragraph", "text": text}


def _bullets(items: list[str], numbered: bool = False) -> dict[str, Any]:
    return {"kind": "bullets", "items": items, "numbered": numbered}


def _sub(text: str) -> dict[str, Any]:
    return {"kind": "subheading", "text": text}


def _table(columns: list[str], rows: list[list[str]], widths: list[float] | None = None,
           align: str | None = None) -> dict[str, Any]:
    """A table; ``align`` has one letter per column (l/r), ``widths`` relative column widths for the PDF."""
    return {"kind": "table", "columns": columns, "rows": rows,
            "align": align or "l" + "r" * (len(columns) - 1), "widths": widths or [1.0] * len(columns)}


def _figure(chart: str, title: str, caption: str, data: dict[str, Any], height: float,
            table: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chart: the PDF draws ``data``; the markdown prints ``table`` (the same numbers) under the caption."""
    return {"kind": "figure", "chart": chart, "title": title, "caption": caption, "data": data, "height": height,
            "table": table}


def _created(bundle: dict[str, Any]) -> str:
    created = (bundle.get("run") or {}).get("created_at")
    try:
        stamp = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        return "date unknown"
    return f"{stamp.day} {stamp:%b %Y}"


def _interp_share(value: float, quantiles: list[float], levels: list[int]) -> float:
    """P(output <= value) read off the stored percentiles; beyond P1/P99 it says "<1%" / ">99%", not 0 or 1."""
    q = np.asarray(quantiles, dtype=float)
    if value < q[0]:
        return 0.004
    if value > q[-1]:
        return 0.996
    return float(np.interp(value, q, np.asarray(levels, dtype=float) / 100.0))


class _Facts:
    """The numbers a report speaks about, read once from the bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self.dec = bundle["decision"]
        self.sim = bundle["simulation_result"]
        self.md = bundle["market_data"]
        self.m = self.sim["metrics"]
        self.out = self.sim["outputs"]
        self.verdict = self.dec["recommendation"]
        self.probs = self.dec["verdict_probabilities"]
        self.worlds = self.sim.get("verdict") or {}
        self.rescue = (self.dec.get("verdict_stability") or {}).get("rescue") or self.worlds.get("rescue") or \
            {"needs_evidence": 0.0, "levers": {}, "unconfirmed_go": 0.0}
        self.traction = (self.md.get("evidence") or {}).get("traction") or {}
        self.retention = (self.md.get("evidence") or {}).get("retention") or {}
        self.financials = (self.md.get("facts") or {}).get("financials") or {}
        self.live = bool((self.md.get("facts") or {}).get("product_live"))
        self.inputs = self.md["inputs"]
        self.grades = self.md["data_quality"]["grades"]
        self.quantiles = self.sim.get("quantiles") or {}
        levers = ((bundle.get("simulation_config") or {}).get("verdict") or {}).get("levers") or []
        self.lever_labels = {lever["name"]: lever["label"] for lever in levers}
        self.asks = [a["input"] for a in self.dec.get("needs_evidence") or []]
        self.needs_evidence = self.verdict == "PIVOT" and bool(self.asks) and \
            self.rescue["needs_evidence"] + self.rescue["unconfirmed_go"] >= 0.10
        self.cash = self.financials.get("cash_on_hand")
        # After T0+30 the posterior decision is SMVM's answer; the T0 analysis is kept as it was delivered.
        self.posterior = bundle.get("posterior") if bundle.get("posterior_decision") else None
        self.posterior_dec = bundle.get("posterior_decision") if self.posterior else None
        self.final = final_recommendation(self.dec, self.posterior_dec)

    def cash_cover(self) -> float | None:
        """The share of futures whose funding need the stated cash covers."""
        q = self.quantiles.get("funding_need")
        if self.cash is None or not q:
            return None
        return _interp_share(float(self.cash), q, self.quantiles["levels"])

    def flips(self) -> list[dict[str, Any]]:
        # A flip point found on the plan as stated can name the verdict the run already has (a PIVOT reached by a
        # rescue): "would make it a PIVOT" beside PIVOT contradicts itself, so only real changes are shown.
        return [f for f in self.dec.get("what_would_change_it") or [] if f["verdict"] != self.verdict]

    def plan_and_best_change(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        suggestions = ((self.dec.get("pivot") or {}).get("suggestions")) or []
        plan = next((s for s in suggestions if s["lever"] == "plan"), None)
        best_label = (self.dec.get("pivot") or {}).get("suggested_change")
        best = next((s for s in suggestions if s["change"] == best_label), None)
        return plan, best


def _improves(plan: dict[str, Any] | None, change: dict[str, Any] | None) -> bool:
    if not plan or not change:
        return False
    p, c = plan["probabilities"], change["probabilities"]
    return c["GO"] - p["GO"] >= 0.02 or p["KILL"] - c["KILL"] >= 0.02


def _moves(plan: dict[str, Any], change: dict[str, Any]) -> str:
    """"GO 3% -> 12%, KILL 1% -> 0%": only the verdicts whose share visibly moves."""
    parts = [f"{k} {share(plan['probabilities'][k])} -> {share(change['probabilities'][k])}"
             for k in ("GO", "PIVOT", "KILL")
             if share(plan["probabilities"][k]) != share(change["probabilities"][k])]
    return ", ".join(parts) or "no visible change"


_NOTHING_FLIPS = ("Nothing we tested moves it: no plausible change on its own in churn, acquisition cost, fixed costs, "
                  "willingness to pay or early adoption flips the verdict.")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _decap(text: str) -> str:
    return text[:1].lower() + text[1:]


_FLIP_NAMES = {"churn": "churn", "cac": "acquisition cost (CAC)", "opex": "fixed costs",
               "wtp_level": "willingness to pay", "bass_p": "early adoption"}


def _flip_text(flip: dict[str, Any], facts: _Facts) -> str:
    name = flip["input"]
    spec, label = facts.inputs.get(name), _FLIP_NAMES.get(name, lower_name(name))
    if name in ("wtp_level", "bass_p"):
        return f"{label} at {flip['factor']:.2f}x today's estimate would make it a {flip['verdict']}"
    return (f"{label} at {_precise(name, flip['value'], spec)} (now {_precise(name, flip['from'], spec)}) "
            f"would make it a {flip['verdict']}")


def _precise(name: str, value: float, spec: dict[str, Any] | None) -> str:
    # A flip point is read against today's value and against the next steps' figure: every dollar shows.
    text = input_value(name, value, spec)
    if text.startswith("$"):
        return f"${value:,.0f}" + ("/month" if text.endswith("/month") else "")
    return text


# -- the first page -------------------------------------------------------------------------------------------------

def _drivers(f: _Facts) -> list[str]:
    """The three facts that drove the verdict, strongest first, each with its number."""
    m, out = f.m, f.out
    found: dict[str, tuple[float, str]] = {}

    def add(topic: str, weight: float, text: str) -> None:
        # One fact per topic: the strongest phrasing of it wins.
        if topic not in found or found[topic][0] < weight:
            found[topic] = (weight, text)

    spread = f"median NPV {dollars(m['npv_p50'])}, 8 futures in 10 between {dollars(out['npv']['p10'])} and " \
             f"{dollars(out['npv']['p90'])}"
    value = (f"The plan as stated creates value (NPV above 0) in no plausible future: {spread}."
             if m["p_npv_positive"] <= 0 else
             f"The plan creates value (NPV above 0) in {share(m['p_npv_positive'])} of plausible futures: {spread}.")
    units = (f"Each customer returns {ratio(m['ltv_cac_p50'])} what it costs to win (median LTV/CAC; GO needs "
             f"{rules.GO_LTV_CAC:g}x, below 1x each customer loses money) and pays its acquisition cost back in "
             f"{m['cac_payback_p50']:.0f} months.")
    if f.traction.get("customers"):
        mrr = float(f.traction.get("monthly_revenue") or 0.0)
        text = (f"You have {f.traction['customers']:,} paying customers after {f.traction['months']} months on sale "
                f"({dollars(mrr)} a month, {dollars(12 * mrr)} a year)")
        if f.retention.get("monthly_churn") is not None:
            text += f" and lose {f.retention['monthly_churn']:.1%} of them a month"
        add("traction", 0.9 if f.verdict == "GO" else 0.3, text + ".")
    elif f.live:
        add("traction", 0.6, f"The product is on sale but has no paying customers after "
                              f"{f.traction.get('months', 'some')} months.")
    acceptance = m.get("acceptance_mean")
    price = f.inputs.get("price") or {}
    if f.verdict != "GO" and acceptance is not None and acceptance < 0.2 and price:
        add("demand", 0.85, f"At your price ({input_value('price', price['likely'], price)}) only {share(acceptance)} of "
                            "the serviceable market values the product above what it costs them (willingness to "
                            "pay).")
    client = sum(1 for g in f.grades.values() if g in ("client", "override"))
    if client <= 3:
        add("evidence", 0.95, f"Almost nothing here is measured yet: {len(f.grades) - client} of {len(f.grades)} "
                              f"inputs are benchmarks for {f.md['domain']['name']}, not your numbers.")
    if f.verdict == "GO":
        add("value", 0.8, value)
        add("units", 0.7, units)
    elif f.verdict == "KILL":
        for ko in f.dec.get("knockouts") or []:
            cs = ko["confirmed_share"]
            if cs >= _MATERIAL:
                # A must-meet failing in most futures is the story; one failing in a few is a footnote to it.
                # A failed check of the client's own figures comes first: it is the plainest reason of all.
                add(ko["rule"], (1.0 if cs >= 0.5 else 0.4) + cs + (0.5 if ko["rule"] == "t0_failed" else 0.0),
                    _knockout_fact(ko, f))
        add("levers", 0.9, "No single change we simulated (price 20 % up or down, cheaper channels, a leaner team, "
                           "better retention, one segment) makes it viable.")
    else:
        ne, ug = f.rescue["needs_evidence"], f.rescue["unconfirmed_go"]
        if f.needs_evidence:
            names = ", ".join(lower_name(a) for a in f.asks)
            parts = [p for p in (f"{share(ne)} of futures fail" if ne >= 0.005 else "",
                                 f"{share(ug)} succeed" if ug >= 0.005 else "") if p]
            add("evidence", 1.0 + ne + ug, f"The answer rests on numbers you have not measured: {' and '.join(parts)} "
                                           f"only because of benchmark values for {names}.")
        if f.probs["KILL"] >= 0.2:
            worst = max(f.dec.get("knockouts") or [{"rule": "", "confirmed_share": 0.0}],
                        key=lambda k: k["confirmed_share"])
            add("kill", 0.95 + f.probs["KILL"],
                f"In {share(f.probs['KILL'])} of futures it fails outright, whatever we try: "
                f"{_KNOCKOUT_WORDS.get(worst['rule'], 'a must-meet fails')}.")
        levers = f.rescue.get("levers") or {}
        rescued = sum(levers.values())
        if rescued >= _MATERIAL:
            best = max(levers.items(), key=lambda kv: kv[1])[0]
            add("levers", 1.0 + rescued, f"As planned, it fails in {share(rescued)} of futures, but one change makes "
                                         f"it viable there, most often: "
                                         f"{_decap(f.lever_labels.get(best, best.replace('_', ' ')))}.")
        for gate in f.dec.get("go_gates_failed") or []:
            fs = gate["failing_share"]
            if fs < 0.2:
                continue
            if gate["rule"] == "npv_positive":
                add("value", 0.8 + fs, value if m["p_npv_positive"] >= 0.5 or m["p_npv_positive"] <= 0 else
                    f"The plan rarely creates value: NPV is above 0 in only "
                    f"{share(m['p_npv_positive'])} of futures (median {dollars(m['npv_p50'])}, 8 in 10 between "
                    f"{dollars(out['npv']['p10'])} and {dollars(out['npv']['p90'])}).")
            elif gate["rule"] == "ltv_cac":
                add("units", 0.7 + fs, units)
            else:
                add("payback", 0.6 + fs, f"In {share(fs)} of futures the plan is viable but takes longer than "
                                         f"{rules.GO_PAYBACK_MONTHS:g} months to earn back a customer's acquisition "
                                         f"cost (median {m['cac_payback_p50']:.0f} months).")
        add("value", 0.2, value)
        add("units", 0.1, units)
    return [text for _, text in sorted(found.values(), key=lambda x: -x[0])][:3]


def _knockout_fact(ko: dict[str, Any], f: _Facts) -> str:
    rule, where = ko["rule"], f"in {share(ko['confirmed_share'])} of futures, on your own figures"
    out = f.out
    if rule == "unit_economics":
        return (f"Each customer costs more to win than it ever pays back: median LTV/CAC "
                f"{ratio(f.m['ltv_cac_p50'])} (below 1x every new customer loses money), {where}.")
    if rule == "no_scale":
        loss = out["steady_profit"]["p50"]
        if out["unit_contribution"]["p50"] < 0:
            # Each customer-month loses money, so more customers lose more: say so, or the loss looks absurd.
            return (f"Every customer loses money: a customer-month brings {dollars(out['unit_contribution']['p50'])} "
                    f"after its share of acquisition cost, so even the whole reachable market would lose "
                    f"{dollars(-loss)} a month at the median, {where}.")
        return (f"Even winning the whole reachable market would not pay the fixed costs: at full reach the median "
                f"future still loses {dollars(-loss)} a month, {where}." if loss < 0 else
                f"Even winning the whole reachable market would not pay the fixed costs, {where}.")
    if rule == "no_demand":
        need = out["breakeven_arr"]["p50"]
        if not 0 < need < 1e11:  # a margin at or below zero has no break-even revenue
            return f"Demand is too thin: revenue after three years covers less than a tenth of the fixed costs, {where}."
        return (f"Demand is too thin: median ARR at month 36 is {dollars(f.m['arr_36_p50'])} against the "
                f"{dollars(out['breakeven_arr']['p50'])} a year needed to cover the fixed costs, {where}.")
    if rule == "t0_failed":
        failed = [i["message"] for i in (f.bundle.get("validation") or {}).get("issues") or []
                  if i.get("severity") == "failed"]
        return "A check of your own figures failed: " + ("; ".join(failed) or ko["message"]).rstrip(".") + "."
    return f"The total market you stated ({dollars(f.md['market']['tam']['value'])}) is below the $1M minimum."


def _why_not(f: _Facts) -> str | None:
    """The sentence a reader needs when the verdict looks at odds with the value created."""
    p = f.m["p_npv_positive"]
    if f.verdict == "PIVOT" and p >= 0.5:
        reasons = []
        if f.rescue["unconfirmed_go"] >= _MATERIAL:
            reasons.append(f"in {share(f.rescue['unconfirmed_go'])} of futures the success rests on demand "
                           "benchmarks you have not confirmed")
        for gate in f.dec.get("go_gates_failed") or []:
            if gate["rule"] != "npv_positive" and gate["failing_share"] >= _MATERIAL:
                reasons.append(f"in {share(gate['failing_share'])} of futures the plan does not "
                               f"{_GATE_WORDS[gate['rule']].replace('returns', 'return').replace('pays', 'pay')}")
        for ko in f.dec.get("knockouts") or []:
            if ko["share"] >= _MATERIAL:
                reasons.append(f"in {share(ko['share'])} of futures {_KNOCKOUT_WORDS[ko['rule']]}")
        return (f"Why not GO, with NPV positive in {share(p)} of futures? GO needs more than value: "
                + ("; ".join(reasons) if reasons else "fewer than half of the futures clear every GO bar") + ".")
    if f.verdict == "KILL" and p >= 0.2:
        return (f"Why KILL, with NPV positive in {share(p)} of futures? A must-meet fails in "
                f"{share(f.probs['KILL'])} of them even so: NPV counts what the customer base is worth at month 36, "
                "while the must-meets ask whether the business can ever pay its way.")
    if f.verdict == "GO" and p < 0.9:
        return (f"NPV is positive in {share(p)} of futures; the GO rests on the {share(f.probs['GO'])} that clear "
                "every bar even with unconfirmed benchmarks at their unfavourable end.")
    return None


def _changes(f: _Facts) -> list[str]:
    flips = [flip for flip in f.flips() if flip["verdict"] != f.final["recommendation"]]
    items = [_capital(_flip_text(flip, f)) + "." for flip in flips[:3]]
    plan, best = f.plan_and_best_change()
    if f.verdict == "PIVOT" and _improves(plan, best):
        items.append(f"{best['change']}: simulated on {best['worlds']:,} of the same futures, "
                     f"it moves {_moves(plan, best)} (the plan as stated against the change).")
    if f.needs_evidence:
        items.append("Evidence on " + ", ".join(lower_name(a) for a in f.asks) + " could move it either way: "
                     f"{share(f.rescue['needs_evidence'] + f.rescue['unconfirmed_go'])} of futures hinge on "
                     "benchmark values for them.")
    return items or [_NOTHING_FLIPS]


def _key_numbers(f: _Facts) -> list[dict[str, str]]:
    m, out = f.m, f.out
    som = f.md["market"]["som"]["value"]
    cover = f.cash_cover()
    cash_note = (f"your cash on hand ({dollars(f.cash)}) covers it in {share(cover)} of futures"
                 if cover is not None else "cash on hand not stated")
    client = sum(1 for g in f.grades.values() if g in ("client", "override"))
    return [
        {"name": "Chance the plan creates value (NPV above 0)", "value": share(m["p_npv_positive"]),
         "note": "share of plausible futures"},
        {"name": "Value created, median (NPV)", "value": dollars(m["npv_p50"]),
         "note": f"8 in 10 futures: {dollars(out['npv']['p10'])} to {dollars(out['npv']['p90'])}"},
        {"name": "Yearly revenue run-rate at month 36, median (ARR)", "value": dollars(m["arr_36_p50"]),
         "note": f"your target (SOM) of {dollars(som)} is reached in {share(m['p_reach_som'])} of futures"},
        {"name": "Lifetime value / acquisition cost, median (LTV/CAC)", "value": ratio(m["ltv_cac_p50"]),
         "note": f"GO needs {rules.GO_LTV_CAC:g}x; below 1x each customer loses money"},
        {"name": "Most cash the plan consumes, median (funding need)", "value": dollars(m["funding_need_p50"]),
         "note": cash_note},
        {"name": "Chance of operating break-even within 24 months", "value": share(m["p_breakeven_24"]),
         "note": f"median break-even: {months(out['breakeven_month']['p50'])}"},
        {"name": "Inputs backed by your evidence", "value": f"{client} of {len(f.grades)}",
         "note": "the rest are benchmarks for your domain"},
    ]


def _gate_sentence(f: _Facts) -> str:
    """What SMVM's recommendation means at TractionBuild's gate, in the words its pipeline uses: GET /gate answers the
    posterior verdict once the first days' observations updated it (smvm.gate)."""
    verdict = f.final["recommendation"]
    decision = (f.posterior_dec or f.dec)["gate_decision"]
    meaning = {"GO": "the project moves to its next stage",
               "PIVOT": "the project moves on, with the changes under What to do next as its requirements",
               "KILL": "the project stops here"}[verdict]
    if f.posterior:
        return (f"TractionBuild gate: {decision} (on the verdict updated with the first "
                f"{f.posterior['window_days']} days, {verdict}: {meaning}).")
    return f"TractionBuild gate: {decision} ({meaning})."


def _summary(f: _Facts, bundle: dict[str, Any]) -> dict[str, Any]:
    worlds = (f.dec.get("verdict_stability") or {}).get("worlds") or 0
    runner = f.dec.get("runner_up") or {}
    how_sure = (f"GO {share(f.probs['GO'])}, PIVOT {share(f.probs['PIVOT'])}, KILL {share(f.probs['KILL'])}: the "
                f"share of {worlds:,} plausible futures that reach each verdict.")
    if f.dec.get("borderline"):
        how_sure += (f" Borderline: {runner.get('verdict')} has {share(runner.get('probability'))}, so treat the "
                     "verdict as a lean, not a certainty.")
    comps = bundle["competitors"]
    personas = bundle["personas"]
    paths = (f.sim.get("paths") or {}).get("used", 0)
    summary = {
        "headline": _HEADLINES["PIVOT_EVIDENCE" if f.needs_evidence else f.verdict],
        "updated": None,
        "how_sure": how_sure,
        "gate": _gate_sentence(f),
        "drivers": _drivers(f),
        "why_not": _why_not(f),
        "what_would_change_it": _changes(f),
        "next_steps": list(f.dec.get("next_steps") or [])[:5],
        "key_numbers": _key_numbers(f),
        "footnote": (f"Based on {worlds:,} plausible futures out of {paths:,} simulated. The "
                     f"{personas.get('count', 0)} customer segments and {comps.get('synthetic', 0)} of "
                     f"{comps.get('count', 0)} competitors are synthetic: invented, not real. Terms are explained "
                     "in the glossary at the end."),
        "calibration": (_calibration(bundle) or {}).get("line"),
        "chart": "npv_histogram",
    }
    return _updated_first_page(f, summary) if f.posterior else summary


# -- what the first days changed (T0+30) ----------------------------------------------------------------------------

#: What the posterior verdict asks of the founder; the T0 wording would claim checks the update did not re-run.
_UPDATED_HEADLINES = {
    "GO": "Go ahead: with what you observed in the first {days} days, the plan clears every GO bar in at least half "
          "of the plausible futures.",
    "PIVOT": "Not as planned: with what you observed in the first {days} days, the plan is viable but short of GO. "
             "Change it, or prove the numbers below, before scaling.",
    "KILL": "Stop this plan: with what you observed in the first {days} days, it fails a must-meet in most plausible "
            "futures.",
}


def _odds(probs: dict[str, float]) -> str:
    return f"GO {share(probs['GO'])}, PIVOT {share(probs['PIVOT'])}, KILL {share(probs['KILL'])}"


def _odds_moved(before: dict[str, float], after: dict[str, float]) -> str:
    """"moves P(GO) from 4% to 53% and P(KILL) from 1% to 0%", never "from 100% to 100%"."""
    moved = [f"P({k}) from {share(before[k])} to {share(after[k])}" for k in ("GO", "KILL")
             if share(before[k]) != share(after[k])]
    kept = [f"P({k}) at {share(before[k])}" for k in ("GO", "KILL") if share(before[k]) == share(after[k])]
    if not moved:
        return "leaves the odds where they were (" + ", ".join(kept) + ")"
    return "moves " + " and ".join(moved) + ("" if not kept else "; it leaves " + kept[0])


def _reading(pit: float) -> str:
    """Where an observation sits against the T0 forecast's central 80 %, as the calibration ledger scores it."""
    if ledger.inside(pit, 0.80):
        return "inside its 80 % range"
    return "above its 80 % range" if pit > 0.5 else "below its 80 % range"


def _percentile(pit: float) -> str:
    if pit < 0.005:
        return "below P1"
    if pit > 0.995:
        return "above P99"
    return f"P{pit * 100:.0f}"


def _observed(f: _Facts) -> list[dict[str, Any]]:
    """Each observation the model used, the one that moved the verdict most first, against its T0 forecast."""
    order = [m["observation"] for m in f.posterior["moved_most"]]
    rows = []
    for name in sorted(f.posterior["predictive"], key=lambda n: order.index(n) if n in order else len(order)):
        entry = f.posterior["predictive"][name]
        p10, p50, p90 = entry["prior_quantiles"]
        rows.append({"observation": name, "name": observation_name(name), "observed": entry["observed"],
                     "forecast": {"p10": p10, "p50": p50, "p90": p90}, "pit": entry["pit"],
                     "inside_80": ledger.inside(entry["pit"], 0.80), "reading": _reading(entry["pit"])})
    return rows


def _far_off(row: dict[str, Any]) -> str:
    pit = row["pit"]
    side, beyond = ("higher", pit) if pit > 0.5 else ("lower", 1.0 - pit)
    amount = "99 %" if beyond > 0.99 else f"{beyond:.0%}"
    return (f"{row['name']} ({observation_value(row['observation'], row['observed'])}) fell outside the 80 % range "
            f"of the T0 forecast: {side} than {amount} of what it allowed.")


def _update_driver(f: _Facts) -> str:
    dec, days = f.posterior_dec, f.posterior["window_days"]
    top = _observed(f)[0]
    name = top["observation"]
    return (f"What you observed in the first {days} days "
            f"{_odds_moved(dec['prior']['verdict_probabilities'], dec['verdict_probabilities'])}. Most telling: "
            f"{_decap(top['name'])}, {observation_value(name, top['observed'])} against a T0 forecast of "
            f"{observation_value(name, top['forecast']['p50'])}, {top['reading']}.")


def _softened(f: _Facts) -> bool:
    """Whether the observations sit where the T0 model cannot account for them: the update was tempered, or an
    observation lies beyond 99 % of its forecast."""
    return f.posterior["likelihood"]["tempered"] or any(not ledger.inside(r["pit"], 0.98) for r in _observed(f))


def _updated_first_page(f: _Facts, summary: dict[str, Any]) -> dict[str, Any]:
    """The first page once observations are in: the posterior verdict, with the T0 one named beside it."""
    dec, days = f.posterior_dec, f.posterior["window_days"]
    verdict, before = dec["recommendation"], dec["prior"]
    how_sure = (f"{_odds(dec['verdict_probabilities'])}: the share of the {f.posterior['likelihood']['worlds']:,} "
                "futures simulated at T0 that reach each verdict, each weighted by how well it explains what you "
                "observed.")
    if dec["borderline"]:
        how_sure += (f" Borderline: {dec['runner_up']['verdict']} has {share(dec['runner_up']['probability'])}, so "
                     "treat the verdict as a lean, not a certainty.")
    then = "it changed" if dec["changed"] else "your observations confirm it"
    # A T0 step that works towards the verdict the observations already gave ("... would make it a GO") is moot.
    steps = [step for step in summary["next_steps"] if not step.endswith(f"would make it a {verdict}")]
    if _softened(f):
        steps = [f"Re-run the validation with the first {days} days' observations as evidence: they sit far outside "
                 "the T0 forecast, and only a fresh model uses them in full.", *steps[:4]]
    out = f.posterior["outputs"]
    numbers = []
    for k in summary["key_numbers"]:
        if k["name"] == "Chance the plan creates value (NPV above 0)":
            k = {**k, "value": _npv_positive_bracket(out["npv"]["posterior"]),
                 "note": f"read off the updated range of NPV (T0: {k['value']})"}
        elif k["name"] == "Value created, median (NPV)":
            k = {**k, "value": dollars(out["npv"]["posterior"]["p50"]),
                 "note": f"8 in 10 futures: {dollars(out['npv']['posterior']['p10'])} to "
                         f"{dollars(out['npv']['posterior']['p90'])} (T0: {dollars(out['npv']['prior']['p50'])})"}
        elif k["name"] == "Yearly revenue run-rate at month 36, median (ARR)":
            k = {**k, "value": dollars(out["arr_36"]["posterior"]["p50"]),
                 "note": f"T0: {dollars(out['arr_36']['prior']['p50'])}; your target (SOM) is "
                         f"{dollars(f.md['market']['som']['value'])}"}
        numbers.append(k)
    return {
        **summary,
        "headline": _UPDATED_HEADLINES[verdict].format(days=days),
        "updated": (f"Updated with the first {days} days' observations. At T0 the verdict was "
                    f"{before['recommendation']} ({_odds(before['verdict_probabilities'])}): {then}. See What the "
                    f"first {days} days changed."),
        "how_sure": how_sure,
        "drivers": [_update_driver(f), *(f"At T0, {_decap(d)}" for d in summary["drivers"][:2])],
        # "Why not GO" argues with T0 numbers; beside a different verdict it would contradict the page.
        "why_not": summary["why_not"] if verdict == f.verdict else None,
        "next_steps": steps,
        "key_numbers": numbers,
        "footnote": summary["footnote"] + (f" The chance of creating value, value created and ARR above are updated "
                                           f"with the first {days} days' observations; the other key numbers are the "
                                           "T0 forecast."),
        "chart": "revenue_update",
    }


def _npv_positive_bracket(npv: dict[str, float]) -> str:
    """The chance NPV is above 0, bracketed by the update's P10 / median / P90 of NPV (all it reports)."""
    if npv["p10"] > 0:
        return "over 90%"
    if npv["p50"] > 0:
        return "50% to 90%"
    return "10% to 50%" if npv["p90"] > 0 else "under 10%"


def _first_days_facts(f: _Facts) -> dict[str, Any]:
    """The section's figures as data, for ``validation_summary.json``."""
    dec, post = f.posterior_dec, f.posterior
    top = post["moved_most"][0]
    return {
        "window_days": post["window_days"],
        "changed": dec["changed"],
        "before": {"recommendation": dec["prior"]["recommendation"], "score": dec["prior"]["score"],
                   "verdict_probabilities": dec["prior"]["verdict_probabilities"]},
        "after": {"recommendation": dec["recommendation"], "score": dec["score"],
                  "verdict_probabilities": dec["verdict_probabilities"], "borderline": dec["borderline"],
                  "runner_up": dec["runner_up"]},
        "moved_most": {"observation": top["observation"], "name": observation_name(top["observation"]),
                       "shift": top["shift"], "probabilities": top["probabilities"]},
        "observations": _observed(f),
        "inputs": post["inputs"],
        "outputs": post["outputs"],
        "unused": post["unused"],
        "likelihood": {k: post["likelihood"][k] for k in ("tempered", "tempering", "effective_worlds", "worlds")},
    }


def _moved_most_sentence(f: _Facts) -> str:
    top = f.posterior["moved_most"][0]
    name = observation_name(top["observation"])
    if top["shift"] < 0.005:
        return (f"No observation on its own moves the verdict's odds visibly; the largest effect is "
                f"{_decap(name)}'s (under 1 % of futures change verdict).")
    before = {"probabilities": f.posterior["prior"]["probabilities"]}
    return (f"What moved the verdict most: {_decap(name)}. On its own it moves {share(top['shift'])} of the futures "
            f"from one verdict to another ({_moves(before, top)}).")


def _input_label(name: str, spec: dict[str, Any] | None) -> tuple[str, str]:
    """(table name, chart name) of an input; traction evidence makes early adoption a count of customers."""
    if spec is not None and spec.get("distribution") == "gamma":
        return "Customers at the start", "Customers at the start"
    return input_name(name), short_name(name)


def _input_shifts(f: _Facts) -> list[dict[str, Any]]:
    """The inputs the observations inform, T0 against now: a chart of those with a range, and the table of all."""
    days = f.posterior["window_days"]
    rows, panels = [], []
    for row in f.posterior["inputs"]:
        name, spec = row["input"], f.inputs.get(row["input"])
        long, short = _input_label(name, spec)
        t0, now = ([row[k][q] for q in ("p10", "p50", "p90")] for k in ("prior", "posterior"))
        by = ", ".join(_decap(observation_name(o)) for o in row["observations"])
        if t0[0] == t0[2] and now[0] == now[2]:
            rows.append([long, by, f"{input_value(name, t0[1], spec)} (stated)", "not updated: stated exactly"])
            continue
        rows.append([long, by, " / ".join(input_value(name, v, spec) for v in t0),
                     " / ".join(input_value(name, v, spec) for v in now)])
        lo, hi = min(t0[0], now[0]), max(t0[2], now[2])
        panels.append({"name": short, "t0": t0, "now": now, "ticks": [lo, hi],
                       "labels": {"t0": input_value(name, t0[1], spec), "now": input_value(name, now[1], spec),
                                  "lo": input_value(name, lo, spec), "hi": input_value(name, hi, spec)}})
    table = _table(["input", "informed by", "at T0: P10 / median / P90", f"after {days} days: P10 / median / P90"],
                   rows, widths=[2.6, 2.0, 2.2, 2.2], align="llll")
    if not panels:
        return [table]
    return [_figure(
        "input_shifts", "Your inputs at T0 and after what you observed",
        f"Each bar holds 8 futures in 10 (P10 to P90) and its tick the median: grey at T0, blue after the first "
        f"{days} days. An input the observations barely inform keeps its T0 range; a value you stated exactly is "
        "not updated.",
        {"panels": panels}, 6 + 17 * math.ceil(len(panels) / 3), table=table)]


def _from_to(before: float, after: float) -> str:
    a, b = dollars(before), dollars(after)
    return f"stays near {a}" if a == b else f"moves from {a} to {b}"


def _section_first_days(f: _Facts) -> dict[str, Any]:
    post, dec = f.posterior, f.posterior_dec
    days, before, lik = post["window_days"], dec["prior"], post["likelihood"]
    blocks: list[dict[str, Any]] = [_table(
        ["when", "verdict", "GO", "PIVOT", "KILL", "score"],
        [["At T0", before["recommendation"], *(share(before["verdict_probabilities"][k]) for k in ("GO", "PIVOT", "KILL")),
          f"{before['score']:.0f}"],
         [f"After the first {days} days", dec["recommendation"],
          *(share(dec["verdict_probabilities"][k]) for k in ("GO", "PIVOT", "KILL")), f"{dec['score']:.0f}"]],
        widths=[2.6, 1.0, 0.8, 0.8, 0.8, 0.8], align="llrrrr")]
    change = (f"The verdict changed: {before['recommendation']} at T0, {dec['recommendation']} now."
              if dec["changed"] else f"The verdict did not change: {dec['recommendation']} at T0 and now.")
    blocks.append(_para(
        f"{change} What you observed "
        f"{_odds_moved(before['verdict_probabilities'], dec['verdict_probabilities'])}. The update weighs each of the "
        f"{lik['worlds']:,} futures simulated at T0 by how likely it makes what you observed (Bayes' rule), so no "
        f"new assumption enters; the weight rests on the equivalent of {lik['effective_worlds']:,.0f} of them."))
    if lik["tempered"]:
        blocks.append(_para(
            f"Your observations sat far outside what the T0 forecast expected, so the update was softened: they "
            f"count for {lik['tempering']:.0%} of their weight, and a re-run with them as evidence will use them in "
            "full."))
    observed = _observed(f)
    blocks.append(_sub("What you observed against the T0 forecast"))
    blocks.append(_para(_moved_most_sentence(f)))
    blocks.append(_table(
        ["observation", "observed", "T0 forecast, median", "T0 forecast, 8 futures in 10",
         "percentile in the T0 forecast", "reading"],
        [[r["name"], observation_value(r["observation"], r["observed"]),
          observation_value(r["observation"], r["forecast"]["p50"]),
          f"{observation_value(r['observation'], r['forecast']['p10'])} to "
          f"{observation_value(r['observation'], r['forecast']['p90'])}", _percentile(r["pit"]), r["reading"]]
         for r in observed], widths=[2.4, 1.1, 1.2, 1.6, 1.3, 1.6], align="lrrrrl"))
    notes = [_far_off(r) for r in observed if not r["inside_80"]] or \
        ["Every observation fell inside the 80 % range of the T0 forecast."]
    if not lik["tempered"] and _softened(f):
        notes.append("An observation this far outside its forecast is one the T0 model cannot account for: re-run "
                     "the validation with it as evidence rather than rely on the update alone.")
    blocks.append(_para(" ".join(notes)))
    if post["inputs"]:
        blocks.append(_sub("What it says about your inputs"))
        blocks += _input_shifts(f)
    fans, out = post["fans"], post["outputs"]
    blocks.append(_sub("Revenue and value before and after"))
    marks = [mo for mo in (6, 12, 18, 24, 30, 36) if mo <= len(fans["months"])]
    blocks.append(_figure(
        "revenue_update", f"Monthly revenue: the T0 forecast and after the first {days} days",
        f"Grey: the T0 forecast (dashed median, dotted edges of 8 futures in 10). Blue: after the first {days} days "
        f"(line the median, band 8 futures in 10). Median monthly revenue in month {fans['months'][-1]} "
        f"{_from_to(fans['prior']['p50'][-1], fans['posterior']['p50'][-1])}.",
        {"months": fans["months"], "t0": fans["prior"], "now": fans["posterior"]}, 55,
        table=_table(["month", "T0: P10", "T0: median", "T0: P90", "now: P10", "now: median", "now: P90"],
                     [[str(mo), *(dollars(fans[k][q][mo - 1]) for k in ("prior", "posterior")
                                  for q in ("p10", "p50", "p90"))] for mo in marks])))
    labels = {"revenue_36": "Revenue over 36 months", "arr_36": "ARR at month 36", "npv": "Value created (NPV)"}
    blocks.append(_table(
        ["outcome", "at T0: median (8 futures in 10)", f"after {days} days: median (8 futures in 10)"],
        [[label, *(f"{dollars(out[key][k]['p50'])} ({dollars(out[key][k]['p10'])} to {dollars(out[key][k]['p90'])})"
                   for k in ("prior", "posterior"))] for key, label in labels.items()],
        widths=[2.2, 2.6, 2.6], align="lrr"))
    blocks.append(_para(f"Median value created (NPV) {_from_to(out['npv']['prior']['p50'], out['npv']['posterior']['p50'])}; "
                        f"median revenue over 36 months "
                        f"{_from_to(out['revenue_36']['prior']['p50'], out['revenue_36']['posterior']['p50'])}."))
    if post["unused"]:
        blocks.append(_para("Observations the model could not use:"))
        blocks.append(_bullets([f"{observation_name(u['observation'])}: {u['reason']}." for u in post["unused"]]))
    blocks.append(_para("The sections after this one are the T0 analysis as it was delivered, before these "
                        "observations: their numbers are the T0 forecast."))
    return {"key": "first_days", "title": f"What the first {days} days changed", "blocks": blocks}


def _calibration(bundle: dict[str, Any]) -> dict[str, Any] | None:
    """The calibration ledger in one line: the run's domain when clients in it have been scored, else all runs."""
    summary = bundle.get("calibration")
    if not summary:
        return None
    domain = bundle["market_data"]["domain"]["name"]
    scored = (summary.get("by_domain") or {}).get(domain) or {}
    if scored.get("count"):
        return {"line": ledger.one_line(summary, domain), "scope": domain, **scored}
    return {"line": ledger.one_line(summary), "scope": "all domains", **summary["overall"]}


# -- the analyst's sections -----------------------------------------------------------------------------------------

def _section_how(f: _Facts) -> dict[str, Any]:
    dec, probs, rescue = f.dec, f.probs, f.rescue
    raw = (dec.get("verdict_stability") or {}).get("raw_probabilities") or probs
    levers = sum((rescue.get("levers") or {}).values())
    blocks: list[dict[str, Any]] = [_para(
        "Every plausible future is judged as an analyst would. KILL if a must-meet fails: each customer costs more "
        "to win than it returns (LTV/CAC below 1); even the whole reachable market cannot pay the fixed costs; "
        "revenue after three years covers less than a tenth of the fixed costs; the total market is under $1M; or a "
        "check of your own figures failed. GO if none fails, NPV is above 0, LTV/CAC is at least "
        f"{rules.GO_LTV_CAC:g} and CAC is paid back within {rules.GO_PAYBACK_MONTHS:g} months. PIVOT otherwise. "
        "A failing future whose failure rests on benchmarks you never confirmed, or that one change you control "
        "rescues, counts as PIVOT; so does a succeeding future that rests on unconfirmed demand benchmarks. The "
        "verdict is GO when at least half of the futures are GO, KILL when more than half are KILL, PIVOT otherwise.")]
    rows = [
        ["Fail a must-meet as simulated", share(raw["KILL"]), ""],
        ["  ...but not with unconfirmed benchmarks at their favourable end", share(rescue["needs_evidence"]),
         "PIVOT (needs evidence)"],
        ["  ...but one change you control makes them viable", share(levers), "PIVOT"],
        ["  ...and fail whatever we try", share(probs["KILL"]), "KILL"],
        ["Viable but short of GO", share(raw["PIVOT"]), "PIVOT"],
        ["Clear every GO bar as simulated", share(raw["GO"]), ""],
        ["  ...but not with unconfirmed demand benchmarks at their unfavourable end",
         share(rescue["unconfirmed_go"]), "PIVOT (needs evidence)"],
        ["  ...and hold", share(probs["GO"]), "GO"],
    ]
    blocks.append(_table(["how the plausible futures divide", "share of futures", "counts as"], rows,
                         widths=[4.0, 1.2, 1.6], align="lrl"))
    se = (dec.get("verdict_stability") or {}).get("standard_errors") or {}
    score = dec.get("score")
    text = (f"Verdict {f.verdict}: GO {share(probs['GO'])}, PIVOT {share(probs['PIVOT'])}, KILL "
            f"{share(probs['KILL'])}")
    worlds = (dec.get("verdict_stability") or {}).get("worlds", 0)
    if se and max(se.values()) > 0:
        text += (f" (each within about {max(1.96 * max(se.values()) * 100, 0.1):.1f} percentage points at 95 % "
                 f"confidence, from {worlds:,} futures)")
    elif se:
        text += f" (all {worlds:,} futures agree)"
    if score is not None:
        th = dec.get("thresholds") or {}
        text += (f". Score {score:.1f} of 100, the middle future's score (KILL below {th.get('kill', 45):.0f}, "
                 f"GO from {th.get('go', 75):.0f}).")
    blocks.append(_para(text))
    knock = sorted((ko for ko in dec.get("knockouts") or [] if ko["share"] > 0), key=lambda k: -k["share"])
    if knock:
        blocks.append(_sub("Must-meets that fail"))
        blocks.append(_table(["must-meet that fails", "futures", "on your own figures"],
                             [[_KNOCKOUT_WORDS.get(k["rule"], k["message"]).capitalize(), share(k["share"]),
                               share(k["confirmed_share"])] for k in knock], widths=[4.0, 1.0, 1.4]))
    gates = sorted((g for g in dec.get("go_gates_failed") or [] if g["failing_share"] > 0),
                   key=lambda g: -g["failing_share"])
    if gates:
        blocks.append(_sub("GO bars missed by viable futures"))
        blocks.append(_table(["a viable future that does not...", "share of all futures"],
                             [[_GATE_WORDS.get(g["rule"], g["message"]), share(g["failing_share"])] for g in gates],
                             widths=[4.0, 1.4]))
    why_not = _why_not(f)
    if why_not:
        blocks.append(_para(why_not))
    if f.asks:
        ranked = ", ".join(f"{lower_name(a['input'])} (rank correlation {a['rank_correlation']:+.2f})"
                           for a in dec["needs_evidence"])
        blocks.append(_para("Benchmarks the verdict leans on most, strongest first: " + ranked + "."))
    title = "How the T0 verdict was reached" if f.posterior else "How the verdict was reached"
    return {"key": "how", "title": title, "blocks": blocks}


def _section_changes(f: _Facts) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    flips = f.flips()
    if flips:
        blocks.append(_para("The value at which one input, moved on its own in every future, would change the "
                            "verdict (found on the same futures):"))
        rows = []
        for flip in flips:
            spec = f.inputs.get(flip["input"])
            relative = flip["input"] in ("wtp_level", "bass_p")
            rows.append([input_name(flip["input"]), "today's estimate" if relative else
                         _precise(flip["input"], flip["from"], spec),
                         f"{flip['factor']:.2f}x today's" if relative else _precise(flip["input"], flip["value"],
                                                                                    spec),
                         flip["verdict"]])
        blocks.append(_table(["input", "today (median)", "verdict changes at", "becomes"], rows,
                             widths=[3.6, 1.4, 1.6, 0.9], align="lrrl"))
    else:
        blocks.append(_para(_NOTHING_FLIPS))
    suggestions = ((f.dec.get("pivot") or {}).get("suggestions")) or []
    if suggestions:
        plan, best = f.plan_and_best_change()
        blocks.append(_sub("Changes you control, simulated on the same futures"))
        rows = [[s["change"] + (" (suggested)" if best is s and _improves(plan, best) else ""),
                 share(s["probabilities"]["GO"]), share(s["probabilities"]["PIVOT"]), share(s["probabilities"]["KILL"]),
                 f"{s['score']:.0f}"] for s in suggestions]
        blocks.append(_table(["change", "GO", "PIVOT", "KILL", "score"], rows, widths=[4.2, 0.8, 0.8, 0.8, 0.8]))
        if not _improves(plan, best):
            blocks.append(_para("None of these changes improves the odds (more GO or less KILL) by two percentage points: "
                                "the plan needs evidence or a different model, not a tweak."))
    scen = (f.sim.get("scenarios") or {}).get("results") or {}
    if scen:
        blocks.append(_sub("Scenarios"))
        blocks.append(_para(_scenario_sentence(scen)))
        rows = [[_SCENARIO_NAMES.get(k, k), v.get("description", ""), share(v["metrics"]["p_npv_positive"]),
                 dollars(v["metrics"]["npv_p50"]), dollars(v["metrics"]["arr_36_p50"])] for k, v in scen.items()]
        blocks.append(_table(["scenario", "what changes", "NPV above 0", "median NPV", "median ARR month 36"], rows,
                             widths=[1.3, 3.6, 1.0, 1.1, 1.2], align="llrrr"))
    return {"key": "changes", "title": "What would change the verdict", "blocks": blocks}


def _scenario_sentence(scen: dict[str, Any]) -> str:
    """One sentence on the scenarios that never says "falls from 100% to 100%"."""
    base = scen.get("base") or next(iter(scen.values()))
    b_p, b_npv = share(base["metrics"]["p_npv_positive"]), base["metrics"]["npv_p50"]
    text = ("Each scenario re-runs 4,096 futures with the same random draws, so differences come from the scenario "
            "alone (and the base case differs slightly from the headline figures). ")
    bear = scen.get("bear")
    if bear:
        p = share(bear["metrics"]["p_npv_positive"])
        move = f"stays at {b_p}" if p == b_p else (
            f"falls from {b_p} to {p}" if bear["metrics"]["p_npv_positive"] < base["metrics"]["p_npv_positive"]
            else f"rises from {b_p} to {p}")
        npv = dollars(bear["metrics"]["npv_p50"])
        npv_move = f"stays near {npv}" if npv == dollars(b_npv) else f"moves from {dollars(b_npv)} to {npv}"
        text += f"In the bear case the chance of positive NPV {move}, and median NPV {npv_move}. "
    values = {k: share(v["metrics"]["p_npv_positive"]) for k, v in scen.items()}
    if len(set(values.values())) == 1:
        text += f"The chance of positive NPV is {b_p} in every scenario: they differ in how much value, not whether."
    else:
        worst = min(scen, key=lambda k: scen[k]["metrics"]["p_npv_positive"])
        text += (f"The hardest scenario for this plan is {_SCENARIO_NAMES.get(worst, worst).lower()} "
                 f"({values[worst]} chance of positive NPV).")
    return text


def _cumulative_rows(values: list[float], levels: list[int], targets: list[float]) -> list[list[str]]:
    return [[dollars(t), share(1.0 - _interp_share(t, values, levels))] for t in targets]


def _targets(q: list[float]) -> list[float]:
    """Round targets spanning P10..P90 for the "chance of at least" table."""
    lo, hi = q[9], q[89]
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / 4))
    for mult in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * mult) <= 6:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) // step) + 1)]


def _histogram_from_quantiles(q: list[float], levels: list[int], bins: int = 32) -> dict[str, Any]:
    """Bars over P1..P99 whose areas are the share of futures in each bin, read off the percentile curve: no
    clipped pile-up at either end (the 1 % beyond on each side is named in the caption instead)."""
    qa = np.asarray(q, dtype=float)
    lo, hi = float(qa[0]), float(qa[-1])
    if hi - lo <= 1e-9 * max(abs(lo), 1.0):
        lo, hi = lo - 1.0, hi + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    cdf = np.interp(edges, qa, np.asarray(levels, dtype=float) / 100.0)
    return {"edges": edges.tolist(), "shares": np.diff(cdf).tolist()}


def _section_outcomes(f: _Facts) -> dict[str, Any]:
    sim, m, out = f.sim, f.m, f.out
    blocks: list[dict[str, Any]] = []
    fan = sim.get("fan_charts")
    if fan and fan.get("revenue"):
        rev = fan["revenue"]
        blocks.append(_figure(
            "revenue_fan", "Monthly revenue, 36 months",
            f"The line is the median future; the dark band holds 8 futures in 10 (P10 to P90), the light band 9 in "
            f"10. Median monthly revenue reaches {dollars(rev['p50'][-1])} in month 36.",
            {k: rev[k] for k in ("p5", "p10", "p50", "p90", "p95")} | {"months": fan["months"]}, 58,
            table=_table(["month", "P10", "median", "P90"],
                         [[str(mo), dollars(rev["p10"][mo - 1]), dollars(rev["p50"][mo - 1]),
                           dollars(rev["p90"][mo - 1])] for mo in (6, 12, 18, 24, 30, 36)])))
    q = f.quantiles
    if q.get("npv"):
        levels = q["levels"]
        hist = _histogram_from_quantiles(q["npv"], levels)
        marks = {"P10": out["npv"]["p10"], "P50": out["npv"]["p50"], "P90": out["npv"]["p90"]}
        blocks.append(_figure(
            "npv_histogram", "Value created (NPV) across plausible futures",
            f"Red bars lose money, green bars create value; {share(m['p_npv_positive'])} of futures are above 0. "
            f"Marks: P10 {dollars(marks['P10'])}, median {dollars(marks['P50'])}, P90 {dollars(marks['P90'])}. "
            f"The 1 % of futures beyond each end ({dollars(q['npv'][0])} and {dollars(q['npv'][-1])}) are off the "
            "chart.",
            {**hist, "marks": marks}, 52))
        arr_q = q.get("arr_36") or []
        som = f.md["market"]["som"]["value"]
        data = {"npv": q["npv"], "arr": arr_q, "levels": levels, "som": som}
        table_rows = [["NPV at least " + r[0], r[1]] for r in _cumulative_rows(q["npv"], levels, _targets(q["npv"]))]
        if arr_q:
            table_rows += [["ARR at month 36 at least " + r[0], r[1]]
                           for r in _cumulative_rows(arr_q, levels, sorted(set(_targets(arr_q)) | {som}))]
        blocks.append(_figure(
            "cumulative", "Chance of reaching a target",
            "Read the chance of reaching any target off the curve: pick a value on the horizontal axis, read the "
            f"chance above it. The median ARR at month 36 ({dollars(m['arr_36_p50'])}) sits at 50 %; your SOM target "
            f"({dollars(som)}) is reached in {share(m['p_reach_som'])} of futures.",
            data, 55, table=_table(["target", "chance of reaching it"], table_rows)))
    rows = []
    for label, key, fmt in (
            ("NPV (value created), $", "npv", dollars), ("ARR at month 36, $ a year", "arr_36", dollars),
            ("Revenue in year 1, $", "revenue_y1", dollars), ("Revenue in year 2, $", "revenue_y2", dollars),
            ("Revenue in year 3, $", "revenue_y3", dollars),
            ("Paying customers at month 36", "customers_36", lambda v: f"{v:,.0f}"),
            ("Funding need, $", "funding_need", dollars), ("LTV/CAC", "ltv_cac", ratio),
            ("CAC payback, months", "cac_payback_months", lambda v: f"{v:.1f}"),
            ("Break-even month (37 = not within 36)", "breakeven_month", lambda v: f"{v:.0f}"),
            ("Return on capital at risk (NPV / funding need)", "roi", lambda v: f"{v:.0%}"),
            ("Share of the market that values it above its price", "acceptance", lambda v: f"{v:.0%}"),
            ("Share of choice against competitors", "market_share", lambda v: f"{v:.1%}")):
        if key in out:
            o = out[key]
            rows.append([label] + [fmt(o[k]) for k in ("mean", "p5", "p10", "p50", "p90", "p95")])
    blocks.append(_sub("Summary statistics"))
    blocks.append(_table(["output", "mean", "P5", "P10", "median", "P90", "P95"], rows,
                         widths=[3.4, 1, 1, 1, 1, 1, 1]))
    return {"key": "outcomes", "title": "Revenue and value across plausible futures", "blocks": blocks}


def _section_cash(f: _Facts) -> dict[str, Any]:
    sim, m, out = f.sim, f.m, f.out
    blocks: list[dict[str, Any]] = []
    pnl = sim.get("pnl") or []
    if pnl:
        blocks.append(_para("Each cell is that line's median, with 8 futures in 10 between the bracketed values. "
                            "Medians of different lines do not add up exactly: each comes from its own ranking of "
                            "the futures."))
        lines = (("Revenue", "revenue"), ("Gross profit", "gross_profit"), ("Acquisition spend", "acquisition"),
                 ("Fixed costs", "fixed_costs"), ("Operating cash flow", "operating_cash_flow"),
                 ("Cumulative cash flow at year end", "cash_end"))
        rows = [[label] + [f"{dollars(y[key]['p50'])} ({dollars(y[key]['p10'])} to {dollars(y[key]['p90'])})"
                           for y in pnl] for label, key in lines]
        blocks.append(_table(["$ per year"] + [f"year {y['year']}" for y in pnl], rows,
                             widths=[2.2] + [1.6] * len(pnl)))
    fan = sim.get("fan_charts")
    cover = f.cash_cover()
    text = (f"Half of the futures need more than {dollars(out['funding_need']['p50'])} of funding before cash flow "
            f"turns positive or month 36 ends, and 1 in 10 more than {dollars(out['funding_need']['p90'])}.")
    if f.cash is not None and cover is not None:
        text += f" Your cash on hand ({dollars(f.cash)}) covers the funding need in {share(cover)} of futures"
        if fan and fan.get("cash"):
            runs_out = next((i + 1 for i, c in enumerate(fan["cash"]["p50"]) if c < -f.cash), None)
            text += (f"; on the median path it runs out in month {runs_out}." if runs_out else
                     "; on the median path it lasts beyond month 36.")
        else:
            text += "."
    else:
        text += " You did not state your cash on hand (financials.cash_on_hand), so the runway is not shown."
    if fan and fan.get("cash"):
        cash = fan["cash"]
        blocks.append(_figure(
            "cash_fan", "Funding timeline: cumulative cash flow",
            "Cumulative cash flow from today, before the cash you already have: the lowest point is the funding "
            "need. " + ("The dashed line is your cash on hand: where the band crosses it, you must raise."
                        if f.cash is not None else "State your cash on hand to see where you must raise."),
            {k: cash[k] for k in ("p10", "p50", "p90")} | {"months": fan["months"], "cash_on_hand": f.cash}, 52))
    blocks.append(_para(text))
    be = sim.get("breakeven_cdf")
    if be and max(be["p"] or [0.0]) >= 0.02:
        blocks.append(_figure(
            "breakeven", "Chance of operating break-even by each month",
            f"The first month in which revenue after direct costs covers acquisition and fixed costs: "
            f"{share(m['p_breakeven_24'])} of futures get there within 24 months, {share(m['p_breakeven_36'])} within "
            f"36 (median: {months(out['breakeven_month']['p50'])}).",
            {"months": be["months"], "p": be["p"]}, 42,
            table=_table(["by month", "chance of break-even"],
                         [[str(mo), share(be["p"][mo - 1])] for mo in (6, 12, 18, 24, 30, 36)])))
    else:
        blocks.append(_para("Operating break-even is not reached within 36 months in any future, so its chart is "
                            "left out." if m["p_breakeven_36"] <= 0 else
                            f"Operating break-even is reached within 36 months in only {share(m['p_breakeven_36'])} "
                            "of futures, so its chart is left out."))
    return {"key": "cash", "title": "Yearly P&L, cash and funding", "blocks": blocks}


def _section_drivers(f: _Facts) -> dict[str, Any]:
    sens = f.sim.get("sensitivity") or {}
    blocks: list[dict[str, Any]] = []
    if not sens:
        blocks.append(_para("The sensitivity analyses were not run for this report."))
        return {"key": "drivers", "title": "What drives the outcome", "blocks": blocks}
    bars = [b for b in sens.get("tornado") or [] if b["swing"] > 0][:8]
    if bars:
        base = bars[0]["base_npv"]
        data = {"base": base, "bars": [
            {"name": short_name(b["input"]), "low": b["npv_low"], "high": b["npv_high"],
             "low_label": input_value(b["input"], b["low_input"], f.inputs.get(b["input"])) if b["input"] in f.inputs
             else "P10",
             "high_label": input_value(b["input"], b["high_input"], f.inputs.get(b["input"])) if b["input"] in f.inputs
             else "P90"} for b in bars]}
        blocks.append(_figure(
            "tornado", "What moves the value created (tornado)",
            f"Each bar: NPV when one input goes from its P10 to its P90 with every other input at its median. Green "
            f"is the end that raises NPV, red the end that lowers it; each end is labelled with the input's value. "
            f"The line is the base case, every input at its median: NPV {dollars(base)}.",
            data, 10 + 7.5 * len(bars),
            table=_table(["input", "at its P10", "NPV", "at its P90", "NPV"],
                         [[b["name"], b["low_label"], dollars(b["low"]), b["high_label"], dollars(b["high"])]
                          for b in data["bars"]])))
    sobol = [e for e in (sens.get("sobol") or {}).get("indices") or []][:8]
    if sobol:
        data = {"bars": [{"name": short_name(e["input"]), "alone": max(e["s1"], 0.0),
                          "total": max(e["st"], 0.0), "total_ci": e["st_ci"]} for e in sobol]}
        blocks.append(_figure(
            "variance", "Contribution to variance of NPV",
            "How much of the spread in NPV each input accounts for: dark, on its own; light, including its "
            "interactions with other inputs; the whisker is the 95 % interval. Measure the inputs with the "
            "longest bars first.",
            data, 10 + 6.5 * len(sobol),
            table=_table(["input", "on its own", "with interactions", "95 % interval"],
                         [[short_name(e["input"]), f"{e['s1']:.0%}", f"{e['st']:.0%}",
                           f"{e['st_ci'][0]:.0%} to {e['st_ci'][1]:.0%}"] for e in sobol])))
    wdf = sens.get("what_drives_failure")
    if wdf:
        p = wdf["p_failure"]
        if p < 0.01:
            blocks.append(_para(f"Value is lost (NPV at or below 0) in {share(p)} of futures: too few to say what "
                                "drives failure."))
        elif p > 0.99:
            blocks.append(_para(f"Value is lost in {share(p)} of futures: too many to say what separates failure "
                                "from success."))
        else:
            sig = [d for d in wdf["drivers"] if d["significant"]]
            if sig:
                blocks.append(_para(f"Value is lost in {share(p)} of futures. In those futures, "
                                    + "; ".join(f"{lower_name(d['input'])} sits at its "
                                                f"P{d['median_percentile']:.0f} ({d['direction']} end)" for d in sig[:4])
                                    + "."))
            else:
                blocks.append(_para(f"Value is lost in {share(p)} of futures, and no single input separates them "
                                    "from the rest: it takes several things going wrong together."))
    return {"key": "drivers", "title": "What drives the outcome", "blocks": blocks}


def _density(spec: dict[str, Any], lo: float, hi: float, n: int = 48) -> tuple[list[float], list[float]]:
    """The density of an input on a grid, as bin masses of its CDF (exact for every family, smooth enough)."""
    edges = np.linspace(lo, hi, n + 1)
    cdf = distributions.cdf(spec, edges)
    mass = np.diff(cdf) / (edges[1] - edges[0])
    return ((edges[:-1] + edges[1:]) / 2).tolist(), mass.tolist()


def _range(spec: dict[str, Any]) -> tuple[float, float]:
    u = np.array([0.005, 0.995])
    if spec["high"] - spec["low"] <= 1e-12 * max(abs(spec["high"]), 1.0) and spec["distribution"] not in ("beta",
                                                                                                         "gamma"):
        return float(spec["low"]), float(spec["high"])
    x = distributions.ppf(spec, u)
    return float(x[0]), float(x[1])


def _exact(spec: dict[str, Any]) -> bool:
    """A value stated exactly (price, a product already built): drawn as a bar, not a curve."""
    return spec["distribution"] not in ("beta", "gamma") and \
        spec["high"] - spec["low"] <= 1e-12 * max(abs(spec["high"]), 1.0)


def _input_panel(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    prior = spec.get("prior") or {}
    same_units = not (spec["distribution"] == "gamma" and prior.get("distribution") != "gamma")
    touched = spec["grade"] != "benchmark" and bool(prior) and same_units and not _exact(prior)
    ranges = [_range(s) for s in [spec] + ([prior] if touched else [])]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if _exact(spec):
        # Keep the bar off the frame's edge, and give a lone bar a range to stand in.
        span = (hi - lo) or max(abs(spec["likely"]) * 0.5, 1.0)
        lo = min(lo, spec["likely"] - 0.05 * span)
        hi = max(hi, spec["likely"] + 0.05 * span)
    panel: dict[str, Any] = {"name": short_name(name) if same_units else "Customers at the start",
                             "grade": spec["grade"], "curves": [], "ticks": [lo, hi],
                             "tick_labels": [input_value(name, max(lo, 0.0) if spec["low"] >= 0 else lo, spec),
                                             input_value(name, hi, spec)]}
    if touched:
        x, y = _density(prior, lo, hi)
        panel["curves"].append({"role": "prior", "x": x, "y": y})
    if _exact(spec):
        panel["point"] = {"x": spec["likely"], "label": input_value(name, spec["likely"], spec)}
    else:
        x, y = _density(spec, lo, hi)
        panel["curves"].append({"role": "posterior", "x": x, "y": y})
    return panel


def _section_inputs(f: _Facts) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    panels = [_input_panel(n, s) for n, s in f.inputs.items()]
    blocks.append(_figure(
        "inputs", "Each input: the benchmark against your evidence",
        "Blue: the range the simulation drew from. Where your evidence changed an input, the grey dashed curve is "
        "the benchmark it replaced (prior) and the blue one the range after your evidence (posterior); a blue bar is "
        "a value you stated exactly. Panels marked 'benchmark' rest on no evidence of yours.",
        {"panels": panels}, 6 + 27 * math.ceil(len(panels) / 4)))
    rows = []
    for name, spec in f.inputs.items():
        three = f"{input_value(name, spec['likely'], spec)} (stated)" if _exact(spec) else \
            " / ".join(input_value(name, spec[k], spec) for k in ("low", "likely", "high"))
        if spec["grade"] == "benchmark":
            basis = "Benchmark: " + spec["source"]
        else:
            prior = spec.get("prior") or {}
            was = ""
            if prior and not (spec["distribution"] == "gamma" and prior.get("distribution") != "gamma"):
                was = " (benchmark was " + " / ".join(input_value(name, prior[k], spec)
                                                      for k in ("low", "likely", "high")) + ")"
            basis = f"Your evidence: {spec.get('evidence') or spec['source']}{was}"
        rows.append([input_name(name), three, basis])
    blocks.append(_table(["input", "low / likely / high", "basis"], rows, widths=[2.4, 1.9, 4.4], align="lll"))
    unused = (f.md.get("evidence") or {}).get("unused") or []
    if unused:
        blocks.append(_para("Evidence not used: " + "; ".join(f"{u['field']}: {plain(u['reason'])}"
                                                              for u in unused) + "."))
    corr = f.md.get("correlations") or []
    if corr:
        blocks.append(_para("Inputs that move together in the simulation: " + "; ".join(
            f"{lower_name(c['a'])} and {lower_name(c['b'])} "
            f"({'together' if c['rank_corr'] > 0 else 'opposite'}, rank correlation {c['rank_corr']:+.1f}: "
            f"{c['reason'].lower()})" for c in corr) + "."))
    return {"key": "inputs", "title": "Inputs: benchmarks against your evidence", "blocks": blocks}


def _hhi_words(hhi: float) -> str:
    # US Horizontal Merger Guidelines (2010) bands.
    return "unconcentrated" if hhi < 1500 else "moderately concentrated" if hhi <= 2500 else "highly concentrated"


def _section_market(f: _Facts) -> dict[str, Any]:
    bundle, m = f.bundle, f.m
    mk = f.md["market"]
    blocks: list[dict[str, Any]] = []
    source = {"client": "you", "benchmark": "benchmark"}
    blocks.append(_table(["market", "value", "from"], [
        ["Total market a year (TAM)", dollars(mk["tam"]["value"]), source.get(mk["tam"]["source"], mk["tam"]["source"])],
        ["Serviceable market a year (SAM)", dollars(mk["sam"]["value"]),
         source.get(mk["sam"]["source"], mk["sam"]["source"])],
        ["Target revenue a year (SOM)", dollars(mk["som"]["value"]),
         source.get(mk["som"]["source"], mk["som"]["source"])],
        ["Accounts in the serviceable market", f"{mk['sam_accounts']:,.0f}",
         f"SAM / (12 x {dollars(mk['account_price'])} a month)"]], widths=[3.0, 1.2, 2.6], align="lrl"))
    blocks += [_para(flag) for flag in mk.get("flags") or []]
    personas = bundle["personas"]
    blocks.append(_sub("Customer segments (synthetic)"))
    blocks.append(_para((personas.get("method") or "Synthetic segments").rstrip(".") +
                        ". These segments are invented archetypes, not customers you have."))
    blocks.append(_table(
        ["segment (synthetic)", "share of SAM", "willingness to pay", "early adoption", "word of mouth", "churn"],
        [[p["name"] + " (synthetic)", f"{p['sam_share']:.0%}", f"{dollars(p['wtp']['likely'])}/month",
          f"{p['adoption']['p']:.2%}/month", f"{p['adoption']['q']:.1%}/month", f"{p['churn_monthly']:.1%}/month"]
         for p in personas.get("personas") or []], widths=[3.0, 1.0, 1.3, 1.2, 1.2, 1.0]))
    comps = bundle["competitors"]
    points = comps["positioning_matrix"]["points"]
    legend = []
    for i, p in enumerate([p for p in points if p["id"] != "US"], 1):
        legend.append({"n": i, "id": p["id"], "name": p["name"], "synthetic": bool(p.get("synthetic")),
                       "x": p["x"], "y": p["y"], "share": p.get("share") or 0.0})
    us = next((p for p in points if p["id"] == "US"), None)
    blocks.append(_sub("Competitors"))
    blocks.append(_table(
        ["competitor", "source", "share", "price", "position"],
        [[c["name"], "synthetic (invented)" if c["synthetic"] else "named by you", share(c["share"]),
          f"{dollars(c['price'])}/month", c["position"]] for c in comps["top_5"]],
        widths=[2.4, 1.5, 0.8, 1.1, 1.8], align="llrrl"))
    hhi = comps["concentration_hhi"]
    blocks.append(_para(
        f"{comps['count']} competitors: {comps['named']} named by you, {comps['synthetic']} synthetic. Market "
        f"concentration HHI {hhi:,.0f} ({_hhi_words(hhi)}). In the simulation buyers pick this product in "
        f"{m['market_share_mean']:.0%} of choices, on average."))
    blocks.append(_figure(
        "positioning", "Where the competitors stand",
        "Horizontal: price relative to yours (1 = the same). Vertical: how attractive buyers find each one compared "
        "with a typical competitor. Bubble size: market share. Filled blue: named by you; hollow grey: synthetic, "
        "invented to stand for the part of the market nobody named. Numbers refer to the list beside the chart.",
        {"points": legend, "us": us}, 62))
    return {"key": "market", "title": "Market, customers and competitors", "blocks": blocks}


def _section_risk(f: _Facts) -> dict[str, Any]:
    dec = f.dec
    blocks: list[dict[str, Any]] = [_table(
        ["risk", "level", "why"],
        [[k.capitalize(), v["level"], plain("; ".join(v["drivers"]))] for k, v in dec["risk_assessment"].items()],
        widths=[1.2, 0.8, 6.0], align="lll")]
    tv = ((dec.get("deliverables") or {}).get("technical_validation")) or {}
    if tv:
        af = tv["architecture_feasibility"]
        blocks.append(_para(f"Technical feasibility {af['score']:.0f} of 100: {af['assessment'].rstrip('.')}. "
                            f"Integration complexity: {tv['integration_complexity']['level']}. "
                            + " ".join(r.rstrip(".") + "." for r in tv.get("reasoning") or [])
                            + " Stack: " + "; ".join(tv.get("stack_recommendations") or []) + "."))
    names = {"market_opportunity": "Market opportunity", "customer_value": "Customer value",
             "competitive_position": "Competitive position", "unit_economics": "Unit economics",
             "financial_viability": "Financial viability", "execution": "Execution (team and technology)"}
    blocks.append(_sub("Scorecard of the middle future"))
    blocks.append(_table(["dimension", "weight", "score", "evidence"],
                         [[names.get(d["name"], d["name"]), f"{d['weight']:.0%}", f"{d['score']:.0f}", plain(d["evidence"])]
                          for d in dec["dimensions"]], widths=[1.8, 0.7, 0.6, 5.0], align="lrrl"))
    csf = dec.get("critical_success_factors") or []
    if csf:
        blocks.append(_para("What must go right: " + plain("; ".join(csf)) + "."))
    return {"key": "risk", "title": "Risks, feasibility and scorecard", "blocks": blocks}


_CONVERGENCE = (("p_npv_positive", "Chance NPV above 0", "share"), ("arr_36_p50", "Median ARR at month 36", "usd"),
                ("ltv_cac_p50", "Median LTV/CAC", "ratio"))


def _section_convergence(f: _Facts) -> dict[str, Any]:
    sim = f.sim
    reps = sim.get("replicates") or []
    conv = (sim.get("convergence") or {}).get("metrics") or {}
    paths = sim.get("paths") or {}
    blocks: list[dict[str, Any]] = []
    series = []
    for key, label, kind in _CONVERGENCE:
        values = [r[key] for r in reps if key in r]
        if not values:
            continue
        running = np.cumsum(values) / np.arange(1, len(values) + 1)
        ci = conv.get(key) or {}
        series.append({"label": label, "kind": kind, "values": values, "running": running.tolist(),
                       "estimate": ci.get("estimate", sim["metrics"].get(key)), "ci": [ci.get("ci_low"),
                                                                                         ci.get("ci_high")]})
    if series:
        blocks.append(_figure(
            "convergence", "Is the simulation precise enough?",
            f"Each dot is one independent batch of {paths.get('chunk_size', 0):,} simulated futures; the line is the "
            "running average as batches are added and the band the 95 % interval of the final value. Dots that "
            "agree mean more futures would not change the numbers.",
            {"series": series}, 44))
    fmt = {"share": lambda v: f"{v:.2%}", "usd": dollars, "ratio": lambda v: f"{v:.2f}x"}
    rows = [[s["label"], fmt[s["kind"]](s["estimate"]),
             f"{fmt[s['kind']](s['ci'][0])} to {fmt[s['kind']](s['ci'][1])}" if s["ci"][0] is not None else "n/a"]
            for s in series]
    if rows:
        blocks.append(_table(["headline number", "estimate", "95 % interval"], rows, widths=[3, 1.5, 2.5]))
    blocks.append(_para(
        f"{paths.get('used', 0):,} futures simulated in {paths.get('chunks', 0)} batches (at least "
        f"{paths.get('requested', 0):,} were requested: every run uses enough for a decision); the verdict reads "
        f"{(f.dec.get('verdict_stability') or {}).get('worlds', 0):,} of them as plausible futures."))
    return {"key": "convergence", "title": "Precision of the simulation", "blocks": blocks}


def _section_provenance(bundle: dict[str, Any]) -> dict[str, Any]:
    run, sim, md = bundle.get("run") or {}, bundle["simulation_result"], bundle["market_data"]
    cfg = bundle.get("simulation_config") or {}
    paths = sim.get("paths") or {}
    items = [
        f"Run {run.get('run_id')}, validation {run.get('validation_id')}, project {run.get('project_id')}",
        f"Created {run.get('created_at')}; smvm {run.get('smvm_version')}; model {sim.get('model_version')}; "
        f"benchmarks {md.get('priors_version')}",
        f"Seed {sim.get('seed')}; sampler {sim.get('sampler')}; headline scenario {sim.get('scenario')}; "
        f"{paths.get('used', 0):,} futures in {paths.get('chunks', 0)} batches of {paths.get('chunk_size', 0):,}",
        f"Domain {md['domain']['name']} ({md['domain']['how']}); correlation matrix repaired: "
        f"{(cfg.get('correlation') or {}).get('repaired', False)}",
        "Notes: " + "; ".join(md["data_quality"].get("notes") or ["none"]),
        "The same idea and seed give the same numbers and the same report, byte for byte.",
    ]
    blocks: list[dict[str, Any]] = [_bullets(items)]
    arts = bundle.get("artifacts") or {}
    if arts:
        blocks.append(_table(["artifact", "sha256"], [[k, v] for k, v in sorted(arts.items())], widths=[2.2, 5.0],
                             align="ll"))
    return {"key": "provenance", "title": "Provenance", "blocks": blocks}


def _all_text(report: dict[str, Any]) -> str:
    s = report["summary"]
    parts = [s["headline"], s["updated"] or "", s["how_sure"], *s["drivers"], s["why_not"] or "",
             *s["what_would_change_it"], *s["next_steps"], *(k["name"] + " " + k["note"] for k in s["key_numbers"]),
             s["footnote"], s["calibration"] or ""]
    for section in report["sections"]:
        for block in section["blocks"]:
            if block["kind"] in ("paragraph", "subheading"):
                parts.append(block["text"])
            elif block["kind"] == "bullets":
                parts += block["items"]
            elif block["kind"] == "table":
                parts += [" ".join(block["columns"])] + [" ".join(r) for r in block["rows"]]
            elif block["kind"] == "figure":
                parts += [block["title"], block["caption"]]
    return "\n".join(parts)


def build_report(bundle: ReportBundle) -> dict[str, Any]:
    """The whole report as data: the first page (``summary``), the analyst's ``sections`` and the ``glossary``."""
    f = _Facts(bundle)
    idea = (bundle.get("request") or {}).get("idea") or {}
    run = bundle.get("run") or {}
    report: dict[str, Any] = {
        "title": str(idea.get("title") or "Untitled idea"),
        "subtitle": f"Validation report | {f.md['domain']['name']} | {_created(bundle)} | run {run.get('run_id')} | "
                    f"seed {f.sim.get('seed')}",
        # The headline verdict is SMVM's recommendation now: the posterior one once observations are in.
        "verdict": {"recommendation": f.final["recommendation"], "probabilities": f.final["verdict_probabilities"],
                    "score": f.final["score"], "confidence": f.final["confidence"], "source": f.final["source"],
                    "borderline": bool((f.posterior_dec or f.dec).get("borderline")),
                    "needs_evidence": f.needs_evidence and not f.posterior,
                    "colour": _COLOURS[f.final["recommendation"]]},
        "final_recommendation": f.final,
        "summary": _summary(f, bundle),
        "sections": [*([_section_first_days(f)] if f.posterior else []), _section_how(f), _section_changes(f),
                     _section_outcomes(f), _section_cash(f), _section_drivers(f), _section_inputs(f),
                     _section_market(f), _section_risk(f), _section_convergence(f), _section_provenance(bundle)],
        "first_30_days": _first_days_facts(f) if f.posterior else None,
        "calibration": _calibration(bundle),
    }
    report["glossary"] = glossary_for(_all_text(report))
    # The glossary sits just before provenance: last thing a founder reads, first thing an analyst skips.
    report["sections"].insert(len(report["sections"]) - 1, {
        "key": "glossary", "title": "Glossary",
        "blocks": [{"kind": "definitions", "entries": report["glossary"]}]})
    return report


__all__ = ["build_report"]
