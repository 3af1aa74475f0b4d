"""The smvm command's help says what a command does when an option is left out."""

from __future__ import annotations

import pytest

from smvm.cli import build_parser

pytestmark = pytest.mark.unit


def _help(*words: str) -> str:
    parser = build_parser()
    for word in words:
        parser = next(action for action in parser._actions if hasattr(action, "choices") and action.choices
                      and word in action.choices).choices[word]
    return " ".join(parser.format_help().split())


def test_tokens_create_help_shows_its_defaults() -> None:
    text = _help("tokens", "create")
    assert "(default: runs:read,runs:write)" in text
    assert "(default: *, every project)" in text
    assert "(default: never expires)" in text


def test_erase_help_offers_yes_and_its_default_requester() -> None:
    text = _help("erase")
    assert "--yes" in text and "default: smvm-cli" in text
