"""Pod networking through the standard CNI plugins (bridge, host-local, portmap).

``cni`` builds configuration and parses results (pure), ``invoke`` runs plugins and chains a
configuration list as libcni does, ``netns`` pins pod network namespaces, ``iptables`` finds
leftover nat rules, ``process`` execs helper programs off the event loop, and
``manager.PodNetwork`` is what the kubelet uses.
"""

from kubepy.kubelet.network.cni import PodIPs, build_conflist, port_mappings
from kubepy.kubelet.network.invoke import CNIError, PluginRunner
from kubepy.kubelet.network.manager import PodNetwork
from kubepy.kubelet.network.netns import NetNSManager, sandbox_netns_name

__all__ = ["CNIError", "NetNSManager", "PluginRunner", "PodIPs", "PodNetwork",
           "build_conflist", "port_mappings", "sandbox_netns_name"]
