"""LimitRange admission: defaults applied to pods, min/max/ratio violations for containers,
pods and claims, with upstream's messages (kubepy.api.limitrange)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy import errors
from kubepy.api import limitrange as lr

Obj = dict[str, Any]


def limit_range(*items: Obj, name: str = "limits") -> Obj:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name},
            "spec": {"limits": list(items)}}


def container(name: str = "app", requests: Obj | None = None,
              limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources}


def pod(*containers: Obj, init: list[Obj] | None = None, name: str = "x") -> Obj:
    spec: Obj = {"containers": list(containers) or [container()]}
    if init:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def claim(storage: str | None) -> Obj:
    requests = {"storage": storage} if storage is not None else {}
    return {"metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": requests}}}


DEFAULTS = limit_range({"type": "Container", "default": {"cpu": "1", "memory": "512Mi"},
                        "defaultRequest": {"cpu": "250m", "memory": "256Mi"}})


# ---------------------------------------------------------------------------- defaults

@pytest.mark.parametrize("p, ranges, resources, annotation", [
    (pod(container()), [DEFAULTS],
     [{"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}],
     "LimitRanger plugin set: cpu, memory request for container app; "
     "cpu, memory limit for container app"),
    (pod(container(requests={"cpu": "100m"}, limits={"cpu": "200m"})), [DEFAULTS],
     [{"requests": {"cpu": "100m", "memory": "256Mi"},
       "limits": {"cpu": "200m", "memory": "512Mi"}}],
     "LimitRanger plugin set: memory request for container app; "
     "memory limit for container app"),
    (pod(container(requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})),
     [DEFAULTS],
     [{"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}],
     None),
    (pod(container(), init=[container("setup")]),
     [limit_range({"type": "Container", "defaultRequest": {"cpu": "100m"}})],
     [{"requests": {"cpu": "100m"}}, {"requests": {"cpu": "100m"}}],
     "LimitRanger plugin set: cpu request for container app; "
     "cpu request for init container setup"),
    (pod(container()),
     [limit_range({"type": "Container", "defaultRequest": {"cpu": "100m"}}, name="a"),
      limit_range({"type": "Container", "defaultRequest": {"cpu": "300m", "memory": "1Gi"}},
                  name="b")],
     [{"requests": {"cpu": "100m", "memory": "1Gi"}}],
     "LimitRanger plugin set: memory request for container app"),
    (pod(container()), [limit_range({"type": "Pod", "max": {"cpu": "4"}})], [{}], None),
], ids=["all-defaults", "fills-missing-only", "nothing-to-set", "init-containers",
        "first-range-wins", "pod-items-set-nothing"])
def test_apply_limit_ranges(p: Obj, ranges: list[Obj], resources: list[Obj],
                            annotation: str | None) -> None:
    before = repr(p)
    out = lr.apply_limit_ranges(p, ranges)
    assert repr(p) == before  # the input is not changed
    spec = out["spec"]
    got = [c["resources"] for c in spec["containers"] + spec.get("initContainers", [])]
    assert got == resources
    assert (out["metadata"].get("annotations") or {}).get(lr.ANNOTATION) == annotation


# -------------------------------------------------------------------------- validation

CONTAINER_MINMAX = limit_range({"type": "Container", "min": {"cpu": "100m"},
                                "max": {"cpu": "1", "memory": "1Gi"}})
RATIO = limit_range({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}})
POD_MAX = limit_range({"type": "Pod", "max": {"cpu": "2"}})


@pytest.mark.parametrize("p, ranges, messages", [
    (pod(container(requests={"cpu": "500m", "memory": "128Mi"},
                   limits={"cpu": "1", "memory": "1Gi"})), [CONTAINER_MINMAX], []),
    (pod(container(requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "2", "memory": "1Gi"})),
     [CONTAINER_MINMAX], ["maximum cpu usage per Container is 1, but limit is 2"]),
    (pod(container(requests={"cpu": "50m"}, limits={"cpu": "500m"})), [CONTAINER_MINMAX],
     ["minimum cpu usage per Container is 100m, but request is 50m",
      "maximum memory usage per Container is 1Gi.  No limit is specified"]),
    (pod(container(limits={"cpu": "1", "memory": "1Gi"})), [CONTAINER_MINMAX],
     ["minimum cpu usage per Container is 100m.  No request is specified"]),
    (pod(container(requests={"cpu": "200m"}, limits={"cpu": "50m", "memory": "1Gi"})),
     [CONTAINER_MINMAX], ["minimum cpu usage per Container is 100m, but limit is 50m"]),
    (pod(container(requests={"cpu": "2", "memory": "1Gi"}, limits={"cpu": "1", "memory": "1Gi"})),
     [CONTAINER_MINMAX], ["maximum cpu usage per Container is 1, but request is 2"]),
    (pod(container(requests={"cpu": "250m"}, limits={"cpu": "1"})), [RATIO],
     ["cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"]),
    (pod(container(requests={"cpu": "500m"}, limits={"cpu": "1"})), [RATIO], []),
    (pod(container(limits={"cpu": "1"})), [RATIO],
     ["cpu max limit to request ratio per Container is 2, but no request is specified or "
      "request is 0"]),
    (pod(container(requests={"cpu": "1"})), [RATIO],
     ["cpu max limit to request ratio per Container is 2, but no limit is specified or "
      "limit is 0"]),
    (pod(container("a", requests={"cpu": "1"}, limits={"cpu": "1500m"}),
         container("b", requests={"cpu": "1"}, limits={"cpu": "1"})), [POD_MAX],
     ["maximum cpu usage per Pod is 2, but limit is 2500m"]),
    (pod(container("a", requests={"cpu": "1"}, limits={"cpu": "1"}),
         init=[container("i", requests={"cpu": "2"}, limits={"cpu": "2"})]), [POD_MAX], []),
    (pod(container("a", requests={"cpu": "1"}, limits={"cpu": "2"}),
         container("b", requests={"cpu": "1"}, limits={"cpu": "3"})), [CONTAINER_MINMAX],
     ["maximum cpu usage per Container is 1, but limit is 2",
      "maximum memory usage per Container is 1Gi.  No limit is specified",
      "maximum cpu usage per Container is 1, but limit is 3",
      "maximum memory usage per Container is 1Gi.  No limit is specified"]),
    (pod(container(requests={"cpu": "2"}, limits={"cpu": "8"})), [POD_MAX, RATIO],
     ["maximum cpu usage per Pod is 2, but limit is 8"]),
    (pod(container(requests={"cpu": "0.5m"}, limits={"cpu": "1", "memory": "1Gi"})),
     [limit_range({"type": "Container", "min": {"cpu": "1m"}})], []),
], ids=["fits", "max-limit", "min-request-and-missing-limit", "min-no-request",
        "min-limit", "max-request", "ratio-exceeded", "ratio-ok", "ratio-no-request",
        "ratio-no-limit", "pod-sum", "pod-init-max", "every-container",
        "first-failing-range-only", "milli-rounds-up"])
def test_validate_pod(p: Obj, ranges: list[Obj], messages: list[str]) -> None:
    assert lr.validate_limit_ranges(p, ranges) == messages


STORAGE = limit_range({"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                       "max": {"storage": "10Gi"}})


@pytest.mark.parametrize("storage, messages", [
    ("5Gi", []),
    ("500Mi", ["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]),
    ("20Gi", ["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]),
    (None, ["minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified",
            "maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified"]),
], ids=["fits", "too-small", "too-large", "no-request"])
def test_validate_claim(storage: str | None, messages: list[str]) -> None:
    assert lr.validate_limit_ranges(claim(storage), [STORAGE],
                                    resource="persistentvolumeclaims") == messages


# -------------------------------------------------------------------------- admission

def test_admit_applies_defaults_then_validates() -> None:
    ranges = [limit_range({"type": "Container", "max": {"cpu": "1"}, "default": {"cpu": "1"},
                           "defaultRequest": {"cpu": "500m"}})]
    out = lr.admit_limit_ranges(pod(container()), None, ranges, resource="pods")
    assert out["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"},
                                                         "requests": {"cpu": "500m"}}


@pytest.mark.parametrize("obj, resource, message", [
    (pod(container("a", requests={"cpu": "2"}, limits={"cpu": "2"}),
         container("b", requests={"cpu": "3"}, limits={"cpu": "3"})), "pods",
     'pods "x" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
     'maximum cpu usage per Container is 1, but limit is 3]'),
    (pod(container("a", requests={"cpu": "2"}, limits={"cpu": "2"})), "pods",
     'pods "x" is forbidden: maximum cpu usage per Container is 1, but limit is 2'),
    (claim("20Gi"), "persistentvolumeclaims",
     'persistentvolumeclaims "data" is forbidden: maximum storage usage per '
     'PersistentVolumeClaim is 10Gi, but request is 20Gi'),
], ids=["aggregated", "single", "claim"])
def test_admit_forbidden(obj: Obj, resource: str, message: str) -> None:
    ranges = [limit_range({"type": "Container", "max": {"cpu": "1"}}), STORAGE]
    with pytest.raises(errors.Forbidden) as err:
        lr.admit_limit_ranges(obj, None, ranges, resource=resource)
    assert err.value.message == message
    assert err.value.code == 403


@pytest.mark.parametrize("obj, old, resource", [
    (pod(container(limits={"cpu": "5"})), pod(container(limits={"cpu": "5"})), "pods"),
    (claim("20Gi"), {**claim("1Gi"), "metadata": {"name": "data",
                                                   "deletionTimestamp": "2024-01-01T00:00:00Z"}},
     "persistentvolumeclaims"),
    ({"metadata": {"name": "cm"}}, None, "configmaps"),
], ids=["pod-update", "claim-being-deleted", "other-resource"])
def test_admit_passes_through(obj: Obj, old: Obj | None, resource: str) -> None:
    ranges = [limit_range({"type": "Container", "max": {"cpu": "1"}}), STORAGE]
    assert lr.admit_limit_ranges(obj, old, ranges, resource=resource) is obj


def test_admit_checks_claim_updates() -> None:
    with pytest.raises(errors.Forbidden):
        lr.admit_limit_ranges(claim("20Gi"), claim("5Gi"), [STORAGE],
                              resource="persistentvolumeclaims")
