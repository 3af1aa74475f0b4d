"""Decision analysis: the verdict the worlds gave, explained — its probabilities, what settles it, what would change
it, the evidence behind each input, and the T0+30 deliverables."""

from __future__ import annotations

from typing import Any

from smvm.contracts import Competitors, Decision, MarketData, Personas, SimulationConfig, SimulationResult, ValidationResult
from smvm.decision import rules
from smvm.decision.deliverables import deliverables, risk_assessment
from smvm.formatting import money
from smvm.gate import RECOMMENDATION_GATE

_LEVERS = {"price", "cac", "churn", "product_advantage", "opex", "wtp_level", "expansion", "gross_margin"}
#: A PIVOT asks for evidence when at least this share of worlds owes its class to unconfirmed benchmarks.
NEEDS_EVIDENCE_SHARE = 0.10
#: What to measure to settle an input that rests on a benchmark, in the request's own terms.
EVIDENCE_ASKS = {
    "bass_p": "paying customers after some months on sale (evidence.traction)",
    "bass_q": "how fast customers bring others (referral or word-of-mouth data, then evidence.priors.bass_q)",
    "churn": "observed monthly churn or a cohort retention curve (retention)",
    "cac": "a measured customer acquisition cost (evidence.cac or evidence.channels)",
    "wtp_level": "a Van Westendorp price survey of target customers (evidence.wtp_survey)",
    "market_size": "a bottom-up serviceable market: accounts x price (business_idea.estimated_sam)",
    "gross_margin": "the cost of serving a customer (financials.gross_margin)",
    "opex": "the monthly fixed costs (financials.monthly_burn)",
    "product_advantage": "win/loss against the alternatives in real sales conversations",
    "competitor_strength": "the named competitors with their market shares (evidence.competitors)",
    "expansion": "revenue growth within existing accounts (evidence.priors.expansion)",
    "upfront_cost": "the cost to build the first sellable version (evidence.priors.upfront_cost)",
    "discount_rate": "the cost of capital investors apply (evidence.priors.discount_rate)",
}
_CSF_TEMPLATES = {
    "churn": "Hold monthly churn at or below {likely:.1%}",
    "cac": "Acquire customers for about {money_likely} or less",
    "price": "Sustain a price near {money_likely}/month without discounting",
    "wtp_level": "Confirm willingness to pay at the planned price with real buyers",
    "product_advantage": "Ship a differentiator customers rank above the alternatives",
    "market_size": "Verify the serviceable market bottom-up (accounts x price)",
    "opex": "Keep fixed costs near {money_likely}/month until revenue follows",
    "bass_q": "Build word of mouth (referrals, community) so adoption compounds",
    "bass_p": "Reach early adopters directly (outbound, launch channels)",
    "gross_margin": "Keep gross margin at or above {likely:.0%}",
    "expansion": "Grow revenue within accounts (seats, tiers, usage)",
    "competitor_strength": "Track the incumbents' responses and keep switching costs low for new customers",
    "upfront_cost": "Build the first version within {money_likely}",
}


def _critical_success_factors(sim: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
    sens = sim.get("sensitivity") or {}
    ranked = [e["input"] for e in (sens.get("sobol") or {}).get("indices", [])] or \
        [e["input"] for e in sens.get("rank_importance", [])]
    out = []
    for name in ranked:
        if name in _CSF_TEMPLATES and name in inputs:
            spec = inputs[name]
            likely = spec["likely"] if name != "bass_p" or spec["distribution"] != "gamma" else spec["prior"]["likely"]
            out.append(_CSF_TEMPLATES[name].format(likely=likely, money_likely=money(likely)))
        if len(out) == 4:
            break
    return out or ["Validate the core demand assumption with paying customers"]


def _needs_evidence(worlds: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"input": e["input"], "evidence": EVIDENCE_ASKS.get(e["input"], e["input"]),
             "rank_correlation": e["rank_correlation"]} for e in worlds["needs_evidence"][:3]]


#: A failed GO gate, said as what the plan falls short of.
_GATE_SHORTFALL = {
    "npv_positive": "creates no value over 36 months (NPV at or below 0)",
    "ltv_cac": f"a customer returns less than {rules.GO_LTV_CAC:g}x what it costs to win",
    "cac_payback": f"acquisition takes longer than {rules.GO_PAYBACK_MONTHS:g} months to pay back",
}


def _why(verdict: str, worlds: dict[str, Any], facts: dict[str, Any], suggestion: dict[str, Any] | None,
         asks: list[dict[str, Any]]) -> list[str]:
    """The reasons behind the verdict, strongest first, in plain words."""
    probs = worlds["probabilities"]
    reasons = []
    if verdict == "KILL":
        for failure in facts["t0_failed"]:
            reasons.append(f"T0 check failed: {failure['message']}")
        found = sorted(((v["confirmed_share"], k) for k, v in worlds["knockouts"].items()
                        if v["confirmed_share"] >= 0.05 and k != "t0_failed"), reverse=True)
        for share, name in found[:3]:
            reasons.append(f"{rules.KNOCKOUTS[name]}, in {share:.0%} of plausible worlds, on your own figures "
                           "and with no single change (price, channel, costs, retention, segment) fixing it")
    elif verdict == "GO":
        reasons.append(f"{probs['GO']:.0%} of plausible worlds clear every GO bar: NPV above 0, LTV/CAC at least "
                       f"{rules.GO_LTV_CAC:g}, CAC paid back within {rules.GO_PAYBACK_MONTHS:g} months, and the "
                       "result holds with unconfirmed benchmarks at their unfavourable end")
    else:
        rescue = worlds["rescue"]
        if rescue["needs_evidence"] + rescue["unconfirmed_go"] >= 0.2 and asks:
            reasons.append(f"The outcome rests on benchmarks you have not confirmed ({rescue['needs_evidence']:.0%} "
                           f"of worlds fail, {rescue['unconfirmed_go']:.0%} succeed, only on them): needs evidence "
                           f"of {', '.join(a['input'] for a in asks)}")
        lever_share = sum(rescue["levers"].values())
        if lever_share >= 0.05:
            best = max(rescue["levers"].items(), key=lambda kv: kv[1])[0]
            reasons.append(f"In {lever_share:.0%} of worlds the plan as stated fails but one change makes it viable "
                           f"(most often: {best.replace('_', ' ')})")
        gates = sorted(((v["failing_share"], k) for k, v in worlds["gates"].items()), reverse=True)
        if gates and gates[0][0] >= 0.2:
            reasons.append(f"Viable but short of GO: in {gates[0][0]:.0%} of all worlds the plan clears every must-meet "
                           f"but {_GATE_SHORTFALL[gates[0][1]]}")
        if suggestion:
            plan, after = worlds["suggestions"][0]["probabilities"], suggestion["probabilities"]
            reasons.append(f"Best single change simulated: {suggestion['change']} (on the same "
                           f"{suggestion['worlds']:,} worlds: P(GO) {plan['GO']:.0%} -> {after['GO']:.0%}, "
                           f"P(KILL) {plan['KILL']:.0%} -> {after['KILL']:.0%})")
    if worlds["borderline"]:
        reasons.append(f"Borderline: {worlds['runner_up']['verdict']} has "
                       f"{worlds['runner_up']['probability']:.0%} probability")
    return reasons


_FLIP_WORDS = {"churn": ("monthly churn", "{:.1%}"), "cac": ("CAC", "${:,.0f}"), "opex": ("fixed costs", "${:,.0f} a month"),
               "wtp_level": ("willingness to pay", "x{:.2f} of today's estimate"),
               "bass_p": ("early adoption", "x{:.2f} of today's estimate")}


def _what_would_change_it(worlds: dict[str, Any]) -> list[dict[str, Any]]:
    """The flip points in words: "monthly churn at 1.2 % (now 3.4 %) would make it a GO"."""
    out = []
    for flip in worlds.get("what_would_change_it") or []:
        label, fmt = _FLIP_WORDS[flip["input"]]
        relative = flip["input"] in ("wtp_level", "bass_p")
        value = fmt.format(flip["factor"] if relative else flip["value"])
        now = "" if relative else f" (now {fmt.format(flip['from'])})"
        out.append({**flip, "statement": f"{label} at {value}{now} would make it a {flip['verdict']}"})
    return out


def _best_suggestion(worlds: dict[str, Any]) -> dict[str, Any] | None:
    found = [s for s in worlds.get("suggestions") or [] if s["lever"] != "plan"]
    if not found:
        return None
    return max(found, key=lambda s: (s["probabilities"]["GO"] - s["probabilities"]["KILL"], s["score"], s["lever"]))


def _evidence_table(market_data: dict[str, Any], sim: dict[str, Any]) -> list[dict[str, Any]]:
    """Every input the client's evidence touched: the benchmark prior beside the posterior, the evidence as source."""
    rows = []
    for name, spec in market_data["inputs"].items():
        if spec["grade"] == "benchmark":
            continue
        prior = spec["prior"]
        posterior = {"low": spec["low"], "likely": spec["likely"], "high": spec["high"],
                     "distribution": spec["distribution"], "source": spec["source"]}
        if name == "bass_p" and spec["distribution"] == "gamma":
            # Traction is drawn as an expected customer count; the rate it implies was solved per path.
            solved = sim["outputs"]["innovation_rate"]
            posterior.update(low=solved["p10"], likely=solved["p50"], high=solved["p90"], distribution="solved")
        rows.append({"input": name, "grade": spec["grade"], "unit": prior["unit"], "evidence": spec["evidence"],
                     "prior": {k: prior[k] for k in ("low", "likely", "high", "source")}, "posterior": posterior})
    return rows


def _next_steps(verdict: str, market_data: dict[str, Any], asks: list[dict[str, Any]],
                suggestion: dict[str, Any] | None, worlds: dict[str, Any]) -> list[str]:
    """What to do next, at most five steps, fitted to the idea's stage (before the first sale, or selling) and to
    the evidence it lacks: a company with paying customers is never sent to a price survey or a pre-sale."""
    # How to get each missing piece of evidence: (before the first sale, once customers pay).
    how = {
        "bass_p": ("Win the first paying customers with a pre-sale or a paid pilot before building further, then "
                   "send them (evidence.traction)", ""),
        "wtp_level": ("Test the price before building: a Van Westendorp survey of at least 100 target buyers "
                      "(evidence.wtp_survey), or pre-orders at the planned price",
                      "Test the price on new sign-ups (for example a higher price for half of new trials) and send "
                      "the prices customers accept (evidence.price_points)"),
        "cac": ("Measure acquisition cost with a small paid test in two channels (evidence.channels)",
                "Compute acquisition cost per channel from the last six months: sales and marketing spend divided "
                "by new customers (evidence.channels)"),
        "churn": ("Track monthly retention of the first pilot cohort and send it once it covers three months "
                  "(retention)",
                  "Send monthly churn with the customers and months it covers, or a cohort retention curve "
                  "(retention): your customers already hold the answer"),
        "expansion": ("Decide how accounts will grow (seats, tiers, usage) and test it with pilot customers",
                      "Measure how much revenue existing accounts add each month (net revenue retention) and send "
                      "it (evidence.priors.expansion)"),
        "product_advantage": ("Put the product in front of 10 to 20 target buyers beside the alternatives and "
                              "record which they choose and why",
                              "Record win/loss against the alternatives in your next 20 sales conversations"),
        "bass_q": ("Ask pilot users for introductions and count how many become customers",
                   "Measure the share of new customers who came through existing ones (referrals, word of mouth)"),
        "market_size": ("Size the serviceable market bottom-up: accounts you can reach times price "
                        "(business_idea.estimated_sam)",) * 2,
        "gross_margin": ("State the gross margin: what serving one customer costs (financials.gross_margin)",) * 2,
        "opex": ("State the monthly fixed costs without acquisition spend (financials.monthly_burn)",) * 2,
        "price": ("State the planned price (financials.planned_price)",) * 2,
        "upfront_cost": ("Estimate the cost to build the first sellable version (evidence.priors.upfront_cost)",) * 2,
    }
    failures = {"unit_economics": "each customer costs more to win than it ever pays back",
                "no_scale": "even the whole reachable market would not pay the fixed costs",
                "no_demand": "revenue after three years would cover less than a tenth of the fixed costs",
                "tam_gate": "the total market is below the $1M minimum",
                "t0_failed": "a check of your own figures failed"}

    def flip_words(flip: dict[str, Any], joint: str = " at ", then: str = " would make it a ") -> str:
        label, fmt = _FLIP_WORDS[flip["input"]]
        if flip["input"] in ("wtp_level", "bass_p"):
            return f"{label}{joint}{flip['factor']:.2f}x today's estimate{then}{flip['verdict']}"
        return f"{label}{joint}{fmt.format(flip['value'])} (now {fmt.format(flip['from'])}){then}{flip['verdict']}"

    grades = market_data["data_quality"]["grades"]
    evidence = market_data.get("evidence") or {}
    traction = evidence.get("traction") or {}
    selling = int(traction.get("customers") or 0) > 0
    arr = 12.0 * float(traction.get("monthly_revenue") or 0.0)
    # A flip point found on the plan as stated can name the verdict a rescue already gave: not a change.
    flips = [f for f in worlds.get("what_would_change_it") or [] if f["verdict"] != verdict]
    steps: list[str] = []
    if verdict == "GO":
        cac_flip = next((f for f in flips if f["input"] == "cac"), None)
        step = ("Scale acquisition through the channels that produced today's customers" if arr < 1_000_000 else
                f"Plan growth beyond {money(arr)} ARR: invest in the channels that produced today's customers")
        if cac_flip:
            step += (f", keeping acquisition cost below {_FLIP_WORDS['cac'][1].format(cac_flip['value'])}, where the "
                     "verdict turns PIVOT")
        steps.append(step)
        if worlds.get("borderline") and flips:
            steps.append(f"Watch the number closest to flipping the verdict: {flip_words(flips[0])}")
    elif verdict == "PIVOT":
        plan = next((s for s in worlds.get("suggestions") or [] if s["lever"] == "plan"), None)
        if suggestion and plan and (suggestion["probabilities"]["GO"] - plan["probabilities"]["GO"] >= 0.02
                                    or plan["probabilities"]["KILL"] - suggestion["probabilities"]["KILL"] >= 0.02):
            where = ("before building further" if not selling else "for a quarter" if suggestion["lever"] in
                     ("lean", "retention") else "on new customers")
            steps.append(f"Test the change {where}: {suggestion['change']}")
        if flips:
            steps.append(f"Work on the number that would turn it: {flip_words(flips[0])}")
    else:
        knockouts = worlds.get("knockouts") or {}
        worst = max(knockouts, key=lambda k: knockouts[k]["confirmed_share"], default="")
        live = bool((market_data.get("facts") or {}).get("product_live"))
        steps.append(("Stop investment in growth in this form: " if live else
                      "Stop investment in this plan as stated: ") + failures.get(worst, "a must-meet fails"))
        steps.append(f"Revisit only if you can bring {flip_words(flips[0], ' to ', ': that would make it a ')}"
                     if flips else "Record what your figures and the simulation showed before starting anything new")
    # A KILL rests on the client's own figures, so more benchmark evidence would not change it.
    # Before the first sale nothing settles more than paying customers, so that step leads the evidence.
    wanted = (["bass_p"] if not selling and grades.get("bass_p") == "benchmark" and verdict != "KILL" else []) + \
        [a["input"] for a in asks] + ([g for g in ("bass_p", "wtp_level", "cac", "churn", "price", "opex",
                                                        "gross_margin") if grades.get(g) == "benchmark"]
                                           if verdict != "KILL" else [])
    steps += [how[name][1 if selling else 0] for name in wanted if name in how and how[name][1 if selling else 0]]
    if verdict != "KILL" and grades.get("competitor_strength") == "benchmark":
        named = evidence.get("competitors") or []
        covered = sum(float(c.get("share") or 0.0) for c in named)
        steps.append(f"Name the competitors behind the rest of the market: those you named hold {covered:.0%} of it"
                     if named else "Name the competitors buyers compare you with, with prices and rough market "
                                   "shares (evidence.competitors)")
    if market_data["technical"]["drivers"] and verdict != "KILL":
        steps.insert(1, "Schedule a technical architecture review of: " + ", ".join(
            "novel R&D" if d["driver"] == "novel_rnd" else d["driver"].replace("_", " ")
            for d in market_data["technical"]["drivers"]))
    seen: set[str] = set()
    return [s for s in steps if not (s in seen or seen.add(s))][:5]


def _dimension_evidence(name: str, m: dict[str, float], facts: dict[str, Any], market_data: dict[str, Any],
                        competitors: dict[str, Any]) -> str:
    if name == "market_opportunity":
        return (f"P50 ARR at month 36 {money(m['arr_36_p50'])}; SAM {money(facts['sam'])} "
                f"({market_data['market']['sam']['source']})")
    if name == "customer_value":
        return (f"{m['acceptance_mean']:.0%} of the serviceable market values the product above its price; "
                f"P50 CAC payback {m['cac_payback_p50']:.1f} months")
    if name == "competitive_position":
        return (f"Simulated share of choice {m['market_share_mean']:.1%} against {competitors['count']} competitors "
                f"({competitors['named']} named by you, {competitors['synthetic']} synthetic)")
    if name == "unit_economics":
        return f"P50 LTV/CAC {m['ltv_cac_p50']:.1f}"
    if name == "financial_viability":
        return (f"P(NPV>0) {m['p_npv_positive']:.0%}; P50 NPV {money(m['npv_p50'])}; "
                f"P(break-even within 36 months) {m['p_breakeven_36']:.0%}")
    tech = market_data["technical"]
    tech_text = (", ".join(d["driver"].replace("_", " ") for d in tech["drivers"]) or "no complexity stated") \
        if tech["stated"] else "no technology facts stated"
    return f"Team: {facts['team_text']}; technology: {tech_text} (feasibility {facts['feasibility']:.0f}/100)"


def analyse_decision(request: dict[str, Any], validation: ValidationResult, market_data: MarketData,
                     personas: Personas, competitors: Competitors, simulation_result: SimulationResult,
                     simulation_config: SimulationConfig | None = None) -> Decision:
    """The ``outputs/decision.output.json`` document for one run, from the verdict the simulation's worlds gave.

    ``simulation_config`` is accepted for the stage's signature; the verdict, its probabilities and the simulated
    changes are already in ``simulation_result["verdict"]``.
    """
    del simulation_config
    sim = simulation_result
    worlds = sim["verdict"]
    facts = rules.facts_for_rules(market_data, validation, int(competitors.get("count", 0)))
    verdict, score = worlds["verdict"], worlds["score"]
    probs = worlds["probabilities"]
    m = sim["metrics"]
    rests_on_benchmarks = worlds["rescue"]["needs_evidence"] + worlds["rescue"]["unconfirmed_go"]
    asks = _needs_evidence(worlds) if verdict == "PIVOT" and rests_on_benchmarks >= NEEDS_EVIDENCE_SHARE else []
    suggestion = _best_suggestion(worlds) if verdict == "PIVOT" else None
    dimensions = [{"name": k, "weight": rules.WEIGHTS[k], "score": round(worlds["dimensions"][k], 2),
                   "evidence": _dimension_evidence(k, m, facts, market_data, competitors)} for k in rules.WEIGHTS]
    key_factors = [{"factor": d["name"], "score": round(d["score"] / 100.0, 3), "evidence": d["evidence"]}
                   for d in sorted(dimensions, key=lambda d: -d["weight"] * abs(d["score"] - 60.0))]
    risks = risk_assessment(m, worlds, market_data)
    key_factors.append({"factor": "technical_risks", "score": round(1.0 - risks["technical"]["score"], 3),
                        "evidence": "; ".join(risks["technical"]["drivers"])})
    sens = sim.get("sensitivity") or {}
    drivers = [d for d in (sens.get("what_drives_failure") or {}).get("drivers", []) if d["input"] in _LEVERS]
    pivot = None
    if verdict == "PIVOT":
        pivot = {"drivers": [{"input": d["input"], "statement": d["statement"]}
                             for d in ([d for d in drivers if d.get("significant")][:3] or drivers[:2])],
                 "needs_evidence": asks,
                 "suggested_change": suggestion["change"] if suggestion else None,
                 "suggestions": worlds.get("suggestions")}
    return {
        "project_id": request.get("project_id"),
        "run_id": request.get("run_id"),
        "recommendation": verdict,
        "score": round(score, 2),
        "confidence": round(probs[verdict], 4),
        "verdict_probabilities": {k: round(v, 4) for k, v in probs.items()},
        "borderline": bool(worlds["borderline"]),
        "runner_up": worlds["runner_up"],
        "gate_decision": RECOMMENDATION_GATE[verdict],
        "why": _why(verdict, worlds, facts, suggestion, asks),
        "what_would_change_it": _what_would_change_it(worlds),
        "needs_evidence": asks,
        "thresholds": {
            "go": rules.GO_THRESHOLD, "kill": rules.KILL_THRESHOLD,
            "score": {"value": round(score, 2), "to_go": round(rules.GO_THRESHOLD - score, 2),
                      "above_kill": round(score - rules.KILL_THRESHOLD, 2)},
            "probabilities": {"rule": "GO when P(GO) >= 0.5, KILL when P(KILL) > 0.5, PIVOT otherwise",
                              "go_distance": round(probs["GO"] - 0.5, 4),
                              "kill_distance": round(probs["KILL"] - 0.5, 4)},
            "borderline_runner_up": rules.BORDERLINE_RUNNER_UP,
        },
        "knockouts": [{"rule": k, "message": v["rule"], "share": round(v["share"], 4),
                       "confirmed_share": round(v["confirmed_share"], 4)}
                      for k, v in worlds["knockouts"].items() if v["share"] > 0],
        "go_gates_failed": [{"rule": k, "message": v["rule"], "failing_share": round(v["failing_share"], 4)}
                            for k, v in worlds["gates"].items() if v["failing_share"] > 0],
        "verdict_stability": {"worlds": worlds["worlds"], "blocks": worlds["blocks"],
                              "standard_errors": worlds["standard_errors"],
                              "raw_probabilities": worlds["raw_probabilities"], "rescue": worlds["rescue"],
                              "undecided_at_cap": worlds["undecided_at_cap"]},
        "dimensions": dimensions,
        "key_factors": key_factors,
        "critical_success_factors": _critical_success_factors(sim, market_data["inputs"]),
        "next_steps": _next_steps(verdict, market_data, asks, suggestion, worlds),
        "risk_assessment": risks,
        "pivot": pivot,
        "evidence": {"inputs": _evidence_table(market_data, sim), "used": market_data["evidence"]["used"],
                     "unused": market_data["evidence"]["unused"]},
        "synthetic": {"personas": personas.get("count", 0),
                      "competitors": competitors.get("synthetic", 0),
                      "note": "Personas and unnamed competitors are synthetic: invented to represent what is not "
                              "known, drawn from the run's seed, never real customers or companies"},
        "deliverables": deliverables(request, market_data, personas, competitors, sim, risks),
    }


__all__ = ["analyse_decision"]
