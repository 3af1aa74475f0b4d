"""smvm/ is the domain core: it must never import Flask or Celery (shared/DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SMVM = Path(__file__).resolve().parents[2] / "smvm"
BANNED = {"flask", "celery", "kombu", "werkzeug"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(SMVM.rglob("*.py")), ids=lambda p: str(p.relative_to(SMVM)))
def test_domain_core_imports_neither_flask_nor_celery(path: Path) -> None:
    assert not (_imported_roots(path) & BANNED)


def test_the_check_sees_imports() -> None:
    sample = SMVM.parent / "workers" / "tasks.py"
    assert "celery" in _imported_roots(sample)
