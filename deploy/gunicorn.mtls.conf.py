"""gunicorn settings that terminate TLS and require a client certificate signed by our CA (mutual TLS).

Use: ``gunicorn --config deploy/gunicorn.mtls.conf.py api.wsgi:application``. Everything else is inherited from
deploy/gunicorn.conf.py. Paths come from the process environment (SMVM_TLS_CERT, SMVM_TLS_KEY, SMVM_TLS_CA).
"""

import os
import runpy
import ssl
from pathlib import Path

# Inherit workers, timeouts, logging and the metrics hooks rather than copying them; gunicorn reads this module's
# globals, so the base file's names are re-exported here.
globals().update(
    {name: value for name, value in runpy.run_path(str(Path(__file__).with_name("gunicorn.conf.py"))).items()
     if not name.startswith("__")}
)


def _required(name):
    value = os.environ.get(name)
    if not value:
        # Starting without TLS when mutual TLS was asked for would silently expose the API: refuse instead.
        raise SystemExit(f"deploy/gunicorn.mtls.conf.py: {name} must be set")
    return value


certfile = _required("SMVM_TLS_CERT")
keyfile = _required("SMVM_TLS_KEY")
ca_certs = _required("SMVM_TLS_CA")
# A client without a certificate from ca_certs fails the handshake: no request reaches the app.
cert_reqs = ssl.CERT_REQUIRED
ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20"
# Handshake at accept time, so a refused client never occupies a worker thread waiting for a request.
do_handshake_on_connect = True


def ssl_context(conf, default_ssl_context_factory):
    """gunicorn's context (cert, key, CA, CERT_REQUIRED from above) with TLS 1.2 as the floor."""
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
