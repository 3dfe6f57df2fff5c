"""The reviewed protobuf schema of the built-in kinds kubepy decodes (Kubernetes 1.32).

``TABLES`` maps full message names to fields (see ``messages`` for the format). It covers
what protobuf clients send: everything kubectl 1.32/1.33's generators, ``autoscale``,
``create token`` and ``drain`` write, plus the common workload, RBAC, lease and event kinds
of client-go-based controllers, each with every message it reaches.
"""

from kubepy.api.protobuf.messages import Message
from kubepy.api.protobuf.tables import access, core, core_pod, meta, workloads

TABLES: dict[str, Message] = {
    **meta.TABLE, **core_pod.TABLE, **core.TABLE, **workloads.TABLE, **access.TABLE
}
