"""What the kubelet server needs to know about pods and containers.

The server (logs, exec, attach, port-forward) never looks at the pod workers itself: the
agent hands it a ``StreamingRuntime`` that answers, for a namespace/name (and container),
where the pod's network namespace is, which container instance is current, where its CRI
logs are and how to reach its conmon. Refs are frozen snapshots; the server asks again when
it needs fresh facts (``follow`` re-queries ``container`` to learn that the container
stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ContainerRef:
    pod_uid: str
    namespace: str
    pod_name: str
    container_name: str
    container_id: str | None  # running (or last) instance; None if never created
    running: bool
    log_path: str | None  # current instance's CRI log
    previous_log_path: str | None  # the instance before (restartCount-1), if any
    tty: bool
    stdin: bool
    stdin_once: bool
    attach_socket: str | None  # conmon's attach unix socket (ConmonRunner.attach_socket)
    ctl_path: str | None  # conmon's ctl FIFO (ConmonRunner.ctl_path)


@dataclass(frozen=True)
class PodRef:
    uid: str
    namespace: str
    name: str
    netns_path: str | None  # None for hostNetwork pods
    containers: tuple[str, ...]


@dataclass(frozen=True)
class PodStatsRef:
    """A pod of this node for /stats/summary: its cgroup and its containers' (paths relative
    to the cgroup root, e.g. ``/kubepy/pod<uid>``)."""
    uid: str
    namespace: str
    name: str
    start_time: float
    cgroup_path: str
    containers: tuple[tuple[str, float, str], ...] = ()   # (name, started at, cgroups path)


class PodLister(Protocol):
    """Optional beside ``StreamingRuntime``: a runtime that also lists its pods gets them
    reported in /stats/summary (the server checks for ``pods``)."""

    def pods(self) -> list[PodStatsRef]: ...


class StreamingRuntime(Protocol):
    def pod(self, namespace: str, name: str) -> PodRef | None: ...

    def container(self, namespace: str, name: str, container: str) -> ContainerRef | None: ...

    def runc_command(self) -> list[str]:  # e.g. ["runc", "--root", "<dir>"]
        ...
