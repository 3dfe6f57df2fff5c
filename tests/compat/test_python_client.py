"""The official ``kubernetes`` Python client against a kubepy server: CRUD, errors, lists with
pagination, watch with timeouts, every patch type including server-side apply, the scale
subresource, the dynamic client (discovery), ``utils.create_from_yaml`` and custom resources.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from kubernetes import client, config, dynamic, utils, watch
from kubernetes.client.rest import ApiException

from tests.compat.harness import RawApi
from tests.conftest import ServerProcess


@pytest.fixture(scope="module")
def k8s(kubepy_server: ServerProcess) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(kubepy_server.kubeconfig))
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def ns(request: pytest.FixtureRequest, api: RawApi) -> str:
    name = "py-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.removeprefix("test_"))[:50]
    name = name.strip("-")
    api.ensure_namespace(name)
    return name


def cm(name: str, data: dict[str, str], labels: dict[str, str] | None = None
       ) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels),
                              data=data)


def test_configmap_crud(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    created = v1.create_namespaced_config_map(ns, cm("crud", {"a": "1"}, {"app": "py"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp.tzinfo is not None
    got = v1.read_namespaced_config_map("crud", ns)
    assert got.data == {"a": "1"} and got.metadata.labels == {"app": "py"}

    got.data["b"] = "2"
    replaced = v1.replace_namespaced_config_map("crud", ns, got)
    assert replaced.data == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    # replacing with the old resourceVersion is a conflict
    stale = cm("crud", {"a": "stale"})
    stale.metadata.resource_version = created.metadata.resource_version
    with pytest.raises(ApiException) as e:
        v1.replace_namespaced_config_map("crud", ns, stale)
    assert e.value.status == 409
    assert '"reason":"Conflict"' in e.value.body.replace(" ", "")

    listed = v1.list_namespaced_config_map(ns, label_selector="app=py")
    assert [i.metadata.name for i in listed.items] == ["crud"]
    assert listed.metadata.resource_version

    # an immediate delete answers a Status naming the deleted object (not the object)
    status = k8s.sanitize_for_serialization(v1.delete_namespaced_config_map("crud", ns))
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"] == {"name": "crud", "kind": "configmaps",
                                 "uid": created.metadata.uid}
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_config_map("crud", ns)
    assert e.value.status == 404 and e.value.reason == "Not Found"
    body = yaml.safe_load(e.value.body)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "crud" not found'
    assert body["details"] == {"name": "crud", "kind": "configmaps"}


def test_create_duplicate_is_already_exists(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    v1.create_namespaced_config_map(ns, cm("dup", {}))
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map(ns, cm("dup", {}))
    assert e.value.status == 409
    body = yaml.safe_load(e.value.body)
    assert (body["reason"], body["message"]) == ("AlreadyExists",
                                                 'configmaps "dup" already exists')


def test_invalid_object_is_422_with_causes(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_config_map(ns, cm("Bad_Name", {}))
    assert e.value.status == 422
    body = yaml.safe_load(e.value.body)
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: '
                                      'Invalid value: "Bad_Name": a lowercase RFC 1123 '
                                      'subdomain must consist of')


def test_list_pagination(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    for i in range(5):
        v1.create_namespaced_config_map(ns, cm(f"p{i}", {}))
    names, token, pages = [], None, 0
    while True:
        page = v1.list_namespaced_config_map(ns, limit=2, _continue=token)
        pages += 1
        names += [i.metadata.name for i in page.items]
        if pages == 1:
            assert page.metadata.remaining_item_count == 3
        token = page.metadata._continue
        if not token:
            break
    assert (names, pages) == ([f"p{i}" for i in range(5)], 3)


def test_deployment_defaults_and_scale_subresource(k8s: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(k8s)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="nginx", image="nginx:1.27")]))))
    created = apps.create_namespaced_deployment(ns, dep)
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.metadata.generation == 1

    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert (scale.spec.replicas, scale.status.selector) == (2, "app=web")
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 4}})
    got = apps.read_namespaced_deployment("web", ns)
    assert got.spec.replicas == 4 and got.metadata.generation == 2
    scale = apps.read_namespaced_deployment_scale("web", ns)
    scale.spec.replicas = 1
    assert apps.replace_namespaced_deployment_scale("web", ns, scale).spec.replicas == 1


# ----------------------------------------------------------------------------- patches


@pytest.mark.parametrize("body, content_type, data, labels", [
    ({"data": {"b": "2"}, "metadata": {"labels": {"x": "y"}}}, None,
     {"a": "1", "b": "2"}, {"x": "y"}),
    ({"data": {"a": None, "c": "3"}}, "application/merge-patch+json", {"c": "3"}, None),
    ([{"op": "replace", "path": "/data/a", "value": "z"},
      {"op": "add", "path": "/data/new", "value": "n"}], None,
     {"a": "z", "new": "n"}, None),
], ids=["strategic-default-for-dicts", "merge", "json-patch-for-lists"])
def test_patch_types(k8s: client.ApiClient, ns: str, body: Any, content_type: str | None,
                     data: dict[str, str], labels: dict[str, str] | None) -> None:
    v1 = client.CoreV1Api(k8s)
    v1.create_namespaced_config_map(ns, cm("pt", {"a": "1"}))
    kwargs = {"_content_type": content_type} if content_type else {}
    patched = v1.patch_namespaced_config_map("pt", ns, body, **kwargs)
    assert patched.data == data and patched.metadata.labels == labels


def test_strategic_merge_on_pod_template_lists(k8s: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(k8s)
    apps.create_namespaced_deployment(ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "smp"},
        "spec": {"selector": {"matchLabels": {"app": "smp"}},
                 "template": {"metadata": {"labels": {"app": "smp"}},
                              "spec": {"containers": [
                                  {"name": "a", "image": "busybox", "env": [
                                      {"name": "X", "value": "1"}]},
                                  {"name": "b", "image": "busybox"}]}}}})
    patched = apps.patch_namespaced_deployment("smp", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]},
                       {"name": "b", "$patch": "delete"}]}}}})
    containers = patched.spec.template.spec.containers
    assert [c.name for c in containers] == ["a"]
    assert sorted((e.name, e.value) for e in containers[0].env) == [("X", "1"), ("Y", "2")]


APPLY = "application/apply-patch+yaml"


def _ssa(v1: client.CoreV1Api, ns: str, value: str, manager: str, force: bool = False
         ) -> client.V1ConfigMap:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"},
            "data": {"k": value}}
    kwargs: dict[str, Any] = {"force": True} if force else {}
    return v1.patch_namespaced_config_map("ssa", ns, body, field_manager=manager,
                                          _content_type=APPLY, **kwargs)


def test_server_side_apply_create_conflict_force(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    created = _ssa(v1, ns, "a", "py-a")  # apply creates the object
    assert created.data == {"k": "a"}
    stored_rv = v1.read_namespaced_config_map("ssa", ns).metadata.resource_version
    assert created.metadata.resource_version == stored_rv, "apply answers the stored object"
    (entry,) = created.metadata.managed_fields
    assert (entry.manager, entry.operation, entry.fields_type) == ("py-a", "Apply", "FieldsV1")
    assert entry.fields_v1 == {"f:data": {"f:k": {}}}

    with pytest.raises(ApiException) as e:
        _ssa(v1, ns, "b", "py-b")
    assert e.value.status == 409
    body = yaml.safe_load(e.value.body)
    assert body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "py-a": .data.k'
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                          "message": 'conflict with "py-a"',
                                          "field": ".data.k"}]

    forced = _ssa(v1, ns, "b", "py-b", force=True)
    assert forced.data == {"k": "b"}
    assert {m.manager for m in forced.metadata.managed_fields} == {"py-b"}
    stored_rv = v1.read_namespaced_config_map("ssa", ns).metadata.resource_version
    assert forced.metadata.resource_version == stored_rv, "apply answers the stored object"
    # re-applying the same configuration is a no-op: no write, same resourceVersion
    again = _ssa(v1, ns, "b", "py-b")
    assert again.metadata.resource_version == stored_rv


def test_server_side_apply_requires_field_manager(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    with pytest.raises(ApiException) as e:
        v1.patch_namespaced_config_map(
            "nofm", ns, {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "nofm"}}, _content_type=APPLY)
    assert e.value.status == 422  # PatchOptions validation, not a bad request
    assert yaml.safe_load(e.value.body)["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        'for apply patch')


# ----------------------------------------------------------------------------- watch


def test_watch_streams_changes_and_honours_timeout(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    v1.create_namespaced_config_map(ns, cm("before", {}))
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version

    def writer() -> None:
        time.sleep(0.3)
        v1.create_namespaced_config_map(ns, cm("w", {"a": "1"}))
        v1.patch_namespaced_config_map("w", ns, {"data": {"a": "2"}})
        v1.delete_namespaced_config_map("w", ns)

    t = threading.Thread(target=writer)
    t.start()
    events = []
    started = time.monotonic()
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                       timeout_seconds=3):
        events.append((ev["type"], ev["object"].metadata.name,
                       (ev["object"].data or {}).get("a")))
        if ev["type"] == "DELETED":
            w.stop()
    t.join()
    assert events == [("ADDED", "w", "1"), ("MODIFIED", "w", "2"), ("DELETED", "w", "2")]

    # with nothing happening the server ends the stream after timeoutSeconds
    started = time.monotonic()
    quiet = list(watch.Watch().stream(v1.list_namespaced_config_map, ns,
                                      resource_version=v1.list_namespaced_config_map(ns)
                                      .metadata.resource_version, timeout_seconds=1))
    assert quiet == [] and time.monotonic() - started < 5


def test_watch_without_resource_version_starts_with_current_state(
        k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    for name in ("s1", "s2"):
        v1.create_namespaced_config_map(ns, cm(name, {}))
    seen = [(ev["type"], ev["object"].metadata.name)
            for ev in watch.Watch().stream(v1.list_namespaced_config_map, ns,
                                           timeout_seconds=1)]
    assert sorted(seen) == [("ADDED", "s1"), ("ADDED", "s2")]


def test_watch_label_selector_and_bookmarks(k8s: client.ApiClient, ns: str) -> None:
    v1 = client.CoreV1Api(k8s)
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    v1.create_namespaced_config_map(ns, cm("other", {}))
    v1.create_namespaced_config_map(ns, cm("mine", {}, {"pick": "me"}))
    raw = []
    for ev in watch.Watch().stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                                   label_selector="pick=me", allow_watch_bookmarks=True,
                                   timeout_seconds=1, _preload_content=False):
        raw.append(ev)
    names = [(e["type"], e["object"].metadata.name) for e in raw if e["type"] != "BOOKMARK"]
    assert names == [("ADDED", "mine")]


# ----------------------------------------------------------------------------- discovery


def test_dynamic_client_discovers_and_serves(k8s: client.ApiClient, ns: str) -> None:
    dyn = dynamic.DynamicClient(k8s)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert (deployments.name, deployments.namespaced) == ("deployments", True)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"},
                     "data": {"k": "v"}}, namespace=ns)
    got = cms.get(name="dyn", namespace=ns)
    assert got.data.k == "v"
    scale = dyn.resources.get(api_version="apps/v1", kind="Deployment").subresources["scale"]
    assert scale.kind == "Scale"


def test_version_api(k8s: client.ApiClient) -> None:
    info = client.VersionApi(k8s).get_code()
    assert (info.major, info.minor) == ("1", "32")


# ----------------------------------------------------------------------------- utils


MULTI = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: fy-config
data:
  a: "1"
---
apiVersion: v1
kind: Service
metadata:
  name: fy-svc
spec:
  selector: {app: fy}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fy-web
spec:
  selector:
    matchLabels: {app: fy}
  template:
    metadata:
      labels: {app: fy}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


def test_create_from_yaml(k8s: client.ApiClient, ns: str, tmp_path: Path) -> None:
    f = tmp_path / "all.yaml"
    f.write_text(MULTI)
    created = utils.create_from_yaml(k8s, str(f), namespace=ns)
    kinds = [obj.kind for group in created for obj in group]
    assert kinds == ["ConfigMap", "Service", "Deployment"]
    svc = client.CoreV1Api(k8s).read_namespaced_service("fy-svc", ns)
    assert svc.spec.ports[0].protocol == "TCP" and svc.spec.ports[0].target_port == 80
    assert client.AppsV1Api(k8s).read_namespaced_deployment("fy-web", ns).spec.replicas == 1
    with pytest.raises(utils.FailToCreateError) as e:
        utils.create_from_yaml(k8s, str(f), namespace=ns)
    assert [exc.status for exc in e.value.api_exceptions] == [409, 409, 409]


# ----------------------------------------------------------------------------- CRDs


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.compat.kubepy.io"},
    "spec": {"group": "compat.kubepy.io", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "properties": {"spec": {
                                   "type": "object",
                                   "properties": {"size": {"type": "integer"}}}}}}}]}}


def test_custom_resources(k8s: client.ApiClient, ns: str) -> None:
    ext = client.ApiextensionsV1Api(k8s)
    try:
        ext.create_custom_resource_definition(CRD)
    except ApiException as e:
        if e.status != 409:
            raise
    deadline = time.monotonic() + 10
    while True:
        crd = ext.read_custom_resource_definition("gadgets.compat.kubepy.io")
        conditions = {c.type: c.status for c in (crd.status.conditions or [])} \
            if crd.status else {}
        if conditions.get("Established") == "True":
            break
        assert time.monotonic() < deadline, f"CRD never Established: {conditions}"
        time.sleep(0.2)
    co = client.CustomObjectsApi(k8s)
    body = {"apiVersion": "compat.kubepy.io/v1", "kind": "Gadget",
            "metadata": {"name": "g1"}, "spec": {"size": 3}}
    made = co.create_namespaced_custom_object("compat.kubepy.io", "v1", ns, "gadgets", body)
    assert made["spec"] == {"size": 3} and made["metadata"]["uid"]
    patched = co.patch_namespaced_custom_object(
        "compat.kubepy.io", "v1", ns, "gadgets", "g1", {"spec": {"size": 5}},
        _content_type="application/merge-patch+json")
    assert patched["spec"]["size"] == 5
    listed = co.list_namespaced_custom_object("compat.kubepy.io", "v1", ns, "gadgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["g1"]
    with pytest.raises(ApiException) as e:  # the schema is enforced
        co.create_namespaced_custom_object("compat.kubepy.io", "v1", ns, "gadgets", {
            "apiVersion": "compat.kubepy.io/v1", "kind": "Gadget",
            "metadata": {"name": "g2"}, "spec": {"size": "big"}})
    assert e.value.status == 422
