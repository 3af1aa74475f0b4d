"""Render a report (``content.build_report``) as markdown: the same words and numbers as the PDF, charts as their
captions and the numbers behind them."""

from __future__ import annotations

from typing import Any


def _cell(value: Any) -> str:
    return str(value).replace("|", "/").replace("\n", " ")


def _table(block: dict[str, Any]) -> list[str]:
    align = {"l": "---", "r": "---:"}
    lines = ["| " + " | ".join(_cell(c) for c in block["columns"]) + " |",
             "| " + " | ".join(align.get(a, "---") for a in block["align"]) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block["rows"]]
    return [*lines, ""]


def _blocks(blocks: list[dict[str, Any]], figure_no: list[int]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block["kind"]
        if kind == "paragraph":
            lines += [block["text"], ""]
        elif kind == "subheading":
            lines += [f"### {block['text']}", ""]
        elif kind == "bullets":
            lines += [(f"{i}. " if block["numbered"] else "- ") + item for i, item in enumerate(block["items"], 1)]
            lines.append("")
        elif kind == "table":
            lines += _table(block)
        elif kind == "figure":
            figure_no[0] += 1
            lines += [f"**Figure {figure_no[0]}: {block['title']}** (chart in the PDF). {block['caption']}", ""]
            if block.get("table"):
                lines += _table(block["table"])
        elif kind == "definitions":
            lines += [f"- **{e['term']}**: {e['meaning']}" for e in block["entries"]] + [""]
    return lines


def render(report: dict[str, Any]) -> str:
    """The ``reports/validation_report.md`` text."""
    s, v = report["summary"], report["verdict"]
    lines = [f"# {report['title']}", "", f"*{report['subtitle']}*", "",
             "## The answer", "",
             f"**Verdict: {v['recommendation']}.** {s['headline']}", ""]
    if s["updated"]:
        lines += [f"*{s['updated']}*", ""]
    lines += [f"**How sure:** {s['how_sure']}", "", f"**{s['gate']}**", "", "### Why: the three facts that drove it", ""]
    lines += [f"{i}. {d}" for i, d in enumerate(s["drivers"], 1)] + [""]
    if s.get("why_not"):
        lines += [s["why_not"], ""]
    lines += ["### What would change it", ""] + [f"- {c}" for c in s["what_would_change_it"]] + [""]
    lines += ["### What to do next", ""] + [f"{i}. {step}" for i, step in enumerate(s["next_steps"], 1)] + [""]
    lines += ["### Key numbers", ""]
    lines += _table({"columns": ["number", "value", "what it means"], "align": "lrl",
                     "rows": [[k["name"], k["value"], k["note"]] for k in s["key_numbers"]]})
    lines += [f"*{s['footnote']}*", ""]
    if s["calibration"]:
        lines += [f"*{s['calibration']}*", ""]
    figure_no = [0]
    for section in report["sections"]:
        lines += [f"## {section['title']}", "", *_blocks(section["blocks"], figure_no)]
    return "\n".join(lines).rstrip("\n") + "\n"
