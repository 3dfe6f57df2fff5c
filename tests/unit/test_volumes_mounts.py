"""container_mounts' subPathExpr and mountPropagation, and the size of memory-backed
emptyDir volumes, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.pods.mounts import container_mounts
from kubepy.kubelet.runtime.env import ContainerConfigError
from kubepy.kubelet.volumes.emptydir import memory_size, pod_memory_limit

Obj = dict[str, Any]
Mi = 1024 * 1024
ENV = [("POD_NAME", "web-0"), ("NS", "shop"), ("EMPTY", "")]


def mounts(*volume_mounts: Obj) -> list[Obj]:
    return container_mounts({"name": "c", "volumeMounts": list(volume_mounts)},
                            volumes={"logs": "/v/logs"}, etc_hosts=None, etc_hostname=None,
                            resolv_conf=None, termination_log=None, env=ENV)


@pytest.mark.parametrize("mount,source,options", [
    ({"name": "logs", "mountPath": "/l", "subPathExpr": "$(NS)/$(POD_NAME)"}, "/v/logs/shop/web-0",
     ["rbind", "rprivate", "rw"]),
    ({"name": "logs", "mountPath": "/l", "subPathExpr": "$$(NS)"}, "/v/logs/$(NS)",
     ["rbind", "rprivate", "rw"]),
    ({"name": "logs", "mountPath": "/l", "subPath": "a", "mountPropagation": "HostToContainer"},
     "/v/logs/a", ["rbind", "rslave", "rw"]),
    ({"name": "logs", "mountPath": "/l", "mountPropagation": "Bidirectional", "readOnly": True},
     "/v/logs", ["rbind", "rshared", "ro"]),
    ({"name": "logs", "mountPath": "/l", "mountPropagation": "None"}, "/v/logs",
     ["rbind", "rprivate", "rw"]),
])
def test_sub_path_expr_and_propagation(mount: Obj, source: str, options: list[str]) -> None:
    (m,) = mounts(mount)
    assert (m["source"], m["options"]) == (source, options)


@pytest.mark.parametrize("mount,message", [
    ({"name": "logs", "mountPath": "/l", "subPathExpr": "$(NOPE)/$(EMPTY)/$(NS)"},
     "missing value for EMPTY, NOPE"),
    ({"name": "logs", "mountPath": "/l", "subPathExpr": "../$(NS)"},
     "subPath '../shop' must not contain '..'"),
    ({"name": "logs", "mountPath": "/l", "mountPropagation": "Sideways"},
     "invalid mountPropagation 'Sideways'"),
])
def test_mount_errors(mount: Obj, message: str) -> None:
    with pytest.raises(ContainerConfigError) as e:
        mounts(mount)
    assert str(e.value) == message


def c(name: str, memory: str | None = None, restart: str | None = None) -> Obj:
    out: Obj = {"name": name, "resources": {"limits": {"memory": memory}} if memory else {}}
    if restart:
        out["restartPolicy"] = restart
    return out


def pod(containers: list[Obj], init: list[Obj] | None = None) -> Obj:
    return {"spec": {"containers": containers, "initContainers": init or []}}


@pytest.mark.parametrize("p,limit", [
    (pod([c("a", "64Mi"), c("b", "32Mi")]), 96 * Mi),
    (pod([c("a", "64Mi"), c("b")]), None),
    (pod([c("a", "64Mi")], [c("i", "128Mi")]), 128 * Mi),
    (pod([c("a", "64Mi")], [c("i", "16Mi")]), 64 * Mi),
    (pod([c("a", "64Mi")], [c("side", "32Mi", "Always"), c("i", "80Mi")]), 96 * Mi),
    (pod([c("a", "64Mi")], [c("i")]), None),
])
def test_pod_memory_limit(p: Obj, limit: int | None) -> None:
    assert pod_memory_limit(p) == limit


@pytest.mark.parametrize("p,size_limit,allocatable,size", [
    pytest.param(pod([c("a")]), None, None, None, id="nothing-known"),
    pytest.param(pod([c("a")]), None, {"memory": "1Gi"}, 1024 * Mi, id="allocatable"),
    pytest.param(pod([c("a", "64Mi")]), None, {"memory": "1Gi"}, 64 * Mi, id="pod-limit"),
    pytest.param(pod([c("a", "64Mi")]), "8Mi", {"memory": "1Gi"}, 8 * Mi, id="size-limit"),
    pytest.param(pod([c("a", "64Mi")]), "128Mi", {"memory": "1Gi"}, 64 * Mi,
                 id="size-limit-above-pod-limit-ignored"),
    pytest.param(pod([c("a", "2Gi")]), None, {"memory": "1Gi"}, 1024 * Mi,
                 id="pod-limit-above-allocatable-ignored"),
    pytest.param(pod([c("a")]), "0", {"memory": "1Gi"}, 1024 * Mi, id="zero-size-limit-ignored"),
    pytest.param(pod([c("a")]), "4Mi", None, 4 * Mi, id="size-limit-alone"),
])
def test_memory_size(p: Obj, size_limit: str | None, allocatable: Obj | None,
                     size: int | None) -> None:
    assert memory_size(p, size_limit, allocatable) == size
