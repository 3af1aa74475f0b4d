"""How numbers read in evidence lines and reports: one formatter, so a figure looks the same everywhere."""

from __future__ import annotations


def money(x: float | None) -> str:
    """``$1.2M``, ``-$350k``, ``$80``; ``n/a`` for a missing figure."""
    if x is None:
        return "n/a"
    sign = "-" if x < 0 else ""
    x = abs(x)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{sign}${x / div:,.1f}{unit}"
    return f"{sign}${x:,.0f}"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"
