"""What a pod's runtime state looks like on disk, so that a restarted agent can take its
running pods over (``PodRuntime.recover``). Pure: JSON in, JSON out.

``pods/<uid>/runtime.json`` holds everything about the pod that the API does not say:

* the sandbox (runc id, bundle, cgroups path), the pinned network namespace, the pod IPs and
  the time the pod was started;
* one record per init and app container (``ContainerRecord``: id, phase, times, exit code,
  restart count, the instance before as ``last``) and, for a created container, the bundle
  and cgroups path needed to stop and clean it up;
* the host paths of the pod's volumes, as the VolumeManager set them up, and the reason
  the kubelet failed the pod with (DeadlineExceeded), if it did.

Back-offs and probe results are not kept (the kubelet loses them on a restart too).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord

Obj = dict[str, Any]
VERSION = 1
_TRANSIENT = ("backoff_message", "probe_ready", "probe_started")


def record_to_json(record: ContainerRecord) -> Obj:
    out: Obj = {}
    for f in fields(record):
        if f.name in _TRANSIENT:
            continue
        value = getattr(record, f.name)
        if f.name == "phase":
            value = value.value
        elif f.name == "last":
            value = record_to_json(value) if value is not None else None
        out[f.name] = value
    return out


def record_from_json(data: Obj) -> ContainerRecord:
    known = {f.name for f in fields(ContainerRecord)} - set(_TRANSIENT)
    kwargs = {k: v for k, v in data.items() if k in known}
    kwargs["phase"] = ContainerPhase(kwargs.get("phase", "waiting"))
    if kwargs.get("last") is not None:
        kwargs["last"] = record_from_json(kwargs["last"])
    return ContainerRecord(**kwargs)


@dataclass
class InstanceInfo:
    """A created container's on-disk handles."""
    container_id: str
    name: str
    init: bool
    bundle: str
    cgroups_path: str


@dataclass
class Checkpoint:
    started_at: float
    netns_path: str | None
    pod_ips: list[str]
    host_ip: str
    sandbox_id: str
    sandbox_bundle: str
    sandbox_cgroups_path: str
    init_containers: dict[str, ContainerRecord] = field(default_factory=dict)
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    instances: list[InstanceInfo] = field(default_factory=list)
    volumes: dict[str, str] | None = None     # volume name -> host path (VolumeManager's)
    failure: tuple[str, str] | None = None    # (reason, message) the kubelet failed it with


def to_json(cp: Checkpoint) -> Obj:
    return {
        "version": VERSION, "startedAt": cp.started_at, "netnsPath": cp.netns_path,
        "podIPs": list(cp.pod_ips), "hostIP": cp.host_ip,
        "sandbox": {"id": cp.sandbox_id, "bundle": cp.sandbox_bundle,
                    "cgroupsPath": cp.sandbox_cgroups_path},
        "initContainers": {n: record_to_json(r) for n, r in cp.init_containers.items()},
        "containers": {n: record_to_json(r) for n, r in cp.containers.items()},
        "instances": [vars(i) for i in cp.instances],
        "volumes": cp.volumes,
        "failure": list(cp.failure) if cp.failure else None,
    }


def from_json(data: Obj) -> Checkpoint:
    """Raises ValueError for a file of another version or shape."""
    if data.get("version") != VERSION:
        raise ValueError(f"runtime checkpoint version {data.get('version')!r}")
    try:
        sandbox = data["sandbox"]
        return Checkpoint(
            started_at=float(data["startedAt"]), netns_path=data.get("netnsPath"),
            pod_ips=list(data.get("podIPs") or []), host_ip=data.get("hostIP") or "",
            sandbox_id=sandbox["id"], sandbox_bundle=sandbox["bundle"],
            sandbox_cgroups_path=sandbox.get("cgroupsPath") or "",
            init_containers={n: record_from_json(r)
                             for n, r in (data.get("initContainers") or {}).items()},
            containers={n: record_from_json(r) for n, r in (data.get("containers") or {}).items()},
            instances=[InstanceInfo(**i) for i in data.get("instances") or []],
            volumes=data.get("volumes"),
            failure=tuple(data["failure"]) if data.get("failure") else None)
    except (KeyError, TypeError) as e:
        raise ValueError(f"runtime checkpoint: {e!r}") from e
