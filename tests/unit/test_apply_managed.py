"""managedFields for ordinary writes (kubepy.api.apply.update_managed_fields) and entry order."""

from __future__ import annotations

import json

import pytest

from kubepy.api.apply import update_managed_fields
from kubepy.api.apply.managed import (
    ManagerKey,
    Managed,
    VersionedSet,
    cap_update_managers,
    decode_managed_fields,
    encode_managed_fields,
)
from kubepy.api.schema import schemas

T1, T2, T3 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"
CONFIGMAP = schemas().for_kind("", "v1", "ConfigMap")
DEPLOYMENT = schemas().for_kind("apps", "v1", "Deployment")


def configmap(data: dict, **metadata) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "demo", "namespace": "default", "uid": "uid-1", **metadata}, "data": data}


def write(old, new, manager, now=T1, schema=CONFIGMAP, api_version="v1", **kw):
    return update_managed_fields(old, new, manager=manager, schema=schema, now=now, api_version=api_version, **kw)


def with_data(obj: dict, data: dict, **metadata) -> dict:
    out = json.loads(json.dumps(obj))
    out["data"] = data
    out["metadata"].update(metadata)
    return out


def summary(obj: dict) -> list[tuple[str, str, dict]]:
    return [(e["manager"], e.get("time", ""), e["fieldsV1"]) for e in obj["metadata"].get("managedFields", [])]


def test_create_gives_every_field_to_the_creator():
    obj = write(None, configmap({"a": "1"}, labels={"app": "x"}), "kubectl-create")
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T1,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
    }]


def test_create_of_deployment_reads_like_the_apiservers():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    obj = write(None, dep, "kubectl-create", schema=DEPLOYMENT, api_version="apps/v1")
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {"f:replicas": {}, "f:selector": {},
                   "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                                  "f:spec": {"f:containers": {'k:{"name":"web"}': {
                                      ".": {}, "f:image": {}, "f:name": {}}}}}}}


@pytest.mark.parametrize(
    "new_data, expected",
    [
        ({"a": "1", "b": "9"}, [("creator", T1, {"f:data": {".": {}, "f:a": {}}}),
                                ("editor", T2, {"f:data": {"f:b": {}}})]),
        ({"a": "1"}, [("creator", T1, {"f:data": {".": {}, "f:a": {}}})]),
        ({"a": "1", "b": "2"}, [("creator", T1, {"f:data": {".": {}, "f:a": {}, "f:b": {}}})]),
        ({"a": "1", "b": "2", "c": "3"}, [("creator", T1, {"f:data": {".": {}, "f:a": {}, "f:b": {}}}),
                                          ("editor", T2, {"f:data": {"f:c": {}}})]),
    ],
    ids=["modified-field-moves", "removed-field-leaves-owner", "no-change-no-entry", "added-field"],
)
def test_update_moves_changed_fields(new_data, expected):
    live = write(None, configmap({"a": "1", "b": "2"}), "creator")
    obj = write(live, with_data(live, new_data), "editor", now=T2)
    assert summary(obj) == expected


def test_repeat_writer_merges_into_its_entry_and_creator_keeps_the_map():
    live = write(None, configmap({"a": "1"}), "creator")
    live = write(live, with_data(live, {"a": "2"}), "editor", now=T2)
    obj = write(live, with_data(live, {"a": "2", "b": "3"}), "editor", now=T3)
    assert summary(obj) == [("creator", T1, {"f:data": {}}), ("editor", T3, {"f:data": {"f:a": {}, "f:b": {}}})]


def test_manager_losing_all_fields_is_dropped():
    live = write(None, configmap({"a": "1"}), "creator")
    live = write(live, with_data(live, {"a": "1", "b": "2"}), "adder", now=T2)
    obj = write(live, with_data(live, {"a": "1"}), "remover", now=T3)
    assert [m for m, _, _ in summary(obj)] == ["creator"]


def test_same_manager_with_another_api_version_gets_another_entry():
    live = write(None, configmap({"a": "1"}), "ctl")
    obj = write(live, with_data(live, {"a": "1", "b": "2"}), "ctl", now=T2, api_version="v1beta1")
    assert [(e["manager"], e["apiVersion"]) for e in obj["metadata"]["managedFields"]] == [
        ("ctl", "v1"), ("ctl", "v1beta1")]


@pytest.mark.parametrize(
    "request_managed_fields, expected",
    [
        ([], []),
        ([{}], []),
        (None, [("creator", T1, {"f:data": {".": {}, "f:a": {}}})]),
        ([{"manager": "imported", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
           "fieldsV1": {"f:data": {"f:a": {}}}}],
         [("imported", "", {"f:data": {"f:a": {}}})]),
        ([{"manager": "broken", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}],
         [("creator", T1, {"f:data": {".": {}, "f:a": {}}})]),
    ],
    ids=["empty-list-resets", "single-empty-entry-resets", "absent-keeps-live", "valid-list-replaces",
         "invalid-list-keeps-live"],
)
def test_request_may_set_managed_fields(request_managed_fields, expected):
    live = write(None, configmap({"a": "1"}), "creator")
    new = with_data(live, {"a": "1"})
    if request_managed_fields is None:
        new["metadata"].pop("managedFields")
    else:
        new["metadata"]["managedFields"] = request_managed_fields
    obj = write(live, new, "editor", now=T2)
    assert summary(obj) == expected
    if not expected:
        assert "managedFields" not in obj["metadata"]


def test_reset_with_a_change_records_only_that_change_and_untracked_stays_untracked():
    live = write(None, configmap({"a": "1"}), "creator")
    new = with_data(live, {"a": "1", "b": "2"}, managedFields=[])
    obj = write(live, new, "editor", now=T2)
    assert summary(obj) == []  # an existing object without managedFields is not tracked by updates
    untracked = configmap({"a": "1"})
    assert "managedFields" not in write(untracked, with_data(untracked, {"a": "5"}), "editor")["metadata"]


def test_subresource_write_ignores_request_managed_fields_and_tracks_status_only():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "uid": "u"},
           "spec": {"replicas": 1}}
    live = write(None, dep, "creator", schema=DEPLOYMENT, api_version="apps/v1")
    new = json.loads(json.dumps(live))
    new["status"] = {"replicas": 1}
    new["spec"]["replicas"] = 7
    new["metadata"]["managedFields"] = []
    obj = write(live, new, "kube-controller-manager", now=T2, schema=DEPLOYMENT, api_version="apps/v1",
                subresource="status")
    status_entry = obj["metadata"]["managedFields"][1]
    assert status_entry["subresource"] == "status"
    assert status_entry["fieldsV1"] == {"f:status": {".": {}, "f:replicas": {}}}
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_status_changes_on_main_resource_are_not_tracked():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1},
           "status": {"replicas": 3}}
    obj = write(None, dep, "creator", schema=DEPLOYMENT, api_version="apps/v1")
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_metadata_identity_is_never_tracked():
    obj = write(None, configmap({}, generation=1, resourceVersion="5", creationTimestamp="2024-01-01T00:00:00Z"),
                "creator")
    assert summary(obj) == [("creator", T1, {"f:data": {}})]


def entry(manager, operation, time=None, api_version="v1", subresource=""):
    out = {"manager": manager, "operation": operation, "apiVersion": api_version}
    if time:
        out["time"] = time
    out.update({"fieldsType": "FieldsV1", "fieldsV1": {"f:data": {f"f:{manager}": {}}}})
    if subresource:
        out["subresource"] = subresource
    return out


@pytest.mark.parametrize(
    "entries, order",
    [
        ([entry("b", "Update", T1), entry("a", "Apply", T2)], ["a", "b"]),
        ([entry("x", "Update", T2), entry("y", "Update", T1)], ["y", "x"]),
        ([entry("z", "Apply", T1), entry("m", "Apply", T1)], ["m", "z"]),
        ([entry("n", "Update"), entry("o", "Update", T1)], ["n", "o"]),
        ([entry("k", "Update", T1, subresource="status"), entry("k", "Update", T1)], ["k", "k/status"]),
    ],
    ids=["apply-before-update", "older-first", "then-by-manager", "no-time-first", "then-subresource"],
)
def test_entries_are_encoded_in_upstream_order(entries, order):
    encoded = encode_managed_fields(decode_managed_fields(entries))
    assert [e["manager"] + ("/" + e["subresource"] if "subresource" in e else "") for e in encoded] == order


def test_decode_encode_round_trip_keeps_entries():
    entries = [entry("a", "Apply", T2, subresource="status"), entry("b", "Update", T1, api_version="apps/v1")]
    assert encode_managed_fields(decode_managed_fields(entries)) == entries


@pytest.mark.parametrize(
    "bad",
    [[{"operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}],
     [{"operation": "Update", "fieldsType": "FieldsV1"}],
     [{"operation": "Update", "apiVersion": "v1"}],
     [{"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2"}],
     "nope"],
    ids=["bad-operation", "no-api-version", "no-fields-type", "unknown-fields-type", "not-a-list"],
)
def test_invalid_managed_fields_are_rejected(bad):
    with pytest.raises(ValueError):
        decode_managed_fields(bad)


def test_update_managers_are_capped_into_ancient_changes():
    managed = Managed()
    for i in range(12):
        key = ManagerKey(f"m{i:02d}", "Update", "v1")
        managed.fields[key] = VersionedSet(frozenset({(("f", f"f{i}"),)}), "v1", False)
        managed.times[key] = f"2024-05-01T10:{i:02d}:00Z"
    applier = ManagerKey("kubectl", "Apply", "")
    managed.fields[applier] = VersionedSet(frozenset({(("f", "x"),)}), "v1", True)
    cap_update_managers(managed)
    names = sorted(k.manager for k in managed.fields)
    assert names == ["ancient-changes", "kubectl"] + [f"m{i:02d}" for i in range(3, 12)]
    bucket = managed.fields[ManagerKey("ancient-changes", "Update", "v1")]
    assert bucket.paths == {(("f", "f0"),), (("f", "f1"),), (("f", "f2"),)}
    assert managed.times[ManagerKey("ancient-changes", "Update", "v1")] == "2024-05-01T10:02:00Z"


@pytest.mark.parametrize(
    "manager, user_agent, expected",
    [
        ("helm", "kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "helm"),
        (None, "kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"),
        ("", "Go-http-client/2.0", "Go-http-client"),
        (None, "OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
        (None, "a\x00b", "ab"),
        (None, "x" * 200, "x" * 128),
        (None, None, ""),
    ],
    ids=["field-manager-wins", "kubectl", "go-client", "python-client", "unprintable-skipped", "truncated", "none"],
)
def test_manager_from_user_agent(manager, user_agent, expected):
    from kubepy.api.apply import manager_from_user_agent

    assert manager_from_user_agent(manager, user_agent) == expected
