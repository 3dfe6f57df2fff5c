"""What every controller is built from: the shared client, informers, event recorders,
clock and cluster configuration.

Each controller module under ``kubepy.controllers`` exposes
``new_controllers(ctx: ControllerContext) -> list[Controller]``; the controller-manager
imports the modules named in ``CONTROLLER_MODULES``, builds their controllers from one
context (so they share informers), starts the informers, waits for their caches, then runs
every controller's workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from kubepy.client.clock import Clock
from kubepy.client.events import EventRecorder
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.rest import ApiClient

# Modules the controller-manager loads, in start order.
CONTROLLER_MODULES: tuple[str, ...] = (
    "namespace", "serviceaccount", "garbagecollector",
    "replicaset", "replicationcontroller", "deployment", "statefulset", "daemonset",
    "job", "cronjob", "endpoints", "endpointslice", "nodeipam", "nodelifecycle",
    "pvbinder", "resourcequota", "disruption", "servicelb",
)


@dataclass
class ControllerConfig:
    cluster_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    node_cidr_mask_size: int = 24
    # node lifecycle (kube-controller-manager defaults)
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    # DefaultTolerationSeconds admission adds 300 s tolerations; eviction honours them
    pod_eviction_timeout: float = 300.0
    # garbage collection of terminated pods (kube-controller-manager default 12500)
    terminated_pod_gc_threshold: int = 12500
    workers: dict[str, int] = field(default_factory=dict)  # controller name -> workers
    # the cluster CA bundle (PEM) published as kube-root-ca.crt; "": the client's CA data
    root_ca_pem: str = ""


@dataclass
class ControllerContext:
    client: ApiClient
    informers: SharedInformerFactory
    clock: Clock
    config: ControllerConfig
    recorder_for: Callable[[str], EventRecorder]  # component name -> recorder

    def workers(self, name: str, default: int = 2) -> int:
        return self.config.workers.get(name, default)
