"""Non-resource endpoints over HTTPS: /metrics (the apiserver's request metrics), legacy and
aggregated discovery, OpenAPI v3 (index, group documents, ETags) and v2 (JSON, protobuf)."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import Api, assert_status, configmap

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = f"{AGG_V2},{AGG_V2BETA1},application/json"
PROTO_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def value(text: str, name: str, **labels: str) -> float:
    return sum(v for n, ls, v in samples(text) if n == name and
               all(ls.get(k) == want for k, want in labels.items()))


def test_request_metrics(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.create(path, configmap("m1"))
    for _ in range(3):
        api.read(path)
    api.read(f"{path}/m1")
    assert api.get(f"{path}/missing").status_code == 404
    r = api.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    common = {"group": "", "version": "v1", "resource": "configmaps", "subresource": "",
              "component": "apiserver"}
    expectations = {  # series -> minimum count
        "POST scope=resource 201 dry_run=''": value(
            text, "apiserver_request_total", verb="POST", scope="resource", code="201",
            dry_run="", **common) >= 1,
        "LIST scope=namespace 200": value(text, "apiserver_request_total", verb="LIST",
                                          scope="namespace", code="200", **common) >= 3,
        "GET scope=resource 200": value(text, "apiserver_request_total", verb="GET",
                                        scope="resource", code="200", **common) >= 1,
        "GET scope=resource 404": value(text, "apiserver_request_total", verb="GET",
                                        scope="resource", code="404", **common) >= 1,
    }
    missing = [k for k, ok in expectations.items() if not ok]
    series = sorted({str(ls) for n, ls, _ in samples(text)
                     if n == "apiserver_request_total" and ls.get("resource") == "configmaps"})
    assert not missing, f"missing {missing}; configmaps series: {series}"
    # the histogram: buckets up to +Inf, _sum and _count agreeing with the counter
    count = value(text, "apiserver_request_duration_seconds_count", verb="LIST",
                  scope="namespace", **common)
    inf = value(text, "apiserver_request_duration_seconds_bucket", verb="LIST",
                scope="namespace", le="+Inf", **common)
    assert count >= 3 and inf == count
    assert value(text, "apiserver_request_duration_seconds_sum", verb="LIST", scope="namespace",
                 **common) > 0
    assert "# TYPE apiserver_request_total counter" in text
    assert "# TYPE apiserver_request_duration_seconds histogram" in text


def test_request_metrics_count_each_request(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/secrets"
    labels = {"verb": "LIST", "resource": "secrets", "scope": "namespace", "code": "200"}
    before = value(api.get("/metrics").text, "apiserver_request_total", **labels)
    for _ in range(5):
        api.read(path)
    after = value(api.get("/metrics").text, "apiserver_request_total", **labels)
    assert after - before == 5


def test_legacy_discovery(api: Api) -> None:
    r = api.get("/api")
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    assert body["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0"
    v1 = api.read("/api/v1")
    assert v1["kind"] == "APIResourceList" and v1["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in v1["resources"]}
    pods = by_name["pods"]
    assert pods["kind"] == "Pod" and pods["namespaced"] is True
    assert pods["singularName"] == "pod" and pods["shortNames"] == ["po"]
    assert set(pods["verbs"]) == {"create", "delete", "deletecollection", "get", "list",
                                  "patch", "update", "watch"}
    assert pods["categories"] == ["all"]
    assert by_name["pods/status"]["kind"] == "Pod"
    assert set(by_name["pods/status"]["verbs"]) == {"get", "patch", "update"}
    assert by_name["namespaces"]["namespaced"] is False
    assert "pods/log" in by_name and "pods/exec" in by_name


def test_group_discovery(api: Api) -> None:
    groups = api.read("/apis")
    assert groups["kind"] == "APIGroupList"
    by_name = {g["name"]: g for g in groups["groups"]}
    assert by_name["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert {"batch", "rbac.authorization.k8s.io", "networking.k8s.io",
            "coordination.k8s.io"} <= set(by_name)
    assert "" not in by_name
    apps = api.read("/apis/apps")
    assert apps["kind"] == "APIGroup" and apps["name"] == "apps"
    res = api.read("/apis/apps/v1")
    assert res["kind"] == "APIResourceList" and res["groupVersion"] == "apps/v1"
    by_res = {r["name"]: r for r in res["resources"]}
    assert by_res["deployments"]["shortNames"] == ["deploy"]
    scale = by_res["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert_status(api.get("/apis/apps/v2"), 404, "NotFound")


@pytest.mark.parametrize("path", ["/api", "/apis"])
@pytest.mark.parametrize("accept,content_type", [
    (AGG_V2, AGG_V2), (KUBECTL_ACCEPT, AGG_V2), (AGG_V2BETA1, AGG_V2BETA1),
], ids=["v2", "kubectl-1.30", "v2beta1"])
def test_aggregated_discovery(api: Api, path: str, accept: str, content_type: str) -> None:
    r = api.get(path, headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == content_type
    body = r.json()
    version = content_type.split("v=")[1].split(";")[0]
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    names = [g["metadata"].get("name", "") for g in body["items"]]
    if path == "/api":
        assert names == [""]
        resources = {r["resource"]: r for r in body["items"][0]["versions"][0]["resources"]}
        pods = resources["pods"]
        assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
        assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
        subs = {s["subresource"]: s for s in pods["subresources"]}
        assert {"status", "log", "exec", "binding", "eviction"} <= set(subs)
    else:
        assert "apps" in names and "" not in names
        apps = body["items"][names.index("apps")]
        assert apps["versions"][0]["version"] == "v1"
        deploy = {r["resource"]: r for r in apps["versions"][0]["resources"]}["deployments"]
        subs = {s["subresource"]: s for s in deploy["subresources"]}
        assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1",
                                                 "kind": "Scale"}


@pytest.mark.parametrize("accept", [None, "application/json", "*/*",
                                    "application/json;as=APIGroupDiscoveryList"])
def test_plain_discovery_without_the_aggregated_accept(api: Api, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    r = api.get("/apis", headers=headers)
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json()["kind"] == "APIGroupList"


def test_openapi_v3(api: Api) -> None:
    index = api.read("/openapi/v3")
    paths = index["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/batch/v1"} <= set(paths)
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/apps/v1\?hash=[0-9A-F]+", url), url
    r = api.get(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert "immutable" in r.headers.get("Cache-Control", "")
    doc = r.json()
    assert doc["openapi"].startswith("3.0")
    assert "io.k8s.api.apps.v1.Deployment" in doc["components"]["schemas"]
    assert "/apis/apps/v1/namespaces/{namespace}/deployments" in doc["paths"]
    again = api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # without the hash: same document, not immutable
    plain = api.get("/openapi/v3/apis/apps/v1")
    assert plain.status_code == 200 and plain.headers["ETag"] == etag
    # a stale hash redirects to the current one
    stale = api.get("/openapi/v3/apis/apps/v1?hash=0000", allow_redirects=False)
    assert stale.status_code == 301 and stale.headers["Location"] == url
    assert_status(api.get("/openapi/v3/apis/nope.example.com/v1"), 404, "NotFound")


def test_openapi_v2_json_and_protobuf(api: Api) -> None:
    r = api.get("/openapi/v2", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["swagger"] == "2.0"
    assert "io.k8s.api.core.v1.Pod" in doc["definitions"]
    gvk = doc["definitions"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]
    assert gvk == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    etag = r.headers["ETag"]
    assert api.get("/openapi/v2", headers={"If-None-Match": etag}).status_code == 304
    pb = api.get("/openapi/v2", headers={"Accept": PROTO_V2})
    assert pb.status_code == 200
    assert pb.headers["Content-Type"] == \
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    # gnostic openapi_v2.Document: field 1 (swagger) = "2.0" comes first
    assert pb.content[:5] == b"\x0a\x032.0", pb.content[:16]
    assert len(pb.content) > 100_000
    assert pb.headers["ETag"] != etag
