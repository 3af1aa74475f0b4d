"""The layers in setup.cfg's import-linter contracts hold (docs/architecture.md draws them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _lint(config: Path) -> int:
    cwd = os.getcwd()
    os.chdir(ROOT)  # the root packages are found from the working directory, as `lint-imports` finds them
    try:
        return lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)


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
