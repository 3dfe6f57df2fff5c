"""Bad input over HTTPS: every malformed or unacceptable request gets a 4xx Status (never a
5xx), and none of them changes what is stored — the victims read back byte-identical after
each one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import Api, assert_status, configmap, deployment

NS = "bad-input"
CM = f"/api/v1/namespaces/{NS}/configmaps"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments"
VICTIMS = [f"{CM}/victim", f"{DEPLOY}/victim", CM, DEPLOY]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def victims(api: Api) -> dict[str, bytes]:
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": NS}})
    api.create(CM, configmap("victim", {"a": "1", "b": "2"}, labels={"app": "victim"}))
    api.create(DEPLOY, deployment("victim", replicas=2))
    return snapshot(api)


CONTROLLER_MANAGERS = ("kube-controller-manager", "kubepy-components")


def _without_controller_writes(obj: Any) -> Any:
    """Controllers (the deployment controller) write status; bad input must change nothing
    else: drop status, the resourceVersion those writes move, and their managedFields."""
    if isinstance(obj, dict) and "items" in obj:
        return {**obj, "items": [_without_controller_writes(i) for i in obj["items"]]}
    obj = dict(obj)
    obj.pop("status", None)
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "deployment.kubernetes.io/revision"}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    meta["managedFields"] = [e for e in meta.get("managedFields") or []
                             if e.get("subresource") != "status"
                             and e.get("manager") not in CONTROLLER_MANAGERS]
    obj["metadata"] = meta
    return obj


def snapshot(api: Api) -> dict[str, bytes]:
    out = {}
    for path in VICTIMS:
        r = api.get(path)
        assert r.status_code == 200, r.text
        body = _without_controller_writes(r.json())
        if "items" in body:  # a list's own resourceVersion moves with every write anywhere
            body["metadata"].pop("resourceVersion", None)
            # other tests here create objects of other names (accepted input) in the namespace
            body["items"] = [i for i in body["items"] if i["metadata"]["name"] == "victim"]
        out[path] = json.dumps(body, sort_keys=True).encode()
    return out


def send(api: Api, method: str, path: str, body: Any, content_type: str,
         params: dict[str, str] | None = None):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return api.request(method, path, data=data, content_type=content_type, params=params)


def victim_cm(**changes: Any) -> dict:
    obj = configmap("victim", {"a": "changed"})
    obj.update(changes)
    return obj


def victim_deploy(**spec: Any) -> dict:
    obj = deployment("victim", replicas=5)
    obj["spec"].update(spec)
    return obj


J, Y, PB = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
MERGE, SMP = "application/merge-patch+json", "application/strategic-merge-patch+json"
JSONPATCH, APPLY = "application/json-patch+json", "application/apply-patch+yaml"

CASES = [
    # (id, method, path, body, content type, params, code, reason, message or None)
    ("post-truncated-json", "POST", CM, b'{"apiVersion": "v1", "kind": ', J, None, 400,
     "BadRequest", None),
    ("put-truncated-json", "PUT", f"{CM}/victim", b'{"apiVersion": "v1", "kind": "Conf', J,
     None, 400, "BadRequest", None),
    ("post-not-json", "POST", CM, b"this is not json", J, None, 400, "BadRequest", None),
    ("post-json-array", "POST", CM, b'[{"apiVersion": "v1", "kind": "ConfigMap"}]', J, None,
     400, "BadRequest", None),
    ("put-json-array", "PUT", f"{CM}/victim", b"[1, 2, 3]", J, None, 400, "BadRequest", None),
    ("post-json-string", "POST", CM, b'"configmap"', J, None, 400, "BadRequest", None),
    ("post-json-null", "POST", CM, b"null", J, None, 400, "BadRequest", None),
    ("post-empty-body", "POST", CM, b"", J, None, 400, "BadRequest", None),
    ("post-bad-yaml", "POST", CM, b"apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n", Y,
     None, 400, "BadRequest", None),
    ("put-bad-yaml", "PUT", f"{CM}/victim", b"a: b: c: :\n  - ]\n", Y, None, 400,
     "BadRequest", None),
    ("post-yaml-list", "POST", CM, b"- a\n- b\n", Y, None, 400, "BadRequest", None),
    ("post-garbage-protobuf", "POST", CM, b"k8s\x00\xff\xff\xff\xff\x0fgarbage", PB, None,
     400, "BadRequest", None),
    ("post-protobuf-no-magic", "POST", CM, b"\x0a\x02v1\x12\x09ConfigMap", PB, None, 400,
     "BadRequest", None),
    ("put-garbage-protobuf", "PUT", f"{CM}/victim", b"k8s\x00\x0a\xff\x01", PB, None, 400,
     "BadRequest", None),
    ("post-wrong-api-version", "POST", CM, {"apiVersion": "apps/v1", "kind": "ConfigMap",
                                            "metadata": {"name": "wrongv"}}, J, None, 400,
     "BadRequest", None),
    ("put-wrong-api-version", "PUT", f"{CM}/victim", victim_cm(apiVersion="batch/v1"), J, None,
     400, "BadRequest", None),
    ("post-wrong-kind", "POST", CM, {"apiVersion": "v1", "kind": "Secret",
                                     "metadata": {"name": "wrongk"}}, J, None, 400,
     "BadRequest", None),
    ("put-wrong-kind", "PUT", f"{DEPLOY}/victim", victim_cm(apiVersion="apps/v1"), J, None,
     400, "BadRequest", None),
    ("put-name-mismatch", "PUT", f"{CM}/victim", configmap("other"), J, None, 400,
     "BadRequest", "the name of the object (other) does not match the name on the URL "
                   "(victim)"),
    ("post-uppercase-name", "POST", CM, configmap("Victim"), J, None, 422, "Invalid", None),
    ("post-long-name", "POST", CM, configmap("v" * 254), J, None, 422, "Invalid", None),
    ("put-strict-unknown-field", "PUT", f"{DEPLOY}/victim", victim_deploy(bogus=1), J,
     {"fieldValidation": "Strict"}, 400, "BadRequest",
     'strict decoding error: unknown field "spec.bogus"'),
    ("patch-strict-unknown-field", "PATCH", f"{DEPLOY}/victim", {"spec": {"bogus": 1}}, MERGE,
     {"fieldValidation": "Strict"}, 400, "BadRequest",
     'strict decoding error: unknown field "spec.bogus"'),
    ("bad-field-validation", "PUT", f"{DEPLOY}/victim", victim_deploy(),
     J, {"fieldValidation": "Loud"}, 400, "BadRequest", None),
    ("put-string-replicas", "PUT", f"{DEPLOY}/victim", victim_deploy(replicas="3"), J, None,
     400, "BadRequest",
     'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
     'string into Go struct field DeploymentSpec.spec.replicas of type int32'),
    ("patch-string-replicas", "PATCH", f"{DEPLOY}/victim", {"spec": {"replicas": "3"}}, MERGE,
     None, 400, "BadRequest", None),
    ("put-object-as-data", "PUT", f"{CM}/victim", victim_cm(data={"a": {"nested": 1}}), J, None,
     400, "BadRequest", None),
    ("post-labels-list", "POST", CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "lbl", "labels": ["a"]}}, J, None,
     400, "BadRequest", None),
    ("deletecollection-bad-selector", "DELETE", CM, b"", J,
     {"labelSelector": "app in victim"}, 400, "BadRequest", None),
    ("deletecollection-bad-field", "DELETE", CM, b"", J,
     {"fieldSelector": "data.a=1"}, 400, "BadRequest", None),
    ("delete-bad-body", "DELETE", f"{CM}/victim", b"{not json", J, None, 400, "BadRequest",
     None),
    ("delete-bad-propagation", "DELETE", f"{CM}/victim", b"", J,
     {"propagationPolicy": "Sideways"}, 422, "Invalid", None),
    ("delete-bad-grace", "DELETE", f"{CM}/victim", b"", J, {"gracePeriodSeconds": "soon"},
     400, "BadRequest", None),
    ("merge-patch-bad-json", "PATCH", f"{CM}/victim", b'{"data": ', MERGE, None, 400,
     "BadRequest", None),
    ("smp-bad-json", "PATCH", f"{DEPLOY}/victim", b"{{}", SMP, None, 400, "BadRequest", None),
    ("smp-wrong-type", "PATCH", f"{DEPLOY}/victim", {"spec": {"replicas": "x"}}, SMP, None,
     400, "BadRequest", None),
    ("smp-json-array", "PATCH", f"{DEPLOY}/victim", [{"spec": {}}], SMP, None, 400,
     "BadRequest", None),
    ("json-patch-not-list", "PATCH", f"{CM}/victim", {"op": "add", "path": "/data/x"},
     JSONPATCH, None, 400, "BadRequest", None),
    ("json-patch-bad-json", "PATCH", f"{CM}/victim", b"[{", JSONPATCH, None, 400, "BadRequest",
     None),
    ("json-patch-unknown-op", "PATCH", f"{CM}/victim", [{"op": "frobnicate", "path": "/data"}],
     JSONPATCH, None, (400, 422), None, None),
    ("json-patch-test-fails", "PATCH", f"{CM}/victim",
     [{"op": "test", "path": "/data/a", "value": "2"},
      {"op": "replace", "path": "/data/a", "value": "3"}], JSONPATCH, None, 422, None, None),
    ("json-patch-remove-missing", "PATCH", f"{CM}/victim",
     [{"op": "remove", "path": "/data/nope"}], JSONPATCH, None, 422, None, None),
    ("apply-bad-yaml", "PATCH", f"{CM}/victim", b"data: [\n", APPLY, {"fieldManager": "t"},
     400, "BadRequest", None),
    ("apply-no-field-manager", "PATCH", f"{CM}/victim",
     b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: victim\ndata:\n  a: x\n", APPLY,
     None, (400, 422), None, None),
    ("patch-unknown-type", "PATCH", f"{CM}/victim", {"data": {"a": "x"}}, "application/x-foo",
     None, 415, "UnsupportedMediaType", None),
    ("post-text-plain", "POST", CM, b"hello", "text/plain", None, 415, "UnsupportedMediaType",
     "the body of the request was in an unknown format - accepted media types include: "
     "application/json, application/yaml, application/vnd.kubernetes.protobuf"),
    ("put-xml", "PUT", f"{CM}/victim", b"<configmap/>", "application/xml", None, 415,
     "UnsupportedMediaType", None),
    ("post-dry-run-bogus", "POST", CM, configmap("dry"), J, {"dryRun": "Yes"}, 400,
     "BadRequest", None),
]


@pytest.mark.parametrize("method,path,body,content_type,params,code,reason,message",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(api: Api, victims: dict[str, bytes],
                                                  method: str, path: str, body: Any,
                                                  content_type: str, params: Any, code: Any,
                                                  reason: str | None,
                                                  message: str | None) -> None:
    before = snapshot(api)
    r = send(api, method, path, body, content_type, params)
    assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
    codes = code if isinstance(code, tuple) else (code,)
    assert r.status_code in codes, f"{r.status_code}: {r.text[:500]}"
    status = r.json()
    assert status["kind"] == "Status" and status["status"] == "Failure", status
    assert status["code"] == r.status_code
    if reason:
        assert status["reason"] == reason, status
    if message:
        assert status["message"] == message, status
    assert snapshot(api) == before


@pytest.mark.parametrize("size", [3 * MIB + 1024, 9 * MIB], ids=["3.0MiB+1KiB", "9MiB"])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_body_over_3_mib_is_413(api: Api, victims: dict[str, bytes], size: int,
                                method: str) -> None:
    obj = configmap("victim" if method == "PUT" else "huge", {"big": "x" * size})
    path = CM + ("/victim" if method == "PUT" else "")
    before = snapshot(api)
    r = api.request(method, path, body=obj)
    assert_status(r, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
    assert snapshot(api) == before
    assert api.get(f"{CM}/huge").status_code == 404


def test_body_just_under_limit_is_accepted(api: Api) -> None:
    # a ConfigMap's data is itself limited to 1 MiB; stay under both limits
    created = api.create(CM, configmap("big-but-ok", {"big": "x" * (900 * 1024)}))
    assert len(created["data"]["big"]) == 900 * 1024
    api.ok("DELETE", f"{CM}/big-but-ok", 200)


def test_unknown_field_warn_mode(api: Api) -> None:
    body = deployment("warned")
    body["spec"]["bogus"] = 1
    r = api.post(DEPLOY, body, params={"fieldValidation": "Warn"})
    assert r.status_code == 201, r.text
    assert r.headers.get("Warning") == '299 - "unknown field \\"spec.bogus\\""', r.headers
    assert "bogus" not in r.json()["spec"]
    # Warn is the default
    body["metadata"]["name"] = "warned-default"
    r = api.post(DEPLOY, body)
    assert r.status_code == 201 and 'unknown field \\"spec.bogus\\"' in r.headers.get(
        "Warning", ""), r.headers
    # Ignore: no warning
    body["metadata"]["name"] = "ignored"
    r = api.post(DEPLOY, body, params={"fieldValidation": "Ignore"})
    assert r.status_code == 201 and "Warning" not in r.headers, r.headers


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/default/foos", "/api/v1/foos", "/api/v1/namespaces/default/foos/x",
    "/apis/nogroup.example.com/v1/things", "/apis/apps/v1/namespaces/default/pods",
    "/apis/apps/v9/deployments", "/api/v2/pods", "/api/v1/namespaces/default/configmaps/x/bogus",
], ids=lambda p: p)
def test_unknown_resource_is_404(api: Api, path: str) -> None:
    assert_status(api.get(path), 404, "NotFound",
                  "the server could not find the requested resource")
    r = api.post(path, configmap("x"))
    assert r.status_code in (404, 405), r.text


def test_smp_missing_merge_key_is_an_unknown_error_like_kube_apiserver(api: Api) -> None:
    """The one bad patch the real apiserver answers with a 500: mergepatch.ErrNoMergeKey is not
    mapped to a 4xx (kubectl prints "Error from server: map: ... does not contain declared
    merge key: name"). kubepy matches it; nothing may change either way."""
    before = snapshot(api)
    r = api.patch(f"{DEPLOY}/victim", {"spec": {"template": {"spec": {"containers": [
        {"$patch": "delete"}]}}}}, content_type=SMP)
    assert r.status_code == 500, r.text
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "code": 500,
                        "message": "map: map[$patch:delete] does not contain declared merge "
                                   "key: name"}
    assert snapshot(api) == before


def test_victims_unchanged_after_all_bad_input(api: Api, victims: dict[str, bytes]) -> None:
    """Runs last in this module: the objects created first read back byte-identical (the
    other tests here only create objects of other names)."""
    assert snapshot(api) == victims
