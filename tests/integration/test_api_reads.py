"""LIST and GET reads over HTTPS: label and field selectors, pagination (and its expiry after
compaction), all-namespace lists, Table and PartialObjectMetadata output, and reads at a
past revision."""

from __future__ import annotations

import pytest

from tests.conftest import ServerProcess
from tests.integration.conftest import Api, assert_status, compact, configmap, pod

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
PARTIAL = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"

LABELLED = {"a": {"env": "prod", "tier": "web"}, "b": {"env": "dev", "tier": "web"},
            "c": {"env": "prod"}, "d": {}}


def names(body: dict) -> list[str]:
    return [o["metadata"]["name"] for o in body["items"]]


@pytest.fixture(scope="module")
def labelled(api: Api) -> str:
    ns = "reads-labels"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns}})
    for name, labels in LABELLED.items():
        api.create(f"/api/v1/namespaces/{ns}/configmaps", configmap(name, labels=labels))
    return ns


@pytest.mark.parametrize("selector,expected", [
    ("env=prod", ["a", "c"]),
    ("env==prod", ["a", "c"]),
    ("env!=prod", ["b", "d"]),
    ("env in (prod,dev)", ["a", "b", "c"]),
    ("env in (staging)", []),
    ("env notin (prod)", ["b", "d"]),
    ("tier", ["a", "b"]),
    ("!tier", ["c", "d"]),
    ("env=prod,tier=web", ["a"]),
    ("env=prod,!tier", ["c"]),
    ("", ["a", "b", "c", "d"]),
], ids=["eq", "eqeq", "neq", "in", "in-none", "notin", "exists", "not-exists", "and",
        "and-not-exists", "empty"])
def test_label_selectors(api: Api, labelled: str, selector: str, expected: list[str]) -> None:
    body = api.read(f"/api/v1/namespaces/{labelled}/configmaps",
                    params={"labelSelector": selector})
    assert names(body) == expected


@pytest.mark.parametrize("selector", ["env in prod", "env=(", "=x", "env notin", "a b",
                                      "Bad Key!=x"])
def test_bad_label_selector_is_400(api: Api, labelled: str, selector: str) -> None:
    r = api.get(f"/api/v1/namespaces/{labelled}/configmaps", params={"labelSelector": selector})
    assert_status(r, 400, "BadRequest")


def test_field_selectors_on_meta(api: Api, labelled: str) -> None:
    base = f"/api/v1/namespaces/{labelled}/configmaps"
    assert names(api.read(base, params={"fieldSelector": "metadata.name=b"})) == ["b"]
    assert names(api.read(base, params={"fieldSelector": "metadata.name!=b"})) == ["a", "c", "d"]
    assert names(api.read(base, params={"fieldSelector": "metadata.name==c,metadata.namespace="
                                                         + labelled})) == ["c"]
    everywhere = api.read("/api/v1/configmaps",
                          params={"fieldSelector": f"metadata.namespace={labelled}"})
    assert names(everywhere) == ["a", "b", "c", "d"]
    both = api.read(base, params={"fieldSelector": "metadata.name=a", "labelSelector": "env=dev"})
    assert names(both) == []


def test_field_selectors_on_pods(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    api.create(path, pod("on-n1", node="n1"))
    api.create(path, pod("on-n2", node="n2"))
    api.create(path, pod("unscheduled"))
    assert names(api.read(path, params={"fieldSelector": "spec.nodeName=n1"})) == ["on-n1"]
    assert names(api.read(path, params={"fieldSelector": "spec.nodeName="})) == ["unscheduled"]
    assert names(api.read(path, params={"fieldSelector": "spec.nodeName!="})) == ["on-n1",
                                                                                   "on-n2"]
    assert names(api.read(path, params={"fieldSelector": "status.phase=Pending"})) == \
        ["on-n1", "on-n2", "unscheduled"]
    assert names(api.read(path, params={"fieldSelector": "status.phase=Running"})) == []


def test_field_selectors_on_secrets_and_events(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/secrets"
    api.create(path, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "opaque"},
                      "stringData": {"x": "y"}})
    api.create(path, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "basic"},
                      "type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}})
    assert names(api.read(path, params={"fieldSelector": "type=kubernetes.io/basic-auth"})) == \
        ["basic"]
    assert names(api.read(path, params={"fieldSelector": "type=Opaque"})) == ["opaque"]
    events = f"/api/v1/namespaces/{ns}/events"
    for name, kind, obj in [("e1", "Pod", "p1"), ("e2", "Pod", "p2"), ("e3", "Node", "p1")]:
        api.create(events, {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
                            "involvedObject": {"kind": kind, "name": obj, "namespace": ns},
                            "reason": "Test", "message": "m", "type": "Normal",
                            "firstTimestamp": "2024-01-01T00:00:00Z",
                            "lastTimestamp": "2024-01-01T00:00:00Z", "count": 1,
                            "source": {"component": "test"}})
    sel = "involvedObject.kind=Pod,involvedObject.name=p1"
    assert names(api.read(events, params={"fieldSelector": sel})) == ["e1"]
    assert names(api.read(events, params={"fieldSelector": "involvedObject.name=p1"})) == \
        ["e1", "e3"]
    assert names(api.read(events, params={"fieldSelector": "reason=Test,type=Normal"})) == \
        ["e1", "e2", "e3"]


@pytest.mark.parametrize("path,selector", [
    ("/api/v1/namespaces/default/configmaps", "data.k=v"),
    ("/api/v1/namespaces/default/pods", "spec.bogus=x"),
    ("/api/v1/namespaces/default/secrets", "data=x"),
    ("/api/v1/namespaces/default/configmaps", "metadata.name"),
], ids=["configmap-data", "pod-unknown", "secret-data", "no-operator"])
def test_unsupported_field_selector_is_400(api: Api, path: str, selector: str) -> None:
    assert_status(api.get(path, params={"fieldSelector": selector}), 400, "BadRequest")


def test_field_selector_message_names_the_field(api: Api) -> None:
    r = api.get("/api/v1/namespaces/default/pods", params={"fieldSelector": "spec.bogus=x"})
    status = assert_status(r, 400, "BadRequest")
    assert "spec.bogus" in status["message"], status


def _seven(api: Api, ns: str) -> list[str]:
    want = [f"cm-{i}" for i in range(7)]
    for name in want:
        api.create(f"/api/v1/namespaces/{ns}/configmaps", configmap(name))
    return want


def test_pagination_pages_are_disjoint_and_complete(api: Api, ns: str) -> None:
    want = _seven(api, ns)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.read(path, params={"limit": 3})
    assert names(first) == want[:3]
    assert first["metadata"]["remainingItemCount"] == 4
    token = first["metadata"]["continue"]
    rv = first["metadata"]["resourceVersion"]
    # a write between pages is not seen: the pages are one snapshot
    api.create(path, configmap("cm-9"))
    api.ok("DELETE", f"{path}/cm-5", 200)
    second = api.read(path, params={"limit": 3, "continue": token})
    assert names(second) == want[3:6]
    assert second["metadata"]["resourceVersion"] == rv
    assert second["metadata"]["remainingItemCount"] == 1
    third = api.read(path, params={"limit": 3, "continue": second["metadata"]["continue"]})
    assert names(third) == want[6:]
    assert not third["metadata"].get("continue")
    assert "remainingItemCount" not in third["metadata"]


def test_pagination_with_selector(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(6):
        api.create(path, configmap(f"s{i}", labels={"keep": "yes" if i % 2 else "no"}))
    pages: list[str] = []
    params = {"limit": 2, "labelSelector": "keep=yes"}
    body = api.read(path, params=params)
    pages += names(body)
    while body["metadata"].get("continue"):
        body = api.read(path, params={**params, "continue": body["metadata"]["continue"]})
        pages += names(body)
    assert pages == ["s1", "s3", "s5"]


def test_bad_continue_token_is_400(api: Api, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": 1,
                                                              "continue": "not-a-token"})
    assert_status(r, 400, "BadRequest")


def test_continue_after_compaction_is_410(api: Api, server: ServerProcess, ns: str) -> None:
    _seven(api, ns)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.read(path, params={"limit": 2})
    api.create(path, configmap("after-first-page"))
    compact(server)
    r = api.get(path, params={"limit": 2, "continue": first["metadata"]["continue"]})
    status = assert_status(r, 410, "Expired")
    assert status["message"].startswith("The provided continue parameter is too old to display "
                                        "a consistent list result."), status
    # a fresh list still works
    assert len(names(api.read(path))) == 8


def test_all_namespace_list(api: Api, ns: str) -> None:
    other = ns + "-b"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": other}})
    label = {"all-ns-test": ns}
    api.create(f"/api/v1/namespaces/{ns}/configmaps", configmap("one", labels=label))
    api.create(f"/api/v1/namespaces/{other}/configmaps", configmap("two", labels=label))
    body = api.read("/api/v1/configmaps", params={"labelSelector": f"all-ns-test={ns}"})
    assert body["kind"] == "ConfigMapList"
    assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in body["items"]) == \
        [(ns, "one"), (other, "two")]
    everything = api.read("/api/v1/namespaces")
    assert {"default", "kube-system", ns, other} <= set(names(everything))


@pytest.mark.parametrize("include", [None, "None", "Metadata", "Object"])
def test_table_output(api: Api, labelled: str, include: str | None) -> None:
    params = {"labelSelector": "env=prod"}
    if include:
        params["includeObject"] = include
    body = api.read(f"/api/v1/namespaces/{labelled}/configmaps", params=params,
                    headers={"Accept": TABLE})
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"]["resourceVersion"]
    cols = [c["name"] for c in body["columnDefinitions"]]
    assert cols == ["Name", "Data", "Age"]
    assert [r["cells"][:2] for r in body["rows"]] == [["a", 1], ["c", 1]]
    for row in body["rows"]:
        obj = row.get("object")
        if include == "None":
            assert obj is None, row
        elif include == "Object":
            assert obj["kind"] == "ConfigMap" and obj["data"] == {"k": "v"}, row
        else:
            assert obj["kind"] == "PartialObjectMetadata", row
            assert obj["apiVersion"] == "meta.k8s.io/v1"
            assert obj["metadata"]["name"] == row["cells"][0]
            assert "data" not in obj


def test_table_for_one_object(api: Api, labelled: str) -> None:
    body = api.read(f"/api/v1/namespaces/{labelled}/configmaps/a", headers={"Accept": TABLE})
    assert body["kind"] == "Table" and len(body["rows"]) == 1
    assert body["rows"][0]["cells"][0] == "a"


def test_partial_object_metadata(api: Api, labelled: str) -> None:
    body = api.read(f"/api/v1/namespaces/{labelled}/configmaps", headers={"Accept": PARTIAL_LIST})
    assert body["kind"] == "PartialObjectMetadataList"
    assert body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"]["resourceVersion"]
    assert names(body) == ["a", "b", "c", "d"]
    for item in body["items"]:
        assert item["kind"] == "PartialObjectMetadata"
        assert item["apiVersion"] == "meta.k8s.io/v1"
        assert set(item) == {"kind", "apiVersion", "metadata"}
    one = api.read(f"/api/v1/namespaces/{labelled}/configmaps/a", headers={"Accept": PARTIAL})
    assert one["kind"] == "PartialObjectMetadata" and one["metadata"]["labels"] == LABELLED["a"]
    assert "data" not in one


def test_exact_list_at_a_past_revision(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.create(path, configmap("old-a", {"v": "1"}))
    api.create(path, configmap("old-b", {"v": "1"}))
    past = api.read(path)["metadata"]["resourceVersion"]
    api.ok("PATCH", f"{path}/old-a", 200, body={"data": {"v": "2"}},
           content_type="application/merge-patch+json")
    api.ok("DELETE", f"{path}/old-b", 200)
    api.create(path, configmap("old-c"))
    then = api.read(path, params={"resourceVersion": past, "resourceVersionMatch": "Exact"})
    assert then["metadata"]["resourceVersion"] == past
    assert [(o["metadata"]["name"], o["data"]) for o in then["items"]] == \
        [("old-a", {"v": "1"}), ("old-b", {"v": "1"})]
    now = api.read(path, params={"resourceVersion": past, "resourceVersionMatch": "NotOlderThan"})
    assert int(now["metadata"]["resourceVersion"]) >= int(past)
    assert names(now) == ["old-a", "old-c"]
    assert names(api.read(path, params={"resourceVersion": "0"})) == ["old-a", "old-c"]


def test_resource_version_match_without_resource_version_is_400(api: Api, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps", params={"resourceVersionMatch": "Exact"})
    assert_status(r, 400, "BadRequest")
