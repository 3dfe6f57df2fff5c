"""``CidrSet``: the pod CIDRs of one cluster CIDR, handed out one per node (upstream's
``nodeipam/ipam/cidrset``). Pure, in memory.

The cluster CIDR (say 10.42.0.0/16) is cut into subnets of ``mask_size`` bits (/24 by
default: 256 subnets). ``allocate_next`` returns the first free subnet at or after the one
after the last allocation, wrapping around (so a just-released subnet is not handed out
again at once); ``occupy`` marks a subnet (or every subnet a wider CIDR covers) taken, as
the controller does for the podCIDRs nodes already have; ``release`` frees. The invariant:
a subnet is handed out by ``allocate_next`` only while it is not marked.
"""

from __future__ import annotations

import ipaddress
from typing import Union

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
MAX_SUBNET_BITS = 16  # upstream's clusterSubnetMaxDiff
DEFAULT_IPV6_MASK_SIZE = 64


class CIDRRangeNoCIDRsRemaining(Exception):
    """Every subnet of the cluster CIDR is taken."""

    def __init__(self, cluster_cidr: str) -> None:
        super().__init__(f"CIDR allocation failed; there are no remaining CIDRs left to "
                         f"allocate in the accepted range {cluster_cidr}")


class CidrSet:
    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.cluster: IPNetwork = ipaddress.ip_network(cluster_cidr.strip(), strict=False)
        if mask_size < self.cluster.prefixlen:
            raise ValueError(f"node CIDR mask size /{mask_size} is larger than the cluster "
                             f"CIDR {self.cluster}")
        if mask_size - self.cluster.prefixlen > MAX_SUBNET_BITS:
            raise ValueError("CIDRSet subnet mask size is too big: the cluster CIDR "
                             f"{self.cluster} would hold more than 2^{MAX_SUBNET_BITS} "
                             f"subnets of /{mask_size}")
        self.mask_size = mask_size
        self.max_cidrs = 1 << (mask_size - self.cluster.prefixlen)
        self._used: set[int] = set()
        self._next = 0

    @property
    def family(self) -> str:
        return "IPv6" if self.cluster.version == 6 else "IPv4"

    @property
    def allocated(self) -> int:
        return len(self._used)

    def _subnet(self, index: int) -> str:
        step = 1 << (self.cluster.max_prefixlen - self.mask_size)
        base = int(self.cluster.network_address) + index * step
        return str(ipaddress.ip_network((base, self.mask_size)))

    def _indices(self, cidr: str) -> range:
        """The subnet indices ``cidr`` covers; raises ValueError when outside the set."""
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version != self.cluster.version or not net.subnet_of(self.cluster):  # type: ignore[arg-type]
            raise ValueError(f"cidr {cidr} is out of the range of CIDR allocator "
                             f"{self.cluster}")
        shift = self.cluster.max_prefixlen - self.mask_size
        offset = int(net.network_address) - int(self.cluster.network_address)
        first = offset >> shift
        if net.prefixlen >= self.mask_size:
            return range(first, first + 1)
        return range(first, first + (1 << (self.mask_size - net.prefixlen)))

    def allocate_next(self) -> str:
        for i in range(self.max_cidrs):
            candidate = (self._next + i) % self.max_cidrs
            if candidate not in self._used:
                self._used.add(candidate)
                self._next = (candidate + 1) % self.max_cidrs
                return self._subnet(candidate)
        raise CIDRRangeNoCIDRsRemaining(str(self.cluster))

    def occupy(self, cidr: str) -> None:
        self._used.update(self._indices(cidr))

    def release(self, cidr: str) -> None:
        self._used.difference_update(self._indices(cidr))

    def contains(self, cidr: str) -> bool:
        try:
            self._indices(cidr)
        except ValueError:
            return False
        return True

    def is_occupied(self, cidr: str) -> bool:
        return all(i in self._used for i in self._indices(cidr))


def cidr_sets(cluster_cidrs: str, ipv4_mask_size: int,
              ipv6_mask_size: int = DEFAULT_IPV6_MASK_SIZE) -> list[CidrSet]:
    """One set per comma-separated cluster CIDR (dual-stack: one IPv4 and one IPv6)."""
    sets = []
    for text in cluster_cidrs.split(","):
        if not text.strip():
            continue
        net = ipaddress.ip_network(text.strip(), strict=False)
        sets.append(CidrSet(text, ipv6_mask_size if net.version == 6 else ipv4_mask_size))
    if not sets:
        raise ValueError("no cluster CIDR given")
    return sets
