"""Flower's login: a default or placeholder refuses to start outside development."""

from __future__ import annotations

import pytest

from smvm.config import Settings
from smvm.errors import ConfigurationError
from workers.flower import basic_auth

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [None, "", "admin", "admin:", ":secret-pass", "admin:admin", "admin:change-me",
                                   "oncall:CHANGE-ME", "oncall:oncall1", "oncall:short"])
@pytest.mark.parametrize("env", ["production", "staging"])
def test_outside_development_a_default_or_placeholder_login_is_refused(env, value) -> None:
    with pytest.raises(ConfigurationError, match="SMVM_FLOWER_BASIC_AUTH"):
        basic_auth(Settings(env=env, flower_basic_auth=value))


def test_a_real_login_is_used() -> None:
    assert basic_auth(Settings(env="production", flower_basic_auth="oncall:7f3b9c2e41")) == "oncall:7f3b9c2e41"


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_keeps_its_easy_default(env) -> None:
    assert basic_auth(Settings(env=env)) == "admin:admin"
    assert basic_auth(Settings(env=env, flower_basic_auth="admin:change-me")) == "admin:change-me"
