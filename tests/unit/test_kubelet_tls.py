"""The kubelet API's authorization rule and the choice of its serving certificate."""

from __future__ import annotations

import shutil
import ssl
from pathlib import Path

import pytest

from kubepy.apiserver import certs
from kubepy.kubelet.server.tls import (PROVIDED_CERT, PROVIDED_KEY, SELF_SIGNED_CERT,
                                       authorized, forbidden_message, provided_usable,
                                       request_attributes, serving_names, serving_pair)


@pytest.mark.parametrize("identity, allowed", [
    (("kube-apiserver-kubelet-client", []), True),
    (("kube-apiserver-kubelet-client", ["system:masters"]), True),
    (("system:admin", ["system:masters"]), True),
    (("alice", ["developers", "system:masters"]), True),
    (("system:node:node-1", ["system:nodes"]), False),
    (("kube-apiserver-kubelet-client-x", []), False),
    (("alice", ["system:master"]), False),
    (("", []), False),
])
def test_authorized_table(identity: tuple[str, list[str]], allowed: bool) -> None:
    assert authorized(identity) is allowed


@pytest.mark.parametrize("method, path, expected", [
    ("GET", "/stats/summary", ("get", "stats")),
    ("GET", "/stats", ("get", "stats")),
    ("GET", "/statsx", ("get", "proxy")),
    ("GET", "/metrics/resource", ("get", "metrics")),
    ("GET", "/logs/syslog", ("get", "log")),
    ("GET", "/containerLogs/ns/pod/c", ("get", "proxy")),
    ("POST", "/exec/ns/pod/c", ("create", "proxy")),
    ("GET", "/portForward/ns/pod", ("get", "proxy")),
    ("GET", "/healthz", ("get", "proxy")),
    ("PUT", "/spec/", ("update", "spec")),
    ("DELETE", "/checkpoint/ns/pod/c", ("delete", "checkpoint")),
])
def test_request_attributes_table(method: str, path: str, expected: tuple[str, str]) -> None:
    assert request_attributes(method, path) == expected


def test_forbidden_message() -> None:
    assert forbidden_message(("bob", ["system:nodes"]), "POST", "/exec/default/web/app") == \
        "Forbidden (user=bob, verb=create, resource=nodes, subresource=proxy)"


def _ca(tmp: Path) -> certs.KeyPair:
    return certs.ensure_ca(tmp / "tls")


def _issue(ca: certs.KeyPair, cert_dir: Path, node: str, ip: str, **kw: object) -> None:
    dns, ips = serving_names(node, ip)
    certs.issue(ca, certs.KeyPair(cert_dir / PROVIDED_CERT, cert_dir / PROVIDED_KEY),
                common_name=f"system:node:{node}", dns_names=dns, ip_addresses=ips,
                server=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("node, ip, issued_for, days, chosen", [
    ("node-1", "10.0.0.5", ("node-1", "10.0.0.5"), 365, "provided"),
    ("node-1", "10.0.0.6", ("node-1", "10.0.0.5"), 365, "self-signed"),   # IP moved
    ("node-2", "10.0.0.5", ("node-1", "10.0.0.5"), 365, "self-signed"),   # another node
    ("node-1", "10.0.0.5", ("node-1", "10.0.0.5"), 3, "self-signed"),     # about to expire
    ("node-1", "10.0.0.5", None, 0, "self-signed"),                       # none provided
])
def test_serving_pair_choice_table(tmp_path: Path, node: str, ip: str,
                                   issued_for: tuple[str, str] | None, days: int,
                                   chosen: str) -> None:
    ca = _ca(tmp_path)
    cert_dir = tmp_path / "pki"
    cert_dir.mkdir()
    if issued_for is not None:
        _issue(ca, cert_dir, *issued_for, days=days)
    cert, key = serving_pair(cert_dir, node, ip)
    assert cert.name == (PROVIDED_CERT if chosen == "provided" else SELF_SIGNED_CERT)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))  # a usable pair either way


def test_provided_pair_checks_key_and_ca(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "a")
    other = _ca(tmp_path / "b")
    cert_dir = tmp_path / "pki"
    _issue(ca, cert_dir, "node-1", "10.0.0.5")
    cert, key = cert_dir / PROVIDED_CERT, cert_dir / PROVIDED_KEY
    ca_pem, other_pem = ca.cert_path.read_bytes(), other.cert_path.read_bytes()
    assert provided_usable(cert, key, "node-1", "10.0.0.5", ca_pem)
    assert not provided_usable(cert, key, "node-1", "10.0.0.5", other_pem)
    shutil.copy(other.key_path, key)  # a key that does not belong to the certificate
    assert not provided_usable(cert, key, "node-1", "10.0.0.5")
    assert serving_pair(cert_dir, "node-1", "10.0.0.5")[0].name == SELF_SIGNED_CERT


def test_server_issues_its_nodes_serving_cert_once_per_ca_and_address(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from kubepy.cli.server import agent_cert_dir, ensure_node_serving_cert

    ca, other = _ca(tmp_path / "a"), _ca(tmp_path / "b")
    cert_dir = agent_cert_dir(tmp_path / "data")
    assert cert_dir == (tmp_path / "data").resolve() / "agent" / "pki"
    steps = [(ca, "10.0.0.5", True), (ca, "10.0.0.5", False), (ca, "10.0.0.6", True),
             (other, "10.0.0.6", True), (other, "10.0.0.6", False)]
    for issuer, ip, issued in steps:
        assert ensure_node_serving_cert(issuer, cert_dir, "node-1", ip) is issued
        cert_path, key_path = serving_pair(cert_dir, "node-1", ip)
        assert cert_path.name == PROVIDED_CERT
        assert provided_usable(cert_path, key_path, "node-1", ip,
                               issuer.cert_path.read_bytes())
    cert = x509.load_pem_x509_certificate((cert_dir / PROVIDED_CERT).read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["localhost", "node-1"]
    assert sorted(map(str, sans.get_values_for_type(x509.IPAddress))) == \
        ["10.0.0.6", "127.0.0.1"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]



@pytest.mark.parametrize("server_hostname", ["node-1", "localhost", "127.0.0.1"])
def test_kubelet_port_presents_a_cert_the_cluster_ca_verifies(tmp_path: Path,
                                                            server_hostname: str) -> None:
    import asyncio

    from kubepy.cli.server import ensure_node_serving_cert
    from kubepy.kubelet.server import KubeletServer

    ca = _ca(tmp_path)
    ensure_node_serving_cert(ca, tmp_path / "pki", "node-1", "127.0.0.1")
    kubelet = KubeletServer(None, client_ca_pem=ca.cert_path.read_bytes(),  # type: ignore[arg-type]
                            cert_dir=tmp_path / "pki", node_name="node-1", node_ip="127.0.0.1")

    async def main() -> bytes:
        port = await kubelet.start("127.0.0.1", 0)
        try:
            client = ssl.create_default_context(cafile=str(ca.cert_path))  # verifies names
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname=server_hostname)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            raw = await reader.read()
            writer.close()
            return raw
        finally:
            await kubelet.stop()

    assert asyncio.run(main()).startswith(b"HTTP/1.1 401")  # verified TLS; no client cert
