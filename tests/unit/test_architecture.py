"""The layers in setup.cfg's import-linter contracts hold (docs/architecture.md draws them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _lint(config: Path) -> int:
    # A process of its own: import-linter configures logging with dictConfig, which would silence every logger
    # this test session has already created.
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(config), "--no-cache"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120).returncode


def test_every_import_contract_is_kept() -> None:
    assert _lint(ROOT / "setup.cfg") == 0, "a module imports one above its layer: run `make lint` to see which"


def test_a_broken_layer_is_reported(tmp_path: Path) -> None:
    # The run store does import the pipeline's stage table: stated the other way round, the contract must break.
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    smvm\n\n"
        "[importlinter:contract:inverted]\nname = inverted\ntype = layers\ncontainers =\n    smvm\n"
        "layers =\n    pipeline\n    runs\n"
    )
    assert _lint(config) == 1
