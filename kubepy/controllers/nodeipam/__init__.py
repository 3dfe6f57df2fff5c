"""Node IPAM: pod CIDRs for nodes (``cidrset`` is the pure allocator)."""

from kubepy.controllers.nodeipam.controller import NodeIpamController, new_controllers

__all__ = ["NodeIpamController", "new_controllers"]
