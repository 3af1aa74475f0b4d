"""Render a report (``content.build_report``) as an A4 PDF: the first page for the founder, then the analyst's
sections flowing page after page, charts drawn as vector graphics.

Text is wrapped here, word by word, from the core fonts' character widths: fpdf2's ``multi_cell`` and ``table``
re-measure a line for every character added (quadratic in its length) and cost three times the report's CPU
budget on a report this size. Lines are then placed with ``text``, which is a plain text operator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from smvm.reports import charts
from smvm.reports.vocabulary import share

_MARGIN = 15.0
_WIDTH = 180.0
_BOTTOM = 284.0  # lowest baseline area on A4 (297 mm) above the footer
_BODY = 8.5
_SMALL = 7.0
_PT = 0.3528  # mm per point
_VERDICT_COLOURS = {"GO": (56, 142, 60), "PIVOT": (230, 145, 0), "KILL": (211, 47, 47)}


def latin1(text: str) -> str:
    """The PDF's core fonts are latin-1: map the few typographic characters we emit and drop anything else."""
    table = {"\u2265": ">=", "\u2264": "<=", "\u2014": "-", "\u2013": "-", "\u2019": "'", "\u201c": '"',
             "\u201d": '"', "\u2026": "...", "\u00b1": "+/-", "\u2248": "~", "\u2192": "->", "\u00d7": "x",
             "\u2212": "-"}
    for k, v in table.items():
        text = text.replace(k, v)
    return text.encode("latin-1", "replace").decode("latin-1")


def _stamp(created: Any) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        stamp = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


class _Writer:
    """Flows blocks down the pages; a block that does not fit starts a new page, a chart that nearly fits shrinks."""

    def __init__(self, report: dict[str, Any], created: Any) -> None:
        from fpdf import FPDF

        self.pdf = pdf = FPDF(format="A4")
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(False)
        pdf.set_creation_date(_stamp(created))
        pdf.set_title(latin1(f"SMVM validation report: {report['title']}"))
        pdf.set_author("SMVM")
        self.report = report
        self.figure_no = 0
        self.y = _MARGIN
        #: How full each finished page is (0..1), for the layout tests.
        self.fill: list[float] = []
        self._widths: dict[str, Any] = {}
        for style in ("", "B", "I", "BI"):
            pdf.set_font("Helvetica", style, _BODY)
            self._widths[style] = pdf.current_font.cw

    # -- text -------------------------------------------------------------------------------------------------------

    def width(self, text: str, size: float, style: str = "") -> float:
        """Text width in mm from the core font's character widths (units of 1/1000 of the font size)."""
        cw = self._widths[style]
        return sum(cw[c] for c in text) * size * 0.001 * _PT

    def wrap(self, text: str, size: float, width: float, style: str = "", first: float = 0.0) -> list[str]:
        """Greedy word wrap; ``first`` is how much of the first line is already taken."""
        space = self.width(" ", size, style)
        lines: list[str] = []
        line, used, room = [], 0.0, width - first
        for word in latin1(text).split():
            w = self.width(word, size, style)
            if line and used + space + w > room:
                lines.append(" ".join(line))
                line, used, room = [], 0.0, width
            used += (space if line else 0.0) + w
            line.append(word)
        lines.append(" ".join(line))
        return lines

    def room(self) -> float:
        return _BOTTOM - self.y

    def new_page(self) -> None:
        if self.pdf.page:
            self.fill.append((self.y - _MARGIN) / (_BOTTOM - _MARGIN))
        self.pdf.add_page()
        self.y = _MARGIN

    def need(self, height: float) -> None:
        if self.room() < height:
            self.new_page()

    def text(self, text: str, size: float = _BODY, style: str = "", colour: tuple[int, int, int] = charts.INK,
             indent: float = 0.0, width: float = _WIDTH, leading: float = 1.32) -> None:
        """A paragraph at the cursor; it may continue on the next page line by line."""
        pdf = self.pdf
        height = size * _PT * leading
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*colour)
        for line in self.wrap(text, size, width - indent, style):
            if self.room() < height:
                self.new_page()
                pdf.set_font("Helvetica", style, size)
                pdf.set_text_color(*colour)
            pdf.text(_MARGIN + indent, self.y + size * _PT, line)
            self.y += height

    def items(self, items: list[str], numbered: bool, size: float = _BODY, gap: float = 0.8) -> None:
        for i, item in enumerate(items, 1):
            self.need(size * _PT * 2.8)
            self.pdf.set_font("Helvetica", "B" if numbered else "", size)
            self.pdf.set_text_color(*charts.INK)
            self.pdf.text(_MARGIN, self.y + size * _PT, f"{i}." if numbered else "-")
            self.text(item, size=size, indent=5.0)
            self.y += gap

    def definition(self, term: str, meaning: str, size: float) -> None:
        pdf, height = self.pdf, size * _PT * 1.32
        head = latin1(term + ": ")
        head_w = self.width(head, size, "B")
        lines = self.wrap(meaning, size, _WIDTH, first=head_w)
        self.need(height * len(lines) + 1.0)
        pdf.set_font("Helvetica", "B", size)
        pdf.set_text_color(*charts.INK)
        pdf.text(_MARGIN, self.y + size * _PT, head)
        pdf.set_font("Helvetica", "", size)
        for i, line in enumerate(lines):
            pdf.text(_MARGIN + (head_w if i == 0 else 0.0), self.y + size * _PT, line)
            self.y += height
        self.y += 1.0

    # -- tables and figures -----------------------------------------------------------------------------------------

    def table(self, block: dict[str, Any], size: float = _SMALL) -> None:
        pdf = self.pdf
        total = sum(block["widths"])
        widths = [w * _WIDTH / total for w in block["widths"]]
        line_h, pad = size * _PT * 1.3, 0.9

        def layout(row: list[str], style: str) -> tuple[list[list[str]], float]:
            cells = [self.wrap(str(cell), size, w - 2 * pad, style) for cell, w in zip(row, widths, strict=True)]
            return cells, max(len(c) for c in cells) * line_h + 2 * pad

        def draw(cells: list[list[str]], height: float, style: str, fill: bool) -> None:
            if fill:
                pdf.set_fill_color(240, 243, 247)
                pdf.rect(_MARGIN, self.y, _WIDTH, height, style="F")
            pdf.set_font("Helvetica", style, size)
            pdf.set_text_color(*charts.INK)
            x = _MARGIN
            for lines, w, align in zip(cells, widths, block["align"], strict=True):
                for k, line in enumerate(lines):
                    lx = x + pad if align != "r" else x + w - pad - self.width(line, size, style)
                    pdf.text(lx, self.y + pad + k * line_h + size * _PT * 0.95, line)
                x += w
            self.y += height
            pdf.set_draw_color(*charts.GRID)
            pdf.set_line_width(0.2)
            pdf.line(_MARGIN, self.y, _MARGIN + _WIDTH, self.y)

        head, head_h = layout(block["columns"], "B")
        rows = [layout(row, "") for row in block["rows"]]
        self.need(head_h + (rows[0][1] if rows else 0.0) + 2.0)
        draw(head, head_h, "B", True)
        for cells, height in rows:
            if self.room() < height:
                self.new_page()
                draw(head, head_h, "B", True)
            draw(cells, height, "", False)
        self.y += 3.0

    def panels(self, block: dict[str, Any]) -> None:
        """The input panels, row by row: a grid this tall would otherwise leave most of a page empty."""
        panels, per_row = block["data"]["panels"], charts.PANELS_PER_ROW
        rows = [panels[i:i + per_row] for i in range(0, len(panels), per_row)]
        self.figure_no += 1
        title = f"Figure {self.figure_no}. {block['title']}"
        while rows:
            fit = int((self.room() - 12.0) // charts.PANEL_HEIGHT)
            if fit < 1:
                self.new_page()
                continue
            self.text(title, size=9, style="B")
            title = f"Figure {self.figure_no} (continued)"
            part, rows = rows[:fit], rows[fit:]
            height = 6.0 + charts.PANEL_HEIGHT * len(part)
            charts.inputs(self.pdf, {"panels": [p for row in part for p in row]}, (_MARGIN, self.y + 1.0, _WIDTH,
                                                                                   height))
            self.y += height + 2.5
        self.need(10.0)
        self.text(block["caption"], size=_SMALL, colour=charts.GREY)
        self.y += 3.0

    def _figure_extra(self, block: dict[str, Any]) -> float:
        """Height of a figure's title and caption."""
        return 9.0 + len(self.wrap(block["caption"], _SMALL, _WIDTH)) * _SMALL * _PT * 1.32

    def _fits(self, block: dict[str, Any]) -> bool:
        """Whether a figure fits what is left of the page, shrunk as far as its chart allows."""
        if block["chart"] == "inputs":
            return self.room() >= charts.PANEL_HEIGHT + 12.0
        shrink = 0.8 if block["chart"] == "positioning" else 0.65
        return self.room() >= shrink * float(block["height"]) + self._figure_extra(block)

    def figure(self, block: dict[str, Any]) -> None:
        if block["chart"] == "inputs":
            self.panels(block)
            return
        extra = self._figure_extra(block)
        height = float(block["height"])
        if not self._fits(block):
            self.new_page()
        # Shrinking a chart a little beats leaving a third of a page empty.
        height = min(height, self.room() - extra)
        self.figure_no += 1
        self.text(f"Figure {self.figure_no}. {block['title']}", size=9, style="B")
        top = self.y + 1.0
        charts.CHARTS[block["chart"]](self.pdf, block["data"], (_MARGIN, top, _WIDTH, height))
        self.y = top + height + 1.5
        self.text(block["caption"], size=_SMALL, colour=charts.GREY)
        self.y += 3.0

    def height(self, blocks: list[dict[str, Any]]) -> float:
        """How tall text blocks will be (figures are placed separately)."""
        total = 0.0
        for block in blocks:
            kind = block["kind"]
            if kind == "paragraph":
                total += len(self.wrap(block["text"], _BODY, _WIDTH)) * _BODY * _PT * 1.32 + 2.0
            elif kind == "subheading":
                total += 7.0
            elif kind == "table":
                line_h = _SMALL * _PT * 1.3
                total += 3.0 + sum(
                    max(len(self.wrap(str(c), _SMALL, w * _WIDTH / sum(block["widths"]) - 1.8))
                        for c, w in zip(row, block["widths"], strict=True)) * line_h + 1.8
                    for row in [block["columns"], *block["rows"]])
            elif kind == "bullets":
                total += sum(len(self.wrap(i, _SMALL + 0.5, _WIDTH - 5)) * (_SMALL + 0.5) * _PT * 1.32 + 0.4
                             for i in block["items"]) + 1.5
            else:
                total += 1e6  # figures and glossaries are not moved
        return total

    def _first_block_height(self, blocks: list[dict[str, Any]]) -> float:
        if not blocks:
            return 0.0
        first = blocks[0]
        if first["kind"] == "figure":
            return (charts.PANEL_HEIGHT if first["chart"] == "inputs" else 0.65 * float(first["height"])) + 20.0
        return 25.0

    def blocks(self, blocks: list[dict[str, Any]]) -> None:
        pending = list(blocks)
        while pending:
            block = pending.pop(0)
            if block["kind"] == "figure" and not self._fits(block):
                # Like a float in typesetting: the text that follows fills this page, the figure opens the next.
                fillers: list[dict[str, Any]] = []
                texts = [b for b in pending if b["kind"] not in ("figure", "definitions")]
                for i, other in enumerate(texts):
                    # A subheading moves only with what it introduces.
                    unit = [other, texts[i + 1]] if other["kind"] == "subheading" and i + 1 < len(texts) else [other]
                    if other in fillers:
                        continue
                    left = self.room() - 2.0 - self.height(fillers)
                    if self.height(unit) > left:
                        # A table may start here and run on to the next page: it repeats its header there.
                        if unit[-1]["kind"] == "table" and left >= self.height(unit[:-1]) + 30.0:
                            fillers += unit
                        break
                    fillers += unit
                for other in fillers:
                    pending.remove(other)
                for i, other in enumerate(fillers):
                    self.block(other, fillers[i + 1:])
                self.figure(block)
                continue
            self.block(block, pending)

    def block(self, block: dict[str, Any], following: list[dict[str, Any]]) -> None:
        kind = block["kind"]
        if kind == "paragraph":
            self.need(9)
            self.text(block["text"])
            self.y += 2.0
        elif kind == "subheading":
            # Keep a subheading with what follows it.
            self.need(10 + self._first_block_height(following[:1]))
            self.y += 1.0
            self.text(block["text"], size=10, style="B")
            self.y += 1.0
        elif kind == "bullets":
            self.items(block["items"], block["numbered"], size=_SMALL + 0.5, gap=0.4)
            self.y += 1.5
        elif kind == "table":
            self.table(block)
        elif kind == "figure":
            self.figure(block)
        elif kind == "definitions":
            for entry in block["entries"]:
                self.definition(entry["term"], entry["meaning"], _SMALL + 0.5)

    def section(self, section: dict[str, Any]) -> None:
        pdf = self.pdf
        blocks = section["blocks"]
        # A section opens on this page if its first block fits, or if some text of it can fill the page first.
        first = self._first_block_height(blocks)
        if blocks and blocks[0]["kind"] == "figure" and self.room() < 14 + first:
            texts = [b for b in blocks if b["kind"] not in ("figure", "definitions", "subheading")]
            if not any(self.height([b]) + 24.0 <= self.room() or (b["kind"] == "table" and self.room() >= 52.0)
                       for b in texts):
                self.new_page()
        else:
            self.need(14 + first)
        if self.y > _MARGIN:
            self.y += 3.0
        self.text(section["title"], size=13, style="B")
        pdf.set_draw_color(*charts.BLUE)
        pdf.set_line_width(0.5)
        pdf.line(_MARGIN, self.y + 0.5, _MARGIN + _WIDTH, self.y + 0.5)
        self.y += 3.5
        self.blocks(section["blocks"])

    # -- the founder's page -----------------------------------------------------------------------------------------

    def first_page(self) -> None:
        pdf, report = self.pdf, self.report
        s, v = report["summary"], report["verdict"]
        colour = _VERDICT_COLOURS[v["recommendation"]]
        self.new_page()
        self.text(report["title"], size=20, style="B")
        self.text(report["subtitle"], size=_SMALL, colour=charts.GREY)
        self.y += 3.0
        top = self.y
        pdf.set_fill_color(*colour)
        pdf.rect(_MARGIN, top, 38, 22, style="F")
        pdf.set_font("Helvetica", "B", 22 if v["recommendation"] != "PIVOT" else 19)
        pdf.set_text_color(255, 255, 255)
        label_w = self.width(v["recommendation"], 22 if v["recommendation"] != "PIVOT" else 19, "B")
        pdf.text(_MARGIN + (38 - label_w) / 2, top + 14, v["recommendation"])
        self.text(s["headline"], size=12, style="B", indent=42)
        self.y += 1.0
        if s["updated"]:
            self.text(s["updated"], size=9.0, style="I", indent=42)
            self.y += 1.0
        self.text("How sure: " + s["how_sure"], size=9.5, indent=42)
        self.y += 1.0
        self.text(s["gate"], size=9.5, style="B", indent=42)
        y = max(self.y, top + 22) + 4.0
        charts.probability_bar(pdf, v["probabilities"], (_MARGIN, y, _WIDTH, 5.0), _VERDICT_COLOURS)
        x = _MARGIN
        pdf.set_font("Helvetica", "B", 8.5)
        for name in ("GO", "PIVOT", "KILL"):
            pdf.set_fill_color(*_VERDICT_COLOURS[name])
            pdf.rect(x, y + 7.0, 3.0, 3.0, style="F")
            pdf.set_text_color(*charts.INK)
            label = f"{name} {share(v['probabilities'][name])}"
            pdf.text(x + 4.0, y + 9.6, label)
            x += 10.0 + self.width(label, 8.5, "B")
        self.y = y + 15.0
        for heading, items, numbered in (("Why: the three facts that drove it", s["drivers"], True),
                                         ("What would change it", s["what_would_change_it"], False),
                                         ("What to do next", s["next_steps"], True)):
            self.text(heading, size=11.5, style="B", colour=colour if heading.startswith("Why") else charts.INK)
            self.y += 1.2
            self.items(items, numbered, size=9.5, gap=1.2)
            if heading.startswith("Why") and s.get("why_not"):
                self.text(s["why_not"], size=9.0, style="I", indent=5.0)
            self.y += 2.5
        self.text("Key numbers", size=11.5, style="B")
        self.y += 1.2
        self.table({"columns": ["number", "value", "what it means"], "align": "lrl", "widths": [3.4, 0.9, 3.7],
                    "rows": [[k["name"], k["value"], k["note"]] for k in s["key_numbers"]]}, size=8.3)
        self.text(s["footnote"], size=_SMALL + 0.5, colour=charts.GREY, style="I")
        if s["calibration"]:
            self.y += 0.8
            self.text(s["calibration"], size=_SMALL + 0.5, colour=charts.GREY, style="I")
        # The founder's page keeps no empty half: the chart the content picks for it fills what the words leave.
        chart = next((b for sec in report["sections"] for b in sec["blocks"]
                      if b["kind"] == "figure" and b["chart"] == s["chart"]), None)
        caption = self.wrap(chart["caption"], _SMALL, _WIDTH) if chart else []
        room = self.room() - 14.0 - len(caption) * _SMALL * _PT * 1.32
        if chart and room >= 28.0:
            self.y += 4.0
            self.text(chart["title"], size=11.5, style="B")
            top = self.y + 1.0
            height = min(room, 70.0)
            charts.CHARTS[chart["chart"]](pdf, chart["data"], (_MARGIN, top, _WIDTH, height))
            self.y = top + height + 1.5
            self.text(chart["caption"], size=_SMALL, colour=charts.GREY)

    def footers(self) -> None:
        # Written last, on each page in turn, because "page N of M" needs M.
        pdf = self.pdf
        pages = pdf.page
        for page in range(1, pages + 1):
            pdf.page = page
            # fpdf2 tracks the font and colours document-wide, not per page: force them onto this page's stream.
            pdf.set_font("Helvetica", "B", 6.5)
            pdf.set_font("Helvetica", "", 6.5)
            pdf.set_fill_color(255, 255, 255)
            pdf.set_text_color(*charts.GREY)
            text = latin1(f"{self.report['title']} - SMVM validation report - page {page} of {pages}")
            pdf.text((210 - self.width(text, 6.5)) / 2, 290, text)
        pdf.page = pages

    def render(self) -> bytes:
        self.first_page()
        self.new_page()
        for section in self.report["sections"]:
            self.section(section)
        self.fill.append((self.y - _MARGIN) / (_BOTTOM - _MARGIN))
        self.footers()
        return bytes(self.pdf.output())


def render(report: dict[str, Any], created: Any) -> bytes:
    """The ``reports/analysis_report.pdf`` bytes; ``created`` (the run's creation time) dates the file, so the same
    run always gives the same bytes."""
    return _Writer(report, created).render()
