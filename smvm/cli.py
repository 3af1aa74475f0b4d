"""The ``smvm`` command: validate an idea in-process, and operate a deployment (migrations, ...)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from smvm.config import Settings, environ_with_env_file
from smvm.errors import SmvmError
from smvm.privacy import cli as privacy_cli


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SystemExit(f"smvm: no such file: {path}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"smvm: {path} is not valid JSON: {exc}") from None


def _cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from smvm.intake.validation import parse_request
    from smvm.pipeline.runner import run_pipeline

    body = _load_json(args.file)
    if isinstance(body, dict) and "expected" in body and isinstance(body.get("request"), dict):
        body = body["request"]  # an evaluation-set file (examples/eval): the request inside it
    if isinstance(body, dict):
        configuration = body.setdefault("configuration", {}) if "business_idea" in body or "idea" in body or "name" in body else {}
        for key, value in (("seed", args.seed), ("simulation_iterations", args.iterations),
                           ("sampler", args.sampler), ("scenario", args.scenario)):
            if value is not None:
                configuration[key] = value
    request = parse_request(body, max_iterations=settings.max_iterations)
    out = Path(args.out) if args.out else settings.runs_dir
    interactive = sys.stderr.isatty() and not args.json

    def on_stage(name: str, position: int, total: int) -> None:
        if not args.json:
            print(f"[{position + 1}/{total}] {name.replace('_', ' ')}", file=sys.stderr, flush=True)

    def on_progress(fraction: float) -> None:
        if interactive:
            print(f"\r      simulating… {fraction:4.0%}", end="", file=sys.stderr, flush=True)

    meta, run_dir = run_pipeline(request, out, on_stage=on_stage, on_progress=on_progress)
    if interactive:
        print(file=sys.stderr)
    summary = run_dir.read_json("validation_summary.json")
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    decision = run_dir.read_json("outputs/decision.output.json")
    print(_render_summary(meta, decision, summary, run_dir.path))
    return 0


def _render_summary(meta: dict[str, Any], decision: dict[str, Any], summary: dict[str, Any], path: Path) -> str:
    probs = decision["verdict_probabilities"]
    lines = [
        "",
        f"Recommendation: {decision['recommendation']}  (score {decision.get('score', 'n/a')}/100, "
        f"confidence {decision['confidence']:.0%}{', borderline' if decision.get('borderline') else ''})",
        f"Across plausible worlds: P(GO) {probs['GO']:.0%}, P(PIVOT) {probs['PIVOT']:.0%}, P(KILL) {probs['KILL']:.0%}",
        f"Run: {meta['run_id']}  seed {meta['seed']}",
    ]
    lines.extend(f"  why: {reason}" for reason in decision.get("why") or [])
    lines.extend(f"  needs evidence: {ask['evidence']}" for ask in decision.get("needs_evidence") or [])
    lines.extend(f"  would change it: {flip['statement']}" for flip in decision.get("what_would_change_it") or [])
    key_numbers = summary.get("key_numbers") or {}
    if key_numbers:
        lines.append("Key numbers:")
        width = max(len(name) for name in key_numbers)
        lines.extend(f"  {name.ljust(width)}  {value}" for name, value in key_numbers.items())
    factors = decision.get("key_factors") or []
    if factors:
        lines.append("Key factors:")
        lines.extend(f"  {f['factor']}: {f['score']:.2f} — {f['evidence']}" for f in factors[:5])
    lines.append(f"Report: {path / 'reports' / 'validation_report.md'}")
    lines.append(f"PDF:    {path / 'reports' / 'analysis_report.pdf'}")
    return "\n".join(lines)


def _cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from smvm.store.db import Database, upgrade

    settings.require("database_url")
    applied = upgrade(Database(settings.database_url, minconn=1, maxconn=1))  # type: ignore[arg-type]
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smvm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="run the whole pipeline in-process on an idea file")
    validate.add_argument("file", help="a request body in any accepted shape (see examples/idea.json)")
    validate.add_argument("--seed", type=int, help="fix every random draw (default: derived from the run id)")
    validate.add_argument("--iterations", type=int, help="simulation paths")
    validate.add_argument("--sampler", choices=("sobol", "mc"), help="scrambled Sobol (default) or plain Monte Carlo")
    validate.add_argument("--scenario", help="base (default), bear, bull or a named scenario")
    validate.add_argument("--out", help="runs root directory (default: SMVM_RUNS_DIR or ./runs)")
    validate.add_argument("--json", action="store_true", help="print validation_summary.json instead of a summary")
    validate.set_defaults(handler=_cmd_validate)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="apply pending migrations (idempotent, concurrency-safe)")
    db_upgrade.set_defaults(handler=_cmd_db_upgrade)
    privacy_cli.register(commands)  # smvm erase
    env = commands.add_parser("env", help="print what .env adds to the environment (export lines for a shell)")
    env.add_argument("--export", action="store_true", help="as `export KEY=value` lines (the only format)")
    env.set_defaults(handler=_cmd_env)

    from smvm.auth import cli as tokens_cli

    tokens_cli.register(commands)
    from smvm.callbacks import cli as dlq_cli

    dlq_cli.register(commands)  # smvm dlq list|show|replay|purge
    from smvm.crypto import cli as crypto_cli
    from smvm.standin import cli as standin_cli
    from smvm.webhooks import cli as secrets_cli

    crypto_cli.register(commands)  # smvm keys generate|rotate
    secrets_cli.register(commands)  # smvm secrets rotate
    standin_cli.register(commands)  # smvm mock-tractionbuild
    from smvm.calibration import cli as calibration_cli

    calibration_cli.register(commands)  # smvm calibration
    return parser


def _cmd_env(args: argparse.Namespace, settings: Settings) -> int:
    """Print the variables ``.env`` adds to the environment as shell ``export`` lines (make targets eval them)."""
    added = {key: value for key, value in environ_with_env_file().items() if key not in os.environ}
    for key, value in sorted(added.items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # .env in the working directory completes the environment (a variable already set wins): every smvm
        # command and every make target read it this one way (README, Configuration).
        settings = Settings.from_environ(environ_with_env_file())
        return args.handler(args, settings)
    except SmvmError as exc:
        print(f"smvm: {exc.message}", file=sys.stderr)
        for field, messages in exc.details.items():
            print(f"  {field}: {'; '.join(map(str, messages)) if isinstance(messages, list) else messages}",
                  file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
