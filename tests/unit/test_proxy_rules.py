"""Tables of generated iptables rules for the service proxy (kubepy.proxy.model/rules/apply).

Each case builds Services and EndpointSlices, generates the restore input and compares the
rules of the named chains, in order, with the expected lines. Hashes are kube-proxy's
(ns1/svc1:p80 tcp -> XPGD46QRK7WJZT7O, its 10.180.0.1:80 endpoint -> SXIVWICOYRO3J4NJ, the
values in kube-proxy's own tests), so chain names are stable across restarts.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.proxy import apply, model, rules

SVC = "KUBEPY-SVC-XPGD46QRK7WJZT7O"
SVL = "KUBEPY-SVL-XPGD46QRK7WJZT7O"
EXT = "KUBEPY-EXT-XPGD46QRK7WJZT7O"
FW = "KUBEPY-FW-XPGD46QRK7WJZT7O"
SEP1 = "KUBEPY-SEP-SXIVWICOYRO3J4NJ"  # ns1/svc1:p80 tcp 10.180.0.1:80
NODE = rules.NodeConfig("node-a", ("192.168.0.2",), "10.180.0.0/16")


def sep(ip: str, port: int = 80, name: str = "ns1/svc1:p80", proto: str = "tcp") -> str:
    return f"KUBEPY-SEP-{rules._hash(name + proto + f'{ip}:{port}')}"


def service(**spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    ports = spec.pop("ports", [{"name": "p80", "port": 80, "targetPort": 80}])
    return {"metadata": {"namespace": "ns1", "name": "svc1"}, "status": status,
            "spec": {"type": "ClusterIP", "clusterIP": "172.30.0.41", "ports": ports, **spec}}


def ep(ip: str, node: str = "node-a", **cond: bool) -> dict[str, Any]:
    return {"addresses": [ip], "nodeName": node, "conditions": cond or {"ready": True}}


def eslice(*endpoints: dict[str, Any], ports: list[dict[str, Any]] | None = None,
           name: str = "svc1-x") -> dict[str, Any]:
    return {"metadata": {"namespace": "ns1", "name": name,
                         "labels": {"kubernetes.io/service-name": "svc1"}},
            "addressType": "IPv4", "endpoints": list(endpoints),
            "ports": ports if ports is not None else [{"name": "p80", "port": 80,
                                                        "protocol": "TCP"}]}


def chain(text: str, table: str, name: str) -> list[str]:
    """The ``-A`` lines of one chain of one table in restore input, without ``-A name``."""
    section = text.split(f"*{table}\n")[1].split("COMMIT")[0]
    return [line[len(f"-A {name} "):] for line in section.splitlines()
            if line.startswith(f"-A {name} ")]


def generate(services: list[dict[str, Any]], slices: list[dict[str, Any]],
             node: rules.NodeConfig = NODE) -> str:
    return rules.render(rules.build(model.service_ports(services, slices), node))


CIP = "-m tcp -p tcp -d 172.30.0.41 --dport 80"
CASES: list[tuple[str, list[Any], list[Any], rules.NodeConfig, str, str, list[str]]] = [
    ("clusterip-two-endpoints", [service()], [eslice(ep("10.180.0.1"), ep("10.180.0.2"))],
     NODE, "nat", SVC,
     [f'-m comment --comment "ns1/svc1:p80 cluster IP" {CIP} ! -s 10.180.0.0/16 '
      "-j KUBEPY-MARK-MASQ",
      '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random '
      f"--probability 0.5000000000 -j {SEP1}",
      f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j {sep("10.180.0.2")}']),
    ("services-chain", [service()], [eslice(ep("10.180.0.1"))], NODE, "nat",
     "KUBEPY-SERVICES",
     [f'-m comment --comment "ns1/svc1:p80 cluster IP" {CIP} -j {SVC}',
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -d 192.168.0.2 -j KUBEPY-NODEPORTS',
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -d 127.0.0.1 -j KUBEPY-NODEPORTS']),
    ("endpoint-chain-hairpin-dnat", [service()], [eslice(ep("10.180.0.1"))], NODE, "nat",
     SEP1,
     ["-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBEPY-MARK-MASQ",
      "-m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination "
      "10.180.0.1:80"]),
    ("three-endpoints-probabilities", [service()],
     [eslice(ep("10.180.0.3"), ep("10.180.0.1"), ep("10.180.0.2"))], NODE, "nat", SVC,
     [f'-m comment --comment "ns1/svc1:p80 cluster IP" {CIP} ! -s 10.180.0.0/16 '
      "-j KUBEPY-MARK-MASQ",
      '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random '
      f"--probability 0.3333333333 -j {SEP1}",
      '-m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -m statistic --mode random '
      f'--probability 0.5000000000 -j {sep("10.180.0.2")}',
      f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.3:80" -j {sep("10.180.0.3")}']),
    ("no-endpoints-reject", [service()], [], NODE, "filter", "KUBEPY-SERVICES",
     [f'-m comment --comment "ns1/svc1:p80 has no endpoints" {CIP} -j REJECT']),
    ("not-ready-only-reject", [service()], [eslice(ep("10.180.0.1", ready=False))], NODE,
     "filter", "KUBEPY-SERVICES",
     [f'-m comment --comment "ns1/svc1:p80 has no endpoints" {CIP} -j REJECT']),
    ("not-ready-excluded", [service()],
     [eslice(ep("10.180.0.1"), ep("10.180.0.2", ready=False, serving=True, terminating=True))],
     NODE, "nat", SVC,
     [f'-m comment --comment "ns1/svc1:p80 cluster IP" {CIP} ! -s 10.180.0.0/16 '
      "-j KUBEPY-MARK-MASQ",
      f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j {SEP1}']),
    ("serving-terminating-fallback", [service()],
     [eslice(ep("10.180.0.1", ready=False, serving=True, terminating=True),
             ep("10.180.0.2", ready=False, serving=False, terminating=True))],
     NODE, "nat", SVC,
     [f'-m comment --comment "ns1/svc1:p80 cluster IP" {CIP} ! -s 10.180.0.0/16 '
      "-j KUBEPY-MARK-MASQ",
      f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j {SEP1}']),
    ("named-target-port-via-slice",
     [service(ports=[{"name": "p80", "port": 80, "targetPort": "http"}])],
     [eslice(ep("10.180.0.1"), ports=[{"name": "p80", "port": 8080, "protocol": "TCP"}]),
      eslice(ep("10.180.0.9"), ports=[{"name": "other", "port": 9, "protocol": "TCP"}],
             name="svc1-y")],
     NODE, "nat", sep("10.180.0.1", 8080),
     ["-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBEPY-MARK-MASQ",
      "-m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination "
      "10.180.0.1:8080"]),
    ("udp", [service(ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])],
     [eslice(ep("10.180.0.1"), ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])], NODE,
     "nat", "KUBEPY-SERVICES",
     ['-m comment --comment "ns1/svc1:dns cluster IP" -m udp -p udp -d 172.30.0.41 --dport 53 '
      f'-j KUBEPY-SVC-{rules._hash("ns1/svc1:dnsudp")}',
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -d 192.168.0.2 -j KUBEPY-NODEPORTS',
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -d 127.0.0.1 -j KUBEPY-NODEPORTS']),
    ("sctp-no-endpoints", [service(ports=[{"name": "s", "port": 7, "protocol": "SCTP"}])], [],
     NODE, "filter", "KUBEPY-SERVICES",
     ['-m comment --comment "ns1/svc1:s has no endpoints" -m sctp -p sctp -d 172.30.0.41 '
      "--dport 7 -j REJECT"]),
    ("several-ports",
     [service(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 443}])],
     [eslice(ep("10.180.0.1"), ports=[{"name": "a", "port": 8080, "protocol": "TCP"},
                                      {"name": "b", "port": 8443, "protocol": "TCP"}])],
     rules.NodeConfig("node-a"), "nat", "KUBEPY-SERVICES",
     ['-m comment --comment "ns1/svc1:a cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 '
      f'-j KUBEPY-SVC-{rules._hash("ns1/svc1:atcp")}',
      '-m comment --comment "ns1/svc1:b cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 443 '
      f'-j KUBEPY-SVC-{rules._hash("ns1/svc1:btcp")}',
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -m addrtype --dst-type LOCAL '
      "-j KUBEPY-NODEPORTS"]),
    ("session-affinity", [service(sessionAffinity="ClientIP",
                                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})],
     [eslice(ep("10.180.0.1"), ep("10.180.0.2"))], rules.NodeConfig("node-a"), "nat", SVC,
     [f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --name {SEP1} '
      f"--rcheck --seconds 60 --reap -j {SEP1}",
      f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -m recent --name '
      f'{sep("10.180.0.2")} --rcheck --seconds 60 --reap -j {sep("10.180.0.2")}',
      '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random '
      f"--probability 0.5000000000 -j {SEP1}",
      f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -j {sep("10.180.0.2")}']),
    ("session-affinity-sets-recent", [service(sessionAffinity="ClientIP")],
     [eslice(ep("10.180.0.1"))], NODE, "nat", SEP1,
     ["-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBEPY-MARK-MASQ",
      f"-m comment --comment ns1/svc1:p80 -m recent --name {SEP1} --set -m tcp -p tcp "
      "-j DNAT --to-destination 10.180.0.1:80"]),
    ("nodeport-cluster", [service(type="NodePort", ports=[{"name": "p80", "port": 80,
                                                           "nodePort": 3001}])],
     [eslice(ep("10.180.0.1"))], NODE, "nat", EXT,
     ['-m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" '
      "-j KUBEPY-MARK-MASQ", f"-j {SVC}"]),
    ("nodeport-chain", [service(type="NodePort", ports=[{"name": "p80", "port": 80,
                                                         "nodePort": 3001}])],
     [eslice(ep("10.180.0.1"))], NODE, "nat", "KUBEPY-NODEPORTS",
     [f"-m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j {EXT}"]),
    ("nodeport-no-endpoints", [service(type="NodePort", ports=[{"name": "p80", "port": 80,
                                                                "nodePort": 3001}])],
     [], NODE, "filter", "KUBEPY-EXTERNAL-SERVICES",
     ['-m comment --comment "ns1/svc1:p80 has no endpoints" -m addrtype --dst-type LOCAL '
      "-m tcp -p tcp --dport 3001 -j REJECT"]),
    ("etp-local", [service(type="NodePort", externalTrafficPolicy="Local",
                           ports=[{"name": "p80", "port": 80, "nodePort": 3001}])],
     [eslice(ep("10.180.0.1"), ep("10.180.0.2", node="node-b"))], NODE, "nat", EXT,
     ['-m comment --comment "pod traffic for ns1/svc1:p80 external destinations" '
      f"-s 10.180.0.0/16 -j {SVC}",
      '-m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 external destinations"'
      " -m addrtype --src-type LOCAL -j KUBEPY-MARK-MASQ",
      '-m comment --comment "route LOCAL traffic for ns1/svc1:p80 external destinations" '
      f"-m addrtype --src-type LOCAL -j {SVC}",
      f"-j {SVL}"]),
    ("etp-local-endpoints", [service(type="NodePort", externalTrafficPolicy="Local",
                                     ports=[{"name": "p80", "port": 80, "nodePort": 3001}])],
     [eslice(ep("10.180.0.1"), ep("10.180.0.2", node="node-b"))], NODE, "nat", SVL,
     [f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j {SEP1}']),
    ("etp-local-none-here", [service(type="NodePort", externalTrafficPolicy="Local",
                                     ports=[{"name": "p80", "port": 80, "nodePort": 3001}])],
     [eslice(ep("10.180.0.2", node="node-b"))], NODE, "filter", "KUBEPY-EXTERNAL-SERVICES",
     ['-m comment --comment "ns1/svc1:p80 has no local endpoints" -m addrtype --dst-type '
      "LOCAL -m tcp -p tcp --dport 3001 -j DROP"]),
    ("itp-local-none-here", [service(internalTrafficPolicy="Local")],
     [eslice(ep("10.180.0.2", node="node-b"))], NODE, "filter", "KUBEPY-SERVICES",
     [f'-m comment --comment "ns1/svc1:p80 has no local endpoints" {CIP} -j DROP']),
    ("itp-local", [service(internalTrafficPolicy="Local")],
     [eslice(ep("10.180.0.1"), ep("10.180.0.2", node="node-b"))], NODE, "nat", SVL,
     [f'-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j {SEP1}']),
    ("external-and-lb-ips", [service(type="LoadBalancer", externalIPs=["192.168.99.1"],
                                     ports=[{"name": "p80", "port": 80, "nodePort": 3001}],
                                     status={"loadBalancer": {"ingress": [
                                         {"ip": "192.168.0.2"}, {"hostname": "x.example"},
                                         {"ip": "192.168.0.9", "ipMode": "Proxy"}]}})],
     [eslice(ep("10.180.0.1"))], NODE, "nat", "KUBEPY-SERVICES",
     [f'-m comment --comment "ns1/svc1:p80 cluster IP" {CIP} -j {SVC}',
      '-m comment --comment "ns1/svc1:p80 external IP" -m tcp -p tcp -d 192.168.99.1 '
      f"--dport 80 -j {EXT}",
      '-m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp -p tcp -d 192.168.0.2 '
      f"--dport 80 -j {EXT}",
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -d 192.168.0.2 -j KUBEPY-NODEPORTS',
      f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -d 127.0.0.1 -j KUBEPY-NODEPORTS']),
    ("lb-source-ranges", [service(type="LoadBalancer", loadBalancerSourceRanges=["1.2.3.0/24"],
                                  ports=[{"name": "p80", "port": 80, "nodePort": 3001}],
                                  status={"loadBalancer": {"ingress": [{"ip": "192.168.0.2"}]}})],
     [eslice(ep("10.180.0.1"))], NODE, "nat", FW,
     [f'-m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 1.2.3.0/24 -j {EXT}',
      f'-m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 192.168.0.2 -j {EXT}',
      '-m comment --comment "other traffic to ns1/svc1:p80 will be dropped by '
      'KUBEPY-PROXY-FIREWALL"']),
    ("lb-firewall-drop", [service(type="LoadBalancer", loadBalancerSourceRanges=["1.2.3.0/24"],
                                  ports=[{"name": "p80", "port": 80, "nodePort": 3001}],
                                  status={"loadBalancer": {"ingress": [{"ip": "192.168.0.2"}]}})],
     [eslice(ep("10.180.0.1"))], NODE, "filter", "KUBEPY-PROXY-FIREWALL",
     [f'-m comment --comment "ns1/svc1:p80 traffic not accepted by {FW}" -m tcp -p tcp '
      "-d 192.168.0.2 --dport 80 -j DROP"]),
    ("headless-and-externalname-skipped",
     [service(clusterIP="None"), service(type="ExternalName", clusterIP="",
                                         externalName="example.com")],
     [eslice(ep("10.180.0.1"))], rules.NodeConfig("node-a", localhost_nodeports=False),
     "nat", "KUBEPY-SERVICES",
     [f'-m comment --comment "{rules.NODEPORTS_COMMENT}" -m addrtype --dst-type LOCAL '
      "-j KUBEPY-NODEPORTS"]),
    ("postrouting-masquerade", [], [], NODE, "nat", "KUBEPY-POSTROUTING",
     ['-m comment --comment "kubepy pod traffic leaving the pod network" -m mark ! --mark '
      "0x4000/0x4000 -s 10.180.0.0/16 ! -d 10.180.0.0/16 -j MASQUERADE",
      "-m mark ! --mark 0x4000/0x4000 -j RETURN",
      "-j MARK --xor-mark 0x4000",
      '-m comment --comment "kubepy service traffic requiring SNAT" -j MASQUERADE '
      "--random-fully"]),
    ("mark-masq", [], [], NODE, "nat", "KUBEPY-MARK-MASQ", ["-j MARK --or-mark 0x4000"]),
    ("localnet-firewall", [], [], NODE, "filter", "KUBEPY-FIREWALL",
     ['-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s '
      "127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"]),
    ("no-localnet-firewall", [], [], rules.NodeConfig("n", localhost_nodeports=False),
     "filter", "KUBEPY-FIREWALL", []),
]


@pytest.mark.parametrize("services,slices,node,table,chain_,want",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_chain_rules(services: list[Any], slices: list[Any], node: rules.NodeConfig,
                     table: str, chain_: str, want: list[str]) -> None:
    text = generate(services, slices, node)
    assert f":{chain_} - [0:0]" in text.split(f"*{table}\n")[1].split("COMMIT")[0]
    assert chain(text, table, chain_) == want


@pytest.mark.parametrize("n,want", [
    (1, []), (2, ["0.5000000000"]), (3, ["0.3333333333", "0.5000000000"]),
    (4, ["0.2500000000", "0.3333333333", "0.5000000000"]),
    (7, ["0.1428571429", "0.1666666667", "0.2000000000", "0.2500000000", "0.3333333333",
         "0.5000000000"])], ids=lambda v: str(v))
def test_probabilities(n: int, want: list[str]) -> None:
    eps = [ep(f"10.180.0.{i + 1}") for i in range(n)]
    lines = chain(generate([service()], [eslice(*eps)]), "nat", SVC)
    got = [ln.split("--probability ")[1].split()[0] for ln in lines if "--probability" in ln]
    assert got == want


@pytest.mark.parametrize("case,absent", [
    ("no-endpoints", [SVC, SEP1, EXT]),
    ("itp-local-none-here", [SVC, SVL]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_chains_not_created(case: str, absent: list[str]) -> None:
    services = [service(type="NodePort", ports=[{"name": "p80", "port": 80, "nodePort": 1}])]
    slices: list[Any] = []
    if case == "itp-local-none-here":
        services = [service(internalTrafficPolicy="Local")]
        slices = [eslice(ep("10.180.0.1", node="node-b"))]
    text = generate(services, slices)
    assert [c for c in absent if f":{c} " in text] == []


def test_duplicate_addresses_across_slices_count_once() -> None:
    ports = model.service_ports([service()], [eslice(ep("10.180.0.1")),
                                              eslice(ep("10.180.0.1"), name="svc1-y")])
    assert [e.address for e in ports[0].endpoints] == ["10.180.0.1:80"]


@pytest.mark.parametrize("stale,want_tail", [
    ({}, ["COMMIT"]),
    ({"nat": [SVC, "KUBEPY-SERVICES"]}, [f"-X {SVC}", "COMMIT"]),
], ids=["nothing-stale", "stale-svc-chain"])
def test_render_stale_chains(stale: dict[str, list[str]], want_tail: list[str]) -> None:
    text = rules.render(rules.build([], NODE), stale)
    nat = text.split("*nat\n")[1].splitlines()
    assert nat[-len(want_tail):] == want_tail
    assert (f":{SVC} - [0:0]" in nat) == bool(stale)
    assert ":PREROUTING" not in text and text.count("COMMIT") == 2


SAVE_NAT = """# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBEPY-SERVICES - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
-A PREROUTING -m comment --comment "kubepy service portals" -j KUBEPY-SERVICES
-A PREROUTING -j CNI-HOSTPORT-DNAT
-A KUBEPY-SERVICES -d 10.0.0.1/32 -j RETURN
COMMIT
"""


@pytest.mark.parametrize("saves,want", [
    ({"nat": SAVE_NAT}, "*nat\n-D PREROUTING -m comment --comment \"kubepy service portals\" "
                        "-j KUBEPY-SERVICES\n:KUBEPY-SERVICES - [0:0]\n-X KUBEPY-SERVICES\n"
                        "COMMIT\n"),
    ({"nat": "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CNI-X\nCOMMIT\n",
      "filter": "*filter\nCOMMIT\n"}, ""),
], ids=["ours-removed", "nothing-ours"])
def test_cleanup_input(saves: dict[str, str], want: str) -> None:
    assert apply.cleanup_input(saves) == want


def test_jumps_target_our_chains() -> None:
    declared = {(t, c) for t, chains in rules.build([], NODE).tables().items() for c in chains}
    for jump in rules.JUMPS:
        assert (jump.table, jump.args[-1]) in declared, jump


@pytest.mark.parametrize("save,want", [
    (SAVE_NAT, True),
    (SAVE_NAT.replace("kubepy service portals", "other"), False),
    (SAVE_NAT.replace("-A PREROUTING -m", "-A OUTPUT -m"), False),
], ids=["present", "other-comment", "other-chain"])
def test_has_jump(save: str, want: bool) -> None:
    jump = next(j for j in rules.JUMPS if j.table == "nat" and j.chain == "PREROUTING")
    assert apply.has_jump(save, jump.chain, jump.args) is want


def _rs(nat: dict[str, list[list[str]]], filter_: dict[str, list[list[str]]] | None = None
        ) -> rules.Ruleset:
    return rules.Ruleset(filter=dict(filter_ or {}), nat=dict(nat))


@pytest.mark.parametrize("new, old, want", [
    (_rs({"KUBEPY-SERVICES": [["-j", "A"]]}), _rs({"KUBEPY-SERVICES": [["-j", "A"]]}), ""),
    (_rs({"KUBEPY-SERVICES": [["-j", "B"]], "KUBEPY-X": [["-j", "C"]]}),
     _rs({"KUBEPY-SERVICES": [["-j", "A"]], "KUBEPY-X": [["-j", "C"]]}),
     "*nat\n:KUBEPY-SERVICES - [0:0]\n-A KUBEPY-SERVICES -j B\nCOMMIT\n"),
    (_rs({"KUBEPY-SERVICES": [], "KUBEPY-NEW": [["-j", "DNAT"]]}),
     _rs({"KUBEPY-SERVICES": [], "KUBEPY-OLD": [["-j", "DNAT"]]}),
     "*nat\n:KUBEPY-NEW - [0:0]\n:KUBEPY-OLD - [0:0]\n-A KUBEPY-NEW -j DNAT\n"
     "-X KUBEPY-OLD\nCOMMIT\n"),
    (_rs({}, {"KUBEPY-FORWARD": [["-j", "ACCEPT"]]}), _rs({}, {"KUBEPY-FORWARD": []}),
     "*filter\n:KUBEPY-FORWARD - [0:0]\n-A KUBEPY-FORWARD -j ACCEPT\nCOMMIT\n"),
], ids=["unchanged", "one-chain-changed", "chain-added-and-removed", "filter-only"])
def test_render_changes(new: rules.Ruleset, old: rules.Ruleset, want: str) -> None:
    assert rules.render_changes(new, old) == want
