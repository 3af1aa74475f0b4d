"""Report benchmark (`python -m benchmarks.bench_reports`): the CPU the report stage adds to a run, and the PDF's size.

Each idea runs the first six pipeline stages into a temporary run directory, then the report stage itself
(`report_generation`: read the artifacts back, build the content, write the markdown, the PDF and the summary) is
timed with `time.process_time`. The first report of the process pays the one-time imports (fpdf2 and its
dependencies), as `smvm validate` does on every run; the median of the repeats is what a long-lived worker pays.
The budget (issue 16) is half a second of CPU per run and a PDF under 1 MB.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from smvm.artifacts import RunDirectory
from smvm.intake.validation import parse_request, validate_idea
from smvm.pipeline.stages import STAGES, StageContext

ROOT = Path(__file__).resolve().parent.parent
IDEAS = ("examples/eval/saas-month_end_close.json", "examples/eval/saas-crowded_crm.json",
         "examples/eval/saas-hr_onboarding_cac.json", "examples/eval/saas-site_meeting_notes.json",
         "examples/idea.json")
SEED = 7
CPU_BUDGET_S = 0.5
PDF_BUDGET_BYTES = 1_000_000


def _request(path: str) -> dict:
    body = json.loads((ROOT / path).read_text())
    body = body["request"] if "expected" in body else body
    body = copy.deepcopy(body)
    body.setdefault("configuration", {})["seed"] = SEED
    request = parse_request(body)
    request["run_id"] = "RUN-20261204-000000-bench000"
    return request


def _prepare(path: str, root: Path) -> StageContext:
    request = _request(path)
    run = {"run_id": request["run_id"], "validation_id": "VAL-20261204-000000-bench000-001",
           "project_id": request["project_id"], "created_at": "2026-12-04T00:00:00Z",
           "validation": validate_idea(request)}
    ctx = StageContext(run=run, request=request, run_dir=RunDirectory(root, request["project_id"], run["run_id"]))
    for stage in STAGES[:-1]:
        stage.execute(ctx)
    return ctx


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="report stage runs per idea after the first")
    args = parser.parse_args(argv)
    print(f"report benchmark: python {platform.python_version()}, seed {SEED}, {args.repeat} repeats, "
          f"budget {CPU_BUDGET_S:.1f} s CPU per run and {PDF_BUDGET_BYTES / 1e6:.0f} MB per PDF")
    report_stage = STAGES[-1]
    worst_cold = worst_warm = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(IDEAS):
            ctx = _prepare(path, Path(tmp))
            cpus = []
            for _ in range(1 + args.repeat):
                cpu = time.process_time()
                report_stage.execute(ctx)
                cpus.append(time.process_time() - cpu)
            pdf = ctx.run_dir.read_bytes("reports/analysis_report.pdf")
            pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page")
            decision = ctx.read_json("outputs/decision.output.json")["recommendation"]
            warm = statistics.median(cpus[1:]) if len(cpus) > 1 else cpus[0]
            worst_warm = max(worst_warm, warm)
            if i == 0:
                worst_cold = cpus[0]
            print(f"  {Path(path).stem:32s} {decision:5s} report stage CPU: first {cpus[0] * 1000:6.0f} ms"
                  f"{' (with imports)' if i == 0 else '               '}, median {warm * 1000:5.0f} ms; PDF "
                  f"{len(pdf) / 1024:5.0f} kB, {pages} pages")
            assert len(pdf) < PDF_BUDGET_BYTES, f"{path}: PDF of {len(pdf)} bytes"
    verdict = "within" if max(worst_cold, worst_warm) <= CPU_BUDGET_S else "OVER"
    print(f"worst: {worst_cold * 1000:.0f} ms CPU for the first report of a process (imports included), "
          f"{worst_warm * 1000:.0f} ms warm: {verdict} the {CPU_BUDGET_S:.1f} s budget")


if __name__ == "__main__":
    main()
