"""resolve_env without an API server: fieldRef, resourceFieldRef, service links and
``$(VAR)`` expansion in the kubelet's order, and the failures worded as the kubelet's.
(ConfigMap and Secret sources are read from a real server in
tests/integration/test_volumes_live.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubepy.kubelet.runtime.env import ContainerConfigError
from kubepy.kubelet.volumes import resolve_env

Obj = dict[str, Any]

POD: Obj = {
    "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-123",
                 "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "a\"b"}},
    "spec": {"nodeName": "node-a", "serviceAccountName": "robot",
             "containers": [{"name": "c"}, {"name": "side", "resources": {
                 "limits": {"cpu": "250m"}}}]},
    "status": {"hostIP": "192.168.1.5", "hostIPs": [{"ip": "192.168.1.5"}, {"ip": "fd00::5"}],
               "podIP": "10.1.0.7", "podIPs": [{"ip": "10.1.0.7"}, {"ip": "fd01::7"}]},
}
KUBERNETES = {"metadata": {"name": "kubernetes", "namespace": "default"},
              "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "https", "port": 443}]}}
DB = {"metadata": {"name": "db", "namespace": "shop"},
      "spec": {"clusterIP": "10.0.0.30", "ports": [{"port": 5432}]}}


def field(path: str) -> Obj:
    return {"valueFrom": {"fieldRef": {"fieldPath": path}}}


def res(resource: str, divisor: str | None = None, container: str | None = None) -> Obj:
    ref: Obj = {"resource": resource}
    if divisor:
        ref["divisor"] = divisor
    if container:
        ref["containerName"] = container
    return {"valueFrom": {"resourceFieldRef": ref}}


def run(env: list[Obj], *, pod: Obj = POD, resources: Obj | None = None, **kw: Any) -> list[tuple[str, str]]:
    container = {"name": "c", "env": env, "resources": resources or {}}
    return asyncio.run(resolve_env(None, pod, container, **kw))


@pytest.mark.parametrize("path,value", [
    ("metadata.name", "web-0"), ("metadata.namespace", "shop"), ("metadata.uid", "u-123"),
    ("metadata.labels['app']", "web"), ("metadata.labels['missing']", ""),
    ("metadata.annotations['note']", 'a"b'),
    ("metadata.labels", 'app="web"\ntier="front"'),
    ("metadata.annotations", 'note="a\\"b"'),
    ("spec.nodeName", "node-a"), ("spec.serviceAccountName", "robot"),
    ("status.hostIP", "192.168.1.5"), ("status.hostIPs", "192.168.1.5,fd00::5"),
    ("status.podIP", "10.1.0.7"), ("status.podIPs", "10.1.0.7,fd01::7"),
])
def test_field_ref(path: str, value: str) -> None:
    assert run([{"name": "V", **field(path)}]) == [("V", value)]


def test_pod_and_node_ip_arguments_come_first() -> None:
    pod = {**POD, "status": {}}
    got = run([{"name": "P", **field("status.podIP")}, {"name": "H", **field("status.hostIPs")}],
              pod=pod, pod_ip="10.9.9.9", node_ip="172.16.0.1")
    assert got == [("P", "10.9.9.9"), ("H", "172.16.0.1")]


@pytest.mark.parametrize("ref,resources,allocatable,value", [
    (res("limits.cpu"), {"limits": {"cpu": "1500m"}}, None, "2"),
    (res("limits.cpu", "1m"), {"limits": {"cpu": "1500m"}}, None, "1500"),
    (res("requests.cpu", "1m"), {"requests": {"cpu": "100m"}}, None, "100"),
    (res("requests.cpu"), {}, None, "0"),
    (res("limits.memory", "1Mi"), {"limits": {"memory": "64Mi"}}, None, "64"),
    (res("limits.memory", "1Mi"), {"limits": {"memory": "100M"}}, None, "96"),
    (res("limits.memory"), {"limits": {"memory": "1Ki"}}, None, "1024"),
    (res("requests.ephemeral-storage", "1k"), {"requests": {"ephemeral-storage": "2Mi"}},
     None, "2098"),
    pytest.param(res("limits.cpu", "1m"), {}, {"cpu": "2", "memory": "4Gi"}, "2000",
                 id="unset-limit-is-allocatable"),
    pytest.param(res("limits.memory", "1Gi"), {"limits": {"memory": "0"}},
                 {"cpu": "2", "memory": "4Gi"}, "4", id="zero-limit-is-allocatable"),
    pytest.param(res("limits.memory"), {}, None, "0", id="no-limit-no-allocatable"),
    pytest.param(res("limits.cpu", "1m", "side"), {}, {"cpu": "2"}, "250",
                 id="other-container"),
    pytest.param(res("limits.hugepages-2Mi", "1Mi"), {"limits": {"hugepages-2Mi": "4Mi"}},
                 {"hugepages-2Mi": "1Gi"}, "4", id="hugepages"),
])
def test_resource_field_ref(ref: Obj, resources: Obj, allocatable: Obj | None,
                            value: str) -> None:
    assert run([{"name": "R", **ref}], resources=resources,
               allocatable=allocatable) == [("R", value)]


def test_order_expansion_and_service_links() -> None:
    env = [
        {"name": "NAME", **field("metadata.name")},
        {"name": "URL", "value": "http://$(NAME):$(DB_SERVICE_PORT)/$(UNKNOWN)$$x"},
        {"name": "DB_SERVICE_HOST", "value": "override"},
        {"name": "LATER", "value": "$(EARLIER)"},
        {"name": "EARLIER", "value": "e"},
        {"name": "EMPTY", "value": ""},
    ]
    got = run(env, services=[KUBERNETES, DB])
    names = [n for n, _ in got]
    assert got[:6] == [("NAME", "web-0"), ("URL", "http://web-0:5432/$(UNKNOWN)$x"),
                       ("DB_SERVICE_HOST", "override"), ("LATER", "$(EARLIER)"),
                       ("EARLIER", "e"), ("EMPTY", "")]
    rest = dict(got[6:])
    assert "DB_SERVICE_HOST" not in rest and rest["DB_SERVICE_PORT"] == "5432"
    assert rest["KUBERNETES_SERVICE_HOST"] == "10.0.0.1"
    assert len(names) == len(set(names))


def test_service_links_disabled_keep_kubernetes() -> None:
    pod = {**POD, "spec": {**POD["spec"], "enableServiceLinks": False}}
    got = dict(run([], pod=pod, services=[KUBERNETES, DB]))
    assert got["KUBERNETES_PORT"] == "tcp://10.0.0.1:443"
    assert not any(k.startswith("DB_") for k in got)


@pytest.mark.parametrize("env,message", [
    ([{"name": "X", **field("spec.hostname")}], "field label not supported: spec.hostname"),
    ([{"name": "X", **field("spec.restartPolicy")}], "unsupported fieldPath: spec.restartPolicy"),
    ([{"name": "X", **field("metadata.name['x']")}],
     "field label does not support subscript: metadata.name['x']"),
    ([{"name": "X", **res("limits.gpu")}], "unsupported container resource : limits.gpu"),
    ([{"name": "X", **res("limits.cpu", None, "nope")}], "container nope not found"),
    ([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}],
     "couldn't get configMap shop/cfg, no kubeClient defined"),
    ([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
     "couldn't get secret shop/s, no kubeClient defined"),
])
def test_errors(env: list[Obj], message: str) -> None:
    with pytest.raises(ContainerConfigError) as e:
        run(env)
    assert str(e.value) == message
