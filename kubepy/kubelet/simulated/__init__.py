"""Simulated nodes (``kubepy simulate``): kubelets without containers, in kwok's shape.

* ``lifecycle`` — the pure pod lifecycle state machine (run, exit, restart back-off).
* ``podstatus`` — a pod's status as a kubelet reports it (pure).
* ``nodes`` — Node and Lease objects, fake addresses, pod IP allocation (pure).
* ``simulator`` — ``NodeSimulator``: the I/O (informers, work queues, API writes).
"""

from kubepy.kubelet.simulated.nodes import NodeTemplate
from kubepy.kubelet.simulated.simulator import NodeSimulator, SimConfig

__all__ = ["NodeSimulator", "NodeTemplate", "SimConfig"]
