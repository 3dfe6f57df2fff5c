"""ResourceQuota evaluators, controller usage and the admission decision (kubepy.api.quota)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from kubepy import errors
from kubepy.api import quota as q

Obj = dict[str, Any]
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def container(name: str = "c", requests: Obj | None = None, limits: Obj | None = None,
              **extra: Any) -> Obj:
    resources: Obj = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "nginx", "resources": resources, **extra}


def pod(name: str = "x", containers: list[Obj] | None = None, init: list[Obj] | None = None,
        status: Obj | None = None, meta: Obj | None = None, **spec: Any) -> Obj:
    out: Obj = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "ns", **(meta or {})},
                "spec": {"containers": containers if containers is not None else [container()],
                         **spec}}
    if init:
        out["spec"]["initContainers"] = init
    if status:
        out["status"] = status
    return out


def rq(name: str, hard: Obj, used: Obj | None = None, *, scopes: list[str] | None = None,
       selector: list[Obj] | None = None) -> Obj:
    spec: Obj = {"hard": hard}
    if scopes:
        spec["scopes"] = scopes
    if selector:
        spec["scopeSelector"] = {"matchExpressions": selector}
    status: Obj = {"hard": hard}
    if used is not None:
        status["used"] = used
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7"},
            "spec": spec, "status": status}


# ------------------------------------------------------------------------ pod usage

@pytest.mark.parametrize("p, expected", [
    (pod(containers=[container(requests={"cpu": "500m", "memory": "1Gi"},
                               limits={"cpu": "1", "memory": "1Gi"})]),
     {"count/pods": "1", "pods": "1", "cpu": "500m", "requests.cpu": "500m",
      "memory": "1Gi", "requests.memory": "1Gi", "limits.cpu": "1", "limits.memory": "1Gi"}),
    (pod(containers=[container("a", requests={"cpu": "500m"}),
                     container("b", requests={"cpu": "1"})]),
     {"count/pods": "1", "pods": "1", "cpu": "1500m", "requests.cpu": "1500m"}),
    (pod(containers=[container(requests={"memory": "1Gi"}),
                     container("b", requests={"memory": "1Gi"})]),
     {"count/pods": "1", "pods": "1", "memory": "2Gi", "requests.memory": "2Gi"}),
    (pod(containers=[container(requests={"cpu": "100m"})],
         init=[container("init", requests={"cpu": "2"})]),
     {"count/pods": "1", "pods": "1", "cpu": "2", "requests.cpu": "2"}),
    (pod(containers=[container(requests={"cpu": "1"})],
         init=[container("side", requests={"cpu": "500m"}, restartPolicy="Always"),
               container("init", requests={"cpu": "1"})]),
     {"count/pods": "1", "pods": "1", "cpu": "1500m", "requests.cpu": "1500m"}),
    (pod(containers=[container(requests={"cpu": "1"}, limits={"cpu": "1"})],
         overhead={"cpu": "250m", "memory": "120Mi"}),
     {"count/pods": "1", "pods": "1", "cpu": "1250m", "requests.cpu": "1250m",
      "memory": "120Mi", "requests.memory": "120Mi", "limits.cpu": "1250m"}),
    (pod(containers=[container(requests={"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi"},
                               limits={"nvidia.com/gpu": "2", "hugepages-2Mi": "4Mi"})]),
     {"count/pods": "1", "pods": "1", "requests.nvidia.com/gpu": "2",
      "hugepages-2Mi": "4Mi", "requests.hugepages-2Mi": "4Mi"}),
    (pod(containers=[container(requests={"cpu": "1"})], status={"phase": "Succeeded"}),
     {"count/pods": "1"}),
    (pod(containers=[container(requests={"cpu": "1"})], status={"phase": "Running"},
         meta={"deletionTimestamp": "2024-05-01T11:59:00Z", "deletionGracePeriodSeconds": 30}),
     {"count/pods": "1"}),
    (pod(containers=[container(requests={"cpu": "1"})],
         meta={"deletionTimestamp": "2024-05-01T11:59:50Z", "deletionGracePeriodSeconds": 30}),
     {"count/pods": "1", "pods": "1", "cpu": "1", "requests.cpu": "1"}),
], ids=["requests-and-limits", "cpu-sum-keeps-milli", "memory-sum-binary", "init-max",
        "sidecar-adds", "overhead", "extended-and-hugepages", "terminal-only-count",
        "grace-expired-only-count", "still-terminating-counts"])
def test_pod_usage(p: Obj, expected: Obj) -> None:
    assert q.to_strings(q.usage(p, "", "pods", NOW)) == expected


@pytest.mark.parametrize("svc, expected", [
    ({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "0",
      "services.nodeports": "0"}),
    ({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "0",
      "services.nodeports": "2"}),
    ({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "1",
      "services.nodeports": "1"}),
    ({"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
               "ports": [{"port": 80, "nodePort": 30001}, {"port": 81}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "1",
      "services.nodeports": "1"}),
], ids=["clusterip", "nodeport", "loadbalancer", "lb-without-allocated-nodeports"])
def test_service_usage(svc: Obj, expected: Obj) -> None:
    assert q.to_strings(q.usage(svc, "", "services")) == expected


@pytest.mark.parametrize("pvc, expected", [
    ({"spec": {"resources": {"requests": {"storage": "1Gi"}}}},
     {"persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1",
      "requests.storage": "1Gi"}),
    ({"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "5Gi"}}}},
     {"persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1",
      "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
      "requests.storage": "5Gi", "gold.storageclass.storage.k8s.io/requests.storage": "5Gi"}),
    ({"spec": {"resources": {"requests": {"storage": "1Gi"}}},
      "status": {"allocatedResources": {"storage": "2Gi"}}},
     {"persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1",
      "requests.storage": "2Gi"}),
    ({"spec": {"resources": {"requests": {"storage": "1500m"}}}},
     {"persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1",
      "requests.storage": "2"}),
], ids=["plain", "storage-class", "allocated-larger", "rounded-to-bytes"])
def test_pvc_usage(pvc: Obj, expected: Obj) -> None:
    assert q.to_strings(q.usage(pvc, "", "persistentvolumeclaims")) == expected


@pytest.mark.parametrize("group, resource, expected", [
    ("", "configmaps", {"count/configmaps": "1", "configmaps": "1"}),
    ("", "secrets", {"count/secrets": "1", "secrets": "1"}),
    ("apps", "deployments", {"count/deployments.apps": "1"}),
    ("example.com", "widgets", {"count/widgets.example.com": "1"}),
], ids=["configmaps-alias", "secrets-alias", "deployments", "custom"])
def test_object_count_usage(group: str, resource: str, expected: Obj) -> None:
    assert q.to_strings(q.usage({"metadata": {"name": "o"}}, group, resource)) == expected


@pytest.mark.parametrize("names, expected", [
    (["pods", "requests.cpu", "count/deployments.apps"], {("", "pods"), ("apps", "deployments")}),
    (["services.nodeports", "configmaps"], {("", "services"), ("", "configmaps")}),
    (["gold.storageclass.storage.k8s.io/requests.storage"], {("", "persistentvolumeclaims")}),
    (["requests.nvidia.com/gpu", "count/pods"], {("", "pods")}),
    (["unknown-thing"], set()),
], ids=["pods-and-count", "services-and-alias", "storage-class", "extended", "unknown"])
def test_tracked_resources(names: list[str], expected: set[tuple[str, str]]) -> None:
    assert q.tracked_resources(names) == expected


# -------------------------------------------------------------------------- scopes

BEST_EFFORT = pod()
BURSTABLE = pod(containers=[container(requests={"cpu": "100m"})])
TERMINATING = pod(activeDeadlineSeconds=30)
HIGH = pod(priorityClassName="high")


@pytest.mark.parametrize("quota, p, expected", [
    (rq("a", {"pods": "5"}, scopes=["BestEffort"]), BEST_EFFORT, True),
    (rq("a", {"pods": "5"}, scopes=["BestEffort"]), BURSTABLE, False),
    (rq("a", {"pods": "5"}, scopes=["NotBestEffort"]), BURSTABLE, True),
    (rq("a", {"pods": "5"}, scopes=["Terminating"]), TERMINATING, True),
    (rq("a", {"pods": "5"}, scopes=["Terminating"]), BEST_EFFORT, False),
    (rq("a", {"pods": "5"}, scopes=["NotTerminating", "BestEffort"]), BEST_EFFORT, True),
    (rq("a", {"pods": "5"}, selector=[{"scopeName": "PriorityClass", "operator": "In",
                                       "values": ["high"]}]), HIGH, True),
    (rq("a", {"pods": "5"}, selector=[{"scopeName": "PriorityClass", "operator": "In",
                                       "values": ["high"]}]), BEST_EFFORT, False),
    (rq("a", {"pods": "5"}, selector=[{"scopeName": "PriorityClass", "operator": "NotIn",
                                       "values": ["high"]}]), BEST_EFFORT, True),
    (rq("a", {"pods": "5"}, selector=[{"scopeName": "PriorityClass",
                                       "operator": "Exists"}]), HIGH, True),
    (rq("a", {"requests.cpu": "5"}), BEST_EFFORT, True),
    (rq("a", {"services": "5"}), BEST_EFFORT, False),
], ids=["besteffort", "besteffort-not-burstable", "notbesteffort", "terminating",
        "terminating-not-plain", "two-scopes", "priority-in", "priority-in-miss",
        "priority-notin-empty", "priority-exists", "unscoped", "no-pod-resource"])
def test_quota_matches_pod(quota: Obj, p: Obj, expected: bool) -> None:
    assert q.quota_matches(quota, p, "", "pods") is expected


def test_scoped_quota_never_matches_other_kinds() -> None:
    quota = rq("a", {"count/services": "5"}, scopes=["BestEffort"])
    assert q.quota_matches(quota, {"spec": {}}, "", "services") is False


# ----------------------------------------------------------------- controller usage

def test_quota_status_counts_namespace_objects() -> None:
    quota = rq("compute", {"pods": "10", "requests.cpu": "4", "count/configmaps": "5",
                           "services.nodeports": "2", "mystery": "1"},
               used={"mystery": "1", "gone": "3"})
    objects = {
        ("", "pods"): [pod("a", [container(requests={"cpu": "500m"})]),
                       pod("b", [container(requests={"cpu": "1"})]),
                       pod("c", [container(requests={"cpu": "2"})], status={"phase": "Failed"})],
        ("", "configmaps"): [{"metadata": {"name": "one"}}],
    }
    status = q.quota_status(quota, objects, NOW)
    assert status["hard"] == quota["spec"]["hard"]
    assert status["used"] == {"pods": "2", "requests.cpu": "1500m", "count/configmaps": "1",
                              "services.nodeports": "0", "mystery": "1"}


def test_quota_status_with_scope_counts_only_selected_pods() -> None:
    quota = rq("be", {"pods": "3"}, scopes=["BestEffort"])
    objects = {("", "pods"): [BEST_EFFORT, BURSTABLE, pod("y")]}
    assert q.quota_status(quota, objects, NOW)["used"] == {"pods": "2"}


@pytest.mark.parametrize("status, expected", [
    (None, True),
    ({"hard": {"pods": "10"}, "used": {"pods": "2"}}, False),
    ({"hard": {"pods": "10"}, "used": {"pods": "3"}}, True),
    ({"hard": {"pods": "9"}, "used": {"pods": "2"}}, True),
    ({"hard": {"pods": "10"}}, True),
], ids=["no-status", "same", "used-changed", "hard-changed", "used-missing"])
def test_status_needs_update(status: Obj | None, expected: bool) -> None:
    quota = rq("a", {"pods": "10"})
    quota["status"] = status
    assert q.status_needs_update(quota, {"hard": {"pods": "10"}, "used": {"pods": "2"}}) \
        is expected


# -------------------------------------------------------------------------- admission

CPU_POD = pod("x", [container(requests={"cpu": "1"}, limits={"cpu": "1"})])


@pytest.mark.parametrize("quotas, obj, message", [
    ([rq("compute", {"requests.cpu": "2"}, {"requests.cpu": "1500m"})], CPU_POD,
     'pods "x" is forbidden: exceeded quota: compute, requested: requests.cpu=1, '
     'used: requests.cpu=1500m, limited: requests.cpu=2'),
    ([rq("compute", {"pods": "2", "requests.cpu": "10", "limits.cpu": "1"},
         {"pods": "2", "requests.cpu": "0", "limits.cpu": "500m"})], CPU_POD,
     'pods "x" is forbidden: exceeded quota: compute, requested: limits.cpu=1,pods=1, '
     'used: limits.cpu=500m,pods=2, limited: limits.cpu=1,pods=2'),
    ([rq("compute", {"requests.cpu": "2", "limits.memory": "1Gi"},
         {"requests.cpu": "0", "limits.memory": "0"})],
     pod("x", [container("app"), container("side", requests={"cpu": "1"})]),
     'pods "x" is forbidden: failed quota: compute: must specify limits.memory for: app,side; '
     'requests.cpu for: app'),
    ([rq("compute", {"requests.cpu": "2"})], CPU_POD,
     'pods "x" is forbidden: status unknown for quota: compute, resources: requests.cpu'),
    ([rq("objs", {"count/configmaps": "1"}, {"count/configmaps": "1"})],
     {"metadata": {"generateName": "cfg-"}},
     'configmaps "cfg-" is forbidden: exceeded quota: objs, requested: count/configmaps=1, '
     'used: count/configmaps=1, limited: count/configmaps=1'),
], ids=["exceeded", "two-exceeded-sorted", "must-specify", "status-unknown", "generate-name"])
def test_admit_forbidden(quotas: list[Obj], obj: Obj, message: str) -> None:
    resource = "configmaps" if "generateName" in obj["metadata"] else "pods"
    with pytest.raises(errors.Forbidden) as err:
        q.admit(quotas, obj, None, group="", resource=resource, now=NOW)
    assert err.value.message == message
    assert err.value.code == 403
    assert err.value.kind == resource


def test_admit_deployment_message_names_group() -> None:
    quota = rq("objs", {"count/deployments.apps": "0"}, {"count/deployments.apps": "0"})
    with pytest.raises(errors.Forbidden) as err:
        q.admit([quota], {"metadata": {"name": "web"}}, None, group="apps",
                resource="deployments")
    assert err.value.message.startswith('deployments.apps "web" is forbidden: exceeded quota')


def test_admit_charges_matching_quotas_only() -> None:
    compute = rq("compute", {"requests.cpu": "4", "pods": "10"},
                 {"requests.cpu": "1", "pods": "1"})
    services = rq("svc", {"services": "2"}, {"services": "0"})
    best_effort = rq("be", {"pods": "5"}, {"pods": "0"}, scopes=["BestEffort"])
    changed = q.admit([compute, services, best_effort], CPU_POD, None, group="",
                      resource="pods", now=NOW)
    assert [c["metadata"]["name"] for c in changed] == ["compute"]
    assert changed[0]["status"]["used"] == {"requests.cpu": "2", "pods": "2"}
    assert changed[0]["metadata"]["resourceVersion"] == "7"
    assert compute["status"]["used"] == {"requests.cpu": "1", "pods": "1"}  # not mutated


@pytest.mark.parametrize("group, resource, old, new, used_after", [
    ("", "pods", CPU_POD, CPU_POD, None),  # pod updates are not charged
    ("", "services", {"metadata": {"resourceVersion": "3"}, "spec": {"type": "ClusterIP"}},
     {"metadata": {"resourceVersion": "3"}, "spec": {"type": "NodePort", "ports": [{}]}},
     {"services": "1", "services.nodeports": "1"}),
    ("", "services", {"metadata": {"resourceVersion": "3"}, "spec": {"type": "NodePort",
                                                                     "ports": [{}]}},
     {"metadata": {"resourceVersion": "3"}, "spec": {"type": "ClusterIP"}}, None),
    ("", "persistentvolumeclaims",
     {"metadata": {"resourceVersion": "3"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}},
     {"metadata": {"resourceVersion": "3"}, "spec": {"resources": {"requests": {"storage": "3Gi"}}}},
     {"requests.storage": "3Gi"}),
    ("", "configmaps", {"metadata": {"resourceVersion": "3"}},
     {"metadata": {"resourceVersion": "3"}}, None),
], ids=["pod-update-free", "service-to-nodeport", "service-from-nodeport-free",
        "pvc-resize-delta", "configmap-update-free"])
def test_admit_update_charges_increase(group: str, resource: str, old: Obj, new: Obj,
                                       used_after: Obj | None) -> None:
    quota = rq("q", {"services": "5", "services.nodeports": "5", "requests.storage": "10Gi",
                     "requests.cpu": "10", "count/configmaps": "3"},
               {"services": "1", "services.nodeports": "0", "requests.storage": "1Gi",
                "requests.cpu": "1", "count/configmaps": "1"})
    changed = q.admit([quota], new, old, group=group, resource=resource)
    if used_after is None:
        assert changed == []
    else:
        assert len(changed) == 1
        used = changed[0]["status"]["used"]
        assert {k: used[k] for k in used_after} == used_after


def test_admit_ignores_events_and_subresource_creates() -> None:
    quota = rq("q", {"count/events": "0", "count/pods": "0"},
               {"count/events": "0", "count/pods": "0"})
    assert q.admit([quota], {"metadata": {"name": "e"}}, None, group="", resource="events") == []
    assert q.admit([quota], CPU_POD, None, group="", resource="pods",
                   subresource="binding") == []


def test_admit_without_quotas_is_free() -> None:
    assert q.admit([], CPU_POD, None, group="", resource="pods") == []


def test_admit_rejects_negative_usage() -> None:
    bad = pod("neg", [container(requests={"cpu": "-1"})])
    quota = rq("q", {"requests.cpu": "4"}, {"requests.cpu": "0"})
    with pytest.raises(errors.Forbidden) as err:
        q.admit([quota], bad, None, group="", resource="pods")
    assert err.value.message == \
        'pods "neg" is forbidden: quota usage is negative for resource(s): cpu,requests.cpu'


def test_admit_memory_sum_formats_like_go() -> None:
    quota = rq("mem", {"requests.memory": "4Gi"}, {"requests.memory": "0"})
    p = pod("m", [container(requests={"memory": "1Gi"}), container("b", requests={"memory": "512Mi"})])
    changed = q.admit([quota], p, None, group="", resource="pods")
    assert changed[0]["status"]["used"] == {"requests.memory": "1536Mi"}


@pytest.mark.parametrize("status, current", [
    ({"hard": {"pods": "10"}, "used": {"pods": "0"}}, True),
    ({"hard": {"pods": "9"}, "used": {"pods": "0"}}, False),
    ({"hard": {"pods": "10"}, "used": {}}, False),
    (None, False),
], ids=["current", "hard-stale", "usage-missing", "no-status"])
def test_controller_status_is_current(status: Obj | None, current: bool) -> None:
    from kubepy.controllers.resourcequota import status_is_current
    quota = rq("a", {"pods": "10"})
    quota["status"] = status
    assert status_is_current(quota) is current
