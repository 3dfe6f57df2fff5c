"""Service-link variables (pkg/kubelet/envvars) and the envFrom name check, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.runtime.env import is_env_var_name, service_env, service_link_vars

Obj = dict[str, Any]


def svc(name: str, ns: str, ip: str, *ports: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": list(ports)}}


KUBERNETES = svc("kubernetes", "default", "10.0.0.1", {"name": "https", "port": 443})
KUBERNETES_VARS = {
    "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.0.0.1:443",
    "KUBERNETES_PORT_443_TCP": "tcp://10.0.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
    "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.0.0.1"}


@pytest.mark.parametrize("service,expected", [
    pytest.param(svc("redis-master", "ns", "10.0.0.11", {"port": 6379}), [
        ("REDIS_MASTER_SERVICE_HOST", "10.0.0.11"), ("REDIS_MASTER_SERVICE_PORT", "6379"),
        ("REDIS_MASTER_PORT", "tcp://10.0.0.11:6379"),
        ("REDIS_MASTER_PORT_6379_TCP", "tcp://10.0.0.11:6379"),
        ("REDIS_MASTER_PORT_6379_TCP_PROTO", "tcp"), ("REDIS_MASTER_PORT_6379_TCP_PORT", "6379"),
        ("REDIS_MASTER_PORT_6379_TCP_ADDR", "10.0.0.11")], id="one-unnamed-port"),
    pytest.param(svc("dns", "ns", "10.0.0.10", {"name": "dns-udp", "port": 53, "protocol": "UDP"},
                     {"name": "dns-tcp", "port": 53, "protocol": "TCP"}), [
        ("DNS_SERVICE_HOST", "10.0.0.10"), ("DNS_SERVICE_PORT", "53"),
        ("DNS_SERVICE_PORT_DNS_UDP", "53"), ("DNS_SERVICE_PORT_DNS_TCP", "53"),
        ("DNS_PORT", "udp://10.0.0.10:53"),
        ("DNS_PORT_53_UDP", "udp://10.0.0.10:53"), ("DNS_PORT_53_UDP_PROTO", "udp"),
        ("DNS_PORT_53_UDP_PORT", "53"), ("DNS_PORT_53_UDP_ADDR", "10.0.0.10"),
        ("DNS_PORT_53_TCP", "tcp://10.0.0.10:53"), ("DNS_PORT_53_TCP_PROTO", "tcp"),
        ("DNS_PORT_53_TCP_PORT", "53"), ("DNS_PORT_53_TCP_ADDR", "10.0.0.10")],
        id="named-ports-and-protocols"),
    pytest.param(svc("v6", "ns", "fd00::a", {"port": 80, "protocol": "SCTP"}), [
        ("V6_SERVICE_HOST", "fd00::a"), ("V6_SERVICE_PORT", "80"),
        ("V6_PORT", "sctp://[fd00::a]:80"), ("V6_PORT_80_SCTP", "sctp://[fd00::a]:80"),
        ("V6_PORT_80_SCTP_PROTO", "sctp"), ("V6_PORT_80_SCTP_PORT", "80"),
        ("V6_PORT_80_SCTP_ADDR", "fd00::a")], id="ipv6-host-port"),
])
def test_service_link_vars(service: Obj, expected: list[tuple[str, str]]) -> None:
    assert service_link_vars(service) == expected


WEB = svc("web", "app", "10.0.0.20", {"port": 80})
WEB_VARS = dict(service_link_vars(WEB))


@pytest.mark.parametrize("services,namespace,links,expected", [
    pytest.param([KUBERNETES, WEB], "app", True, {**KUBERNETES_VARS, **WEB_VARS}, id="links"),
    pytest.param([KUBERNETES, WEB], "app", False, KUBERNETES_VARS, id="links-disabled"),
    pytest.param([KUBERNETES, WEB], "other", True, KUBERNETES_VARS, id="other-namespace"),
    pytest.param([svc("web", "app", "None", {"port": 80}),
                  svc("ext", "app", "", {"port": 80})], "app", True, {},
                 id="headless-and-no-ip-skipped"),
    # as getServiceEnvVarMap: a service of the pod's namespace replaces the default one
    pytest.param([KUBERNETES, svc("kubernetes", "app", "10.0.0.99", {"port": 1})], "app", True,
                 dict(service_link_vars(svc("kubernetes", "app", "10.0.0.99", {"port": 1}))),
                 id="namespace-kubernetes-replaces-default"),
    pytest.param([svc("kubernetes", "app", "10.0.0.99", {"port": 1}), KUBERNETES], "app", True,
                 dict(service_link_vars(svc("kubernetes", "app", "10.0.0.99", {"port": 1}))),
                 id="namespace-kubernetes-kept-over-later-default"),
    pytest.param([svc("kubernetes", "app", "10.0.0.99", {"port": 1})], "app", True,
                 dict(service_link_vars(svc("kubernetes", "app", "10.0.0.99", {"port": 1}))),
                 id="namespace-kubernetes-without-default"),
    pytest.param([], "app", True, {}, id="none"),
])
def test_service_env(services: list[Obj], namespace: str, links: bool,
                     expected: dict[str, str]) -> None:
    assert service_env(services, namespace, enable_service_links=links) == expected


@pytest.mark.parametrize("name,valid", [
    ("A", True), ("a_b", True), ("_x", True), ("my.var-1", True), ("-dash", True),
    ("1abc", False), ("a b", False), ("a=b", False), ("", False), ("ä", False)])
def test_is_env_var_name(name: str, valid: bool) -> None:
    assert is_env_var_name(name) is valid
