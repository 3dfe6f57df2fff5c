"""How ``kubepy server`` starts its node (pure parts, as tables): the agent's and the DNS
server's command lines, ``--disable``, when no agent runs, the kube-dns Service and the
objects ``kubepy dns`` publishes, the CA an agent trusts for kubelet clients."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Any

import pytest

from kubepy.apiserver.bootstrap import kube_dns_service
from kubepy.cli import agent, server
from kubepy.dns import publish


def server_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    server.add_parser(sub)
    return parser.parse_args(["server", *argv])


def agent_argv(*argv: str) -> list[str]:
    return server.agent_args(server_args(*argv), server_url="https://127.0.0.1:6443",
                             kubeconfig=Path("/d/cred/node.kubeconfig"), data_dir=Path("/d"),
                             node_name="n1", node_ip="192.0.2.2")


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


@pytest.mark.parametrize("argv, flag, want", [
    ((), "--node-label", ["node-role.kubernetes.io/control-plane=true",
                          "node-role.kubernetes.io/master=true"]),
    (("--node-label", "zone=a"), "--node-label",
     ["node-role.kubernetes.io/control-plane=true", "node-role.kubernetes.io/master=true",
      "zone=a"]),
    ((), "--cluster-dns", ["10.43.0.10"]),
    (("--cluster-dns", "10.96.0.10", "--cluster-domain", "example.local"), "--cluster-domain",
     ["example.local"]),
    (("--cluster-cidr", "10.236.0.0/16"), "--cluster-cidr", ["10.236.0.0/16"]),
    (("--kubelet-port", "0"), "--kubelet-port", ["0"]),
    ((), "--bridge", []),
    (("--bridge", "kpy1", "--netns-dir", "/t/ns", "--cgroup-parent", "cg", "--cni-bin-dir",
      "/opt/cni"), "--bridge", ["kpy1"]),
    (("--bridge", "kpy1", "--netns-dir", "/t/ns"), "--netns-dir", ["/t/ns"]),
    (("--cgroup-parent", "cg"), "--cgroup-parent", ["cg"]),
    (("--insecure-registry", "r:5000"), "--insecure-registry", ["r:5000"]),
    ((), "--node-name", ["n1"]),
    ((), "--kubeconfig", ["/d/cred/node.kubeconfig"]),
    ((), "--eviction-hard", []),
    (("--eviction-hard", "memory.available<1Mi"), "--eviction-hard", ["memory.available<1Mi"]),
], ids=["control-plane-labels", "extra-label", "cluster-dns", "cluster-domain",
        "cluster-cidr", "kubelet-port", "no-bridge-by-default", "bridge", "netns-dir",
        "cgroup-parent", "insecure-registry", "node-name", "node-kubeconfig",
        "no-eviction-hard-by-default", "eviction-hard"])
def test_agent_args(argv: tuple[str, ...], flag: str, want: list[str]) -> None:
    assert flag_values(agent_argv(*argv), flag) == want


@pytest.mark.parametrize("argv, present", [
    ((), False), (("--disable-kube-proxy",), True)])
def test_agent_args_kube_proxy(argv: tuple[str, ...], present: bool) -> None:
    assert ("--disable-kube-proxy" in agent_argv(*argv)) is present


def test_agent_args_parse_as_agent_flags() -> None:
    """Every flag the server passes is one ``kubepy agent`` knows."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    agent.add_parser(sub)
    parsed = parser.parse_args(["agent", *agent_argv(
        "--bridge", "b", "--netns-dir", "/n", "--cgroup-parent", "c", "--cni-bin-dir", "/x",
        "--insecure-registry", "r", "--disable-kube-proxy", "--node-label", "a=b",
        "--eviction-hard", "")])
    assert (parsed.container_log_max_size, parsed.container_log_max_files,
            parsed.image_gc_high_threshold, parsed.image_gc_low_threshold) == ("10Mi", 5, 85, 80)
    assert (parsed.bridge, parsed.cluster_cidr, parsed.disable_kube_proxy) == (
        "b", "10.42.0.0/16", True)
    assert parsed.eviction_hard == ""
    assert parsed.watch_parent


@pytest.mark.parametrize("argv, want", [
    ((), set()),
    (("--disable", "coredns"), {"coredns"}),
    (("--disable", "coredns,servicelb", "--disable", "traefik"),
     {"coredns", "servicelb", "traefik"}),
], ids=["none", "one", "comma-and-repeat"])
def test_disabled(argv: tuple[str, ...], want: set[str]) -> None:
    assert server.disabled(server_args(*argv)) == want


def test_disable_unknown_is_an_error() -> None:
    with pytest.raises(SystemExit, match="unknown dns"):
        server.disabled(server_args("--disable", "dns"))


@pytest.mark.parametrize("argv, want", [
    ((), []), (("--disable", "servicelb"), ["*,-servicelb"])])
def test_components_without_servicelb(argv: tuple[str, ...], want: list[str]) -> None:
    out = server.component_args(server_args(*argv), Path("/k"))
    assert flag_values(out, "--controllers") == want


@pytest.mark.parametrize("argv, euid, want", [
    ((), 0, None),
    (("--disable-agent",), 0, "--disable-agent"),
    ((), 1000, "not running as root (pods need runc, CNI and iptables)"),
], ids=["root", "disabled", "not-root"])
def test_agent_skip_reason(argv: tuple[str, ...], euid: int, want: str | None) -> None:
    assert server.agent_skip_reason(server_args(*argv), euid=euid) == want


@pytest.mark.parametrize("argv, want", [
    ((), None),
    (("--cluster-dns", "10.96.0.10"), "--cluster-dns 10.96.0.10 is outside --service-cidr "
                                      "10.43.0.0/16"),
    (("--cluster-dns", "10.96.0.10", "--service-cidr", "10.96.0.0/12"), None),
    (("--cluster-dns", "nonsense"), "'nonsense' does not appear to be an IPv4 or IPv6 "
                                    "address"),
], ids=["default", "outside", "inside", "not-an-ip"])
def test_cluster_dns_problem(argv: tuple[str, ...], want: str | None) -> None:
    assert server.cluster_dns_problem(server_args(*argv)) == want


def test_dns_args_listen_on_the_node_address() -> None:
    out = server.dns_args(server_args("--cluster-dns-port", "0"), kubeconfig=Path("/k"),
                          node_name="n1", node_ip="192.0.2.2")
    assert flag_values(out, "--listen") == ["192.0.2.2:0"]
    assert flag_values(out, "--cluster-dns") == ["10.43.0.10"]


def test_kube_dns_service() -> None:
    svc = kube_dns_service("10.43.0.10")
    assert svc["metadata"]["namespace"] == "kube-system"
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert svc["metadata"]["labels"]["kubernetes.io/name"] == "CoreDNS"
    assert svc["spec"]["clusterIP"] == "10.43.0.10" and "selector" not in svc["spec"]
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]


def test_published_endpoints_match_the_service_ports() -> None:
    """The proxy pairs service and slice ports by name and protocol: dns/UDP, dns-tcp/TCP."""
    svc_ports = {(p["name"], p["protocol"]) for p in kube_dns_service("10.43.0.10")["spec"]
                 ["ports"]}
    es = publish.endpoint_slice("192.0.2.2", 10053, node_name="n1")
    ep = publish.endpoints("192.0.2.2", 10053)
    assert {(p["name"], p["protocol"]) for p in es["ports"]} == svc_ports - {("metrics", "TCP")}
    assert {p["port"] for p in es["ports"]} == {10053}
    assert es["endpoints"] == [{"addresses": ["192.0.2.2"], "nodeName": "n1", "conditions": {
        "ready": True, "serving": True, "terminating": False}}]
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
    assert ep["subsets"][0]["addresses"] == [{"ip": "192.0.2.2"}]


def kubeconfig_text(cluster: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                           "contexts": [{"name": "c", "context": {"cluster": "k",
                                                                  "user": "u"}}],
                           "clusters": [{"name": "other", "cluster": {
                               "certificate-authority-data": base64.b64encode(b"NO").decode()}},
                                        {"name": "k", "cluster": cluster}],
                           "users": [{"name": "u", "user": {}}]})


@pytest.mark.parametrize("cluster, want", [
    ({"certificate-authority-data": base64.b64encode(b"PEM-DATA").decode()}, b"PEM-DATA"),
    ({"certificate-authority": "ca.crt"}, b"PEM-FILE"),
    ({"insecure-skip-tls-verify": True}, b""),
], ids=["data", "file-relative-to-kubeconfig", "none"])
def test_kubeconfig_ca_pem(tmp_path: Path, cluster: dict[str, Any], want: bytes) -> None:
    (tmp_path / "ca.crt").write_bytes(b"PEM-FILE")
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(cluster))
    assert agent.kubeconfig_ca_pem(path) == want
