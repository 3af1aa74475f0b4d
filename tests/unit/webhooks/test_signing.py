from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from smvm.webhooks.signing import new_secret, new_webhook_id, sign, signed_headers

pytestmark = pytest.mark.unit

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_independent_implementation_verifies_our_signature() -> None:
    import time

    body = json.dumps({"status": "running"}).encode()
    headers = signed_headers(SECRET, new_webhook_id(), int(time.time()), body, "corr-1")
    assert Webhook(SECRET).verify(body, headers) == {"status": "running"}
    assert headers["x-correlation-id"] == "corr-1"


def test_signature_matches_the_spec_example() -> None:
    # From the Standard Webhooks spec's reference test vectors.
    body = b'{"test": 2432232314}'
    assert sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_ids_have_no_dots() -> None:
    assert "." not in new_webhook_id()
    with pytest.raises(ValueError):
        sign(SECRET, "msg.1", 1, b"{}")


def test_two_secrets_each_verify() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"status": "RUNNING"}'
    headers = signed_headers(f"{new},{old}", "msg_abc", int(time.time()), body, None)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"status": "RUNNING"}
