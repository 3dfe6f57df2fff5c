"""The complete iptables-restore input for the service proxy (pure), in kube-proxy's shape.

kube-proxy's iptables mode with kubepy's own chain names. nat table:
``KUBEPY-SERVICES`` (from PREROUTING and OUTPUT) matches cluster IPs, external IPs and
load-balancer IPs and ends with the node-port rules that jump to ``KUBEPY-NODEPORTS``;
``KUBEPY-SVC-<hash>`` (Cluster policy endpoints; masquerades non-pod sources) and
``KUBEPY-SVL-<hash>`` (this node's endpoints) pick an endpoint with
``-m statistic --mode random --probability 1/(n-i)`` (and ``-m recent`` for ClientIP
affinity); ``KUBEPY-SEP-<hash>`` DNATs to one endpoint and masquerades hairpin traffic;
``KUBEPY-EXT-<hash>`` handles node-port, external-IP and load-balancer traffic with the
externalTrafficPolicy rules; ``KUBEPY-FW-<hash>`` enforces loadBalancerSourceRanges;
``KUBEPY-MARK-MASQ`` sets mark 0x4000, which ``KUBEPY-POSTROUTING`` turns into MASQUERADE
(it also masquerades unmarked pod traffic leaving the cluster CIDR). filter table:
``KUBEPY-SERVICES`` and ``KUBEPY-EXTERNAL-SERVICES`` REJECT service ports without endpoints
(DROP for Local policies without local endpoints), ``KUBEPY-PROXY-FIREWALL`` drops
load-balancer traffic from other sources, ``KUBEPY-FORWARD`` accepts marked and established
forwarded traffic, ``KUBEPY-FIREWALL`` blocks martian packets to 127.0.0.0/8 when node ports
answer on localhost.

Chain hashes are kube-proxy's: the first 16 characters of base32(sha256(portName + protocol
[+ "ip:port"])), protocol lower case, so names are stable across restarts and processes.
``render`` writes ``--noflush`` input: declaring a chain flushes it, stale chains are declared
then deleted with ``-X``, built-in chains are never declared (their jumps are ``JUMPS``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from kubepy.proxy.model import Endpoint, ServicePort

PREFIX = "KUBEPY-"
SERVICES = "KUBEPY-SERVICES"
EXTERNAL_SERVICES = "KUBEPY-EXTERNAL-SERVICES"
NODEPORTS = "KUBEPY-NODEPORTS"
POSTROUTING = "KUBEPY-POSTROUTING"
MARK_MASQ = "KUBEPY-MARK-MASQ"
FORWARD = "KUBEPY-FORWARD"
PROXY_FIREWALL = "KUBEPY-PROXY-FIREWALL"
FIREWALL = "KUBEPY-FIREWALL"
MASQ_MARK = "0x4000"
NODEPORTS_COMMENT = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"

FILTER_CHAINS = (SERVICES, EXTERNAL_SERVICES, FORWARD, PROXY_FIREWALL, FIREWALL)
NAT_CHAINS = (SERVICES, NODEPORTS, POSTROUTING, MARK_MASQ)


@dataclass(frozen=True)
class Jump:
    """A rule in a built-in chain that jumps to one of ours (added idempotently, first)."""
    table: str
    chain: str
    args: tuple[str, ...]


def _jump(table: str, chain: str, comment: str, target: str, *, new: bool = False) -> Jump:
    ct = ("-m", "conntrack", "--ctstate", "NEW") if new else ()
    return Jump(table, chain, (*ct, "-m", "comment", "--comment", comment, "-j", target))


JUMPS: tuple[Jump, ...] = (
    _jump("filter", "INPUT", "kubepy load balancer firewall", PROXY_FIREWALL, new=True),
    _jump("filter", "INPUT", "kubepy externally-visible service portals", EXTERNAL_SERVICES,
          new=True),
    _jump("filter", "INPUT", "kubepy firewall", FIREWALL),
    _jump("filter", "FORWARD", "kubepy load balancer firewall", PROXY_FIREWALL, new=True),
    _jump("filter", "FORWARD", "kubepy forwarding rules", FORWARD),
    _jump("filter", "FORWARD", "kubepy service portals", SERVICES, new=True),
    _jump("filter", "FORWARD", "kubepy externally-visible service portals", EXTERNAL_SERVICES,
          new=True),
    _jump("filter", "OUTPUT", "kubepy load balancer firewall", PROXY_FIREWALL, new=True),
    _jump("filter", "OUTPUT", "kubepy service portals", SERVICES, new=True),
    _jump("filter", "OUTPUT", "kubepy firewall", FIREWALL),
    _jump("nat", "PREROUTING", "kubepy service portals", SERVICES),
    _jump("nat", "OUTPUT", "kubepy service portals", SERVICES),
    _jump("nat", "POSTROUTING", "kubepy postrouting rules", POSTROUTING),
)


@dataclass(frozen=True)
class NodeConfig:
    """What the rules need to know about this node. Node ports answer on ``node_ips`` (and
    127.0.0.1 with ``localhost_nodeports``, which needs net.ipv4.conf.all.route_localnet=1);
    with no ``node_ips`` they answer on every local address (``--dst-type LOCAL``)."""
    node_name: str
    node_ips: tuple[str, ...] = ()
    cluster_cidr: str | None = None
    localhost_nodeports: bool = True
    masquerade_all: bool = False


@dataclass
class Ruleset:
    """Chains in declaration order, each with its rules (argument lists after ``-A chain``)."""
    filter: dict[str, list[list[str]]] = field(default_factory=dict)
    nat: dict[str, list[list[str]]] = field(default_factory=dict)

    def tables(self) -> dict[str, dict[str, list[list[str]]]]:
        return {"filter": self.filter, "nat": self.nat}


@functools.lru_cache(maxsize=1 << 16)
def _hash(text: str) -> str:
    # 10 bytes are 16 base32 characters: the same prefix as encoding the whole digest
    return base64.b32encode(hashlib.sha256(text.encode()).digest()[:10]).decode()


def chain_name(kind: str, sp: ServicePort) -> str:
    """KUBEPY-SVC/SVL/EXT/FW-<hash> of a service port (kube-proxy's portProtoHash)."""
    return f"{PREFIX}{kind}-{_hash(sp.port_name_string + sp.protocol.lower())}"


def endpoint_chain_name(sp: ServicePort, ep: Endpoint) -> str:
    return f"{PREFIX}SEP-{_hash(sp.port_name_string + sp.protocol.lower() + ep.address)}"


def probability(n: int) -> str:
    """kube-proxy's ``%0.10f`` of 1/n: the chance the i-th of the remaining n rules matches."""
    return f"{1.0 / n:0.10f}"


@dataclass(frozen=True)
class Categorized:
    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    has_any: bool


def uses_cluster_endpoints(sp: ServicePort) -> bool:
    return not sp.internal_policy_local or (sp.externally_accessible
                                            and not sp.external_policy_local)


def uses_local_endpoints(sp: ServicePort) -> bool:
    return sp.internal_policy_local or sp.external_policy_local


def categorize_endpoints(sp: ServicePort, node_name: str) -> Categorized:
    """Ready endpoints; when none are ready, the serving-and-terminating ones (separately
    for the cluster-wide and the node-local set), as kube-proxy's CategorizeEndpoints."""
    eps = sp.endpoints
    has_any = any(e.ready or (e.serving and e.terminating) for e in eps)
    cluster: tuple[Endpoint, ...] = ()
    local: tuple[Endpoint, ...] = ()
    if uses_cluster_endpoints(sp):
        cluster = tuple(e for e in eps if e.ready) or tuple(
            e for e in eps if e.serving and e.terminating)
    if uses_local_endpoints(sp):
        mine = [e for e in eps if e.node_name == node_name]
        local = tuple(e for e in mine if e.ready) or tuple(
            e for e in mine if e.serving and e.terminating)
    return Categorized(cluster, local, has_any)


def _c(text: str) -> list[str]:
    return ["-m", "comment", "--comment", text]


def _proto(sp: ServicePort) -> list[str]:
    p = sp.protocol.lower()
    return ["-m", p, "-p", p]


def _service_to_endpoints(rs: Ruleset, sp: ServicePort, chain: str,
                          endpoints: tuple[Endpoint, ...]) -> None:
    rules = rs.nat[chain]
    name = sp.port_name_string
    if sp.affinity_timeout is not None:
        for ep in endpoints:
            sep = endpoint_chain_name(sp, ep)
            rules.append([*_c(f"{name} -> {ep.address}"), "-m", "recent", "--name", sep,
                          "--rcheck", "--seconds", str(sp.affinity_timeout), "--reap",
                          "-j", sep])
    for i, ep in enumerate(endpoints):
        stat = (["-m", "statistic", "--mode", "random", "--probability",
                 probability(len(endpoints) - i)] if i < len(endpoints) - 1 else [])
        rules.append([*_c(f"{name} -> {ep.address}"), *stat, "-j", endpoint_chain_name(sp, ep)])


def _endpoint_chains(rs: Ruleset, sp: ServicePort, endpoints: Iterable[Endpoint]) -> None:
    for ep in endpoints:
        sep = endpoint_chain_name(sp, ep)
        if sep in rs.nat:
            continue
        recent = (["-m", "recent", "--name", sep, "--set"]
                  if sp.affinity_timeout is not None else [])
        rs.nat[sep] = [
            [*_c(sp.port_name_string), "-s", ep.ip, "-j", MARK_MASQ],
            [*_c(sp.port_name_string), *recent, *_proto(sp), "-j", "DNAT",
             "--to-destination", ep.address]]


def _service_port_rules(rs: Ruleset, sp: ServicePort, node: NodeConfig) -> None:
    name = sp.port_name_string
    cat = categorize_endpoints(sp, node.node_name)
    svc, svl = chain_name("SVC", sp), chain_name("SVL", sp)
    ext, fw = chain_name("EXT", sp), chain_name("FW", sp)
    uses_cluster = bool(cat.cluster) and uses_cluster_endpoints(sp)
    uses_local = bool(cat.local) and uses_local_endpoints(sp)
    has_internal = cat.has_any and not (sp.internal_policy_local and not cat.local)
    internal_chain = svl if sp.internal_policy_local else svc
    has_external = cat.has_any and not (sp.external_policy_local and not cat.local)
    external_policy_chain = svl if sp.external_policy_local else svc
    uses_ext = cat.has_any and sp.externally_accessible
    uses_fw = (cat.has_any and bool(sp.load_balancer_ips)
               and bool(sp.load_balancer_source_ranges))
    lb_chain = fw if uses_fw else ext
    if not cat.has_any:
        int_target = ext_target = "REJECT"
        int_comment = ext_comment = f"{name} has no endpoints"
    else:
        int_target, int_comment = "DROP", f"{name} has no local endpoints"
        ext_target, ext_comment = "DROP", f"{name} has no local endpoints"
    dport = ["--dport", str(sp.port)]
    nat_svc, f_svc, f_ext = rs.nat[SERVICES], rs.filter[SERVICES], rs.filter[EXTERNAL_SERVICES]

    if uses_cluster:
        rs.nat[svc] = []
    if uses_local:
        rs.nat[svl] = []
    if uses_ext:
        rs.nat[ext] = []
    if uses_fw:
        rs.nat[fw] = []

    if has_internal:
        nat_svc.append([*_c(f"{name} cluster IP"), *_proto(sp), "-d", sp.cluster_ip, *dport,
                        "-j", internal_chain])
    else:
        f_svc.append([*_c(int_comment), *_proto(sp), "-d", sp.cluster_ip, *dport,
                      "-j", int_target])
    for ip in sp.external_ips:
        if cat.has_any:
            nat_svc.append([*_c(f"{name} external IP"), *_proto(sp), "-d", ip, *dport,
                            "-j", ext])
        if not has_external:
            f_ext.append([*_c(ext_comment), *_proto(sp), "-d", ip, *dport, "-j", ext_target])
    for ip in sp.load_balancer_ips:
        if cat.has_any:
            nat_svc.append([*_c(f"{name} loadbalancer IP"), *_proto(sp), "-d", ip, *dport,
                            "-j", lb_chain])
        if uses_fw:
            rs.filter[PROXY_FIREWALL].append(
                [*_c(f"{name} traffic not accepted by {fw}"), *_proto(sp), "-d", ip, *dport,
                 "-j", "DROP"])
    if not has_external:
        for ip in sp.load_balancer_ips:
            f_ext.append([*_c(ext_comment), *_proto(sp), "-d", ip, *dport, "-j", ext_target])
    if sp.node_port:
        if cat.has_any:
            rs.nat[NODEPORTS].append([*_c(name), *_proto(sp), "--dport", str(sp.node_port),
                                      "-j", ext])
        if not has_external:
            f_ext.append([*_c(ext_comment), "-m", "addrtype", "--dst-type", "LOCAL",
                          *_proto(sp), "--dport", str(sp.node_port), "-j", ext_target])

    if uses_fw:
        for source in sp.load_balancer_source_ranges:
            rs.nat[fw].append([*_c(f"{name} loadbalancer IP"), "-s", source, "-j", ext])
        for ip in sp.load_balancer_ips:  # the node reaching its own load-balancer IP
            if ip in node.node_ips:
                rs.nat[fw].append([*_c(f"{name} loadbalancer IP"), "-s", ip, "-j", ext])
        rs.nat[fw].append(_c(f"other traffic to {name} will be dropped by {PROXY_FIREWALL}"))

    if uses_cluster:
        clip = [*_c(f"{name} cluster IP"), *_proto(sp), "-d", sp.cluster_ip, *dport]
        if node.masquerade_all:
            rs.nat[svc].append([*clip, "-j", MARK_MASQ])
        elif node.cluster_cidr:
            rs.nat[svc].append([*clip, "!", "-s", node.cluster_cidr, "-j", MARK_MASQ])
        _service_to_endpoints(rs, sp, svc, cat.cluster)
    if uses_local:
        _service_to_endpoints(rs, sp, svl, cat.local)
    _endpoint_chains(rs, sp, (*cat.cluster, *cat.local))

    if uses_ext:
        rules = rs.nat[ext]
        if not sp.external_policy_local:
            rules.append([*_c(f"masquerade traffic for {name} external destinations"),
                          "-j", MARK_MASQ])
        else:
            # pod and host traffic to external destinations goes to the Cluster chain (as
            # if up and out to a load balancer and back); the host's needs masquerading
            if node.cluster_cidr and uses_cluster:
                rules.append([*_c(f"pod traffic for {name} external destinations"),
                              "-s", node.cluster_cidr, "-j", svc])
            rules.append([*_c(f"masquerade LOCAL traffic for {name} external destinations"),
                          "-m", "addrtype", "--src-type", "LOCAL", "-j", MARK_MASQ])
            if uses_cluster:
                rules.append([*_c(f"route LOCAL traffic for {name} external destinations"),
                              "-m", "addrtype", "--src-type", "LOCAL", "-j", svc])
        if has_external:
            rules.append(["-j", external_policy_chain])


_SHARED = {"filter": frozenset(FILTER_CHAINS), "nat": frozenset(NAT_CHAINS)}


@functools.lru_cache(maxsize=1 << 14)
def _fragment(sp: ServicePort, node: NodeConfig) -> Ruleset:
    """One service port's rules: its own chains, and what it adds to the shared ones
    (cached: between two syncs most service ports are unchanged)."""
    rs = Ruleset(filter={c: [] for c in FILTER_CHAINS}, nat={c: [] for c in NAT_CHAINS})
    _service_port_rules(rs, sp, node)
    return rs


def build(service_ports: Iterable[ServicePort], node: NodeConfig) -> Ruleset:
    """Every chain and rule the proxy owns for these service ports on this node."""
    rs = Ruleset()
    for chain in FILTER_CHAINS:
        rs.filter[chain] = []
    for chain in NAT_CHAINS:
        rs.nat[chain] = []
    rs.filter[FORWARD] += [
        ["-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"],
        [*_c("kubepy forwarding rules"), "-m", "mark", "--mark", f"{MASQ_MARK}/{MASQ_MARK}",
         "-j", "ACCEPT"],
        [*_c("kubepy forwarding conntrack rule"), "-m", "conntrack", "--ctstate",
         "RELATED,ESTABLISHED", "-j", "ACCEPT"]]
    if node.localhost_nodeports:
        rs.filter[FIREWALL].append(
            [*_c("block incoming localnet connections"), "-d", "127.0.0.0/8", "!", "-s",
             "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT",
             "-j", "DROP"])
    post = rs.nat[POSTROUTING]
    if node.cluster_cidr:
        post.append([*_c("kubepy pod traffic leaving the pod network"), "-m", "mark", "!",
                     "--mark", f"{MASQ_MARK}/{MASQ_MARK}", "-s", node.cluster_cidr, "!", "-d",
                     node.cluster_cidr, "-j", "MASQUERADE"])
    post += [["-m", "mark", "!", "--mark", f"{MASQ_MARK}/{MASQ_MARK}", "-j", "RETURN"],
             ["-j", "MARK", "--xor-mark", MASQ_MARK],
             [*_c("kubepy service traffic requiring SNAT"), "-j", "MASQUERADE",
              "--random-fully"]]
    rs.nat[MARK_MASQ].append(["-j", "MARK", "--or-mark", MASQ_MARK])
    for sp in service_ports:
        frag = _fragment(sp, node)
        for table, chains in rs.tables().items():
            for chain, rules in frag.tables()[table].items():
                if chain in chains and chain in _SHARED[table]:
                    chains[chain] += rules
                else:
                    chains[chain] = rules  # shared with the cache: never mutated
    if node.node_ips:
        addresses = [*node.node_ips, *(["127.0.0.1"] if node.localhost_nodeports else [])]
        for ip in addresses:
            rs.nat[SERVICES].append([*_c(NODEPORTS_COMMENT), "-d", ip, "-j", NODEPORTS])
    else:
        rs.nat[SERVICES].append([*_c(NODEPORTS_COMMENT), "-m", "addrtype", "--dst-type",
                                 "LOCAL", "-j", NODEPORTS])
    return rs


def _quote(arg: str) -> str:
    if arg and not any(c.isspace() or c in "\"'\\" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rule_line(chain: str, args: Iterable[str], op: str = "-A") -> str:
    return " ".join([op, chain, *(_quote(a) for a in args)])


def render(rs: Ruleset, stale: Mapping[str, Iterable[str]] | None = None) -> str:
    """iptables-restore --noflush input for both tables: our chains declared (so flushed) and
    refilled; ``stale`` chains (per table, ours but no longer wanted) flushed and deleted."""
    out: list[str] = []
    for table, chains in rs.tables().items():
        gone = sorted(set((stale or {}).get(table, ())) - set(chains))
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in [*chains, *gone]]
        for chain, rules in chains.items():
            out += [rule_line(chain, r) for r in rules]
        out += [f"-X {c}" for c in gone]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def render_changes(rs: Ruleset, previous: Ruleset) -> str:
    """``--noflush`` input rewriting only the chains whose rules differ from ``previous``
    (what the last successful write left in the kernel) and deleting the chains ``previous``
    had that ``rs`` lacks; "" when nothing changed (kube-proxy's partial restores: with
    thousands of services a change rewrites a few chains, not all of them)."""
    out: list[str] = []
    for (table, chains), prev in zip(rs.tables().items(), previous.tables().values()):
        changed = [c for c, r in chains.items() if prev.get(c) != r]
        gone = sorted(set(prev) - set(chains))
        if not changed and not gone:
            continue
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in [*changed, *gone]]
        for chain in changed:
            out += [rule_line(chain, r) for r in chains[chain]]
        out += [f"-X {c}" for c in gone]
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def our_chains(save_output: str) -> list[str]:
    """The KUBEPY-* chains declared in one table's ``iptables-save`` output."""
    return [line[1:].split()[0] for line in save_output.splitlines()
            if line.startswith(":" + PREFIX)]
