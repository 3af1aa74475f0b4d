"""One HTTP POST to a checked destination: pinned address, TLS verified, no redirects, bounded time and body."""

from __future__ import annotations

import urllib3

from smvm.webhooks.models import Outcome
from smvm.webhooks.policy import Destination, default_port

#: Enough of a response to read a reference_id or an error; the rest is ignored.
MAX_RESPONSE_BYTES = 64 * 1024


def post(destination: Destination, body: bytes, headers: dict[str, str], *, timeout: float) -> Outcome:
    """Send once and report what happened; never raises for network or HTTP errors."""
    common = {"port": destination.port, "timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if destination.scheme == "https":
        # Connect to the address the policy checked, but verify the certificate and send SNI for the real name.
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            destination.address,
            cert_reqs="CERT_REQUIRED",
            server_hostname=destination.host,
            assert_hostname=destination.host,
            **common,  # type: ignore[arg-type]
        )
    else:
        pool = urllib3.HTTPConnectionPool(destination.address, **common)  # type: ignore[arg-type]
    host_header = destination.host if destination.port == default_port(destination.scheme) else f"{destination.host}:{destination.port}"
    try:
        response = pool.urlopen(
            "POST",
            destination.path,
            body=body,
            headers={**headers, "host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            text = response.read(MAX_RESPONSE_BYTES, decode_content=True).decode("utf-8", "replace")
        finally:
            response.release_conn()
        error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        return Outcome(status_code=response.status, error=error, retry_after=response.headers.get("retry-after"), body=text)
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:1000])
    except OSError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        pool.close()
