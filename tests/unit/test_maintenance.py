from __future__ import annotations

import datetime as dt

import pytest

from smvm import maintenance
from smvm.config import Settings
from smvm.errors import ConfigurationError

pytestmark = pytest.mark.unit

SEED_WINDOW = Settings(env="test", maintenance_windows=("SUN 02:00-04:00",))
SUNDAY_3AM = dt.datetime(2025, 1, 5, 3, 0, tzinfo=dt.UTC)  # 2025-01-05 is a Sunday


def test_inside_the_seed_window_ends_at_four() -> None:
    window, ends = maintenance.active(SEED_WINDOW, SUNDAY_3AM)
    assert window.spec == "SUN 02:00-04:00" and ends == dt.datetime(2025, 1, 5, 4, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("at", [
    dt.datetime(2025, 1, 5, 1, 59, tzinfo=dt.UTC),
    dt.datetime(2025, 1, 5, 4, 0, tzinfo=dt.UTC),
    dt.datetime(2025, 1, 6, 3, 0, tzinfo=dt.UTC),
])
def test_outside_the_window(at) -> None:
    assert maintenance.active(SEED_WINDOW, at) is None


def test_window_across_midnight() -> None:
    settings = Settings(env="test", maintenance_windows=("SAT 23:00-01:00",))
    assert maintenance.active(settings, dt.datetime(2025, 1, 5, 0, 30, tzinfo=dt.UTC)) is not None


def test_upcoming_lists_the_next_sundays() -> None:
    items = maintenance.upcoming(SEED_WINDOW, dt.datetime(2025, 1, 1, tzinfo=dt.UTC), limit=2)
    assert [item["starts_at"] for item in items] == ["2025-01-05T02:00:00Z", "2025-01-12T02:00:00Z"]


@pytest.mark.parametrize("spec", ["SUNDAY 02:00-04:00", "SUN 2-4", "SUN 02:00-02:00", "XYZ 01:00-02:00"])
def test_bad_windows_fail_at_startup(spec) -> None:
    with pytest.raises(ConfigurationError, match="SMVM_MAINTENANCE_WINDOWS"):
        maintenance.windows(Settings(maintenance_windows=(spec,)))
