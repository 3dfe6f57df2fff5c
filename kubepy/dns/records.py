"""The answer the cluster DNS gives for one question, from a ``ClusterIndex``: the rules of
CoreDNS's *kubernetes* plugin (the Kubernetes DNS-Based Service Discovery specification)
with kubeadm's Corefile settings (``pods insecure``, ``ttl 30``, reverse zones falling
through to the upstream).

``answer(index, qname, qtype, zone=...) -> Answer | None`` is pure. None means "not ours":
the name is outside ``<zone>`` and is not the reverse name of a known service, endpoint or
pod IP, so the server forwards it. Inside the zone (parsing from the right):

* ``<zone>``, ``svc.<zone>``, ``pod.<zone>``: NODATA (SOA at the apex for SOA, NS for NS);
  ``<x>.<zone>`` with x not svc/pod: NXDOMAIN; ``<ns>.svc|pod.<zone>``: NODATA when the
  namespace exists, else NXDOMAIN; more than six labels left of the zone: NXDOMAIN.
* ``<svc>.<ns>.svc``: ClusterIP -> A/AAAA of its cluster IPs (a service without ports has
  no records); headless -> the ready endpoint IPs; ExternalName -> CNAME to the external
  name (the server chases it upstream).
* ``<host>.<svc>.<ns>.svc``: the endpoints whose hostname (or IP with dashes) is ``host``.
* ``_<port>._<proto>.<svc>.<ns>.svc``: only ports named ``port`` with protocol ``proto``
  (empty means any); A answers too. SRV targets are ``<svc>.<ns>.svc.<zone>`` (ClusterIP) or
  ``<host>.<svc>.<ns>.svc.<zone>`` (endpoints), weight 100/count, and their addresses ride
  in the additional section.
* ``a-b-c-d.<ns>.pod``: the IP the name spells (IPv6 with dashes for colons), when the
  namespace exists.
* No matching service/endpoint/pod: NXDOMAIN. A name that exists but has no record of the
  asked type: NODATA (NOERROR, empty answer, the zone's SOA in authority).
* ``<reversed ip>.in-addr.arpa`` / ``ip6.arpa``: PTR to the service name for a cluster IP,
  to ``<host>.<svc>.<ns>.svc.<zone>`` for an endpoint IP, and (a kubepy addition that CoreDNS
  leaves to upstream) to ``a-b-c-d.<ns>.pod.<zone>`` for any other pod IP.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from kubepy.dns import wire
from kubepy.dns.index import NO_PORT, ClusterIndex, Endpoint
from kubepy.dns.wire import Record, Soa, Srv

DEFAULT_TTL = 30
DNS_SCHEMA_VERSION = "1.1.0"


@dataclass
class Answer:
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    rcode: int = wire.NOERROR
    # an ExternalName target outside the zone the server should resolve upstream
    chase: str | None = None


@dataclass(frozen=True)
class _Hit:
    """One matched address (or external name) with the owner name SRV targets use."""
    host: str  # IP, or the external name for ExternalName
    port: int
    target: str


def soa(zone: str, serial: int, ttl: int = DEFAULT_TTL) -> Record:
    zone = wire.canonical(zone)
    return Record(zone, wire.SOA, ttl, Soa(f"ns.dns.{zone}", f"hostmaster.{zone}", serial,
                                           7200, 1800, 86400, ttl))


def endpoint_hostname(ep: Endpoint) -> str:
    if ep.hostname:
        return ep.hostname
    return ep.ip.replace(".", "-") if "." in ep.ip else ep.ip.replace(":", "-")


def _is_v6(ip: str) -> bool:
    return ":" in ip


def answer(index: ClusterIndex, qname: str, qtype: int, *, zone: str = "cluster.local",
           ttl: int = DEFAULT_TTL, dns_ips: tuple[str, ...] = ()) -> Answer | None:
    """``dns_ips``: the cluster DNS service IPs, given for ``ns.dns.<zone>`` and NS."""
    name = wire.canonical(qname)
    zone = wire.canonical(zone)
    if name.endswith((".in-addr.arpa.", ".ip6.arpa.")):
        return _reverse(index, name, qtype, zone, ttl)
    if name != zone and not name.endswith("." + zone):
        return None
    soa_rr = soa(zone, index.generation, ttl)
    nodata = Answer(authority=[soa_rr])
    nxdomain = Answer(authority=[soa_rr], rcode=wire.NXDOMAIN)
    base = name[:-len(zone)].rstrip(".")
    labels = base.split(".") if base else []
    if not labels:
        if qtype == wire.SOA:
            return Answer([soa_rr])
        if qtype == wire.NS:
            return Answer([Record(zone, wire.NS, ttl, f"ns.dns.{zone}")],
                          additional=_addresses(f"ns.dns.{zone}", dns_ips, wire.ANY, ttl))
        return nodata
    if labels == ["ns", "dns"]:
        records = _addresses(name, dns_ips, qtype, ttl)
        return Answer(records) if records else (nodata if dns_ips else nxdomain)
    if labels == ["dns-version"]:
        return Answer([Record(name, wire.TXT, ttl, (DNS_SCHEMA_VERSION.encode(),))]
                      if qtype == wire.TXT else [], [] if qtype == wire.TXT else [soa_rr])
    kind = labels[-1]
    if kind not in ("svc", "pod") or len(labels) > 6:
        return nxdomain
    if len(labels) == 1:
        return nodata
    namespace = labels[-2]
    if namespace not in index.namespaces:
        return nxdomain
    if len(labels) == 2:
        return nodata
    hits = _pod_hits(labels[-3]) if kind == "pod" else _service_hits(index, labels, zone)
    if hits is None:
        return nxdomain
    return _records(index, name, qtype, hits, zone, ttl) or nodata


def _service_hits(index: ClusterIndex, labels: list[str], zone: str) -> list[_Hit] | None:
    namespace, service = labels[-2], labels[-3]
    endpoint = labels[0] if len(labels) == 4 else ""
    port = labels[0].removeprefix("_") if len(labels) == 5 else ""
    proto = labels[1].removeprefix("_") if len(labels) == 5 else ""
    svc = index.services.get((namespace, service))
    if svc is None:
        return None
    svc_name = f"{svc.name}.{svc.namespace}.svc.{zone}"

    def match(want: str, have: str) -> bool:
        return not want or want.lower() == have.lower()

    if svc.type == "ExternalName":
        if endpoint or not svc.external_name or _is_ip(svc.external_name):
            return None
        target = wire.canonical(svc.external_name)
        return [_Hit(target, 0, target)]
    if svc.headless or endpoint:
        hits = []
        for ep in index.endpoints(namespace, service):
            host = endpoint_hostname(ep)
            if endpoint and endpoint != host.lower():
                continue
            hits += [_Hit(ep.ip, p.port, f"{host}.{svc_name}") for p in ep.ports
                     if match(port, p.name) and match(proto, p.protocol)]
        return hits or None
    matched = [p for p in svc.ports if match(port, p.name) and match(proto, p.protocol)]
    if not matched:
        return None
    return [_Hit(ip, p.port, svc_name) for p in matched for ip in svc.cluster_ips]


def _pod_hits(podname: str) -> list[_Hit] | None:
    if podname.count("-") == 3 and "--" not in podname:
        ip = podname.replace("-", ".")
    else:
        ip = podname.replace("-", ":")
    if not _is_ip(ip):
        return None
    return [_Hit(str(ipaddress.ip_address(ip)), NO_PORT, "")]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _records(index: ClusterIndex, name: str, qtype: int, hits: list[_Hit], zone: str,
             ttl: int) -> Answer | None:
    cnames = [h for h in hits if not _is_ip(h.host)]
    if cnames and qtype in (wire.A, wire.AAAA, wire.CNAME, wire.ANY):
        target = cnames[0].host
        return Answer([Record(name, wire.CNAME, ttl, target)],
                      chase=None if qtype == wire.CNAME else target)
    if qtype == wire.SRV:
        srv_hits = list(dict.fromkeys((h.target, h.port, h.host) for h in hits
                                      if h.port != NO_PORT and h.target))
        if not srv_hits:
            return None
        weight = 100 // len({(t, p) for t, p, _ in srv_hits})
        answers = list(dict.fromkeys(Record(name, wire.SRV, ttl, Srv(0, weight, p, t))
                                     for t, p, _ in srv_hits))
        extra = [Record(t, wire.AAAA if _is_v6(h) else wire.A, ttl, h) for t, _, h in srv_hits
                 if _is_ip(h)]
        return Answer(answers, additional=list(dict.fromkeys(extra)))
    want = {wire.A: (wire.A,), wire.AAAA: (wire.AAAA,), wire.ANY: (wire.A, wire.AAAA)}
    types = want.get(qtype, ())
    ips = dict.fromkeys(h.host for h in hits)
    records = [Record(name, wire.AAAA if _is_v6(ip) else wire.A, ttl, ip) for ip in ips
               if (wire.AAAA if _is_v6(ip) else wire.A) in types]
    return Answer(records) if records else None


def _addresses(name: str, ips: tuple[str, ...], qtype: int, ttl: int) -> list[Record]:
    out = []
    for ip in ips:
        rtype = wire.AAAA if _is_v6(ip) else wire.A
        if qtype in (rtype, wire.ANY):
            out.append(Record(name, rtype, ttl, ip))
    return out


# ---------------------------------------------------------------------------- reverse

def reverse_ip(name: str) -> str | None:
    """The IP a reverse name spells, or None."""
    name = wire.canonical(name)
    try:
        if name.endswith(".in-addr.arpa."):
            parts = name[:-len(".in-addr.arpa.")].split(".")
            if len(parts) != 4:
                return None
            return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        if name.endswith(".ip6.arpa."):
            nibbles = name[:-len(".ip6.arpa.")].split(".")
            if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
                return None
            hexs = "".join(reversed(nibbles))
            return str(ipaddress.IPv6Address(int(hexs, 16)))
    except ValueError:
        return None
    return None


def _reverse(index: ClusterIndex, name: str, qtype: int, zone: str, ttl: int) -> Answer | None:
    ip = reverse_ip(name)
    if ip is None:
        return None
    targets: list[str] = []
    for svc in index.services_with_ip(ip):
        targets.append(f"{svc.name}.{svc.namespace}.svc.{zone}")
    for ns, svc_name, ep in index.endpoints_with_ip(ip):
        targets.append(f"{endpoint_hostname(ep)}.{svc_name}.{ns}.svc.{zone}")
    if not targets:
        for ns, _pod in sorted(index.pods_by_ip.get(ip, ())):
            dashed = ip.replace(".", "-") if "." in ip else ip.replace(":", "-")
            targets.append(f"{dashed}.{ns}.pod.{zone}")
    if not targets:
        return None
    if qtype not in (wire.PTR, wire.ANY):
        return Answer(authority=[soa(zone, index.generation, ttl)])
    return Answer([Record(name, wire.PTR, ttl, t) for t in dict.fromkeys(targets)])

