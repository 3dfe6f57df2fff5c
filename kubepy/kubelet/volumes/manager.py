"""``VolumeManager``: sets up, refreshes and tears down the volumes of the pods of one node.

Skeleton: emptyDir on disk only; the other volume types follow.
"""

from __future__ import annotations

import os
from typing import Any

from kubepy.client.clock import Clock
from kubepy.client.rest import ApiClient
from kubepy.kubelet.volumes.errors import setup_failed

Obj = dict[str, Any]

EMPTY_DIR = "kubernetes.io~empty-dir"


class VolumeManager:
    def __init__(self, client: ApiClient | None, *, node_name: str, clock: Clock) -> None:
        self.client = client
        self.node_name = node_name
        self.clock = clock

    async def setup(self, pod: Obj, pod_dir: str) -> dict[str, str]:
        """Volume name -> host path to bind-mount; raises VolumeError. Idempotent."""
        paths: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol["name"]
            if "emptyDir" in vol and not (vol.get("emptyDir") or {}).get("medium"):
                path = os.path.join(pod_dir, "volumes", EMPTY_DIR, name)
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o777)
                paths[name] = path
            else:
                raise setup_failed(name, "volume type not supported yet")
        return paths

    async def refresh(self, pod: Obj, pod_dir: str) -> None:
        """Re-project configMap/secret/downwardAPI/projected volumes."""

    async def teardown(self, pod: Obj, pod_dir: str) -> None:
        """Unmount what setup mounted (tmpfs)."""
