"""Mutual TLS on loopback: gunicorn with deploy/gunicorn.mtls.conf.py refuses a client without a certificate."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration import harness

pytestmark = pytest.mark.integration

CONFIG = harness.ROOT / "deploy" / "gunicorn.mtls.conf.py"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _issue(name: str, subject: str, cwd: Path, extensions: str) -> None:
    """A key and a certificate signed by the throwaway CA in ``cwd``."""
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj", subject,
             "-out", f"{name}.csr", cwd=cwd)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "1", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=cwd)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is not installed")
    cwd = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=SMVM test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=cwd)
    _issue("server", "/CN=127.0.0.1", cwd,
           "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _issue("client", "/CN=tractionbuild", cwd, "extendedKeyUsage=clientAuth\n")
    return cwd


@pytest.fixture(scope="module")
def mtls_server(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_dir = tmp_path_factory.mktemp("mtls-logs")
    port = harness.free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMVM_")}
    env.update({
        "SMVM_ENV": "test",
        # /healthz checks nothing external, so unreachable dependencies are fine here.
        "SMVM_DATABASE_URL": "postgresql://127.0.0.1:1/unused",
        "SMVM_REDIS_URL": "redis://127.0.0.1:1/0",
        "SMVM_WEB_CONCURRENCY": "1",
        "SMVM_TLS_CERT": str(pki / "server.pem"),
        "SMVM_TLS_KEY": str(pki / "server.key"),
        "SMVM_TLS_CA": str(pki / "ca.pem"),
        "PROMETHEUS_MULTIPROC_DIR": str(log_dir / "prometheus"),
    })
    argv = [str(harness.BIN / "gunicorn"), "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}",
            "api.wsgi:application"]
    process = harness.Process("web-mtls", argv, env, log_dir).start()
    base = f"https://127.0.0.1:{port}"
    client = (str(pki / "client.pem"), str(pki / "client.key"))

    def up() -> bool:
        if not process.alive():
            raise AssertionError(f"gunicorn exited:\n{process.log()[-3000:]}")
        return requests.get(f"{base}/healthz", cert=client, verify=str(pki / "ca.pem"), timeout=2).status_code == 200

    try:
        harness.wait_until(up, timeout=30, interval=0.2, what="gunicorn with mutual TLS")
        yield base
    finally:
        process.stop()


def test_client_with_a_certificate_from_our_ca_is_served(mtls_server: str, pki: Path) -> None:
    response = requests.get(f"{mtls_server}/healthz", cert=(str(pki / "client.pem"), str(pki / "client.key")),
                            verify=str(pki / "ca.pem"), timeout=5)
    assert response.status_code == 200


def test_client_without_a_certificate_is_refused(mtls_server: str, pki: Path) -> None:
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(f"{mtls_server}/healthz", verify=str(pki / "ca.pem"), timeout=5)


def test_client_with_a_certificate_from_another_ca_is_refused(mtls_server: str, pki: Path, tmp_path: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem",
             "-days", "1", "-subj", "/CN=rogue", cwd=tmp_path)
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(f"{mtls_server}/healthz", cert=(str(tmp_path / "rogue.pem"), str(tmp_path / "rogue.key")),
                     verify=str(pki / "ca.pem"), timeout=5)
