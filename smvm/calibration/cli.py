"""``smvm calibration``: how often what clients observed at T0+30 fell inside SMVM's T0 forecast intervals."""

from __future__ import annotations

import argparse
import json
from typing import Any

from smvm.calibration import records
from smvm.config import Settings
from smvm.store.db import Database


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "calibration", help="the calibration ledger: observations inside SMVM's 50/80/95 %% forecast intervals")
    parser.add_argument("--json", action="store_true", help="print the ledger's summary as JSON")
    parser.set_defaults(handler=_cmd_calibration)


def _cmd_calibration(args: argparse.Namespace, settings: Settings) -> int:
    settings.require("database_url")
    db = Database(settings.database_url, minconn=1, maxconn=1)  # type: ignore[arg-type]
    try:
        with db.transaction() as cur:
            summary = records.coverage(cur)
    finally:
        db.close()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(render(summary))
    return 0


def render(summary: dict[str, Any]) -> str:
    """The ledger as a table: overall, then per domain and per metric, each with the count it rests on. A
    well-calibrated forecast puts about 50 %, 80 % and 95 % of observations inside those intervals."""
    def row(name: str, figures: dict[str, Any]) -> str:
        cells = [f"{figures[f'inside_{round(level * 100)}']:>6.0%}" if figures["count"] else f"{'-':>6}"
                 for level in summary["levels"]]
        return f"  {name:<28} {figures['count']:>7}  " + "  ".join(cells)

    header = f"  {'':<28} {'count':>7}  " + "  ".join(f"{'in ' + str(round(level * 100)) + '%':>6}"
                                                     for level in summary["levels"])
    lines = ["Calibration ledger: T0+30 observations against SMVM's T0 forecast intervals", header,
             row("overall", summary["overall"])]
    for title, groups in (("by domain", summary["by_domain"]), ("by metric", summary["by_metric"])):
        if groups:
            lines.append(f"  {title}:")
            lines += [row("  " + name, figures) for name, figures in groups.items()]
    return "\n".join(lines)
