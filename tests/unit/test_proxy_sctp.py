"""SCTP where the kernel lacks it: SCTP service ports are left out (the rest is written),
and the probe asks a real iptables once and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from typing import Any

import pytest

from kubepy.client.factory import SharedInformerFactory
from kubepy.proxy import apply, model, rules
from kubepy.proxy.proxier import ServiceProxy
from test_proxy_proxier import FakeSource, Writer, _until


def _port(name: str, protocol: str) -> model.ServicePort:
    return model.ServicePort(namespace="default", name=name, port_name="", protocol=protocol,
                             cluster_ip="10.43.0.5", port=80)


@pytest.mark.parametrize("protocols,supported,kept", [
    (["TCP", "UDP", "SCTP"], {"TCP", "UDP", "SCTP"}, ["TCP", "UDP", "SCTP"]),
    (["TCP", "UDP", "SCTP"], {"TCP", "UDP"}, ["TCP", "UDP"]),
    (["SCTP"], {"TCP", "UDP"}, []),
    ([], {"TCP"}, []),
], ids=["all-supported", "sctp-left-out", "only-sctp", "none"])
def test_split_supported(protocols: list[str], supported: set[str], kept: list[str]) -> None:
    ports = [_port(f"s{i}", p) for i, p in enumerate(protocols)]
    got, left_out = model.split_supported(ports, frozenset(supported))
    assert [p.protocol for p in got] == kept
    assert sorted(p.protocol for p in left_out) == sorted(
        p for p in protocols if p not in supported)


def _mixed_service() -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": "mixed", "resourceVersion": "1"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.7",
                     "ports": [{"name": "t", "port": 80, "protocol": "TCP"},
                               {"name": "s", "port": 80, "protocol": "SCTP"}]}}


def _rejected_protocols(rs: rules.Ruleset) -> list[str]:
    return sorted(r[r.index("-p") + 1] for r in rs.filter[rules.SERVICES] if "-p" in r)


@pytest.mark.parametrize("sctp,protocols", [
    (True, ["sctp", "tcp"]), (False, ["tcp"]),
], ids=["kernel-has-sctp", "kernel-without-sctp"])
def test_proxy_leaves_out_sctp(sctp: bool, protocols: list[str],
                               caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        source = FakeSource([_mixed_service()])
        writer = Writer()
        factory = SharedInformerFactory(source)
        proxy = ServiceProxy(source, factory, node_name="n", node_ips=["192.168.0.2"],
                             cluster_cidr="10.42.0.0/16", writer=writer, sctp=sctp)
        proxy.start()
        try:
            await _until(lambda: len(writer.written) == 1)
            # no endpoints: each port is one REJECT rule in filter, with its protocol
            assert _rejected_protocols(writer.written[0]) == protocols
        finally:
            await proxy.stop()
            await factory.stop()

    with caplog.at_level("WARNING", logger="kubepy.proxy.proxier"):
        asyncio.run(main())
    warned = [r for r in caplog.records if "SCTP is not supported" in r.getMessage()]
    assert len(warned) == (0 if sctp else 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespace)")
def test_sctp_probe_in_netns() -> None:
    ns = f"kp-sctp-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ipt = apply.Iptables(["ip", "netns", "exec", ns])
        expected = subprocess.run(
            ["ip", "netns", "exec", ns, "iptables-restore", "--noflush"],
            input=apply.sctp_probe_input(remove=False), text=True,
            capture_output=True).returncode == 0
        if expected:  # the reference restore above left the chain: remove it again
            subprocess.run(["ip", "netns", "exec", ns, "iptables-restore", "--noflush"],
                           input=apply.sctp_probe_input(remove=True), text=True, check=True)
        assert asyncio.run(apply.sctp_supported(ipt)) is expected
        saved = subprocess.run(["ip", "netns", "exec", ns, "iptables-save", "-t", "filter"],
                               capture_output=True, text=True, check=True).stdout
        assert apply.SCTP_PROBE_CHAIN not in saved
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
