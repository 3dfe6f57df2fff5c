"""ProbeManager: the probe workers of every container on the node (prober_manager.go)."""

from __future__ import annotations

from typing import Callable

from kubepy.client.clock import Clock
from kubepy.kubelet.prober.types import ExecSync, Obj


class ProbeManager:
    def __init__(self, *, clock: Clock, on_change: Callable[[str, str], None]) -> None:
        self._clock = clock
        self._on_change = on_change

    def add_container(self, pod: Obj, container: Obj, *, container_id: str,
                      started_at: float, pod_ip: str, exec_sync: ExecSync) -> None:
        raise NotImplementedError

    def remove_container(self, pod_uid: str, container_name: str) -> None:
        raise NotImplementedError

    def remove_pod(self, pod_uid: str) -> None:
        raise NotImplementedError

    def ready(self, pod_uid: str, container_name: str) -> bool:
        raise NotImplementedError

    def started(self, pod_uid: str, container_name: str) -> bool:
        raise NotImplementedError

    def liveness_failed(self, pod_uid: str, container_name: str) -> str | None:
        raise NotImplementedError

    def events(self) -> list[tuple[str, str, str, str]]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
