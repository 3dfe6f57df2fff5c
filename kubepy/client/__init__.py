"""The client layer: how every kubepy component talks to the API server (client-go's shape).

* ``rest.ApiClient`` — async REST (CRUD, patch, apply, watch) with kubeconfig loading;
  non-2xx answers raise ``kubepy.errors`` (``status.errors_from_status``).
* ``informer.Informer`` / ``factory.SharedInformerFactory`` — list+watch caches
  (``store.Store`` with indexes) and add/update/delete notifications.
* ``workqueue.WorkQueue`` — de-duplicating, delaying, rate-limited queue
  (``queue``, ``delaying``, ``ratelimit``).
* ``controller.Controller`` — the level-triggered worker loop.
* ``leaderelection.LeaderElector`` — one active instance per Lease.
* ``events.EventRecorder`` — core/v1 Events with aggregation.
* ``clock`` — ``Clock``, ``RealClock``, ``FakeClock``: all time is injected.
"""

from kubepy.client.clock import REAL_CLOCK, Clock, FakeClock, RealClock
from kubepy.client.controller import Controller
from kubepy.client.events import EventRecorder
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.informer import DeletedFinalStateUnknown, Informer
from kubepy.client.leaderelection import LeaderElector
from kubepy.client.queue import ShutDown
from kubepy.client.rest import ApiClient, ApiUnreachable
from kubepy.client.status import errors_from_status
from kubepy.client.store import Store, meta_key, split_key
from kubepy.client.workqueue import WorkQueue

__all__ = [
    "REAL_CLOCK", "Clock", "FakeClock", "RealClock", "Controller", "EventRecorder",
    "SharedInformerFactory", "DeletedFinalStateUnknown", "Informer", "LeaderElector",
    "ShutDown", "ApiClient", "ApiUnreachable", "errors_from_status", "Store", "meta_key",
    "split_key", "WorkQueue",
]
