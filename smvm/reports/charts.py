"""The report's charts, drawn as vector graphics straight onto the PDF page (fpdf2 primitives).

matplotlib cost ~0.3 s to import and ~0.1 s of CPU per raster chart; a dozen charts would have spent three times the
report's whole CPU budget, and raster charts blur when zoomed. Every chart here is a few hundred drawing operators:
sharp at any zoom, a few kilobytes each, and drawn in milliseconds. Each function takes the figure's prepared ``data``
(see ``content.py``) and a box in millimetres.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from smvm.reports.vocabulary import dollars, share

Colour = tuple[int, int, int]
INK: Colour = (40, 40, 40)
GREY: Colour = (120, 120, 120)
GRID: Colour = (228, 228, 228)
BLUE: Colour = (31, 111, 180)
BAND_DARK: Colour = (150, 190, 225)
BAND_LIGHT: Colour = (214, 230, 244)
GREEN: Colour = (56, 142, 60)
RED: Colour = (211, 47, 47)
AMBER: Colour = (230, 145, 0)
_TICK_PT = 6.0


def money_tick(v: float, digits: int = 1) -> str:
    """``$1.2M``, ``$500k``, ``-$2M``, ``$0``: axis labels in dollars, never in "1e6" offsets."""
    if abs(v) < 1e-9:
        return "$0"
    sign, a = ("-" if v < 0 else ""), abs(v)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= div:
            text = f"{a / div:.{digits}f}".rstrip("0").rstrip(".")
            return f"{sign}${text}{unit}"
    return f"{sign}${a:,.0f}"


def _distinct(ticks: Sequence[float], fmt: Callable[[float], str]) -> list[str]:
    """Tick labels, with more digits when a close range would print the same label twice."""
    labels = [fmt(t) for t in ticks]
    if fmt is money_tick:
        for digits in (2, 3):
            if len(set(labels)) == len(labels):
                break
            labels = [money_tick(t, digits) for t in ticks]
    return labels


def pct_tick(v: float) -> str:
    return f"{v:.0%}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= step * mult:
            step *= mult
            break
    start = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def _padded(lo: float, hi: float, pad: float = 0.04) -> tuple[float, float]:
    if hi <= lo:
        span = abs(lo) * 0.1 or 1.0
        return lo - span, hi + span
    span = hi - lo
    return lo - pad * span, hi + pad * span


class Axes:
    """A plot area inside a box; maps data to page millimetres and draws ticks, grid and labels."""

    def __init__(self, pdf: Any, box: tuple[float, float, float, float], xlim: tuple[float, float],
                 ylim: tuple[float, float], *, left: float = 13.0, bottom: float = 6.0, top: float = 2.5,
                 right: float = 3.0, xlog: bool = False) -> None:
        self.pdf = pdf
        x, y, w, h = box
        self.x0, self.x1 = x + left, x + w - right
        self.y0, self.y1 = y + top, y + h - bottom
        self.xlog = xlog
        self.xlim = (math.log(xlim[0]), math.log(xlim[1])) if xlog else xlim
        self.ylim = ylim

    def px(self, v: float) -> float:
        lo, hi = self.xlim
        v = math.log(max(v, 1e-12)) if self.xlog else v
        return self.x0 + (v - lo) / (hi - lo) * (self.x1 - self.x0)

    def py(self, v: float) -> float:
        lo, hi = self.ylim
        return self.y1 - (v - lo) / (hi - lo) * (self.y1 - self.y0)

    def yaxis(self, ticks: Sequence[float], fmt: Callable[[float], str], grid: bool = True) -> None:
        pdf = self.pdf
        pdf.set_font("Helvetica", "", _TICK_PT)
        pdf.set_text_color(*GREY)
        pdf.set_line_width(0.15)
        ticks = [t for t in ticks if self.ylim[0] <= t <= self.ylim[1]]
        for t, label in zip(ticks, _distinct(ticks, fmt), strict=True):
            y = self.py(t)
            if grid:
                pdf.set_draw_color(*GRID)
                pdf.line(self.x0, y, self.x1, y)
            pdf.text(self.x0 - 1.0 - pdf.get_string_width(label), y + 0.8, label)

    def xaxis(self, ticks: Sequence[float], fmt: Callable[[float], str], grid: bool = False) -> None:
        pdf = self.pdf
        pdf.set_font("Helvetica", "", _TICK_PT)
        pdf.set_text_color(*GREY)
        pdf.set_line_width(0.15)
        lo, hi = sorted((self.px(self.xlim[0] if not self.xlog else math.exp(self.xlim[0])),
                         self.px(self.xlim[1] if not self.xlog else math.exp(self.xlim[1]))))
        ticks = [t for t in ticks if lo - 0.01 <= self.px(t) <= hi + 0.01]
        for t, label in zip(ticks, _distinct(ticks, fmt), strict=True):
            x = self.px(t)
            pdf.set_draw_color(*(GRID if grid else GREY))
            pdf.line(x, self.y0 if grid else self.y1, x, self.y1 + 0.8)
            pdf.text(x - pdf.get_string_width(label) / 2, self.y1 + 3.4, label)
        pdf.set_draw_color(*GREY)
        pdf.line(self.x0, self.y1, self.x1, self.y1)

    def label(self, text: str, x: float, y: float, colour: Colour = GREY, size: float = _TICK_PT,
              align: str = "L", style: str = "") -> None:
        """Text at page position (x, y = baseline); ``align`` L, C or R relative to x."""
        pdf = self.pdf
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*colour)
        w = pdf.get_string_width(text)
        pdf.text(x - (w / 2 if align == "C" else w if align == "R" else 0.0), y, text)

    def polyline(self, xs: Sequence[float], ys: Sequence[float], colour: Colour, width: float = 0.4,
                 dash: float = 0.0) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*colour)
        pdf.set_line_width(width)
        if dash:
            pdf.set_dash_pattern(dash=dash, gap=dash)
        pdf.polyline([(self.px(a), self.py(b)) for a, b in zip(xs, ys, strict=True)])
        if dash:
            pdf.set_dash_pattern()

    def band(self, xs: Sequence[float], lo: Sequence[float], hi: Sequence[float], colour: Colour) -> None:
        pts = [(self.px(a), self.py(b)) for a, b in zip(xs, hi, strict=True)] + \
              [(self.px(a), self.py(b)) for a, b in zip(reversed(xs), reversed(lo), strict=True)]
        self.pdf.set_fill_color(*colour)
        self.pdf.polygon(pts, style="F")

    def vline(self, x: float, colour: Colour, width: float = 0.3, dash: float = 0.0) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*colour)
        pdf.set_line_width(width)
        if dash:
            pdf.set_dash_pattern(dash=dash, gap=dash)
        pdf.line(self.px(x), self.y0, self.px(x), self.y1)
        if dash:
            pdf.set_dash_pattern()

    def hline(self, y: float, colour: Colour, width: float = 0.3, dash: float = 0.0) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*colour)
        pdf.set_line_width(width)
        if dash:
            pdf.set_dash_pattern(dash=dash, gap=dash)
        pdf.line(self.x0, self.py(y), self.x1, self.py(y))
        if dash:
            pdf.set_dash_pattern()


def _legend(pdf: Any, x: float, y: float, items: Sequence[tuple[str, Colour, str]]) -> None:
    """A one-line legend: (label, colour, kind) with kind "box", "line", "dash" or "dot"."""
    pdf.set_font("Helvetica", "", _TICK_PT)
    for label, colour, kind in items:
        if kind == "box":
            pdf.set_fill_color(*colour)
            pdf.rect(x, y - 1.8, 3.0, 2.0, style="F")
        else:
            pdf.set_draw_color(*colour)
            pdf.set_line_width(0.5 if kind == "line" else 0.3)
            if kind in ("dash", "dot"):
                pdf.set_dash_pattern(dash=0.8 if kind == "dash" else 0.4, gap=0.8 if kind == "dash" else 0.4)
            pdf.line(x, y - 0.8, x + 3.0, y - 0.8)
            pdf.set_dash_pattern()
        pdf.set_text_color(*INK)
        pdf.text(x + 4.0, y, label)
        x += 6.0 + pdf.get_string_width(label)


def _month_ticks(months: Sequence[int]) -> list[float]:
    return [m for m in (1, 6, 12, 18, 24, 30, 36) if m <= max(months)]


def revenue_fan(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    months = data["months"]
    top = max(data["p95"]) * 1.06 or 1.0
    ax = Axes(pdf, box, (months[0] - 0.5, months[-1] + 0.5), (0.0, top), top=6.0)
    ax.yaxis(nice_ticks(0.0, top), money_tick)
    ax.band(months, data["p5"], data["p95"], BAND_LIGHT)
    ax.band(months, data["p10"], data["p90"], BAND_DARK)
    ax.polyline(months, data["p50"], BLUE, 0.6)
    ax.xaxis(_month_ticks(months), lambda m: f"month {m:.0f}")
    _legend(pdf, ax.x0 + 1.0, box[1] + 3.5, [("median", BLUE, "line"), ("8 futures in 10", BAND_DARK, "box"),
                                              ("9 in 10", BAND_LIGHT, "box")])


_T0_LINE: Colour = (85, 85, 85)


def revenue_update(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    """Monthly revenue after the observations (blue fan) over the T0 forecast (grey lines), on one scale."""
    months, t0, now = data["months"], data["t0"], data["now"]
    top = max(max(t0["p90"]), max(now["p90"])) * 1.06 or 1.0
    ax = Axes(pdf, box, (months[0] - 0.5, months[-1] + 0.5), (0.0, top), top=6.0)
    ax.yaxis(nice_ticks(0.0, top), money_tick)
    ax.band(months, now["p10"], now["p90"], BAND_DARK)
    # The T0 fan as lines over the band, so where the forecasts overlap neither hides the other.
    for edge in ("p10", "p90"):
        ax.polyline(months, t0[edge], _T0_LINE, 0.3, dash=0.4)
    ax.polyline(months, t0["p50"], _T0_LINE, 0.5, dash=1.2)
    ax.polyline(months, now["p50"], BLUE, 0.6)
    ax.xaxis(_month_ticks(months), lambda m: f"month {m:.0f}")
    _legend(pdf, ax.x0 + 1.0, box[1] + 3.5, [("now: median", BLUE, "line"), ("now: 8 futures in 10", BAND_DARK, "box"),
                                              ("T0: median", _T0_LINE, "dash"),
                                              ("T0: 8 futures in 10", _T0_LINE, "dot")])


def npv_histogram(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    edges, shares = data["edges"], data["shares"]
    width = edges[1] - edges[0]
    top = max(shares) * 1.35 or 1.0
    ax = Axes(pdf, box, (edges[0], edges[-1]), (0.0, top), top=4.5)
    ax.yaxis(nice_ticks(0.0, top, 4), lambda v: f"{v:.0%}" if top >= 0.05 else f"{v:.1%}")
    for a, s in zip(edges[:-1], shares, strict=True):
        if s <= 0:
            continue
        pdf.set_fill_color(*(GREEN if a + width / 2 > 0 else RED))
        x0, x1 = ax.px(a), ax.px(a + width)
        pdf.rect(x0 + 0.1, ax.py(s), max(x1 - x0 - 0.2, 0.1), ax.py(0.0) - ax.py(s), style="F")
    ax.xaxis(nice_ticks(edges[0], edges[-1]), money_tick)
    if edges[0] < 0 < edges[-1]:
        ax.vline(0.0, INK, 0.35)
    # Percentile marks stagger down one text line each, so close marks never print on top of each other.
    for row, (name, value) in enumerate(data["marks"].items()):
        ax.vline(value, INK, 0.25, dash=0.7)
        ax.label(f"{name} {dollars(value)}", ax.px(value) + 0.8, ax.y0 + 2.6 + 2.6 * row, INK)
    ax.label("share of futures", ax.x0 - 12.5, box[1] + 1.5, GREY)


def cumulative(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    """Chance of at least x, for NPV (left) and ARR at month 36 (right)."""
    x, y, w, h = box
    panels = [("NPV: chance of at least", data["npv"], 0.0, "NPV $0")]
    if data.get("arr"):
        panels.append(("ARR at month 36: chance of at least", data["arr"], data.get("som"),
                       f"your SOM target {dollars(data.get('som'))}"))
    pw = w / len(panels)
    levels = data["levels"]
    for i, (title, q, mark, mark_name) in enumerate(panels):
        lo, hi = q[0], q[-1]
        if mark is not None and lo <= mark <= hi + 2.0 * (hi - lo):
            hi = max(hi, mark * 1.04 if mark > 0 else hi)
        lo, hi = _padded(lo, hi, 0.02)
        ax = Axes(pdf, (x + i * pw, y, pw - 2.0, h), (lo, hi), (0.0, 1.0), top=5.0)
        ax.yaxis([0.0, 0.25, 0.5, 0.75, 1.0], pct_tick)
        ax.hline(0.5, GREY, 0.2, dash=0.6)
        ax.polyline(q, [1.0 - lv / 100.0 for lv in levels], BLUE, 0.6)
        ax.xaxis(nice_ticks(lo, hi, 4), money_tick)
        ax.label(title, ax.x0, y + 2.8, INK, 6.5, style="B")
        if mark is not None and lo <= mark <= hi:
            ax.vline(mark, RED, 0.3, dash=0.7)
            right = ax.px(mark) > (ax.x0 + ax.x1) / 2
            ax.label(mark_name, ax.px(mark) + (-0.8 if right else 0.8), ax.y0 + 2.5, RED, align="R" if right else "L")
        elif mark is not None:
            side = "every future is above it" if mark < lo else "no future reaches it"
            ax.label(f"{mark_name} is off the chart: {side}", ax.x1, ax.y0 + 2.5, RED, align="R")


def cash_fan(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    months = data["months"]
    cash = data.get("cash_on_hand")
    lo = min(min(data["p10"]), -(cash or 0.0) * 1.05)
    hi = max(max(data["p90"]), 0.0)
    lo, hi = _padded(lo, hi, 0.06)
    ax = Axes(pdf, box, (months[0] - 0.5, months[-1] + 0.5), (lo, hi), top=6.0)
    ax.yaxis(nice_ticks(lo, hi), money_tick)
    ax.band(months, data["p10"], data["p90"], BAND_DARK)
    ax.polyline(months, data["p50"], BLUE, 0.6)
    ax.hline(0.0, INK, 0.3)
    items = [("median", BLUE, "line"), ("8 futures in 10", BAND_DARK, "box")]
    if cash:
        ax.hline(-cash, RED, 0.35, dash=0.9)
        ax.label(f"your cash on hand: {dollars(cash)}", ax.x1 - 1.0, ax.py(-cash) - 1.0, RED, align="R")
    ax.xaxis(_month_ticks(months), lambda m: f"month {m:.0f}")
    _legend(pdf, ax.x0 + 1.0, box[1] + 3.5, items)


def breakeven(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    months, p = data["months"], data["p"]
    ax = Axes(pdf, box, (0.5, months[-1] + 0.5), (0.0, 1.0))
    ax.yaxis([0.0, 0.25, 0.5, 0.75, 1.0], pct_tick)
    xs, ys = [0.5], [0.0]
    for mo, v in zip(months, p, strict=True):
        xs += [mo - 0.5, mo - 0.5]
        ys += [ys[-1], v]
    xs.append(months[-1] + 0.5)
    ys.append(p[-1])
    ax.polyline(xs, ys, BLUE, 0.6)
    ax.xaxis(_month_ticks(months), lambda m: f"month {m:.0f}")


def _bar_rows(pdf: Any, box: tuple[float, float, float, float], names: Sequence[str], label_w: float,
              xlim: tuple[float, float], fmt: Callable[[float], str], top: float = 2.0) -> tuple[Axes, float]:
    ax = Axes(pdf, box, xlim, (0.0, float(len(names))), left=label_w, top=top, bottom=6.0, right=14.0)
    row_h = (ax.y1 - ax.y0) / max(len(names), 1)
    pdf.set_font("Helvetica", "", 6.5)
    pdf.set_text_color(*INK)
    for i, name in enumerate(names):
        pdf.text(box[0] + 1.0, ax.y0 + row_h * (i + 0.5) + 0.9, name)
    ax.xaxis(nice_ticks(*xlim, 5), fmt, grid=True)
    return ax, row_h


def tornado(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    bars, base = data["bars"], data["base"]
    lo = min([base] + [min(b["low"], b["high"]) for b in bars])
    hi = max([base] + [max(b["low"], b["high"]) for b in bars])
    lo, hi = _padded(lo, hi, 0.18)
    ax, row_h = _bar_rows(pdf, box, [b["name"] for b in bars], 34.0, (lo, hi), money_tick, top=5.0)
    for i, b in enumerate(bars):
        yc = ax.y0 + row_h * (i + 0.5)
        for value, label in ((b["low"], b["low_label"]), (b["high"], b["high_label"])):
            good = value > base
            pdf.set_fill_color(*(GREEN if good else RED))
            x0, x1 = sorted((ax.px(base), ax.px(value)))
            pdf.rect(x0, yc - row_h * 0.32, max(x1 - x0, 0.2), row_h * 0.64, style="F")
            right = value > base
            ax.label(label, (x1 + 0.8) if right else (x0 - 0.8), yc + 0.9, INK, 5.5, align="L" if right else "R")
    ax.vline(base, INK, 0.35)
    ax.label(f"base case {dollars(base)}", ax.px(base), box[1] + 3.2, INK, 6.0, align="C", style="B")
    _legend(pdf, ax.x1 - 44.0, box[1] + 3.2, [("raises NPV", GREEN, "box"), ("lowers NPV", RED, "box")])


def variance(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    bars = data["bars"]
    top = max([b["total"] for b in bars] + [b["total_ci"][1] for b in bars] + [0.05])
    top = min(max(top * 1.08, 0.1), 1.0)
    ax, row_h = _bar_rows(pdf, box, [b["name"] for b in bars], 34.0, (0.0, top), pct_tick, top=5.0)
    for i, b in enumerate(bars):
        yc = ax.y0 + row_h * (i + 0.5)
        pdf.set_fill_color(*BAND_DARK)
        pdf.rect(ax.x0, yc - row_h * 0.32, max(ax.px(min(b["total"], top)) - ax.x0, 0.2), row_h * 0.64, style="F")
        pdf.set_fill_color(*BLUE)
        pdf.rect(ax.x0, yc - row_h * 0.2, max(ax.px(min(b["alone"], top)) - ax.x0, 0.2), row_h * 0.4, style="F")
        lo, hi = (min(max(v, 0.0), top) for v in b["total_ci"])
        pdf.set_draw_color(*INK)
        pdf.set_line_width(0.2)
        pdf.line(ax.px(lo), yc, ax.px(hi), yc)
        ax.label(f"{b['total']:.0%}", ax.px(min(max(b["total"], hi), top)) + 1.0, yc + 0.9, INK, 5.5)
    _legend(pdf, ax.x0, box[1] + 3.2, [("on its own", BLUE, "box"), ("with interactions", BAND_DARK, "box")])


PANELS_PER_ROW = 4
PANEL_HEIGHT = 27.0


def inputs(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    """Small multiples: one panel per input, prior (grey dashed) against posterior (blue)."""
    x, y, w, h = box
    panels = data["panels"]
    cols = PANELS_PER_ROW
    rows = math.ceil(len(panels) / cols)
    _legend(pdf, x + 1.0, y + 3.0, [("range used (posterior)", BLUE, "line"),
                                    ("benchmark it replaced (prior)", GREY, "dash")])
    pw, ph = w / cols, (h - 6.0) / rows
    for i, panel in enumerate(panels):
        px, py = x + (i % cols) * pw, y + 6.0 + (i // cols) * ph
        _input_panel(pdf, panel, (px + 1.0, py, pw - 3.0, ph - 1.0))


def _input_panel(pdf: Any, panel: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    x, y, w, h = box
    evidence = panel["grade"] != "benchmark"
    pdf.set_font("Helvetica", "B", 6.3)
    pdf.set_text_color(*INK)
    pdf.text(x, y + 2.6, panel["name"])
    tag = "your evidence" if evidence else "benchmark"
    pdf.set_font("Helvetica", "", 5.5)
    pdf.set_text_color(*(BLUE if evidence else GREY))
    pdf.text(x + w - pdf.get_string_width(tag), y + 2.6, tag)
    lo, hi = panel["ticks"][0], panel["ticks"][-1]
    if hi <= lo:
        lo, hi = lo - (abs(lo) * 0.5 or 1.0), hi + (abs(hi) * 0.5 or 1.0)
    curves = panel["curves"]
    peak = max([max(c["y"]) for c in curves if c["y"]] + [1e-12])
    ax = Axes(pdf, (x, y + 3.5, w, h - 3.5), (lo, hi), (0.0, peak * 1.1), left=0.5, right=0.5, bottom=4.2, top=0.5)
    pdf.set_draw_color(*GRID)
    pdf.set_line_width(0.15)
    pdf.line(ax.x0, ax.y1, ax.x1, ax.y1)
    for c in curves:
        ys = [min(v, peak * 1.1) for v in c["y"]]
        if c["role"] == "posterior":
            ax.band(c["x"], [0.0] * len(ys), ys, BAND_LIGHT)
            ax.polyline(c["x"], ys, BLUE, 0.45)
        else:
            ax.polyline(c["x"], ys, GREY, 0.35, dash=0.6)
    point = panel.get("point")
    if point:
        pdf.set_fill_color(*BLUE)
        px = ax.px(point["x"])
        pdf.rect(px - 0.5, ax.y0 + 0.5, 1.0, ax.y1 - ax.y0 - 0.5, style="F")
        # Beside the bar, on the side with room, so the value never sits on the bar itself.
        right = px < (ax.x0 + ax.x1) / 2
        ax.label(point["label"], px + (1.4 if right else -1.4), ax.y0 + 2.4, BLUE, 5.5, align="L" if right else "R")
    labels = panel["tick_labels"]
    ax.label(labels[0], ax.x0, ax.y1 + 3.0, GREY, 5.5)
    if len(labels) > 1:
        ax.label(labels[-1], ax.x1, ax.y1 + 3.0, GREY, 5.5, align="R")
    if panel.get("note"):
        ax.label(panel["note"], (ax.x0 + ax.x1) / 2, ax.y1 + 3.0, GREY, 5.0, align="C")


SHIFT_PANELS_PER_ROW = 3
_T0_BAR: Colour = (205, 205, 205)


def input_shifts(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    """Small multiples: per input, its P10-P90 bar and median tick at T0 (grey) and after the observations (blue)."""
    x, y, w, h = box
    panels = data["panels"]
    rows = max(math.ceil(len(panels) / SHIFT_PANELS_PER_ROW), 1)
    _legend(pdf, x + 1.0, y + 3.0, [("at T0", _T0_BAR, "box"), ("after what you observed", BAND_DARK, "box"),
                                    ("median", INK, "line")])
    pw, ph = w / SHIFT_PANELS_PER_ROW, (h - 6.0) / rows
    for i, panel in enumerate(panels):
        px, py = x + (i % SHIFT_PANELS_PER_ROW) * pw, y + 6.0 + (i // SHIFT_PANELS_PER_ROW) * ph
        _shift_panel(pdf, panel, (px + 1.0, py, pw - 4.0, ph - 1.0))


def _shift_panel(pdf: Any, panel: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    x, y, w, h = box
    pdf.set_font("Helvetica", "B", 6.3)
    pdf.set_text_color(*INK)
    pdf.text(x, y + 2.6, panel["name"])
    lo, hi = panel["ticks"]
    if hi <= lo:
        lo, hi = lo - (abs(lo) * 0.5 or 1.0), hi + (abs(hi) * 0.5 or 1.0)
    ax = Axes(pdf, (x, y + 3.5, w, h - 3.5), _padded(lo, hi, 0.03), (0.0, 2.0), left=6.0, right=15.0, bottom=4.0,
              top=0.3)
    row_h = (ax.y1 - ax.y0) / 2
    for i, (key, tag, fill, ink) in enumerate((("t0", "T0", _T0_BAR, INK), ("now", "now", BAND_DARK, BLUE))):
        p10, p50, p90 = panel[key]
        yc = ax.y0 + row_h * (i + 0.5)
        pdf.set_fill_color(*fill)
        pdf.rect(ax.px(p10), yc - row_h * 0.3, max(ax.px(p90) - ax.px(p10), 0.3), row_h * 0.6, style="F")
        pdf.set_draw_color(*ink)
        pdf.set_line_width(0.5)
        pdf.line(ax.px(p50), yc - row_h * 0.42, ax.px(p50), yc + row_h * 0.42)
        ax.label(tag, x, yc + 0.9, GREY, 5.5)
        ax.label(panel["labels"][key], ax.x1 + 1.0, yc + 0.9, ink, 5.5)
    pdf.set_draw_color(*GRID)
    pdf.set_line_width(0.15)
    pdf.line(ax.x0, ax.y1, ax.x1, ax.y1)
    ax.label(panel["labels"]["lo"], ax.px(lo), ax.y1 + 2.9, GREY, 5.3)
    ax.label(panel["labels"]["hi"], ax.px(hi), ax.y1 + 2.9, GREY, 5.3, align="R")


def positioning(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    """Numbered bubbles (the names are in a list beside the chart, so labels never overlap)."""
    x, y, w, h = box
    pts, us = data["points"], data.get("us")
    chart_w = w * 0.62
    xs = [p["x"] for p in pts] + ([us["x"]] if us else []) + [1.0]
    ys = [p["y"] for p in pts] + ([us["y"]] if us else []) + [0.0]
    # Prices spread over a wide range read best on a log axis; a free competitor (price 0) needs a linear one.
    xlog = min(xs) > 0 and max(xs) / min(xs) > 3.0
    xlo, xhi = (min(xs) / 1.25, max(xs) * 1.25) if xlog else _padded(min(xs), max(xs), 0.08)
    ylo, yhi = _padded(min(ys), max(ys), 0.15)
    ax = Axes(pdf, (x, y, chart_w, h), (xlo, xhi), (ylo, yhi), left=10.0, bottom=9.0, top=4.5, xlog=xlog)
    ax.yaxis(nice_ticks(ylo, yhi, 5), lambda v: f"{v:+.1f}" if v else "0")
    ticks = [t for t in (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0) if xlo <= t <= xhi] if xlog else \
        [t for t in nice_ticks(xlo, xhi, 5) if t >= 0]
    ax.xaxis(ticks, lambda t: "same as yours" if t == 1.0 else "free" if t == 0 else f"{t:g}x")
    ax.vline(1.0, GREY, 0.2, dash=0.6)
    ax.label("price relative to yours", (ax.x0 + ax.x1) / 2, ax.y1 + 7.0, GREY, align="C")
    # Axis meaning sits above the plot, where no bubble can cover it.
    ax.label("attractiveness to buyers (up = more attractive)", ax.x0, ax.y0 - 1.2, GREY)
    bubbles = []
    for p in sorted(pts, key=lambda p: -p["share"]):
        cx, cy = ax.px(p["x"]), ax.py(p["y"])
        r = 1.4 + 7.0 * math.sqrt(max(p["share"], 0.0))
        bubbles.append((p, cx, cy, r))
        if p["synthetic"]:
            pdf.set_draw_color(*GREY)
            pdf.set_line_width(0.3)
            pdf.set_dash_pattern(dash=0.6, gap=0.5)
            pdf.circle(cx, cy, r, style="D")
            pdf.set_dash_pattern()
        else:
            pdf.set_fill_color(*BLUE)
            pdf.circle(cx, cy, r, style="F")
    if us:
        cx, cy = ax.px(us["x"]), ax.py(us["y"])
        pdf.set_fill_color(*RED)
        pdf.polygon([(cx, cy - 2.2), (cx + 2.2, cy), (cx, cy + 2.2), (cx - 2.2, cy)], style="F")
    # Labels: a number inside a bubble big enough to hold it; otherwise the first free spot around the bubble
    # (with a leader line when it had to move away), so no label lands on another label or on "you".
    taken: list[tuple[float, float, float, float]] = []
    if us:
        taken.append((ax.px(us["x"]) - 2.2, ax.py(us["y"]) - 2.2, ax.px(us["x"]) + 2.2, ax.py(us["y"]) + 2.2))
    pdf.set_font("Helvetica", "B", 5.5)
    for p, cx, cy, r in bubbles:
        text = str(p["n"])
        tw, th = pdf.get_string_width(text), 2.0
        if r > 2.4 and not p["synthetic"]:
            ax.label(text, cx, cy + 0.9, (255, 255, 255), 5.5, align="C", style="B")
            taken.append((cx - tw / 2, cy - 1.2, cx + tw / 2, cy + 1.2))
            continue
        spot = _free_spot(cx, cy, r, tw, th, taken, (ax.x0, ax.y0, ax.x1, ax.y1))
        bx, by = spot
        if math.hypot(bx + tw / 2 - cx, by + th / 2 - cy) > r + 3.0:
            pdf.set_draw_color(*GREY)
            pdf.set_line_width(0.15)
            pdf.line(cx, cy, bx + tw / 2, by + th / 2)
        ax.label(text, bx, by + th - 0.2, BLUE if not p["synthetic"] else GREY, 5.5, style="B")
        taken.append((bx - 0.3, by - 0.3, bx + tw + 0.3, by + th + 0.3))
    if us:
        cx, cy = ax.px(us["x"]), ax.py(us["y"])
        pdf.set_font("Helvetica", "B", 6.0)
        tw = pdf.get_string_width("you")
        bx, by = _free_spot(cx, cy, 2.2, tw, 2.2, taken, (ax.x0, ax.y0, ax.x1, ax.y1))
        ax.label("you", bx, by + 2.0, RED, 6.0, style="B")
    # The list: number, name, named or synthetic, share.
    lx, ly = x + chart_w + 3.0, y + 3.0
    line = min(4.2, (h - 4.0) / max(len(pts), 1))
    for p in pts:
        pdf.set_font("Helvetica", "B", 6.0)
        pdf.set_text_color(*(BLUE if not p["synthetic"] else GREY))
        pdf.text(lx, ly, f"{p['n']:>2}")
        pdf.set_font("Helvetica", "", 6.0)
        pdf.set_text_color(*INK)
        tag = "synthetic" if p["synthetic"] else "named by you"
        name = p["name"] if len(p["name"]) <= 24 else p["name"][:23] + "."
        pdf.text(lx + 4.0, ly, f"{name}  ({tag}, {share(p['share'])})")
        ly += line


def _free_spot(cx: float, cy: float, r: float, w: float, h: float, taken: list[tuple[float, float, float, float]],
               frame: tuple[float, float, float, float]) -> tuple[float, float]:
    """Top-left corner of a w x h label near a bubble at (cx, cy), clear of every box in ``taken``."""
    def clear(bx: float, by: float) -> bool:
        if bx < frame[0] or by < frame[1] or bx + w > frame[2] or by + h > frame[3]:
            return False
        return all(bx + w <= a or bx >= c or by + h <= b or by >= d for a, b, c, d in taken)

    for dist in (0.4, 2.5, 5.0, 8.0):
        for ang in (0, 315, 45, 270, 90, 180, 225, 135):
            rad = math.radians(ang)
            ox, oy = math.cos(rad) * (r + dist), math.sin(rad) * (r + dist)
            bx = cx + ox if math.cos(rad) > 0.1 else cx + ox - w if math.cos(rad) < -0.1 else cx - w / 2
            by = cy + oy - h / 2 if abs(math.sin(rad)) < 0.9 else (cy + oy if oy > 0 else cy + oy - h)
            if clear(bx, by):
                return bx, by
    return cx + r + 0.4, cy - h / 2


def convergence(pdf: Any, data: dict[str, Any], box: tuple[float, float, float, float]) -> None:
    x, y, w, h = box
    series = data["series"]
    pw = w / max(len(series), 1)
    for i, s in enumerate(series):
        vals = s["values"]
        ci = [c for c in s["ci"] if c is not None]
        lo, hi = min(vals + ci), max(vals + ci)
        if s["kind"] == "share" and hi - lo < 1e-9:
            # Every batch agrees (often 0 % or 100 %): a thin band around it, inside [0, 1].
            lo, hi = max(lo - 0.01, 0.0), min(hi + 0.01, 1.0)
        else:
            lo, hi = _padded(lo, hi, 0.25)
            if s["kind"] == "share":
                lo, hi = max(lo, 0.0), min(hi, 1.0)
        # Enough decimals that neighbouring ticks of a tight range never print alike.
        digits = max(1, math.ceil(-math.log10(max(hi - lo, 1e-9))) + 1)
        pct_digits = max(digits - 2, 1)
        fmt = {"share": lambda v, d=pct_digits: f"{v:.{d}%}",
               "ratio": lambda v, d=digits: f"{v:.{d}f}x"}.get(s["kind"], money_tick)
        ax = Axes(pdf, (x + i * pw, y, pw - 2.0, h), (0.5, len(vals) + 0.5), (lo, hi), left=13.0, top=5.0)
        ax.yaxis(nice_ticks(lo, hi, 4), fmt)
        if len(ci) == 2:
            pdf.set_fill_color(*BAND_LIGHT)
            pdf.rect(ax.x0, ax.py(ci[1]), ax.x1 - ax.x0, max(ax.py(ci[0]) - ax.py(ci[1]), 0.2), style="F")
        n = list(range(1, len(vals) + 1))
        ax.polyline(n, s["running"], BLUE, 0.5)
        pdf.set_fill_color(*INK)
        for k, v in zip(n, vals, strict=True):
            pdf.circle(ax.px(k), ax.py(v), 0.6, style="F")
        ax.xaxis(n, lambda k: f"{k:.0f}")
        ax.label(s["label"], ax.x0, y + 2.8, INK, 6.5, style="B")
        ax.label("batch", ax.x1, ax.y1 + 5.6, GREY, align="R")


def probability_bar(pdf: Any, probs: dict[str, float], box: tuple[float, float, float, float],
                    colours: dict[str, Colour]) -> None:
    """The verdict's odds as one stacked bar, each part labelled with its share."""
    x, y, w, h = box
    left = x
    for name in ("GO", "PIVOT", "KILL"):
        part = w * probs.get(name, 0.0)
        if part > 0.05:
            pdf.set_fill_color(*colours[name])
            pdf.rect(left, y, part, h, style="F")
        left += part
    pdf.set_draw_color(*GREY)
    pdf.set_line_width(0.2)
    pdf.rect(x, y, w, h, style="D")


CHARTS: dict[str, Callable[[Any, dict[str, Any], tuple[float, float, float, float]], None]] = {
    "revenue_fan": revenue_fan, "npv_histogram": npv_histogram, "cumulative": cumulative, "cash_fan": cash_fan,
    "breakeven": breakeven, "tornado": tornado, "variance": variance, "inputs": inputs, "positioning": positioning,
    "convergence": convergence, "revenue_update": revenue_update, "input_shifts": input_shifts,
}
