"""Defaulting of built-in kinds: what `kubectl get -o yaml` shows after a create."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubepy.api.defaults import apply_defaults
from kubepy.api.defaults.admission import (
    admit_default_toleration_seconds, admit_priority, admit_service_account, random_suffix,
)
from kubepy.api.defaults.batch import generate_job_selector
from kubepy.api.defaults.core import retain_allocated_service_values
from kubepy.api.defaults.pod import image_pull_policy
from kubepy.errors import Forbidden


def get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "nginx"}])
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec}


def template(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "nginx:1.25"}])
    return {"metadata": {"labels": {"app": "a"}}, "spec": spec}


PROBE = {"httpGet": {"port": 80}}

CASES = [
    # (id, group, version, kind, object, path, expected)
    ("pod-restartPolicy", "", "v1", "Pod", pod(), "spec.restartPolicy", "Always"),
    ("pod-dnsPolicy", "", "v1", "Pod", pod(), "spec.dnsPolicy", "ClusterFirst"),
    ("pod-grace", "", "v1", "Pod", pod(), "spec.terminationGracePeriodSeconds", 30),
    ("pod-scheduler", "", "v1", "Pod", pod(), "spec.schedulerName", "default-scheduler"),
    ("pod-securityContext", "", "v1", "Pod", pod(), "spec.securityContext", {}),
    ("pod-serviceLinks", "", "v1", "Pod", pod(), "spec.enableServiceLinks", True),
    ("pod-status", "", "v1", "Pod", pod(), "status",
     {"phase": "Pending", "qosClass": "BestEffort"}),
    ("pod-keeps-restartPolicy", "", "v1", "Pod", pod(restartPolicy="Never"),
     "spec.restartPolicy", "Never"),
    ("container-pull-untagged", "", "v1", "Pod", pod(),
     "spec.containers.0.imagePullPolicy", "Always"),
    ("container-pull-tagged", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "registry:5000/nginx:1.25"}]),
     "spec.containers.0.imagePullPolicy", "IfNotPresent"),
    ("container-termination-path", "", "v1", "Pod", pod(),
     "spec.containers.0.terminationMessagePath", "/dev/termination-log"),
    ("container-termination-policy", "", "v1", "Pod", pod(),
     "spec.containers.0.terminationMessagePolicy", "File"),
    ("container-resources", "", "v1", "Pod", pod(), "spec.containers.0.resources", {}),
    ("container-port-protocol", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]),
     "spec.containers.0.ports.0.protocol", "TCP"),
    ("requests-from-limits", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "x", "resources": {"limits": {"cpu": "1"}}}]),
     "spec.containers.0.resources.requests", {"cpu": "1"}),
    ("quantities-canonical", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "x", "resources": {
         "requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": "0.1m"}}}]),
     "spec.containers.0.resources", {"requests": {"cpu": "500m", "memory": "1Gi"},
                                     "limits": {"cpu": "1m"}}),
    ("pvc-storage-canonical", "", "v1", "PersistentVolumeClaim",
     {"spec": {"resources": {"requests": {"storage": "2048Mi"}}}},
     "spec.resources.requests.storage", "2Gi"),
    ("guaranteed-qos", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "x",
                      "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]),
     "status.qosClass", "Guaranteed"),
    ("hostNetwork-hostPort", "", "v1", "Pod",
     pod(hostNetwork=True, containers=[{"name": "c", "image": "x",
                                        "ports": [{"containerPort": 8080}]}]),
     "spec.containers.0.ports.0.hostPort", 8080),
    ("probe-numbers", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "x", "livenessProbe": PROBE}]),
     "spec.containers.0.livenessProbe",
     {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
      "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}),
    ("volume-emptyDir", "", "v1", "Pod", pod(volumes=[{"name": "v"}]),
     "spec.volumes.0", {"name": "v", "emptyDir": {}}),
    ("volume-secret-mode", "", "v1", "Pod",
     pod(volumes=[{"name": "v", "secret": {"secretName": "s"}}]),
     "spec.volumes.0.secret.defaultMode", 420),
    ("volume-configMap-mode", "", "v1", "Pod",
     pod(volumes=[{"name": "v", "configMap": {"name": "cm"}}]),
     "spec.volumes.0.configMap.defaultMode", 420),
    ("volume-hostPath-type", "", "v1", "Pod",
     pod(volumes=[{"name": "v", "hostPath": {"path": "/x"}}]),
     "spec.volumes.0.hostPath.type", ""),
    ("env-fieldRef-apiVersion", "", "v1", "Pod",
     pod(containers=[{"name": "c", "image": "x", "env": [
         {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]),
     "spec.containers.0.env.0.valueFrom.fieldRef.apiVersion", "v1"),
    ("serviceAccount-mirror", "", "v1", "Pod", pod(serviceAccountName="robot"),
     "spec.serviceAccount", "robot"),
    ("service-type", "", "v1", "Service", {"spec": {"ports": [{"port": 80}]}},
     "spec.type", "ClusterIP"),
    ("service-affinity", "", "v1", "Service", {"spec": {}}, "spec.sessionAffinity", "None"),
    ("service-port", "", "v1", "Service", {"spec": {"ports": [{"port": 80}]}},
     "spec.ports.0", {"port": 80, "protocol": "TCP", "targetPort": 80}),
    ("service-families", "", "v1", "Service", {"spec": {"selector": {"a": "b"}}},
     "spec.ipFamilies", ["IPv4"]),
    ("service-family-policy", "", "v1", "Service", {"spec": {}},
     "spec.ipFamilyPolicy", "SingleStack"),
    ("service-internal-traffic", "", "v1", "Service", {"spec": {}},
     "spec.internalTrafficPolicy", "Cluster"),
    ("service-nodeport-etp", "", "v1", "Service", {"spec": {"type": "NodePort"}},
     "spec.externalTrafficPolicy", "Cluster"),
    ("service-lb-nodeports", "", "v1", "Service", {"spec": {"type": "LoadBalancer"}},
     "spec.allocateLoadBalancerNodePorts", True),
    ("service-clientip-timeout", "", "v1", "Service", {"spec": {"sessionAffinity": "ClientIP"}},
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 10800),
    ("service-status", "", "v1", "Service", {"spec": {}}, "status", {"loadBalancer": {}}),
    ("secret-type", "", "v1", "Secret", {}, "type", "Opaque"),
    ("secret-stringData", "", "v1", "Secret", {"stringData": {"k": "v"}, "data": {"o": "eA=="}},
     "data", {"k": "dg==", "o": "eA=="}),
    ("namespace-finalizers", "", "v1", "Namespace", {"metadata": {"name": "ns"}},
     "spec.finalizers", ["kubernetes"]),
    ("namespace-phase", "", "v1", "Namespace", {"metadata": {"name": "ns"}},
     "status.phase", "Active"),
    ("namespace-name-label", "", "v1", "Namespace", {"metadata": {"name": "ns"}},
     "metadata.labels", {"kubernetes.io/metadata.name": "ns"}),
    ("pvc-volumeMode", "", "v1", "PersistentVolumeClaim", {"spec": {}},
     "spec.volumeMode", "Filesystem"),
    ("pvc-phase", "", "v1", "PersistentVolumeClaim", {"spec": {}}, "status.phase", "Pending"),
    ("pv-reclaim", "", "v1", "PersistentVolume", {"spec": {}},
     "spec.persistentVolumeReclaimPolicy", "Retain"),
    ("rc-selector", "", "v1", "ReplicationController", {"spec": {"template": template()}},
     "spec.selector", {"app": "a"}),
    ("rc-replicas", "", "v1", "ReplicationController", {"spec": {"template": template()}},
     "spec.replicas", 1),
    ("deployment-replicas", "apps", "v1", "Deployment", {"spec": {"template": template()}},
     "spec.replicas", 1),
    ("deployment-strategy", "apps", "v1", "Deployment", {"spec": {"template": template()}},
     "spec.strategy", {"type": "RollingUpdate",
                       "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    ("deployment-recreate", "apps", "v1", "Deployment",
     {"spec": {"strategy": {"type": "Recreate"}}}, "spec.strategy", {"type": "Recreate"}),
    ("deployment-history", "apps", "v1", "Deployment", {"spec": {}},
     "spec.revisionHistoryLimit", 10),
    ("deployment-deadline", "apps", "v1", "Deployment", {"spec": {}},
     "spec.progressDeadlineSeconds", 600),
    ("deployment-template", "apps", "v1", "Deployment", {"spec": {"template": template()}},
     "spec.template.spec.containers.0.imagePullPolicy", "IfNotPresent"),
    ("deployment-template-timestamp", "apps", "v1", "Deployment",
     {"spec": {"template": template()}}, "spec.template.metadata.creationTimestamp", None),
    ("deployment-template-no-links", "apps", "v1", "Deployment",
     {"spec": {"template": template()}}, "spec.template.spec.restartPolicy", "Always"),
    ("replicaset-replicas", "apps", "v1", "ReplicaSet", {"spec": {}}, "spec.replicas", 1),
    ("statefulset-policy", "apps", "v1", "StatefulSet", {"spec": {}},
     "spec.podManagementPolicy", "OrderedReady"),
    ("statefulset-strategy", "apps", "v1", "StatefulSet", {"spec": {}},
     "spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
    ("statefulset-retention", "apps", "v1", "StatefulSet", {"spec": {}},
     "spec.persistentVolumeClaimRetentionPolicy",
     {"whenDeleted": "Retain", "whenScaled": "Retain"}),
    ("statefulset-claims", "apps", "v1", "StatefulSet",
     {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {}}]}},
     "spec.volumeClaimTemplates.0",
     {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
      "metadata": {"name": "www", "creationTimestamp": None},
      "spec": {"volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}),
    ("daemonset-strategy", "apps", "v1", "DaemonSet", {"spec": {}},
     "spec.updateStrategy", {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
    ("daemonset-history", "apps", "v1", "DaemonSet", {"spec": {}},
     "spec.revisionHistoryLimit", 10),
    ("job-counts", "batch", "v1", "Job", {"spec": {}}, "spec.completions", 1),
    ("job-parallelism", "batch", "v1", "Job", {"spec": {"completions": 5}},
     "spec.parallelism", 1),
    ("job-no-completions-when-parallel", "batch", "v1", "Job", {"spec": {"parallelism": 3}},
     "spec", {"parallelism": 3, "backoffLimit": 6, "completionMode": "NonIndexed",
              "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
              "manualSelector": False}),
    ("job-backoff-per-index", "batch", "v1", "Job", {"spec": {"backoffLimitPerIndex": 1}},
     "spec.backoffLimit", 2**31 - 1),
    ("job-replacement-with-failure-policy", "batch", "v1", "Job",
     {"spec": {"podFailurePolicy": {"rules": []}}}, "spec.podReplacementPolicy", "Failed"),
    ("job-labels-from-template", "batch", "v1", "Job", {"spec": {"template": template()}},
     "metadata.labels", {"app": "a"}),
    ("cronjob-concurrency", "batch", "v1", "CronJob", {"spec": {}},
     "spec.concurrencyPolicy", "Allow"),
    ("cronjob-limits", "batch", "v1", "CronJob", {"spec": {}},
     "spec.successfulJobsHistoryLimit", 3),
    ("cronjob-failed-limit", "batch", "v1", "CronJob", {"spec": {}},
     "spec.failedJobsHistoryLimit", 1),
    ("cronjob-suspend", "batch", "v1", "CronJob", {"spec": {}}, "spec.suspend", False),
    ("cronjob-template", "batch", "v1", "CronJob",
     {"spec": {"jobTemplate": {"spec": {"template": template(restartPolicy="Never")}}}},
     "spec.jobTemplate.spec.template.spec.dnsPolicy", "ClusterFirst"),
    ("networkpolicy-types", "networking.k8s.io", "v1", "NetworkPolicy",
     {"spec": {"egress": [{}]}}, "spec.policyTypes", ["Ingress", "Egress"]),
    ("storageclass", "storage.k8s.io", "v1", "StorageClass", {}, "volumeBindingMode",
     "Immediate"),
    ("priorityclass", "scheduling.k8s.io", "v1", "PriorityClass", {"value": 5},
     "preemptionPolicy", "PreemptLowerPriority"),
    ("rolebinding-subject", "rbac.authorization.k8s.io", "v1", "RoleBinding",
     {"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}]},
     "subjects.0.apiGroup", "rbac.authorization.k8s.io"),
    ("hpa-v2-metrics", "autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {}},
     "spec.metrics.0.resource.target.averageUtilization", 80),
    ("hpa-v1-min", "autoscaling", "v1", "HorizontalPodAutoscaler", {"spec": {}},
     "spec.minReplicas", 1),
    ("crd-conversion", "apiextensions.k8s.io", "v1", "CustomResourceDefinition",
     {"spec": {"names": {"kind": "Foo", "plural": "foos"}}}, "spec.conversion",
     {"strategy": "None"}),
    ("crd-listKind", "apiextensions.k8s.io", "v1", "CustomResourceDefinition",
     {"spec": {"names": {"kind": "Foo", "plural": "foos"}}}, "spec.names.listKind", "FooList"),
]


@pytest.mark.parametrize("group,version,kind,obj,path,expected",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_defaults(group: str, version: str, kind: str, obj: dict[str, Any], path: str,
                  expected: Any) -> None:
    assert get(apply_defaults(group, version, kind, obj), path) == expected


def test_input_not_mutated() -> None:
    original = pod()
    apply_defaults("", "v1", "Pod", original)
    assert original == pod()


def test_defaulting_is_idempotent() -> None:
    once = apply_defaults("apps", "v1", "Deployment", {"spec": {"template": template()}})
    assert apply_defaults("apps", "v1", "Deployment", once) == once


def test_unknown_kind_is_copied() -> None:
    obj = {"spec": {"x": 1}}
    assert apply_defaults("example.com", "v1", "Widget", obj) == obj


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/nginx", "Always"), ("localhost:5000/nginx:v1", "IfNotPresent"),
    ("nginx@sha256:abc", "IfNotPresent"), ("nginx:latest@sha256:abc", "Always"),
], ids=lambda v: str(v))
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_generate_job_selector() -> None:
    job = apply_defaults("batch", "v1", "Job", {
        "metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": template()}})
    generate_job_selector(job)
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "app": "a", "batch.kubernetes.io/controller-uid": "u-1", "controller-uid": "u-1",
        "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}


def test_manual_selector_left_alone() -> None:
    job = {"metadata": {"uid": "u"}, "spec": {"manualSelector": True, "selector": {}}}
    generate_job_selector(job)
    assert job["spec"]["selector"] == {}


def test_admit_service_account_mounts_token() -> None:
    p = apply_defaults("", "v1", "Pod", pod())
    admit_service_account(p, service_account={}, volume_suffix="abcde")
    spec = p["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    assert spec["volumes"][0]["name"] == "kube-api-access-abcde"
    assert spec["volumes"][0]["projected"]["sources"][0] == {
        "serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert spec["containers"][0]["volumeMounts"] == [{
        "name": "kube-api-access-abcde", "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]


@pytest.mark.parametrize("pod_automount,sa_automount,mounted", [
    (None, None, True), (None, False, False), (True, False, True), (False, None, False),
], ids=["default", "sa-off", "pod-overrides", "pod-off"])
def test_admit_service_account_automount(pod_automount: Any, sa_automount: Any,
                                         mounted: bool) -> None:
    p = pod() if pod_automount is None else pod(automountServiceAccountToken=pod_automount)
    sa = {} if sa_automount is None else {"automountServiceAccountToken": sa_automount}
    admit_service_account(p, service_account=sa, volume_suffix="x")
    assert ("volumes" in p["spec"]) is mounted


def test_admit_service_account_missing() -> None:
    with pytest.raises(Forbidden, match='serviceaccount "default" not found'):
        admit_service_account(pod(), service_account=None, volume_suffix="x")


def test_random_suffix_is_injected() -> None:
    assert random_suffix(random.Random(1)) == random_suffix(random.Random(1))
    assert len(random_suffix(random.Random(1))) == 5


@pytest.mark.parametrize("spec,classes,priority,policy", [
    ({}, {}, 0, "PreemptLowerPriority"),
    ({"priorityClassName": "high"}, {"high": {"value": 1000, "preemptionPolicy": "Never"}},
     1000, "Never"),
    ({}, {"d": {"metadata": {"name": "d"}, "value": 7, "globalDefault": True}}, 7,
     "PreemptLowerPriority"),
    ({"priorityClassName": "system-node-critical"}, {}, 2000001000, "PreemptLowerPriority"),
], ids=["none", "named", "global-default", "system"])
def test_admit_priority(spec: dict[str, Any], classes: dict[str, Any], priority: int,
                        policy: str) -> None:
    p = admit_priority(pod(**spec), classes)
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (priority, policy)


@pytest.mark.parametrize("spec,message", [
    ({"priorityClassName": "nope"}, "no PriorityClass with name nope was found"),
    ({"priority": 5}, r"the integer value of priority \(5\) must not be provided"),
], ids=["unknown-class", "explicit-priority"])
def test_admit_priority_refuses(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(Forbidden, match=message):
        admit_priority(pod(**spec), {})


def test_default_toleration_seconds() -> None:
    p = admit_default_toleration_seconds(pod(tolerations=[
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]))
    keys = [(t["key"], t.get("tolerationSeconds")) for t in p["spec"]["tolerations"]]
    assert keys == [("node.kubernetes.io/unreachable", None),
                    ("node.kubernetes.io/not-ready", 300)]


def test_retain_allocated_service_values() -> None:
    old = {"spec": {"type": "NodePort", "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"],
                    "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}
    new = {"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}}
    retain_allocated_service_values(new, old)
    assert new["spec"]["clusterIP"] == "10.0.0.5"
    assert new["spec"]["ports"][0]["nodePort"] == 30080
