"""Matplotlib charts (Agg backend) rendered to PNG bytes for the PDF report."""

from __future__ import annotations

import io
import itertools
from typing import Any

_DPI = 90


def _plt() -> Any:
    # matplotlib costs ~0.7 s to import; only report generation pays for it.
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 9, "svg.hashsalt": "smvm"})
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # Tight layout fits the axes inside the figure during the one draw; bbox_inches="tight" drew every chart
    # twice (once to measure, once to render), a third of the report stage's CPU.
    fig.set_layout_engine("tight")
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    fig.clear()
    _plt().close(fig)
    return buf.getvalue()


def revenue_fan(sim: dict[str, Any]) -> bytes:
    plt = _plt()
    fan = sim["fan_charts"]
    months = fan["months"]
    rev = fan["revenue"]
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    ax.fill_between(months, rev["p5"], rev["p95"], alpha=0.15, color="tab:blue", label="P5-P95")
    ax.fill_between(months, rev["p10"], rev["p90"], alpha=0.3, color="tab:blue", label="P10-P90")
    ax.plot(months, rev["p50"], color="tab:blue", label="P50")
    ax.set_title("Monthly revenue (USD)")
    ax.set_xlabel("month")
    ax.legend(loc="upper left")
    return _png(fig)


def npv_histogram(sim: dict[str, Any]) -> bytes:
    plt = _plt()
    h = sim["npv_histogram"]
    edges = h["edges"]
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    widths = [b - a for a, b in itertools.pairwise(edges)]
    colors = ["tab:red" if a + w / 2 < 0 else "tab:green" for a, w in zip(edges[:-1], widths, strict=True)]
    ax.bar(edges[:-1], h["counts"], width=widths, align="edge", color=colors)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title(f"NPV distribution (P(NPV>0) = {sim['metrics']['p_npv_positive']:.0%})")
    ax.set_xlabel("NPV (USD)")
    return _png(fig)


def breakeven_curve(sim: dict[str, Any]) -> bytes:
    plt = _plt()
    be = sim["breakeven_cdf"]
    fig, ax = plt.subplots(figsize=(6.4, 2.4))
    ax.step(be["months"], be["p"], where="post", color="tab:purple")
    ax.set_ylim(0, 1)
    ax.set_title("P(operating break-even by month)")
    ax.set_xlabel("month")
    return _png(fig)


def tornado(sim: dict[str, Any]) -> bytes:
    plt = _plt()
    bars = ((sim.get("sensitivity") or {}).get("tornado") or [])[:10][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    if bars:
        base = bars[0]["base_npv"]
        for i, b in enumerate(bars):
            ax.barh(i, b["npv_low"] - base, left=base, color="tab:red")
            ax.barh(i, b["npv_high"] - base, left=base, color="tab:green")
        ax.set_yticks(range(len(bars)), [b["input"] for b in bars])
        ax.axvline(base, color="black", lw=0.8)
    ax.set_title("Tornado: NPV at input P10 (red) and P90 (green)")
    return _png(fig)


def sobol_bars(sim: dict[str, Any]) -> bytes:
    plt = _plt()
    idx = (((sim.get("sensitivity") or {}).get("sobol") or {}).get("indices") or [])[:12][::-1]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    if idx:
        y = range(len(idx))
        ax.barh([i + 0.2 for i in y], [e["st"] for e in idx], height=0.4, color="tab:orange", label="total ST",
                xerr=[[e["st"] - e["st_ci"][0] for e in idx], [e["st_ci"][1] - e["st"] for e in idx]])
        ax.barh([i - 0.2 for i in y], [e["s1"] for e in idx], height=0.4, color="tab:blue", label="first-order S1",
                xerr=[[e["s1"] - e["s1_ci"][0] for e in idx], [e["s1_ci"][1] - e["s1"] for e in idx]])
        ax.set_yticks(list(y), [e["input"] for e in idx])
        ax.legend(loc="lower right")
    ax.set_title("Sobol indices of NPV (95 % CI)")
    return _png(fig)


def positioning(competitors: dict[str, Any]) -> bytes:
    plt = _plt()
    pts = competitors["positioning_matrix"]["points"]
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for p in pts:
        us = p["id"] == "US"
        synthetic = p.get("synthetic", False)
        size = 30 + 600 * (p["share"] or 0.0)
        # Invented competitors are hollow and marked so nobody mistakes them for real companies.
        ax.scatter(p["x"], p["y"], s=size if not us else 80, marker="*" if us else "o", alpha=0.8,
                   color="tab:red" if us else "none" if synthetic else "tab:blue",
                   edgecolors="tab:gray" if synthetic else None)
        label = p["name"][:18] + (" (synthetic)" if synthetic else "")
        ax.annotate(label, (p["x"], p["y"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.axvline(1.0, color="black", lw=0.5)
    ax.axhline(0.0, color="black", lw=0.5)
    ax.set_xlabel("price relative to ours")
    ax.set_ylabel("strength (utility)")
    ax.set_title("Competitive positioning (bubble = share; hollow = synthetic, filled = named by you)")
    return _png(fig)
