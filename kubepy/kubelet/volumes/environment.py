"""``resolve_env``: a container's final environment, reading its sources from the API.

Skeleton: plain values and ``$(VAR)`` expansion only; valueFrom, envFrom and service links
follow.
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.client.rest import ApiClient
from kubepy.kubelet.runtime.env import container_env

Obj = dict[str, Any]


async def resolve_env(client: ApiClient | None, pod: Obj, container: Obj, *,
                      services: list[Obj] | None = None, node_ip: str = "",
                      pod_ip: str = "",
                      allocatable: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The container's ``(name, value)`` list; raises ContainerConfigError."""
    return container_env(container)
