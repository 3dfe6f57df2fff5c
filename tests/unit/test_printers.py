"""Server-side printing: Table columns and cells as the kube-apiserver 1.32 prints them.

Expected cells are what ``kubectl get -o wide`` shows against a real 1.32 cluster for the
same objects (the apiserver always sends the wide cells; kubectl drops priority-1 columns
without ``-o wide``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.api import printers
from kubepy.api.printers.common import human_duration
from kubepy.api.printers.quantity import canonical_quantity
from kubepy.api.registry import BUILTIN

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def ago(**kw: float) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def md(name: str = "x", created: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "uid": "u-1", "resourceVersion": "7",
            "creationTimestamp": created or ago(minutes=5), **extra}


# --- durations and quantities -------------------------------------------------------------

@pytest.mark.parametrize("delta, text", [
    (timedelta(seconds=0), "0s"),
    (timedelta(seconds=59), "59s"),
    (timedelta(seconds=119), "119s"),
    (timedelta(seconds=120), "2m"),
    (timedelta(seconds=125), "2m5s"),
    (timedelta(minutes=9, seconds=59), "9m59s"),
    (timedelta(minutes=10, seconds=30), "10m"),
    (timedelta(minutes=179), "179m"),
    (timedelta(hours=3), "3h"),
    (timedelta(hours=3, minutes=4, seconds=50), "3h4m"),
    (timedelta(hours=8, minutes=30), "8h"),
    (timedelta(hours=47), "47h"),
    (timedelta(hours=48), "2d"),
    (timedelta(days=2, hours=5), "2d5h"),
    (timedelta(days=8, hours=5), "8d"),
    (timedelta(days=729), "729d"),
    (timedelta(days=730), "2y"),
    (timedelta(days=740), "2y10d"),
    (timedelta(days=365 * 8), "8y"),
    (timedelta(days=3660), "10y"),
    (timedelta(seconds=-1), "0s"),
    (timedelta(milliseconds=-1900), "0s"),
    (timedelta(seconds=-2), "<invalid>"),
], ids=lambda v: str(v))
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


@pytest.mark.parametrize("raw, text", [
    ("1000m", "1"), ("1024Mi", "1Gi"), ("0.5", "500m"), ("1200000", "1200k"), ("1500", "1500"),
    ("0.5Gi", "512Mi"), ("1.5Ki", "1536"), ("1e3", "1e3"), ("10Gi", "10Gi"), ("0", "0"),
    (2, "2"), ("100m", "100m"), ("-1.5", "-1500m"), (None, "<nil>"), ("bogus", "bogus"),
])
def test_canonical_quantity(raw: Any, text: str) -> None:
    assert canonical_quantity(raw) == text


# --- pods ------------------------------------------------------------------------------------

def container(name: str = "app", **status: Any) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "ready": False, "restartCount": 0, **status}


def pod(statuses: list[dict[str, Any]], *, phase: str = "Running", init: list[Any] | None = None,
        init_specs: list[dict[str, Any]] | None = None, conditions: list[Any] | None = None,
        spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None, containers: int | None = None) -> dict[str, Any]:
    n = len(statuses) if containers is None else containers
    return {
        "metadata": {**md("web", ago(hours=5)), **(meta or {})},
        "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(n)],
                 **({"initContainers": init_specs} if init_specs else {}),
                 "nodeName": "node-1", **(spec or {})},
        "status": {"phase": phase, "podIP": "10.42.0.7", "containerStatuses": statuses,
                   **({"initContainerStatuses": init} if init is not None else {}),
                   "conditions": conditions or [], **(status or {})},
    }


RUNNING = {"running": {"startedAt": ago(hours=1)}}
READY = {"ready": True, "state": RUNNING, "started": True}
TRUE_READY = [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]

POD_CASES = [
    ("running", pod([container(**READY)], conditions=TRUE_READY),
     ["web", "1/1", "Running", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("container-creating", pod([container(state={"waiting": {"reason": "ContainerCreating"}})],
                               phase="Pending", status={"podIP": None}),
     ["web", "0/1", "ContainerCreating", "0", "5h", "<none>", "node-1", "<none>", "<none>"]),
    ("crashloop-restarts-ago", pod([container(
        restartCount=3, state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
        lastState={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(minutes=5)}})]),
     ["web", "0/1", "CrashLoopBackOff", "3 (5m ago)", "5h", "10.42.0.7", "node-1", "<none>",
      "<none>"]),
    ("restarts-without-time", pod([container(restartCount=2, **READY)], conditions=TRUE_READY),
     ["web", "1/1", "Running", "2", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("completed", pod([container(state={"terminated": {"exitCode": 0, "reason": "Completed"}})],
                      phase="Succeeded"),
     ["web", "0/1", "Completed", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("terminated-signal", pod([container(state={"terminated": {"exitCode": 137, "signal": 9}})],
                              phase="Failed"),
     ["web", "0/1", "Signal:9", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("terminated-exit-code", pod([container(state={"terminated": {"exitCode": 1}})], phase="Failed"),
     ["web", "0/1", "ExitCode:1", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("two-containers-first-reason-wins", pod([
        container("a", state={"waiting": {"reason": "ImagePullBackOff"}}),
        container("b", state={"waiting": {"reason": "ErrImagePull"}})], phase="Pending"),
     ["web", "0/2", "ImagePullBackOff", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("init-pending", pod([container(state={"waiting": {"reason": "PodInitializing"}})],
                         phase="Pending", init_specs=[{"name": "init"}],
                         init=[container("init", state={"waiting": {"reason": "PodInitializing"}})]),
     ["web", "0/1", "Init:0/1", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("init-second-running", pod([container(state={"waiting": {"reason": "PodInitializing"}})],
                                phase="Pending", init_specs=[{"name": "i1"}, {"name": "i2"}],
                                init=[container("i1", state={"terminated": {"exitCode": 0}}),
                                      container("i2", state=RUNNING)]),
     ["web", "0/1", "Init:1/2", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("init-crashloop", pod([container(state={"waiting": {"reason": "PodInitializing"}})],
                           phase="Pending", init_specs=[{"name": "init"}],
                           init=[container("init", restartCount=4,
                                           state={"waiting": {"reason": "CrashLoopBackOff"}})]),
     ["web", "0/1", "Init:CrashLoopBackOff", "4", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("init-error", pod([container(state={"waiting": {"reason": "PodInitializing"}})],
                       phase="Pending", init_specs=[{"name": "init"}],
                       init=[container("init", state={"terminated": {"exitCode": 2,
                                                                     "reason": "Error"}})]),
     ["web", "0/1", "Init:Error", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("init-signal", pod([], phase="Pending", containers=1, init_specs=[{"name": "init"}],
                        init=[container("init", state={"terminated": {"exitCode": 137,
                                                                      "signal": 9}})]),
     ["web", "0/1", "Init:Signal:9", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("init-exit-code", pod([], phase="Pending", containers=1, init_specs=[{"name": "init"}],
                           init=[container("init", state={"terminated": {"exitCode": 3}})]),
     ["web", "0/1", "Init:ExitCode:3", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("sidecar-started-counts", pod(
        [container(**READY)], conditions=TRUE_READY,
        init_specs=[{"name": "proxy", "restartPolicy": "Always"}],
        init=[container("proxy", restartCount=1, ready=True, started=True, state=RUNNING,
                        lastState={"terminated": {"exitCode": 1, "finishedAt": ago(minutes=30)}})]),
     ["web", "2/2", "Running", "1 (30m ago)", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("terminating", pod([container(**READY)], conditions=TRUE_READY,
                        meta={"deletionTimestamp": ago(seconds=10)}),
     ["web", "1/1", "Terminating", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("terminating-but-succeeded", pod(
        [container(state={"terminated": {"exitCode": 0, "reason": "Completed"}})], phase="Succeeded",
        meta={"deletionTimestamp": ago(seconds=10)}),
     ["web", "0/1", "Completed", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("node-lost", pod([container(**READY)], status={"reason": "NodeLost"},
                      meta={"deletionTimestamp": ago(seconds=10)}),
     ["web", "1/1", "Unknown", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("evicted", pod([], phase="Failed", containers=1,
                    status={"reason": "Evicted", "message": "low on memory"}),
     ["web", "0/1", "Evicted", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("completed-with-running-not-ready", pod([
        container("a", state={"terminated": {"exitCode": 0, "reason": "Completed"}}),
        container("b", **READY)]),
     ["web", "1/2", "NotReady", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("completed-with-running-ready", pod([
        container("a", state={"terminated": {"exitCode": 0, "reason": "Completed"}}),
        container("b", **READY)], conditions=TRUE_READY),
     ["web", "1/2", "Running", "0", "5h", "10.42.0.7", "node-1", "<none>", "<none>"]),
    ("scheduling-gated", pod([], phase="Pending", containers=1, spec={"nodeName": None},
                             status={"podIP": None},
                             conditions=[{"type": "PodScheduled", "status": "False",
                                          "reason": "SchedulingGated"}]),
     ["web", "0/1", "SchedulingGated", "0", "5h", "<none>", "<none>", "<none>", "<none>"]),
    ("pending-nominated", pod([], phase="Pending", containers=1, spec={"nodeName": None},
                              status={"podIP": None, "nominatedNodeName": "node-2"}),
     ["web", "0/1", "Pending", "0", "5h", "<none>", "<none>", "node-2", "<none>"]),
    ("readiness-gates", pod([container(**READY)], spec={"readinessGates": [
        {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
        conditions=TRUE_READY + [{"type": "example.com/lb", "status": "True"},
                                 {"type": "example.com/dns", "status": "False"}]),
     ["web", "1/1", "Running", "0", "5h", "10.42.0.7", "node-1", "<none>", "1/2"]),
    ("dual-stack-first-ip", pod([container(**READY)], conditions=TRUE_READY, status={
        "podIPs": [{"ip": "10.42.0.9"}, {"ip": "fd00::9"}]}),
     ["web", "1/1", "Running", "0", "5h", "10.42.0.9", "node-1", "<none>", "<none>"]),
]


@pytest.mark.parametrize("obj, cells", [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_pod_cells(obj: dict[str, Any], cells: list[Any]) -> None:
    assert printers.row_cells("", "Pod", obj, NOW) == cells


@pytest.mark.parametrize("phase, conditions", [
    ("Running", []),
    ("Succeeded", [{"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."}]),
    ("Failed", [{"type": "Completed", "status": "True", "reason": "Failed",
                 "message": "The pod failed."}]),
])
def test_pod_row_conditions(phase: str, conditions: list[Any]) -> None:
    assert printers.row_conditions("", "Pod", pod([], phase=phase)) == conditions


# --- every other kind ------------------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                    {"name": "log", "image": "busybox"}]}}
SELECTOR = {"matchLabels": {"app": "web"}}


def svc(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": md("svc"), "spec": spec, "status": status or {}}


def event(**fields: Any) -> dict[str, Any]:
    return {"metadata": md("web.17f2"), "type": "Normal", "reason": "Scheduled",
            "message": "Successfully assigned default/web to node-1\n", **fields}


CASES: list[tuple[str, str, str, dict[str, Any], list[Any]]] = [
    # core
    ("namespace", "", "Namespace", {"metadata": md("dev", ago(days=3)), "status": {"phase": "Active"}},
     ["dev", "Active", "3d"]),
    ("namespace-terminating", "", "Namespace",
     {"metadata": md("old", ago(days=40)), "status": {"phase": "Terminating"}},
     ["old", "Terminating", "40d"]),
    ("node-ready-cordoned", "", "Node", {
        "metadata": md("cp-1", ago(days=12), labels={
            "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "",
            "kubernetes.io/hostname": "cp-1"}),
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                  {"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                                 {"type": "Hostname", "address": "cp-1"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.2", "osImage": "Ubuntu 24.04 LTS",
                                "kernelVersion": "6.8.0-51-generic",
                                "containerRuntimeVersion": "containerd://1.7.24"}}},
     ["cp-1", "Ready,SchedulingDisabled", "control-plane,master", "12d", "v1.32.2", "192.168.1.10",
      "<none>", "Ubuntu 24.04 LTS", "6.8.0-51-generic", "containerd://1.7.24"]),
    ("node-not-ready-legacy-role", "", "Node", {
        "metadata": md("w-1", ago(hours=30), labels={"kubernetes.io/role": "worker"}),
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                   "addresses": [{"type": "ExternalIP", "address": "203.0.113.4"}]}},
     ["w-1", "NotReady", "worker", "30h", "", "<none>", "203.0.113.4", "<unknown>", "<unknown>",
      "<unknown>"]),
    ("node-no-conditions", "", "Node", {"metadata": md("new", ago(seconds=30))},
     ["new", "Unknown", "<none>", "30s", "", "<none>", "<none>", "<unknown>", "<unknown>",
      "<unknown>"]),
    ("service-cluster-ip", "", "Service", svc({
        "type": "ClusterIP", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        "selector": {"k8s-app": "kube-dns"}}),
     ["svc", "ClusterIP", "10.43.0.10", "<none>", "53/UDP,53/TCP", "5m", "k8s-app=kube-dns"]),
    ("service-node-port", "", "Service", svc({
        "type": "NodePort", "clusterIP": "10.43.12.1", "externalIPs": ["1.2.3.4"],
        "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}),
     ["svc", "NodePort", "10.43.12.1", "1.2.3.4", "80:31000/TCP", "5m", "<none>"]),
    ("service-lb-pending", "", "Service", svc({
        "type": "LoadBalancer", "clusterIPs": ["10.43.7.7"],
        "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}], "selector": {"app": "web"}}),
     ["svc", "LoadBalancer", "10.43.7.7", "<pending>", "443:30443/TCP", "5m", "app=web"]),
    ("service-lb-ingress-and-external-ips", "", "Service", svc(
        {"type": "LoadBalancer", "clusterIPs": ["10.43.7.7"], "externalIPs": ["9.9.9.9"],
         "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]},
        {"loadBalancer": {"ingress": [{"ip": "172.18.0.3"}, {"hostname": "lb.example.com"},
                                      {"ip": "172.18.0.2"}]}}),
     ["svc", "LoadBalancer", "10.43.7.7", "172.18.0.2,172.18.0.3,lb.example.com,9.9.9.9",
      "80:30080/TCP", "5m", "<none>"]),
    ("service-external-name", "", "Service", svc({"type": "ExternalName",
                                                  "externalName": "db.example.com"}),
     ["svc", "ExternalName", "<none>", "db.example.com", "<none>", "5m", "<none>"]),
    ("service-headless", "", "Service", svc({
        "type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
        "ports": [{"port": 5432, "protocol": "TCP"}], "selector": {"app": "db", "tier": "data"}}),
     ["svc", "ClusterIP", "None", "<none>", "5432/TCP", "5m", "app=db,tier=data"]),
    ("endpoints-none", "", "Endpoints", {"metadata": md("svc")}, ["svc", "<none>", "5m"]),
    ("endpoints-more", "", "Endpoints", {"metadata": md("svc"), "subsets": [
        {"addresses": [{"ip": "10.42.0.1"}, {"ip": "10.42.0.2"}],
         "notReadyAddresses": [{"ip": "10.42.0.9"}],
         "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]}]},
     ["svc", "10.42.0.1:8080,10.42.0.2:8080,10.42.0.1:9090 + 1 more...", "5m"]),
    ("endpoints-headless-ipv6", "", "Endpoints", {"metadata": md("svc"), "subsets": [
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]},
        {"addresses": [{"ip": "10.42.0.5"}]}]},
     ["svc", "[fd00::1]:80,10.42.0.5", "5m"]),
    ("endpoints-not-ready-only", "", "Endpoints", {"metadata": md("svc"), "subsets": [
        {"notReadyAddresses": [{"ip": "10.42.0.9"}], "ports": [{"port": 80}]}]},
     ["svc", "", "5m"]),
    ("configmap", "", "ConfigMap", {"metadata": md("cfg"), "data": {"a": "1", "b": "2"},
                                   "binaryData": {"c": "AA=="}}, ["cfg", 3, "5m"]),
    ("configmap-empty", "", "ConfigMap", {"metadata": md("kube-root-ca.crt")},
     ["kube-root-ca.crt", 0, "5m"]),
    ("secret-tls", "", "Secret", {"metadata": md("tls"), "type": "kubernetes.io/tls",
                                  "data": {"tls.crt": "eA==", "tls.key": "eQ=="}},
     ["tls", "kubernetes.io/tls", 2, "5m"]),
    ("secret-opaque-string-data", "", "Secret", {"metadata": md("s"), "stringData": {"p": "x"}},
     ["s", "Opaque", 1, "5m"]),
    ("service-account", "", "ServiceAccount", {"metadata": md("default"),
                                               "secrets": [{"name": "default-token"}]},
     ["default", 1, "5m"]),
    ("service-account-no-secrets", "", "ServiceAccount", {"metadata": md("builder")},
     ["builder", 0, "5m"]),
    ("pod-template", "", "PodTemplate", {"metadata": md("tpl"), "template": TEMPLATE},
     ["tpl", "web,log", "nginx:1.27,busybox", "app=web"]),
    ("replication-controller", "", "ReplicationController", {
        "metadata": md("rc"), "spec": {"replicas": 3, "selector": {"app": "web"},
                                       "template": TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 2}},
     ["rc", 3, 3, 2, "5m", "web,log", "nginx:1.27,busybox", "app=web"]),
    ("resource-quota", "", "ResourceQuota", {"metadata": md("compute"), "status": {
        "hard": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2",
                 "limits.memory": "2Gi", "pods": "10"},
        "used": {"requests.cpu": "500m", "requests.memory": "512Mi", "limits.cpu": "1",
                 "pods": "1"}}},
     ["compute", "5m", "pods: 1/10, requests.cpu: 500m/1, requests.memory: 512Mi/1Gi",
      "limits.cpu: 1/2, limits.memory: 0/2Gi"]),
    ("resource-quota-empty", "", "ResourceQuota", {"metadata": md("q")}, ["q", "5m", "", ""]),
    ("component-status", "", "ComponentStatus", {"metadata": {"name": "etcd-0"}, "conditions": [
        {"type": "Healthy", "status": "True", "message": "ok"}]},
     ["etcd-0", "Healthy", "ok", ""]),
    ("persistent-volume-bound", "", "PersistentVolume", {
        "metadata": md("pv-1", annotations={"volume.beta.kubernetes.io/storage-class": "legacy"}),
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
                 "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}},
     ["pv-1", "10Gi", "RWO,RWX", "Delete", "Bound", "default/data", "legacy", "<unset>", "", "5m",
      "Filesystem"]),
    ("persistent-volume-terminating", "", "PersistentVolume", {
        "metadata": md("pv-2", deletionTimestamp=ago(seconds=3)),
        "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteOncePod"],
                 "persistentVolumeReclaimPolicy": "Retain"},
        "status": {"phase": "Released", "reason": "Gone"}},
     ["pv-2", "1Gi", "RWOP", "Retain", "Terminating", "", "", "<unset>", "Gone", "5m", "<unset>"]),
    ("pvc-bound", "", "PersistentVolumeClaim", {
        "metadata": md("data"), "spec": {"volumeName": "pvc-1234", "storageClassName": "local-path",
                                         "resources": {"requests": {"storage": "1Gi"}},
                                         "volumeMode": "Filesystem"},
        "status": {"phase": "Bound", "capacity": {"storage": "2Gi"},
                   "accessModes": ["ReadWriteOnce"]}},
     ["data", "Bound", "pvc-1234", "2Gi", "RWO", "local-path", "<unset>", "5m", "Filesystem"]),
    ("pvc-pending", "", "PersistentVolumeClaim", {
        "metadata": md("wait"), "spec": {"resources": {"requests": {"storage": "1Gi"}},
                                         "volumeAttributesClassName": "gold"},
        "status": {"phase": "Pending"}},
     ["wait", "Pending", "", "", "", "", "gold", "5m", "<unset>"]),
    # events
    ("event-core", "", "Event", event(
        involvedObject={"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        source={"component": "kubelet", "host": "node-1"}, count=4,
        firstTimestamp=ago(minutes=30), lastTimestamp=ago(minutes=2)),
     ["2m", "Normal", "Scheduled", "pod/web", "spec.containers{web}", "kubelet, node-1",
      "Successfully assigned default/web to node-1", "30m", 4, "web.17f2"]),
    ("event-new-style-series", "", "Event", event(
        involvedObject={"kind": "Node"}, eventTime="2025-03-01T11:00:00.123456Z",
        series={"count": 7, "lastObservedTime": "2025-03-01T11:59:50.000000Z"},
        reportingComponent="default-scheduler", reportingInstance="sched-1"),
     ["10s", "Normal", "Scheduled", "node", "", "default-scheduler, sched-1",
      "Successfully assigned default/web to node-1", "59m", 7, "web.17f2"]),  # 59m59.9s
    ("event-no-last-timestamp", "", "Event", event(
        involvedObject={"kind": "Deployment", "name": "web"}, firstTimestamp=ago(hours=4),
        source={"component": "deployment-controller"}),
     ["4h", "Normal", "Scheduled", "deployment/web", "", "deployment-controller",
      "Successfully assigned default/web to node-1", "4h", 1, "web.17f2"]),
    ("event-events-k8s-io", "events.k8s.io", "Event", {
        "metadata": md("web.17f3"), "type": "Warning", "reason": "BackOff",
        "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "note": "Back-off restarting failed container", "eventTime": ago(minutes=15),
        "reportingController": "kubelet", "reportingInstance": "node-1",
        "deprecatedCount": 12, "deprecatedFirstTimestamp": ago(minutes=15),
        "deprecatedLastTimestamp": ago(seconds=40)},
     ["40s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1",
      "Back-off restarting failed container", "15m", 12, "web.17f3"]),
    # apps
    ("deployment", "apps", "Deployment", {
        "metadata": md("web"), "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}},
     ["web", "2/3", 3, 2, "5m", "web,log", "nginx:1.27,busybox", "app=web"]),
    ("deployment-new", "apps", "Deployment", {
        "metadata": md("web"), "spec": {"replicas": 0, "template": TEMPLATE, "selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]}}},
     ["web", "0/0", 0, 0, "5m", "web,log", "nginx:1.27,busybox",
      "app=web,!canary,tier in (be,fe)"]),
    ("deployment-invalid-selector", "apps", "Deployment", {
        "metadata": md("web"), "spec": {"template": TEMPLATE, "selector": {"matchExpressions": [
            {"key": "a", "operator": "Bogus"}]}}},
     ["web", "0/1", 0, 0, "5m", "web,log", "nginx:1.27,busybox", "<invalid>"]),
    ("replica-set", "apps", "ReplicaSet", {
        "metadata": md("web-5d8f"), "spec": {"replicas": 2, "selector": SELECTOR,
                                             "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 1}},
     ["web-5d8f", 2, 2, 1, "5m", "web,log", "nginx:1.27,busybox", "app=web"]),
    ("replica-set-invalid-selector", "apps", "ReplicaSet", {
        "metadata": md("rs"), "spec": {"replicas": 1, "template": TEMPLATE, "selector": {
            "matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}},
     ["rs", 1, 0, 0, "5m", "web,log", "nginx:1.27,busybox", "<error>"]),
    ("stateful-set", "apps", "StatefulSet", {
        "metadata": md("db"), "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
        "status": {"readyReplicas": 3, "replicas": 3}},
     ["db", "3/3", "5m", "web,log", "nginx:1.27,busybox"]),
    ("daemon-set", "apps", "DaemonSet", {
        "metadata": md("fluentd"), "spec": {"selector": SELECTOR, "template": {
            "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                     "containers": [{"name": "fluentd", "image": "fluentd:v1"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}},
     ["fluentd", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5m", "fluentd", "fluentd:v1",
      "app=web"]),
    ("controller-revision", "apps", "ControllerRevision", {
        "metadata": md("fluentd-7c9", ownerReferences=[
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "controller": True}]),
        "revision": 2},
     ["fluentd-7c9", "daemonset.apps/fluentd", 2, "5m"]),
    ("controller-revision-orphan", "apps", "ControllerRevision", {
        "metadata": md("rev"), "revision": 1}, ["rev", "<none>", 1, "5m"]),
    # batch
    ("job-complete", "batch", "Job", {
        "metadata": md("pi", ago(minutes=20)),
        "spec": {"completions": 1, "parallelism": 1, "selector": {
            "matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}}, "template": TEMPLATE},
        "status": {"succeeded": 1, "startTime": ago(minutes=20), "completionTime": ago(minutes=18),
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}},
     ["pi", "Complete", "1/1", "2m", "20m", "web,log", "nginx:1.27,busybox",
      "batch.kubernetes.io/controller-uid=abc"]),
    ("job-running-work-queue", "batch", "Job", {
        "metadata": md("q"), "spec": {"parallelism": 3, "template": TEMPLATE},
        "status": {"succeeded": 0, "active": 3, "startTime": ago(seconds=95)}},
     ["q", "Running", "0/1 of 3", "95s", "5m", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("job-failed", "batch", "Job", {
        "metadata": md("bad"), "spec": {"completions": 5, "template": TEMPLATE},
        "status": {"succeeded": 2, "startTime": ago(minutes=4),
                   "conditions": [{"type": "FailureTarget", "status": "True"},
                                  {"type": "Failed", "status": "True"}]}},
     ["bad", "Failed", "2/5", "4m", "5m", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("job-suspended-not-started", "batch", "Job", {
        "metadata": md("later"), "spec": {"completions": 2, "suspend": True, "template": TEMPLATE},
        "status": {"conditions": [{"type": "Suspended", "status": "True"}]}},
     ["later", "Suspended", "0/2", "", "5m", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("job-terminating", "batch", "Job", {
        "metadata": md("gone", deletionTimestamp=ago(seconds=1)),
        "spec": {"completions": 1, "template": TEMPLATE}},
     ["gone", "Terminating", "0/1", "", "5m", "web,log", "nginx:1.27,busybox", "<none>"]),
    ("cron-job", "batch", "CronJob", {
        "metadata": md("hello", ago(days=2)),
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Paris", "suspend": True,
                 "jobTemplate": {"spec": {"template": TEMPLATE}}},
        "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(minutes=3)}},
     ["hello", "*/5 * * * *", "Europe/Paris", "True", 1, "3m", "2d", "web,log",
      "nginx:1.27,busybox", "<none>"]),
    ("cron-job-never-run", "batch", "CronJob", {
        "metadata": md("nightly"), "spec": {"schedule": "0 3 * * *", "suspend": False,
                                            "jobTemplate": {"spec": {"template": TEMPLATE}}}},
     ["nightly", "0 3 * * *", "<none>", "False", 0, "<none>", "5m", "web,log",
      "nginx:1.27,busybox", "<none>"]),
    # autoscaling
    ("hpa-cpu", "autoscaling", "HorizontalPodAutoscaler", {
        "metadata": md("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                 "minReplicas": 1, "maxReplicas": 10, "metrics": [
                     {"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 80}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": 45, "averageValue": "90m"}}}]}},
     ["web", "Deployment/web", "cpu: 45%/80%", "1", 10, 2, "5m"]),
    ("hpa-unknown-and-more", "autoscaling", "HorizontalPodAutoscaler", {
        "metadata": md("web"),
        "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "maxReplicas": 5,
                 "metrics": [
                     {"type": "Resource", "resource": {"name": "memory", "target": {
                         "type": "AverageValue", "averageValue": "1024Mi"}}},
                     {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
                         "type": "AverageValue", "averageValue": "1k"}}},
                     {"type": "External", "external": {"metric": {"name": "queue"}, "target": {
                         "type": "AverageValue", "averageValue": "30"}}}]},
        "status": {"currentReplicas": 1, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "memory", "current": {
                "averageValue": "512Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {
                "averageValue": "1500m"}}}]}},
     ["web", "StatefulSet/db", "memory: 512Mi/1Gi, 1500m/1k + 1 more...", "<unset>", 5, 1, "5m"]),
    ("hpa-no-status-yet", "autoscaling", "HorizontalPodAutoscaler", {
        "metadata": md("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2,
                 "maxReplicas": 4, "metrics": [
                     {"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}},
                     {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {
                         "type": "Value", "value": "10k"}}}]}},
     ["web", "Deployment/web", "cpu: <unknown>/50%, <unknown>/10k", "2", 4, 0, "5m"]),
    ("hpa-v1", "autoscaling", "HorizontalPodAutoscaler", {
        "apiVersion": "autoscaling/v1", "metadata": md("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
                 "maxReplicas": 3, "targetCPUUtilizationPercentage": 70},
        "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}},
     ["web", "Deployment/web", "cpu: 12%/70%", "1", 3, 1, "5m"]),
    ("hpa-no-metrics", "autoscaling", "HorizontalPodAutoscaler", {
        "metadata": md("web"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                                        "maxReplicas": 3}},
     ["web", "Deployment/web", "<none>", "<unset>", 3, 0, "5m"]),
    ("scale", "autoscaling", "Scale", {"metadata": md("web"), "spec": {"replicas": 3},
                                       "status": {"replicas": 2, "selector": "app=web"}},
     ["web", 3, 2, "5m"]),
    # networking and discovery
    ("ingress", "networking.k8s.io", "Ingress", {
        "metadata": md("web"), "spec": {"ingressClassName": "traefik", "tls": [{"hosts": ["a"]}],
                                        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}, {"ip": "172.18.0.3"}]}}},
     ["web", "traefik", "a.example.com,b.example.com", "172.18.0.2,172.18.0.3", "80, 443", "5m"]),
    ("ingress-catch-all", "networking.k8s.io", "Ingress", {
        "metadata": md("all"), "spec": {"defaultBackend": {"service": {"name": "web"}},
                                        "rules": [{"http": {}}]}},
     ["all", "<none>", "*", "", "80", "5m"]),
    ("ingress-many-hosts", "networking.k8s.io", "Ingress", {
        "metadata": md("many"), "spec": {"rules": [{"host": f"h{i}.io"} for i in range(5)]}},
     ["many", "<none>", "h0.io,h1.io,h2.io + 2 more...", "", "80", "5m"]),
    ("ingress-class", "networking.k8s.io", "IngressClass", {
        "metadata": md("nginx"), "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {
            "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}},
     ["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "5m"]),
    ("ingress-class-no-params", "networking.k8s.io", "IngressClass", {
        "metadata": md("traefik"), "spec": {"controller": "traefik.io/ingress-controller"}},
     ["traefik", "traefik.io/ingress-controller", "<none>", "5m"]),
    ("network-policy-all-pods", "networking.k8s.io", "NetworkPolicy", {
        "metadata": md("deny"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
     ["deny", "<none>", "5m"]),
    ("network-policy", "networking.k8s.io", "NetworkPolicy", {
        "metadata": md("allow"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}},
     ["allow", "role=db", "5m"]),
    ("endpoint-slice", "discovery.k8s.io", "EndpointSlice", {
        "metadata": md("web-abc"), "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        "endpoints": [{"addresses": [f"10.42.0.{i}"]} for i in range(1, 5)]},
     ["web-abc", "IPv4", "80,443", "10.42.0.1,10.42.0.2,10.42.0.3 + 1 more...", "5m"]),
    ("endpoint-slice-empty", "discovery.k8s.io", "EndpointSlice", {
        "metadata": md("web-x"), "addressType": "IPv6", "ports": [{"name": "named"}, {}],
        "endpoints": None},
     ["web-x", "IPv6", "named,*", "<unset>", "5m"]),
    # rbac, policy, scheduling, coordination, storage
    ("role-binding", "rbac.authorization.k8s.io", "RoleBinding", {
        "metadata": md("rb"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                          "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "jane"}, {"kind": "User", "name": "bob"},
                     {"kind": "Group", "name": "devs"},
                     {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}]},
     ["rb", "Role/pod-reader", "5m", "jane, bob", "devs", "tools/ci"]),
    ("cluster-role-binding", "rbac.authorization.k8s.io", "ClusterRoleBinding", {
        "metadata": md("admin"), "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:masters"}]},
     ["admin", "ClusterRole/cluster-admin", "5m", "", "system:masters", ""]),
    ("pdb-min-available", "policy", "PodDisruptionBudget", {
        "metadata": md("pdb"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}},
     ["pdb", "2", "N/A", 1, "5m"]),
    ("pdb-max-unavailable-percent", "policy", "PodDisruptionBudget", {
        "metadata": md("pdb"), "spec": {"maxUnavailable": "50%"}},
     ["pdb", "N/A", "50%", 0, "5m"]),
    ("priority-class", "scheduling.k8s.io", "PriorityClass", {
        "metadata": md("system-node-critical", ago(days=100)), "value": 2000001000,
        "globalDefault": False, "preemptionPolicy": "PreemptLowerPriority"},
     ["system-node-critical", 2000001000, False, "100d", "PreemptLowerPriority"]),
    ("lease", "coordination.k8s.io", "Lease", {"metadata": md("node-1"),
                                               "spec": {"holderIdentity": "node-1"}},
     ["node-1", "node-1", "5m"]),
    ("lease-unheld", "coordination.k8s.io", "Lease", {"metadata": md("lock"), "spec": {}},
     ["lock", "", "5m"]),
    ("storage-class-default", "storage.k8s.io", "StorageClass", {
        "metadata": md("local-path", annotations={
            "storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer"},
     ["local-path (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False,
      "5m"]),
    ("storage-class-expandable", "storage.k8s.io", "StorageClass", {
        "metadata": md("fast"), "provisioner": "ebs.csi.aws.com", "allowVolumeExpansion": True},
     ["fast", "ebs.csi.aws.com", "Delete", "Immediate", True, "5m"]),
    # kinds without a printer: the default table
    ("role-default-table", "rbac.authorization.k8s.io", "Role",
     {"metadata": md("reader", "2025-02-27T08:30:00Z")}, ["reader", "2025-02-27T08:30:00Z"]),
    ("cluster-role-default-table", "rbac.authorization.k8s.io", "ClusterRole",
     {"metadata": md("view", "2025-01-01T00:00:00.5+02:00")}, ["view", "2024-12-31T22:00:00Z"]),
    ("limit-range-default-table", "", "LimitRange", {"metadata": md("limits", "2024-06-01T00:00:00Z")},
     ["limits", "2024-06-01T00:00:00Z"]),
    ("crd-default-table", "apiextensions.k8s.io", "CustomResourceDefinition",
     {"metadata": {"name": "widgets.example.com", "creationTimestamp": "2025-02-01T10:00:00Z"}},
     ["widgets.example.com", "2025-02-01T10:00:00Z"]),
    ("missing-creation-timestamp", "", "Pod", {"metadata": {"name": "bare"}},
     ["bare", "0/0", "", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"]),
]


@pytest.mark.parametrize("group, kind, obj, cells", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_row_cells(group: str, kind: str, obj: dict[str, Any], cells: list[Any]) -> None:
    got = printers.row_cells(group, kind, obj, NOW)
    assert got == cells
    assert [type(c) for c in got] == [type(c) for c in cells]  # 2 and "2" differ on the wire
    assert len(got) == len(printers.column_definitions(group, kind))


# --- column definitions ------------------------------------------------------------------------

def _cols(spec: str) -> list[tuple[str, str, str, int]]:
    """"Name:string:name|Ready:string|IP:string::1" -> (name, type, format, priority)."""
    out = []
    for item in spec.split("|"):
        parts = item.split(":") + ["", ""]
        out.append((parts[0], parts[1], parts[2], int(parts[3] or 0)))
    return out


N = "Name:string:name"
COLUMNS = [
    ("", "Pod", f"{N}|Ready:string|Status:string|Restarts:string|Age:string|IP:string::1|"
                "Node:string::1|Nominated Node:string::1|Readiness Gates:string::1"),
    ("", "Node", f"{N}|Status:string|Roles:string|Age:string|Version:string|Internal-IP:string::1|"
                 "External-IP:string::1|OS-Image:string::1|Kernel-Version:string::1|"
                 "Container-Runtime:string::1"),
    ("", "Service", f"{N}|Type:string|Cluster-IP:string|External-IP:string|Port(s):string|"
                    "Age:string|Selector:string::1"),
    ("", "Event", "Last Seen:string|Type:string|Reason:string|Object:string|Subobject:string::1|"
                  "Source:string::1|Message:string|First Seen:string::1|Count:string::1|"
                  "Name:string:name:1"),
    ("", "Secret", f"{N}|Type:string|Data:string|Age:string"),
    ("", "ServiceAccount", f"{N}|Secrets:string|Age:string"),
    ("", "ResourceQuota", f"{N}|Age:string|Request:string|Limit:string"),
    ("", "PersistentVolume", f"{N}|Capacity:string|Access Modes:string|Reclaim Policy:string|"
                             "Status:string|Claim:string|StorageClass:string|"
                             "VolumeAttributesClass:string|Reason:string|Age:string|"
                             "VolumeMode:string::1"),
    ("", "PersistentVolumeClaim", f"{N}|Status:string|Volume:string|Capacity:string|"
                                  "Access Modes:string|StorageClass:string|"
                                  "VolumeAttributesClass:string|Age:string|VolumeMode:string::1"),
    ("", "ReplicationController", f"{N}|Desired:integer|Current:integer|Ready:integer|Age:string|"
                                  "Containers:string::1|Images:string::1|Selector:string::1"),
    ("apps", "Deployment", f"{N}|Ready:string|Up-to-date:string|Available:string|Age:string|"
                           "Containers:string::1|Images:string::1|Selector:string::1"),
    ("apps", "StatefulSet", f"{N}|Ready:string|Age:string|Containers:string::1|Images:string::1"),
    ("apps", "DaemonSet", f"{N}|Desired:integer|Current:integer|Ready:integer|Up-to-date:integer|"
                          "Available:integer|Node Selector:string|Age:string|Containers:string::1|"
                          "Images:string::1|Selector:string::1"),
    ("apps", "ControllerRevision", f"{N}|Controller:string|Revision:string|Age:string"),
    ("batch", "Job", f"{N}|Status:string|Completions:string|Duration:string|Age:string|"
                     "Containers:string::1|Images:string::1|Selector:string::1"),
    ("batch", "CronJob", f"{N}|Schedule:string|Timezone:string|Suspend:boolean|Active:integer|"
                         "Last Schedule:string|Age:string|Containers:string::1|Images:string::1|"
                         "Selector:string::1"),
    ("autoscaling", "HorizontalPodAutoscaler", f"{N}|Reference:string|Targets:string|"
                                               "MinPods:string|MaxPods:string|Replicas:string|"
                                               "Age:string"),
    ("autoscaling", "Scale", "Name:string|Desired:integer|Available:integer|Age:string"),
    ("networking.k8s.io", "Ingress", f"{N}|Class:string|Hosts:string|Address:string|Ports:string|"
                                     "Age:string"),
    ("discovery.k8s.io", "EndpointSlice", f"{N}|AddressType:string|Ports:string|Endpoints:string|"
                                          "Age:string"),
    ("rbac.authorization.k8s.io", "RoleBinding", f"{N}|Role:string|Age:string|Users:string::1|"
                                                 "Groups:string::1|ServiceAccounts:string::1"),
    ("policy", "PodDisruptionBudget", f"{N}|Min Available:string|Max Unavailable:string|"
                                      "Allowed Disruptions:integer|Age:string"),
    ("scheduling.k8s.io", "PriorityClass", f"{N}|Value:integer|Global-Default:boolean|Age:string|"
                                           "PreemptionPolicy:string::1"),
    ("storage.k8s.io", "StorageClass", f"{N}|Provisioner:string|ReclaimPolicy:string|"
                                       "VolumeBindingMode:string|AllowVolumeExpansion:string|"
                                       "Age:string"),
    ("rbac.authorization.k8s.io", "ClusterRole", f"{N}|Created At:date"),
    ("", "LimitRange", f"{N}|Created At:date"),
    ("example.com", "Widget", f"{N}|Created At:date"),
]


@pytest.mark.parametrize("group, kind, spec", COLUMNS, ids=[c[1] for c in COLUMNS])
def test_column_definitions(group: str, kind: str, spec: str) -> None:
    columns = printers.column_definitions(group, kind)
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in columns] == _cols(spec)
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in columns)


@pytest.mark.parametrize("group, kind, column, starts", [
    ("", "Pod", "Name", "Name must be unique within a namespace."),
    ("", "Pod", "Age", "CreationTimestamp is a timestamp representing the server time"),
    ("", "Pod", "IP", "podIP address allocated to the pod."),
    ("", "Pod", "Ready", "The aggregate readiness state of this pod for accepting traffic."),
    ("apps", "Deployment", "Up-to-date", "Total number of non-terminated pods targeted by this "
                                         "deployment that have the desired template spec."),
    ("", "Secret", "Type", "Used to facilitate programmatic handling of secret data."),
    ("rbac.authorization.k8s.io", "Role", "Created At", "CreationTimestamp is a timestamp"),
])
def test_column_descriptions(group: str, kind: str, column: str, starts: str) -> None:
    by_name = {c["name"]: c for c in printers.column_definitions(group, kind)}
    assert by_name[column]["description"].startswith(starts)


def _minimal(rt: Any) -> dict[str, Any]:
    return {"apiVersion": rt.group_version, "kind": rt.kind,
            "metadata": {"name": "m", "creationTimestamp": ago(minutes=1)}}


@pytest.mark.parametrize("rt", BUILTIN, ids=[f"{t.group or 'core'}/{t.version}/{t.kind}"
                                             for t in BUILTIN])
def test_every_registered_kind_prints(rt: Any) -> None:
    """Each built-in kind has columns with descriptions and a row per column, even bare."""
    columns = printers.column_definitions(rt.group, rt.kind)
    cells = printers.row_cells(rt.group, rt.kind, _minimal(rt), NOW)
    assert len(cells) == len(columns) >= 2
    assert all(isinstance(c, (str, int)) for c in cells)
    assert all(c["description"] for c in columns)
    # upstream's VolumeAttachment printer also marks its Attacher column format "name"
    names = [c["format"] for c in columns].count("name")
    assert names == (2 if rt.kind == "VolumeAttachment" else 1)


# --- the Table body --------------------------------------------------------------------------

def test_table_for_metadata_rows_and_conditions() -> None:
    done = pod([container(state={"terminated": {"exitCode": 0, "reason": "Completed"}})],
               phase="Succeeded", meta={"labels": {"app": "web"}})
    table = printers.table_for("", "Pod", [done], NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {}
    assert len(table["columnDefinitions"]) == 9
    (row,) = table["rows"]
    assert row["cells"][:3] == ["web", "0/1", "Completed"]
    assert row["conditions"][0]["type"] == "Completed"
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": done["metadata"]}


@pytest.mark.parametrize("include, expected", [
    ("Object", "full"), ("None", "absent"), ("Metadata", "partial")])
def test_table_for_include_object(include: str, expected: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md("cfg"), "data": {"k": "v"}}
    (row,) = printers.table_for("", "ConfigMap", [cm], NOW, include_object=include)["rows"]
    assert "conditions" not in row
    if expected == "full":
        assert row["object"] is cm
    elif expected == "absent":
        assert "object" not in row
    else:
        assert row["object"]["kind"] == "PartialObjectMetadata" and "data" not in row["object"]


def test_table_for_without_columns_and_empty() -> None:
    table = printers.table_for("apps", "Deployment", [], NOW, with_columns=False)
    assert table["columnDefinitions"] == [] and table["rows"] == []


def test_table_for_rejects_unknown_include_object() -> None:
    with pytest.raises(ValueError):
        printers.table_for("", "Pod", [], NOW, include_object="Everything")


def test_flow_schema_list_ordered_by_precedence_then_name() -> None:
    def fs(name: str, precedence: int) -> dict[str, Any]:
        return {"metadata": md(name), "spec": {"matchingPrecedence": precedence,
                                               "priorityLevelConfiguration": {"name": "pl"}}}
    table = printers.table_for("flowcontrol.apiserver.k8s.io", "FlowSchema",
                               [fs("global-default", 9900), fs("exempt", 1), fs("catch-all", 10000),
                                fs("b", 1)], NOW)
    assert [r["cells"][0] for r in table["rows"]] == ["b", "exempt", "global-default", "catch-all"]
    assert table["rows"][0]["cells"][2:4] == [1, "<none>"]
