"""Object semantics over HTTPS: system metadata, generateName, generation, preconditions,
no-op writes, the status and scale subresources, finalizers and graceful deletion,
propagation policies, dry runs, deletecollection, Service IP/port allocation, namespace
existence and name validation."""

from __future__ import annotations

import copy
import datetime
import ipaddress
import re

import pytest

from tests.integration.conftest import Api, Watch, assert_status, configmap, deployment

UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONFLICT = ("Operation cannot be fulfilled on {res} \"{name}\": the object has been modified; "
            "please apply your changes to the latest version and try again")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
               "start with an alphabetic character, and end with an alphanumeric character "
               "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')")


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def deploy_path(ns: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments" + (f"/{name}" if name else "")


def test_system_metadata_is_set(api: Api, ns: str) -> None:
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    created = api.create(cm_path(ns), configmap("meta"))
    meta = created["metadata"]
    assert UID.match(meta["uid"]), meta
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"]), meta
    ts = datetime.datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert before - datetime.timedelta(seconds=1) <= ts <= before + datetime.timedelta(seconds=5)
    assert meta["resourceVersion"].isdigit() and int(meta["resourceVersion"]) > 0
    assert meta["namespace"] == ns
    assert created["kind"] == "ConfigMap" and created["apiVersion"] == "v1"
    got = api.read(cm_path(ns, "meta"))
    assert got["metadata"]["uid"] == meta["uid"]
    assert got["metadata"]["resourceVersion"] == meta["resourceVersion"]
    # user-supplied uid / creationTimestamp are replaced on create
    other = configmap("meta2")
    other["metadata"].update(uid="11111111-2222-3333-4444-555555555555",
                             creationTimestamp="2001-01-01T00:00:00Z")
    made = api.create(cm_path(ns), other)["metadata"]
    assert made["uid"] != "11111111-2222-3333-4444-555555555555"
    assert made["creationTimestamp"] != "2001-01-01T00:00:00Z"


def test_generate_name(api: Api, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    names = {api.create(cm_path(ns), body)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3
    for name in names:
        assert re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", name), name
        assert api.read(cm_path(ns, name))["metadata"]["generateName"] == "gen-"


@pytest.mark.parametrize("write", ["create", "put", "merge-patch", "status-put"])
def test_write_response_carries_the_new_resource_version(api: Api, ns: str, write: str) -> None:
    """Every write answers with the object as stored, including its new resourceVersion."""
    if write == "create":
        out = api.create(deploy_path(ns), deployment("rv"))
    else:
        obj = api.make(deploy_path(ns), deployment("rv"))
        if write == "put":
            obj["metadata"]["labels"]["new"] = "label"
            out = api.ok("PUT", deploy_path(ns, "rv"), 200, body=obj)
        elif write == "merge-patch":
            out = api.ok("PATCH", deploy_path(ns, "rv"), 200,
                         body={"metadata": {"labels": {"new": "label"}}},
                         content_type="application/merge-patch+json")
        else:
            obj["status"] = {"replicas": 1}
            out = api.ok("PUT", deploy_path(ns, "rv") + "/status", 200, body=obj)
        assert int(out["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])
    stored = api.read(deploy_path(ns, "rv"))
    assert out["metadata"].get("resourceVersion") == stored["metadata"]["resourceVersion"]


def test_generation_tracks_spec_only(api: Api, ns: str) -> None:
    path = deploy_path(ns, "gen")
    d = api.make(deploy_path(ns), deployment("gen", replicas=1))
    assert d["metadata"]["generation"] == 1
    # metadata change: no bump
    api.ok("PATCH", path, body={"metadata": {"labels": {"x": "y"}}},
           content_type="application/merge-patch+json")
    d = api.read(path)
    assert d["metadata"]["generation"] == 1 and d["metadata"]["labels"]["x"] == "y"
    # status change through /status: no bump
    d["status"] = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1, "availableReplicas": 1}
    api.ok("PUT", path + "/status", body=d)
    d = api.read(path)
    assert d["metadata"]["generation"] == 1 and d["status"]["replicas"] == 1
    # spec change through PUT: bump
    d["spec"]["replicas"] = 3
    api.ok("PUT", path, body=d)
    d = api.read(path)
    assert d["metadata"]["generation"] == 2
    # spec change through a patch: bump again
    api.ok("PATCH", path, body={"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "nginx:1.28"}]}}}},
        content_type="application/strategic-merge-patch+json")
    assert api.read(path)["metadata"]["generation"] == 3


@pytest.mark.parametrize("kind", ["configmaps", "deployments"])
def test_stale_resource_version_on_put_conflicts(api: Api, ns: str, kind: str) -> None:
    path, body, res = ((cm_path, configmap("c1"), "configmaps") if kind == "configmaps"
                       else (deploy_path, deployment("c1"), "deployments.apps"))
    obj = api.make(path(ns), body)
    stale = copy.deepcopy(obj)
    obj["metadata"]["labels"] = {"first": "write"}
    api.ok("PUT", path(ns, "c1"), 200, body=obj)
    stale["metadata"]["labels"] = {"second": "write"}
    status = assert_status(api.put(path(ns, "c1"), stale), 409, "Conflict",
                           CONFLICT.format(res=res, name="c1"))
    expected = {"name": "c1", "kind": kind}
    if kind == "deployments":
        expected["group"] = "apps"
    assert status["details"] == expected
    assert api.read(path(ns, "c1"))["metadata"]["labels"] == {"first": "write"}


def test_stale_resource_version_on_patch_conflicts(api: Api, ns: str) -> None:
    obj = api.make(cm_path(ns), configmap("p1"))
    api.ok("PATCH", cm_path(ns, "p1"), body={"data": {"k": "changed"}},
           content_type="application/merge-patch+json")
    r = api.patch(cm_path(ns, "p1"), {"metadata": {"resourceVersion":
                                                   obj["metadata"]["resourceVersion"]},
                                      "data": {"k": "lost"}})
    assert_status(r, 409, "Conflict", CONFLICT.format(res="configmaps", name="p1"))
    assert api.read(cm_path(ns, "p1"))["data"] == {"k": "changed"}


def test_delete_preconditions(api: Api, ns: str) -> None:
    obj = api.make(cm_path(ns), configmap("pre"))
    uid, rv = obj["metadata"]["uid"], obj["metadata"]["resourceVersion"]
    wrong_uid = "00000000-0000-0000-0000-000000000000"
    r = api.delete(cm_path(ns, "pre"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                        "preconditions": {"uid": wrong_uid}})
    status = assert_status(r, 409, "Conflict")
    assert status["message"].startswith('Operation cannot be fulfilled on configmaps "pre": ')
    assert (f"Precondition failed: UID in precondition: {wrong_uid}, UID in object meta: {uid}"
            in status["message"]), status
    r = api.delete(cm_path(ns, "pre"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                        "preconditions": {"resourceVersion": "1"}})
    status = assert_status(r, 409, "Conflict")
    assert ("Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in "
            f"object meta: {rv}") in status["message"], status
    assert api.get(cm_path(ns, "pre")).status_code == 200
    r = api.delete(cm_path(ns, "pre"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                        "preconditions": {"uid": uid, "resourceVersion": rv}})
    assert r.status_code == 200, r.text
    assert_status(api.get(cm_path(ns, "pre")), 404, "NotFound",
                  'configmaps "pre" not found')


@pytest.mark.parametrize("write", ["put-same", "merge-empty", "merge-same-value",
                                   "strategic-same-label", "json-patch-test-only"])
def test_noop_write_keeps_resource_version(api: Api, ns: str, write: str) -> None:
    body = configmap("noop", labels={"a": "1"})
    obj = api.make(cm_path(ns), body)
    rv = obj["metadata"]["resourceVersion"]
    path = cm_path(ns, "noop")
    if write == "put-same":
        out = api.ok("PUT", path, 200, body=obj)
    elif write == "merge-empty":
        out = api.ok("PATCH", path, 200, body={}, content_type="application/merge-patch+json")
    elif write == "merge-same-value":
        out = api.ok("PATCH", path, 200, body={"data": {"k": "v"}},
                     content_type="application/merge-patch+json")
    elif write == "strategic-same-label":
        out = api.ok("PATCH", path, 200, body={"metadata": {"labels": {"a": "1"}}},
                     content_type="application/strategic-merge-patch+json")
    else:
        out = api.ok("PATCH", path, 200, body=[{"op": "test", "path": "/data/k", "value": "v"}],
                     content_type="application/json-patch+json")
    assert out["metadata"]["resourceVersion"] == rv
    assert api.read(path)["metadata"]["resourceVersion"] == rv


def test_status_subresource_isolation(api: Api, ns: str) -> None:
    d = api.make(deploy_path(ns), deployment("st", replicas=2))
    # PUT /status changes status only, even when the body changes spec and labels
    body = copy.deepcopy(d)
    body["spec"]["replicas"] = 7
    body["metadata"]["labels"] = {"changed": "by-status"}
    body["status"] = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2}
    out = api.ok("PUT", deploy_path(ns, "st") + "/status", 200, body=body)
    assert out["spec"]["replicas"] == 2
    assert out["metadata"]["labels"] == d["metadata"]["labels"]
    assert out["status"]["replicas"] == 2 and out["status"]["updatedReplicas"] == 2
    # PUT on the main resource cannot change status
    body = copy.deepcopy(out)
    body["status"] = {"observedGeneration": 9, "replicas": 99}
    body["spec"]["replicas"] = 3
    out2 = api.ok("PUT", deploy_path(ns, "st"), 200, body=body)
    assert out2["spec"]["replicas"] == 3
    assert out2["status"] == out["status"]
    got = api.read(deploy_path(ns, "st"))
    assert got["status"] == out["status"] and got["spec"]["replicas"] == 3
    # GET /status returns the whole object
    st = api.read(deploy_path(ns, "st") + "/status")
    assert st["kind"] == "Deployment" and st["status"] == out["status"]
    # a merge patch on /status changes only status
    out3 = api.ok("PATCH", deploy_path(ns, "st") + "/status", 200,
                  body={"spec": {"replicas": 1}, "status": {"replicas": 3}},
                  content_type="application/merge-patch+json")
    assert out3["spec"]["replicas"] == 3 and out3["status"]["replicas"] == 3


def test_finalizers_hold_deletion_until_removed(api: Api, ns: str) -> None:
    body = configmap("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    obj = api.make(cm_path(ns), body)
    with Watch(api, cm_path(ns), {"resourceVersion": obj["metadata"]["resourceVersion"],
                                  "fieldSelector": "metadata.name=fin"}) as w:
        deleting = api.ok("DELETE", cm_path(ns, "fin"), (200, 202))
        assert deleting["metadata"]["deletionTimestamp"], deleting
        assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
        assert deleting["metadata"]["finalizers"] == ["example.com/hold"]
        still = api.read(cm_path(ns, "fin"))
        assert still["metadata"]["deletionTimestamp"] == deleting["metadata"]["deletionTimestamp"]
        # a second DELETE does not remove it either
        assert api.delete(cm_path(ns, "fin")).status_code in (200, 202)
        assert api.get(cm_path(ns, "fin")).status_code == 200
        api.ok("PATCH", cm_path(ns, "fin"), 200, body={"metadata": {"finalizers": None}},
               content_type="application/merge-patch+json")
        assert_status(api.get(cm_path(ns, "fin")), 404, "NotFound")
        first = w.next()
        assert first["type"] == "MODIFIED", first
        assert first["object"]["metadata"]["deletionTimestamp"]
        last = w.next()
        assert last["type"] == "DELETED", last
        assert last["object"]["metadata"]["name"] == "fin"
        assert w.quiet(0.3) == []


@pytest.mark.parametrize("policy,finalizer", [("Orphan", "orphan"),
                                              ("Foreground", "foregroundDeletion")])
def test_propagation_policy_finalizers(api: Api, ns: str, policy: str, finalizer: str) -> None:
    api.create(deploy_path(ns), deployment("prop"))
    r = api.delete(deploy_path(ns, "prop"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                             "propagationPolicy": policy})
    assert r.status_code in (200, 202), r.text
    out = r.json()
    assert out["kind"] == "Deployment", out
    assert finalizer in out["metadata"]["finalizers"]
    assert out["metadata"]["deletionTimestamp"]
    got = api.read(deploy_path(ns, "prop"))
    assert finalizer in got["metadata"]["finalizers"] and got["metadata"]["deletionTimestamp"]


def test_propagation_policy_via_query_parameter(api: Api, ns: str) -> None:
    api.create(deploy_path(ns), deployment("propq"))
    out = api.ok("DELETE", deploy_path(ns, "propq"), (200, 202),
                 params={"propagationPolicy": "Orphan"})
    assert "orphan" in out["metadata"]["finalizers"]


def test_background_delete_removes_immediately(api: Api, ns: str) -> None:
    api.create(deploy_path(ns), deployment("bg"))
    r = api.delete(deploy_path(ns, "bg"), params={"propagationPolicy": "Background"})
    assert r.status_code == 200, r.text
    assert_status(api.get(deploy_path(ns, "bg")), 404, "NotFound",
                  'deployments.apps "bg" not found')


def test_dry_run_writes_nothing(api: Api, ns: str) -> None:
    dry = {"dryRun": "All"}
    made = api.ok("POST", cm_path(ns), 201, body=configmap("dry"), params=dry)
    assert made["metadata"]["name"] == "dry" and made["metadata"]["uid"]
    assert_status(api.get(cm_path(ns, "dry")), 404, "NotFound")
    real = api.make(cm_path(ns), configmap("dry"))
    rv = real["metadata"]["resourceVersion"]
    changed = copy.deepcopy(real)
    changed["data"] = {"k": "dry-put"}
    assert api.ok("PUT", cm_path(ns, "dry"), 200, body=changed, params=dry)["data"] == \
        {"k": "dry-put"}
    assert api.ok("PATCH", cm_path(ns, "dry"), 200, body={"data": {"k": "dry-patch"}},
                  content_type="application/merge-patch+json", params=dry)["data"] == \
        {"k": "dry-patch"}
    assert api.delete(cm_path(ns, "dry"), params=dry).status_code == 200
    got = api.read(cm_path(ns, "dry"))
    assert got["data"] == {"k": "v"} and got["metadata"]["resourceVersion"] == rv
    assert_status(api.post(cm_path(ns), configmap("x"), params={"dryRun": "Some"}), 400,
                  "BadRequest")


def test_deletecollection_with_label_selector(api: Api, ns: str) -> None:
    for i in range(3):
        api.create(cm_path(ns), configmap(f"a{i}", labels={"app": "a"}))
    for i in range(2):
        api.create(cm_path(ns), configmap(f"b{i}", labels={"app": "b"}))
    r = api.delete(cm_path(ns), params={"labelSelector": "app=a"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "ConfigMapList"
    assert sorted(o["metadata"]["name"] for o in body["items"]) == ["a0", "a1", "a2"]
    left = api.read(cm_path(ns))["items"]
    assert sorted(o["metadata"]["name"] for o in left) == ["b0", "b1"]


def _service(name: str, *, type_: str = "ClusterIP", cluster_ip: str | None = None,
             node_port: int | None = None) -> dict:
    port: dict = {"port": 80, "targetPort": 8080, "protocol": "TCP"}
    if node_port:
        port["nodePort"] = node_port
    spec: dict = {"type": type_, "selector": {"app": name}, "ports": [port]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def test_service_allocations(api: Api, ns: str) -> None:
    svc_path = f"/api/v1/namespaces/{ns}/services"
    a = api.create(svc_path, _service("alloc-a"))
    ip = a["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.43.0.0/16"), a["spec"]
    assert a["spec"]["clusterIPs"] == [ip]
    np = api.create(svc_path, _service("alloc-np", type_="NodePort"))
    node_port = np["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767, np["spec"]
    assert np["spec"]["clusterIP"] != ip
    # the same ClusterIP again: 422
    r = api.post(svc_path, _service("alloc-dup", cluster_ip=ip))
    status = assert_status(r, 422, "Invalid",
                           f'Service "alloc-dup" is invalid: spec.clusterIPs: Invalid value: '
                           f'[]string{{"{ip}"}}: failed to allocate IP {ip}: provided IP is '
                           f'already allocated')
    assert status["details"]["causes"][0]["field"] == "spec.clusterIPs"
    # the same nodePort again: 422
    r = api.post(svc_path, _service("alloc-dup2", type_="NodePort", node_port=node_port))
    assert_status(r, 422, "Invalid",
                  f'Service "alloc-dup2" is invalid: spec.ports[0].nodePort: Invalid value: '
                  f'{node_port}: provided port is already allocated')
    # an IP outside the service CIDR: 422
    r = api.post(svc_path, _service("alloc-out", cluster_ip="192.168.7.7"))
    assert_status(r, 422, "Invalid")
    # deleting frees the port for reuse
    api.ok("DELETE", svc_path + "/alloc-np", 200)
    again = api.create(svc_path, _service("alloc-np2", type_="NodePort", node_port=node_port))
    assert again["spec"]["ports"][0]["nodePort"] == node_port
    for name in ("alloc-dup", "alloc-dup2", "alloc-out"):
        assert api.get(f"{svc_path}/{name}").status_code == 404


def test_create_in_missing_namespace(api: Api) -> None:
    r = api.post(cm_path("no-such-namespace-x"), configmap("orphan"))
    status = assert_status(r, 404, "NotFound", 'namespaces "no-such-namespace-x" not found')
    assert status["details"] == {"name": "no-such-namespace-x", "kind": "namespaces"}


@pytest.mark.parametrize("path,kind,name,message", [
    ("/api/v1/namespaces/{ns}/configmaps", "ConfigMap", "Bad_Name", SUBDOMAIN_MSG),
    ("/api/v1/namespaces/{ns}/configmaps", "ConfigMap", "UPPER", SUBDOMAIN_MSG),
    ("/api/v1/namespaces/{ns}/configmaps", "ConfigMap", "a" * 254,
     "must be no more than 253 characters"),
    ("/api/v1/namespaces/{ns}/services", "Service", "1svc", DNS1035_MSG),
], ids=["underscore", "uppercase", "too-long", "service-dns1035"])
def test_name_validation(api: Api, ns: str, path: str, kind: str, name: str,
                         message: str) -> None:
    body = configmap(name) if kind == "ConfigMap" else _service(name)
    r = api.post(path.format(ns=ns), body)
    detail = f'Invalid value: "{name}": {message}'
    status = assert_status(r, 422, "Invalid", f'{kind} "{name}" is invalid: metadata.name: '
                                              f'{detail}')
    assert status["details"]["name"] == name and status["details"]["kind"] == kind
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": detail,
                                            "field": "metadata.name"}]


def test_scale_subresource(api: Api, ns: str) -> None:
    d = api.create(deploy_path(ns), deployment("sc", replicas=2))
    scale_path = deploy_path(ns, "sc") + "/scale"
    scale = api.read(scale_path)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["metadata"]["name"] == "sc" and scale["metadata"]["namespace"] == ns
    assert scale["metadata"]["uid"] == d["metadata"]["uid"]
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"]["selector"] == "app=sc"
    scale["spec"]["replicas"] = 5
    out = api.ok("PUT", scale_path, 200, body=scale)
    assert out["kind"] == "Scale" and out["spec"]["replicas"] == 5
    assert api.read(deploy_path(ns, "sc"))["spec"]["replicas"] == 5
    out = api.ok("PATCH", scale_path, 200, body={"spec": {"replicas": 1}},
                 content_type="application/merge-patch+json")
    assert out["spec"]["replicas"] == 1
    dep = api.read(deploy_path(ns, "sc"))
    assert dep["spec"]["replicas"] == 1 and dep["metadata"]["generation"] == 3
    # a stale resourceVersion on the Scale conflicts
    assert_status(api.put(scale_path, scale), 409, "Conflict",
                  CONFLICT.format(res="deployments.apps", name="sc"))
    # negative replicas are invalid
    r = api.patch(scale_path, {"spec": {"replicas": -1}})
    assert_status(r, 422, "Invalid")
