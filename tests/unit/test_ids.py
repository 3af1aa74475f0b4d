from __future__ import annotations

import datetime as dt

import pytest

from smvm.ids import is_safe_id, new_run_id, seed_from_run_id, validation_id_for

pytestmark = pytest.mark.unit


def test_run_id_format_and_validation_id() -> None:
    run_id = new_run_id(dt.datetime(2024, 12, 1, 14, 30, 52, tzinfo=dt.UTC))
    assert run_id.startswith("RUN-20241201-143052-") and len(run_id) == 28
    assert validation_id_for("RUN-20241201-143052-a1b2c3d4") == "VAL-20241201-143052-a1b2c3d4-001"


@pytest.mark.parametrize(("value", "safe"), [
    ("RUN-1", True), ("a.b_c-d", True), ("../x", False), ("a/b", False), (".x", False), ("a..b", False),
    ("", False), ("x" * 129, False), ("ok\n", False),
])
def test_safe_ids(value, safe) -> None:
    assert is_safe_id(value) is safe


def test_seed_from_run_id_is_stable_and_63_bit() -> None:
    assert seed_from_run_id("RUN-a") == seed_from_run_id("RUN-a") != seed_from_run_id("RUN-b")
    assert 0 <= seed_from_run_id("RUN-a") < 2**63
