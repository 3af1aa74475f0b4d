"""The harness's Redis isolation: two test sessions on one server never share a db, and leave nothing behind."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import redis

from tests.integration import harness

pytestmark = pytest.mark.integration


def _db(url: str) -> int:
    return int(urlsplit(url).path.strip("/"))


@pytest.fixture
def server(redis_databases: harness.RedisDatabases) -> str:
    """The configured server without a db number: each allocator below acts as another test session."""
    return redis_databases.server_url


def test_the_session_uses_the_configured_db_or_one_it_leased(redis_databases, redis_url) -> None:
    if redis_databases.given_db is not None:
        assert _db(redis_url) == redis_databases.given_db
    assert _db(redis_url) != 0 or redis_databases.given_db == 0, "db 0 is the developer's unless named"
    lease = redis.Redis.from_url(redis_url).get(harness.RedisDatabases.LEASE_KEY)
    assert lease is not None and lease.decode() == redis_databases.session_id


def test_two_sessions_never_claim_the_same_db_and_release_empties_it(server, redis_databases, redis_url) -> None:
    first, second = harness.RedisDatabases(server), harness.RedisDatabases(server)
    try:
        a, b = first.claim(), second.claim()
        assert _db(a) != _db(b)
        assert {_db(a), _db(b)}.isdisjoint(redis_databases.held()), "another session's dbs are never claimed"
        redis.Redis.from_url(a).set("smvm:test:leftover", "x")
        first.release(a)
        assert redis.Redis.from_url(a).dbsize() == 0
    finally:
        first.release_all()
        second.release_all()


def test_a_db_holding_someone_elses_keys_is_not_claimed(server) -> None:
    owner, other = harness.RedisDatabases(server), harness.RedisDatabases(server)
    url = owner.claim()
    client = redis.Redis.from_url(url)
    try:
        # Someone writes into the db without a lease (a suite that predates leases, a developer's stack).
        client.set("smvm:someone-else", "1")
        client.delete(harness.RedisDatabases.LEASE_KEY)
        claimed = other.claim()
        assert _db(claimed) != _db(url)
        assert client.get("smvm:someone-else") == b"1", "their key is untouched"
        assert client.get(harness.RedisDatabases.LEASE_KEY) is None, "the failed claim took its lease back"
    finally:
        other.release_all()
        owner.release_all()


def test_a_named_db_is_used_but_never_shared_with_a_live_session(server) -> None:
    holder = harness.RedisDatabases(server)
    url = holder.claim()
    named = harness.RedisDatabases(url)
    try:
        assert named.given_db == _db(url)
        with pytest.raises(RuntimeError, match="leased by another test session"):
            named.claim_given()
        holder.release(url)
        assert named.claim_given() == url
        redis.Redis.from_url(url).set("smvm:test:key", "1")
    finally:
        named.release_all()
        holder.release_all()
    assert redis.Redis.from_url(url).dbsize() == 0
