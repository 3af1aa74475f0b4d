"""The decision after the first weeks on the market: the posterior verdict beside the T0 one, and which of the
client's observations moved it."""

from __future__ import annotations

from typing import Any

from smvm.contracts import Decision, PosteriorDecision, PosteriorResult
from smvm.gate import RECOMMENDATION_GATE

#: An observation outside the central interval of this width is one the T0 model cannot account for.
FAR_OUT = 0.99
_LABELS = {"paying_customers": "paying customers", "churned_customers": "churned customers", "mrr": "MRR",
           "acquisition_spend": "acquisition spend"}


def _observed_text(name: str, entry: dict[str, Any]) -> str:
    value = entry["observed"]
    shown = f"${value:,.0f}" if name in ("mrr", "acquisition_spend") else f"{value:,.0f}"
    p10, p50, p90 = entry["prior_quantiles"]
    fmt = (lambda v: f"${v:,.0f}") if name in ("mrr", "acquisition_spend") else (lambda v: f"{v:,.0f}")
    return (f"{_LABELS[name]} {shown} against a T0 forecast of {fmt(p50)} (80 % between {fmt(p10)} and {fmt(p90)}): "
            f"its {entry['pit']:.0%} percentile")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def analyse_update(prior_decision: Decision, posterior: PosteriorResult) -> PosteriorDecision:
    """The ``outputs/posterior.decision.json`` document: SMVM's recommendation once observations are in."""
    post = posterior["posterior"]
    verdict = post["verdict"]
    probs = post["probabilities"]
    before = prior_decision["verdict_probabilities"]
    why = [f"The first {posterior['window_days']} days moved P(GO) from {before['GO']:.0%} to {probs['GO']:.0%} and "
           f"P(KILL) from {before['KILL']:.0%} to {probs['KILL']:.0%}"]
    if posterior["moved_most"]:
        top = posterior["moved_most"][0]
        why.append(f"Most telling: {_observed_text(top['observation'], posterior['predictive'][top['observation']])}")
    far = sorted(name for name, entry in posterior["predictive"].items() if abs(entry["pit"] - 0.5) > FAR_OUT / 2)
    if posterior["likelihood"]["tempered"]:
        why.append("The observations sit far outside what the model expected at T0, so they were given "
                   f"{posterior['likelihood']['tempering']:.0%} of their weight: re-run the validation with them as "
                   "evidence for a fresh model")
    elif far:
        # Every world can explain an observation equally badly: nothing collapses, so nothing is tempered, yet the
        # T0 model cannot account for it.
        why.append(f"{_capital(', '.join(_LABELS[name] for name in far))} fell beyond {FAR_OUT:.0%} of what the T0 "
                   "model allowed: no plausible future explains it, so re-run the validation with the observations "
                   "as evidence for a fresh model")
    if post["borderline"]:
        why.append(f"Borderline: {post['runner_up']['verdict']} has {post['runner_up']['probability']:.0%} probability")
    return {
        "source": "posterior",
        "recommendation": verdict,
        "score": round(post["score"], 2),
        "confidence": round(probs[verdict], 4),
        "verdict_probabilities": {k: round(v, 4) for k, v in probs.items()},
        "gate_decision": RECOMMENDATION_GATE[verdict],
        "borderline": bool(post["borderline"]),
        "runner_up": post["runner_up"],
        "prior": {"recommendation": prior_decision["recommendation"], "score": prior_decision["score"],
                  "verdict_probabilities": before},
        "changed": verdict != prior_decision["recommendation"],
        "far_outside": far,
        "why": why,
        "window_days": posterior["window_days"],
        "observations": posterior["observations"],
        "observed_against_forecast": [{"observation": name, "statement": _observed_text(name, entry), **entry}
                                      for name, entry in sorted(posterior["predictive"].items())],
        "moved_most": posterior["moved_most"],
        "inputs": posterior["inputs"],
        "outputs": posterior["outputs"],
        "unused": posterior["unused"],
        "likelihood": posterior["likelihood"],
        "critical_success_factors": prior_decision["critical_success_factors"],
    }


def final_recommendation(decision: dict[str, Any], posterior_decision: dict[str, Any] | None) -> dict[str, Any]:
    """What SMVM recommends now: the posterior decision where observations exist, the T0 one otherwise, said which."""
    chosen = posterior_decision or decision
    return {"recommendation": chosen["recommendation"], "confidence": chosen["confidence"],
            "score": chosen["score"], "verdict_probabilities": chosen["verdict_probabilities"],
            "source": "posterior" if posterior_decision else "prior",
            "critical_success_factors": decision["critical_success_factors"]}
