"""The node join token against a real ``kubepy server --disable-agent --token S``: ``/cacerts``
is served without authentication and is the cluster CA, ``<data-dir>/token`` holds
``K10<sha256 of it>::server:S`` (0600), the secret authenticates as the agent user (groups
system:nodes and system:masters) for requests and for the real ``kubernetes`` client, other
secrets do not; the agent's join (``kubepy.cli.agent.join_with_token``) accepts the server's
token and refuses a wrong CA hash; without ``--token`` a secret is generated once and kept
across restarts."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path
from typing import Iterator

import kubernetes
import pytest
import requests

from kubepy.cli.agent import join_with_token
from tests.conftest import ServerProcess, start_server
from tests.integration.conftest import Api

SECRET = "join-s3cret-for-tests"
API_ONLY = ["--disable-controller-manager", "--disable-scheduler"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = start_server(tmp_path_factory.mktemp("join"), extra=[*API_ONLY, "--token", SECRET])
    try:
        yield s
    finally:
        s.stop()


def _unverified(url: str, **kw: object) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(url, verify=False, timeout=10, **kw)  # type: ignore[arg-type]


def _ca(server: ServerProcess) -> bytes:
    return (server.data_dir / "tls" / "ca.crt").read_bytes()


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("path", ["/cacerts", "/cacerts/"])
def test_cacerts_is_anonymous_and_the_cluster_ca(server: ServerProcess, path: str) -> None:
    r = _unverified(server.url + path)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.content == _ca(server)
    assert r.content.startswith(b"-----BEGIN CERTIFICATE-----")


def test_token_file_is_the_secure_form(server: ServerProcess) -> None:
    path = server.data_dir / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == f"K10{hashlib.sha256(_ca(server)).hexdigest()}::server:{SECRET}\n"
    assert f"node join token written to {path}" in server.log()


def test_secret_authenticates_as_the_agent(server: ServerProcess) -> None:
    api = Api(server, cert=False, token=SECRET)
    r = api.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert r.status_code == 201, r.text
    info = r.json()["status"]["userInfo"]
    assert info["username"] == "kubepy-agent:server"
    assert set(info["groups"]) == {"system:nodes", "system:masters", "system:authenticated"}
    # what an agent does first: register its node
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "join-token-node"}}
    created = api.post("/api/v1/nodes", node)
    assert created.status_code == 201, created.text
    assert api.request("DELETE", "/api/v1/nodes/join-token-node").status_code == 200


@pytest.mark.parametrize("token", [
    "wrong", f"server:{SECRET}", SECRET + "x", SECRET.upper(),
], ids=["other", "with-username", "longer", "case"])
def test_other_tokens_are_unauthorized(server: ServerProcess, token: str) -> None:
    r = Api(server, cert=False, token=token).get("/api/v1/nodes")
    assert r.status_code == 401, r.text


def test_kubernetes_client_with_the_fetched_ca_and_the_secret(server: ServerProcess,
                                                              tmp_path: Path) -> None:
    ca_bundle, bearer = join_with_token(server.url, (server.data_dir / "token").read_text())
    assert ca_bundle == _ca(server) and bearer == SECRET
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca_bundle)
    config = kubernetes.client.Configuration()
    config.host = server.url
    config.ssl_ca_cert = str(ca_file)
    config.api_key = {"authorization": f"Bearer {bearer}"}
    with kubernetes.client.ApiClient(config) as client:
        names = [ns.metadata.name for ns in
                 kubernetes.client.CoreV1Api(client).list_namespace().items]
    assert "kube-system" in names


@pytest.mark.parametrize("make,refusal", [
    (lambda ca: f"K10{hashlib.sha256(b'another CA').hexdigest()}::server:{SECRET}",
     "does not match the token's CA hash"),
    (lambda ca: f"K10{hashlib.sha256(ca).hexdigest()[:-1]}::server:{SECRET}",
     "64 hex digits"),
], ids=["wrong-ca-hash", "truncated-hash"])
def test_join_refuses(server: ServerProcess, make, refusal: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit, match=refusal):
        join_with_token(server.url, make(_ca(server)))


def test_join_with_the_bare_secret_warns(server: ServerProcess,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kubepy.cli.agent"):
        ca_bundle, bearer = join_with_token(server.url, SECRET)
    assert (ca_bundle, bearer) == (_ca(server), SECRET)
    assert "names no CA hash" in caplog.text


def test_generated_secret_is_kept_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "gen"
    first = start_server(data, extra=API_ONLY)
    try:
        token = (data / "token").read_text()
        secret = token.strip().rsplit(":", 1)[1]
        assert len(secret) == 32 and secret != SECRET
        assert Api(first, cert=False, token=secret).get("/api/v1/nodes").status_code == 200
    finally:
        first.stop()
    second = start_server(data, extra=API_ONLY)
    try:
        assert (data / "token").read_text() == token
        assert Api(second, cert=False, token=secret).get("/api/v1/nodes").status_code == 200
    finally:
        second.stop()
