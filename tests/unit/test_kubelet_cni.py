"""CNI configuration building, result parsing, libcni-style chaining and leftover detection."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubepy.kubelet.network import cni, iptables
from kubepy.kubelet.network.invoke import (
    CNIError, ResultCache, add_network_list, check_network_list, del_network_list,
)


def test_conflist_shape() -> None:
    conf = cni.build_conflist(pod_cidr="10.244.3.0/24", ipam_data_dir="/d/ipam")
    assert conf["cniVersion"] == "1.0.0" and conf["name"] == "kubepy"
    bridge, portmap = conf["plugins"]
    assert bridge == {
        "type": "bridge", "bridge": "kubepy0", "isGateway": True, "ipMasq": False,
        "hairpinMode": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.3.0/24"}]],
                 "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/d/ipam"},
    }
    assert portmap["type"] == "portmap" and portmap["capabilities"] == {"portMappings": True}


@pytest.mark.parametrize("cidr,route", [("10.244.0.0/16", "0.0.0.0/0"),
                                        ("fd00:10:244::/64", "::/0")], ids=["v4", "v6"])
def test_conflist_default_route_by_family(cidr: str, route: str) -> None:
    conf = cni.build_conflist(pod_cidr=cidr, ipam_data_dir="/x", mtu=1400, bridge="br9")
    assert conf["plugins"][0]["ipam"]["routes"] == [{"dst": route}]
    assert conf["plugins"][0]["mtu"] == 1400 and conf["plugins"][0]["bridge"] == "br9"


@pytest.mark.parametrize("cidr,ip_masq,subnets", [
    ("10.244.3.0/24", False, ["10.244.3.0/24"]),
    ("fd00:10:244::/64", True, []),
], ids=["v4-node-rule", "v6-bridge-ipmasq"])
def test_masquerade_by_family(cidr: str, ip_masq: bool, subnets: list[str]) -> None:
    conf = cni.build_conflist(pod_cidr=cidr, ipam_data_dir="/x")
    assert conf["plugins"][0]["ipMasq"] is ip_masq
    assert cni.masquerade_subnets(conf) == subnets


def test_masquerade_rule() -> None:
    assert cni.masquerade_rule("kubepy", "10.244.3.0/24") == [
        "-s", "10.244.3.0/24", "!", "-d", "10.244.3.0/24", "-m", "addrtype", "!",
        "--dst-type", "MULTICAST", "-m", "comment", "--comment", 'name: "kubepy" id: "node-masquerade"',
        "-j", "MASQUERADE"]


HOSTPORT = [{"hostPort": 80, "containerPort": 8080, "protocol": "tcp"}]


@pytest.mark.parametrize("runtime_config,types", [
    ({"portMappings": []}, ["bridge"]),
    ({}, ["bridge"]),
    ({"portMappings": HOSTPORT}, ["bridge", "portmap"]),
], ids=["no-mappings", "no-capability-args", "hostport"])
def test_plugins_for(runtime_config: dict[str, Any], types: list[str]) -> None:
    conf = cni.build_conflist(pod_cidr="10.244.3.0/24", ipam_data_dir="/x")
    got = cni.plugins_for(conf, runtime_config)
    assert [p["type"] for p in got["plugins"]] == types
    assert (got["name"], got["cniVersion"]) == (conf["name"], conf["cniVersion"])
    assert len(conf["plugins"]) == 2   # not modified


def test_conflist_rejects_host_bits() -> None:
    with pytest.raises(ValueError):
        cni.build_conflist(pod_cidr="10.244.3.7/24", ipam_data_dir="/x")


def _pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"spec": {"containers": containers, "initContainers": init or []}}


@pytest.mark.parametrize("pod,want", [
    (_pod([{"name": "a", "ports": [{"containerPort": 80}]}]), []),
    (_pod([{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}]),
     [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
    (_pod([{"name": "a", "ports": [{"containerPort": 53, "hostPort": 53, "protocol": "UDP",
                                    "hostIP": "127.0.0.1"}]}]),
     [{"hostPort": 53, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}]),
    (_pod([{"name": "a", "ports": [{"containerPort": 1, "hostPort": 2}]}],
          init=[{"name": "i", "ports": [{"containerPort": 3, "hostPort": 4}]}]),
     [{"hostPort": 4, "containerPort": 3, "protocol": "tcp"},
      {"hostPort": 2, "containerPort": 1, "protocol": "tcp"}]),
    ({"spec": {}}, []),
], ids=["no-hostport", "tcp-default", "udp-hostip", "init-first", "empty-spec"])
def test_port_mappings(pod: dict[str, Any], want: list[dict[str, Any]]) -> None:
    assert cni.port_mappings(pod) == want


LIST = {"cniVersion": "1.0.0", "name": "n", "plugins": [
    {"type": "bridge", "bridge": "b"},
    {"type": "portmap", "capabilities": {"portMappings": True}},
]}


@pytest.mark.parametrize("plugin,prev,rt,want", [
    (LIST["plugins"][0], None, {"portMappings": [1]},
     {"type": "bridge", "bridge": "b", "name": "n", "cniVersion": "1.0.0"}),
    (LIST["plugins"][1], {"ips": []}, {"portMappings": [1], "bandwidth": {}},
     {"type": "portmap", "capabilities": {"portMappings": True}, "name": "n",
      "cniVersion": "1.0.0", "prevResult": {"ips": []}, "runtimeConfig": {"portMappings": [1]}}),
    (LIST["plugins"][1], None, {}, {"type": "portmap", "capabilities": {"portMappings": True},
                                    "name": "n", "cniVersion": "1.0.0"}),
], ids=["no-capability-no-runtimeconfig", "capability-filtered-with-prev", "empty-runtime"])
def test_plugin_stdin(plugin: dict[str, Any], prev: dict[str, Any] | None,
                      rt: dict[str, Any], want: dict[str, Any]) -> None:
    assert cni.plugin_stdin(LIST, plugin, prev_result=prev, runtime_config=rt) == want


RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "kubepy0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/ns"}],
    "ips": [{"address": "fd00::5/64", "interface": 2},
            {"address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 2},
            {"address": "10.244.1.1/24", "interface": 0}],
}


@pytest.mark.parametrize("result,ips,cidrs,gws", [
    (RESULT, ["10.244.1.5", "fd00::5"], ["10.244.1.5/24", "fd00::5/64"], ["10.244.1.1"]),
    ({"ips": [{"address": "10.0.0.9/16"}]}, ["10.0.0.9"], ["10.0.0.9/16"], []),
    ({"cniVersion": "1.0.0"}, [], [], []),
], ids=["v4-first-and-only-eth0", "no-interface-index", "no-ips"])
def test_parse_result(result: dict[str, Any], ips: list[str], cidrs: list[str],
                      gws: list[str]) -> None:
    got = cni.parse_result(result)
    assert (got.ips, got.cidrs, got.gateways) == (ips, cidrs, gws)
    assert got.pod_ip == (ips[0] if ips else None)
    assert got.status_pod_ips() == [{"ip": i} for i in ips]


def test_parse_result_bad_interface_index() -> None:
    with pytest.raises(ValueError):
        cni.parse_result({"interfaces": [], "ips": [{"address": "1.2.3.4/8", "interface": 3}]})


@pytest.mark.parametrize("out,want", [
    (b'{"cniVersion":"1.0.0","code":7,"msg":"bad","details":"x"}', (7, "bad", "x")),
    (b"panic: boom\n", (999, "panic: boom", "")),
    (b"[1]", (999, "[1]", "")),
], ids=["spec-error", "plain-text", "non-object"])
def test_parse_error(out: bytes, want: tuple[int, str, str]) -> None:
    assert cni.parse_error(out) == want


def test_chain_names_match_plugins() -> None:
    # values observed from containernetworking-plugins 1.1.1 for network "kubepy", id "a"
    assert cni.iptables_chains("kubepy", "a")[:2] == [
        "CNI-941504c6405da133bfd7b4ac", "CNI-DN-941504c6405da133bfd7b"]
    assert all(len(c) == 28 for c in cni.iptables_chains("kubepy", "x" * 64))


class FakeRunner:
    """Records calls; ADD returns a result naming the plugin, so chaining is visible."""

    def __init__(self, fail: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail = fail

    async def run(self, plugin_type: str, command: str, *, container_id: str, netns: str,
                  ifname: str, conf: dict[str, Any], args: str = "") -> dict[str, Any] | None:
        self.calls.append((plugin_type, command, conf))
        if (plugin_type, command) in self.fail:
            raise CNIError(plugin_type, command, 11, "injected")
        return {"by": plugin_type} if command == "ADD" else None


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_add_chains_prev_result_in_order() -> None:
    r = FakeRunner()
    result = _run(add_network_list(r, LIST, container_id="c", netns="/ns", ifname="eth0",
                                   runtime_config={"portMappings": []}))
    assert [(p, c) for p, c, _ in r.calls] == [("bridge", "ADD"), ("portmap", "ADD")]
    assert "prevResult" not in r.calls[0][2]
    assert r.calls[1][2]["prevResult"] == {"by": "bridge"}
    assert result == {"by": "portmap"}


def test_del_reverse_order_all_tried_first_error_raised() -> None:
    r = FakeRunner(fail=frozenset({("portmap", "DEL")}))
    with pytest.raises(CNIError, match="portmap DEL"):
        _run(del_network_list(r, LIST, container_id="c", netns="", ifname="eth0",
                              runtime_config={}, prev_result={"cached": 1}))
    assert [(p, c) for p, c, _ in r.calls] == [("portmap", "DEL"), ("bridge", "DEL")]
    assert all(conf["prevResult"] == {"cached": 1} for _, _, conf in r.calls)


def test_check_in_order_with_cached_result() -> None:
    r = FakeRunner()
    _run(check_network_list(r, LIST, container_id="c", netns="/ns", ifname="eth0",
                            runtime_config={}, prev_result={"cached": 1}))
    assert [(p, c) for p, c, _ in r.calls] == [("bridge", "CHECK"), ("portmap", "CHECK")]
    assert all(conf["prevResult"] == {"cached": 1} for _, _, conf in r.calls)


def test_result_cache_roundtrip(tmp_path: Any) -> None:
    cache = ResultCache(tmp_path / "r")
    assert cache.entries() == [] and cache.load("n", "c", "eth0") is None
    entry = {"network": "n", "containerId": "c", "ifName": "eth0", "result": {"ips": []}}
    cache.save(entry)
    assert cache.load("n", "c", "eth0") == entry and cache.entries() == [entry]
    cache.delete("n", "c", "eth0")
    cache.delete("n", "c", "eth0")
    assert cache.entries() == []


SAVE = r'''*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-aaa - [0:0]
:CNI-DN-aaa - [0:0]
:CNI-bbb - [0:0]
:CNI-DN-bbb - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-HOSTPORT-MASQ - [0:0]
:CNI-HOSTPORT-SETMARK - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A POSTROUTING -s 10.244.77.2/32 -m comment --comment "name: \"kubepy\" id: \"a\"" -j CNI-aaa
-A POSTROUTING -s 10.9.0.2/32 -m comment --comment "name: \"other\" id: \"b\"" -j CNI-bbb
-A CNI-aaa -d 10.244.77.0/24 -m comment --comment "name: \"kubepy\" id: \"a\"" -j ACCEPT
-A CNI-bbb -d 10.9.0.0/24 -m comment --comment "name: \"other\" id: \"b\"" -j ACCEPT
-A CNI-DN-aaa -p tcp -m tcp --dport 18080 -j DNAT --to-destination 10.244.77.2:8080
-A CNI-DN-bbb -p tcp -m tcp --dport 18081 -j DNAT --to-destination 10.9.0.2:8080
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"kubepy\" id: \"a\"" -j CNI-DN-aaa
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"other\" id: \"b\"" -j CNI-DN-bbb
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
COMMIT
'''


NODE_MASQ = r'''*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -s 10.244.77.0/24 ! -d 10.244.77.0/24 -m addrtype ! --dst-type MULTICAST -m comment --comment "name: \"kubepy\" id: \"node-masquerade\"" -j MASQUERADE
-A POSTROUTING -s 10.9.0.0/24 ! -d 10.9.0.0/24 -m addrtype ! --dst-type MULTICAST -m comment --comment "name: \"other\" id: \"node-masquerade\"" -j MASQUERADE
-A POSTROUTING -s 10.8.0.0/16 -m comment --comment "kubepy-lookalike" -j MASQUERADE
COMMIT
'''


def _without_other(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "bbb" not in line)


@pytest.mark.parametrize("text,extra,want", [
    (SAVE, (), [
        ["-t", "nat", "-D", "POSTROUTING", "-s", "10.244.77.2/32", "-m", "comment",
         "--comment", 'name: "kubepy" id: "a"', "-j", "CNI-aaa"],
        ["-t", "nat", "-D", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment",
         'dnat name: "kubepy" id: "a"', "-j", "CNI-DN-aaa"],
        ["-t", "nat", "-F", "CNI-aaa"], ["-t", "nat", "-F", "CNI-DN-aaa"],
        ["-t", "nat", "-X", "CNI-aaa"], ["-t", "nat", "-X", "CNI-DN-aaa"]]),
    (_without_other(SAVE), (), [
        ["-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
         "CNI-HOSTPORT-DNAT"],
        ["-t", "nat", "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
         "CNI-HOSTPORT-DNAT"],
        ["-t", "nat", "-D", "POSTROUTING", "-m", "comment", "--comment",
         "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ"],
        ["-t", "nat", "-D", "POSTROUTING", "-s", "10.244.77.2/32", "-m", "comment",
         "--comment", 'name: "kubepy" id: "a"', "-j", "CNI-aaa"],
        *[["-t", "nat", op, c] for op in ("-F", "-X") for c in
          ("CNI-aaa", "CNI-DN-aaa", "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ",
           "CNI-HOSTPORT-SETMARK")]]),
    ("*nat\n:PREROUTING ACCEPT [0:0]\n:CNI-DN-zzz - [0:0]\nCOMMIT\n", ["CNI-DN-zzz", "CNI-q"],
     [["-t", "nat", "-F", "CNI-DN-zzz"], ["-t", "nat", "-X", "CNI-DN-zzz"]]),
    ("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", (), []),
    (NODE_MASQ, (), [
        ["-t", "nat", "-D", "POSTROUTING", "-s", "10.244.77.0/24", "!", "-d", "10.244.77.0/24",
         "-m", "addrtype", "!", "--dst-type", "MULTICAST", "-m", "comment", "--comment",
         'name: "kubepy" id: "node-masquerade"', "-j", "MASQUERADE"]]),
], ids=["other-network-keeps-shared", "only-ours-removes-shared", "cached-names-empty-chain",
        "clean-table", "node-masquerade-rule-only-ours"])
def test_iptables_cleanup_commands(text: str, extra: Any, want: list[list[str]]) -> None:
    assert iptables.cleanup_commands(text, "kubepy", extra) == want
