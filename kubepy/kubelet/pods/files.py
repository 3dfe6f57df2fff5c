"""The files the kubelet writes for a pod and mounts into each of its containers. Pure.

- ``hosts_file``: ``/etc/hosts`` as the kubelet manages it: the header, the localhost and IPv6
  lines, one line per pod IP naming the pod's hostname (``<ip>\\t<host>.<subdomain>.<ns>.svc.
  <domain>\\t<host>`` when ``spec.subdomain`` is set), then the ``hostAliases`` block. A
  ``hostNetwork`` pod gets the host's own hosts file under a different header, plus aliases.
- ``hostname_file``: ``/etc/hostname`` = ``spec.hostname`` or the pod name (63 chars at most).
- ``pod_dns`` / ``resolv_conf``: ``/etc/resolv.conf`` from ``dnsPolicy`` and ``dnsConfig``:
  ``ClusterFirst`` (the default) uses the cluster DNS servers, the search path
  ``<ns>.svc.<domain> svc.<domain> <domain>`` followed by the host's search domains, and
  ``options ndots:5``; it falls back to ``Default`` for a hostNetwork pod (use
  ``ClusterFirstWithHostNet`` to keep cluster DNS there) or when no cluster DNS is
  configured. ``Default`` copies the host's resolver configuration; ``None`` starts empty.
  ``dnsConfig`` then appends nameservers and searches (duplicates dropped) and merges options
  by name (its value wins). At most 3 nameservers and 32 search domains (2048 characters)
  are kept, as the kubelet does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from kubepy.kubelet.runtime.spec import pod_hostname

Obj = dict[str, Any]

HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
HOST_ALIASES_HEADER = "\n# Entries added by HostAliases.\n"
LOCAL_ENTRIES = ("127.0.0.1\tlocalhost\n"
                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                 "fe00::0\tip6-localnet\n"
                 "fe00::0\tip6-mcastprefix\n"
                 "fe00::1\tip6-allnodes\n"
                 "fe00::2\tip6-allrouters\n")
MAX_NAMESERVERS = 3
MAX_SEARCH_DOMAINS = 32
MAX_SEARCH_CHARS = 2048
CLUSTER_NDOTS = "ndots:5"


def _spec(pod: Obj) -> Obj:
    return pod.get("spec") or {}


def host_aliases_block(pod: Obj) -> str:
    aliases = _spec(pod).get("hostAliases") or []
    if not aliases:
        return ""
    lines = [f"{a.get('ip', '')}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases]
    return HOST_ALIASES_HEADER + "".join(lines)


def hosts_file(pod: Obj, pod_ips: Sequence[str], *, cluster_domain: str = "cluster.local",
               host_hosts: str = "") -> str:
    """The pod's ``/etc/hosts``; *host_hosts* is the node's own file (hostNetwork pods)."""
    spec = _spec(pod)
    if spec.get("hostNetwork"):
        body = host_hosts if not host_hosts or host_hosts.endswith("\n") else host_hosts + "\n"
        return HOSTS_HEADER_HOST_NETWORK + body + host_aliases_block(pod)
    hostname = pod_hostname(pod)
    subdomain = spec.get("subdomain")
    lines = []
    for ip in pod_ips:
        if subdomain:
            namespace = pod["metadata"].get("namespace") or "default"
            fqdn = f"{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}"
            lines.append(f"{ip}\t{fqdn}\t{hostname}\n")
        else:
            lines.append(f"{ip}\t{hostname}\n")
    return HOSTS_HEADER + LOCAL_ENTRIES + "".join(lines) + host_aliases_block(pod)


def hostname_file(pod: Obj) -> str:
    return pod_hostname(pod) + "\n"


@dataclass
class DNSConfig:
    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


def parse_resolv_conf(text: str) -> DNSConfig:
    """nameserver, search/domain and options lines of a resolv.conf (the last search or
    domain line wins, as in the resolver)."""
    out = DNSConfig()
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            out.nameservers.append(values[0])
        elif key in ("search", "domain"):
            out.searches = list(values)
        elif key == "options":
            out.options.extend(values)
    return out


def _unique(items: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _merge_options(base: Sequence[str], extra: Sequence[Obj]) -> list[str]:
    merged: dict[str, str] = {}
    for opt in base:
        name = opt.partition(":")[0]
        merged[name] = opt
    for option in extra:
        name = option.get("name") or ""
        if not name:
            continue
        value = option.get("value")
        merged[name] = f"{name}:{value}" if value not in (None, "") else name
    return list(merged.values())


def _fit_searches(searches: list[str]) -> list[str]:
    out: list[str] = []
    chars = 0
    for s in searches[:MAX_SEARCH_DOMAINS]:
        if chars + len(s) + (1 if out else 0) > MAX_SEARCH_CHARS:
            break
        chars += len(s) + (1 if out else 0)
        out.append(s)
    return out


def effective_dns_policy(pod: Obj, cluster_dns: Sequence[str]) -> str:
    """``ClusterFirst``, ``Default`` or ``None``: what the policy means for this pod."""
    spec = _spec(pod)
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    elif policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"
    return policy


def pod_dns(pod: Obj, *, cluster_dns: Sequence[str], cluster_domain: str = "cluster.local",
            host_resolv: str = "") -> DNSConfig:
    """The pod's resolver configuration (see the module docstring)."""
    host = parse_resolv_conf(host_resolv)
    policy = effective_dns_policy(pod, cluster_dns)
    if policy == "ClusterFirst":
        namespace = pod["metadata"].get("namespace") or "default"
        cluster_search = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}",
                          cluster_domain]
        dns = DNSConfig(list(cluster_dns), _unique(cluster_search + host.searches),
                        [CLUSTER_NDOTS])
    elif policy == "Default":
        dns = DNSConfig(list(host.nameservers), list(host.searches), list(host.options))
    else:
        dns = DNSConfig()
    extra = _spec(pod).get("dnsConfig") or {}
    dns.nameservers = _unique(dns.nameservers + list(extra.get("nameservers") or []))
    dns.searches = _unique(dns.searches + list(extra.get("searches") or []))
    dns.options = _merge_options(dns.options, extra.get("options") or [])
    dns.nameservers = dns.nameservers[:MAX_NAMESERVERS]
    dns.searches = _fit_searches(dns.searches)
    return dns


def resolv_conf(dns: DNSConfig) -> str:
    """resolv.conf text: search, nameserver lines, options (containerd's order)."""
    lines = []
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    lines += [f"nameserver {ns}" for ns in dns.nameservers]
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "".join(line + "\n" for line in lines)
