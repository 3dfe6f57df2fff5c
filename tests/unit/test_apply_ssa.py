"""Server-side apply (kubepy.api.apply.server_side_apply): merge, ownership, conflicts."""

from __future__ import annotations

import json

import pytest

from kubepy import errors
from kubepy.api.apply import TypedObjectError, server_side_apply, update_managed_fields
from kubepy.api.schema import schemas

T1, T2, T3 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"
CONFIGMAP = schemas().for_kind("", "v1", "ConfigMap")
DEPLOYMENT = schemas().for_kind("apps", "v1", "Deployment")
POD = schemas().for_kind("", "v1", "Pod")


def configmap(data: dict | None = None, **metadata) -> dict:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo", "namespace": "default", **metadata}}
    if data is not None:
        obj["data"] = data
    return obj


def deployment(replicas: int | None = None, containers: list | None = None, **metadata) -> dict:
    spec: dict = {}
    if replicas is not None:
        spec["replicas"] = replicas
    if containers is not None:
        spec["selector"] = {"matchLabels": {"app": "web"}}
        spec["template"] = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", **metadata}, "spec": spec}


def apply(live, config, manager="mgr", *, force=False, schema=CONFIGMAP, now=T1, **kw):
    return server_side_apply(live, config, manager=manager, force=force, schema=schema, now=now, **kw)


def persisted(obj: dict, uid: str = "uid-1") -> dict:
    """What the store would hold: the object with server-set metadata."""
    out = json.loads(json.dumps(obj))
    out["metadata"].setdefault("uid", uid)
    out["metadata"].setdefault("resourceVersion", "1")
    return out


def entry(obj: dict, manager: str) -> dict:
    (found,) = [e for e in obj["metadata"].get("managedFields", []) if e["manager"] == manager]
    return found


def owners(obj: dict) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def without_managed_fields(obj: dict) -> dict:
    out = json.loads(json.dumps(obj))
    out["metadata"].pop("managedFields", None)
    return out


# -- create, re-apply, sharing, dropping --------------------------------------------------------


def test_apply_creates_object_with_apply_entry():
    config = configmap({"a": "1"}, labels={"app": "web"})
    obj = apply(None, config, "kubectl")
    assert without_managed_fields(obj) == config
    assert obj["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
    }]


def test_fields_v1_of_pod_apply_is_exactly_the_apiservers():
    config = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    obj = apply(None, config, schema=POD)
    encoded = json.dumps(entry(obj, "mgr")["fieldsV1"], separators=(",", ":"))
    assert encoded == ('{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":'
                       '{"k:{\\"name\\":\\"web\\"}":{".":{},"f:image":{},"f:name":{}}}}}')


def test_reapplying_the_same_configuration_is_a_no_op():
    first = persisted(apply(None, configmap({"a": "1"})))
    again = apply(first, configmap({"a": "1"}), now=T2)
    assert again == first  # same object, entry time not bumped


@pytest.mark.parametrize(
    "second_config, expected_data, first_fields, second_fields",
    [
        ({"a": "1", "b": "2"}, {"a": "1", "b": "2"}, {"f:data": {"f:a": {}}}, {"f:data": {"f:a": {}, "f:b": {}}}),
        ({"b": "2"}, {"a": "1", "b": "2"}, {"f:data": {"f:a": {}}}, {"f:data": {"f:b": {}}}),
    ],
    ids=["same-value-is-shared", "disjoint-fields"],
)
def test_two_appliers(second_config, expected_data, first_fields, second_fields):
    live = persisted(apply(None, configmap({"a": "1"}), "first"))
    obj = apply(live, configmap(second_config), "second", now=T2)
    assert obj["data"] == expected_data
    assert entry(obj, "first")["fieldsV1"] == first_fields
    assert entry(obj, "second")["fieldsV1"] == second_fields


@pytest.mark.parametrize(
    "other_applies, reapplied, expected_data",
    [
        (None, {"a": "1"}, {"a": "1"}),
        ({"b": "2"}, {"a": "1"}, {"a": "1", "b": "2"}),
        (None, {}, None),
    ],
    ids=["dropped-field-removed", "dropped-field-kept-while-shared", "all-fields-dropped"],
)
def test_dropping_a_field(other_applies, reapplied, expected_data):
    live = persisted(apply(None, configmap({"a": "1", "b": "2"}), "first"))
    if other_applies is not None:
        live = persisted(apply(live, configmap(other_applies), "second", now=T2))
    obj = apply(live, configmap(reapplied), "first", now=T3)
    assert obj.get("data") == expected_data
    assert ("first", "Apply") in owners(obj) or not reapplied


def test_dropped_field_stays_when_an_updater_owns_it():
    live = persisted(apply(None, configmap({"a": "1", "b": "2"}), "first"))
    edited = update_managed_fields(live, {**live, "data": {"a": "1", "b": "3"}}, manager="kubectl-edit",
                                   schema=CONFIGMAP, now=T2, api_version="v1")
    obj = apply(persisted(edited), configmap({"a": "1"}), "first", now=T3)
    assert obj["data"] == {"a": "1", "b": "3"}
    assert entry(obj, "kubectl-edit")["fieldsV1"] == {"f:data": {"f:b": {}}}


def test_unowned_fields_survive_pruning():
    live = persisted(apply(None, configmap({"a": "1", "b": "2"}), "first"))
    live["data"]["c"] = "set without tracking"
    obj = apply(live, configmap({"a": "1"}), "first", now=T2)
    assert obj["data"] == {"a": "1", "c": "set without tracking"}


# -- lists ----------------------------------------------------------------------------------------


def container(name, **fields):
    return {"name": name, **fields}


def test_map_list_merges_by_key_and_keeps_other_managers_items():
    live = persisted(apply(None, deployment(2, [container("web", image="nginx:1")]), "first", schema=DEPLOYMENT))
    live = persisted(apply(live, deployment(containers=[container("sidecar", image="envoy")]), "second",
                           schema=DEPLOYMENT, now=T2))
    assert [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == ["web", "sidecar"]
    obj = apply(live, deployment(2, [container("web", image="nginx:2")]), "first", schema=DEPLOYMENT, now=T3)
    assert obj["spec"]["template"]["spec"]["containers"] == [
        container("web", image="nginx:2"), container("sidecar", image="envoy")]
    assert entry(obj, "second")["fieldsV1"]["f:spec"]["f:template"]["f:spec"] == {
        "f:containers": {'k:{"name":"sidecar"}': {".": {}, "f:image": {}, "f:name": {}}}}


def test_map_list_item_dropped_by_its_applier_is_removed():
    live = persisted(apply(None, deployment(1, [container("web", image="a"), container("log", image="b")]),
                           schema=DEPLOYMENT))
    obj = apply(live, deployment(1, [container("web", image="a")]), schema=DEPLOYMENT, now=T2)
    assert obj["spec"]["template"]["spec"]["containers"] == [container("web", image="a")]


def test_map_list_follows_configuration_order_for_shared_items():
    live = persisted(apply(None, deployment(1, [container("a"), container("b"), container("c")]), schema=DEPLOYMENT))
    obj = apply(live, deployment(1, [container("c"), container("a"), container("b")]), schema=DEPLOYMENT, now=T2)
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["c", "a", "b"]


def test_port_key_uses_protocol_default():
    live = persisted(apply(None, deployment(1, [container("web", ports=[{"containerPort": 80, "protocol": "TCP"}])]),
                           "first", schema=DEPLOYMENT))
    obj = apply(live, deployment(1, [container("web", ports=[{"containerPort": 80, "name": "http"}])]),
                "second", schema=DEPLOYMENT, now=T2)
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"}]


def test_set_list_merges_by_value():
    live = persisted(apply(None, configmap(finalizers=["a/one"]), "first"))
    obj = apply(live, configmap(finalizers=["b/two"]), "second", now=T2)
    assert obj["metadata"]["finalizers"] == ["a/one", "b/two"]
    assert entry(obj, "second")["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"b/two"': {}}}}


def test_atomic_list_is_owned_and_replaced_whole():
    live = persisted(apply(None, deployment(1, [container("web", args=["a", "b"])]), "first", schema=DEPLOYMENT))
    fields = entry(live, "first")["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert fields['k:{"name":"web"}']["f:args"] == {}
    obj = apply(live, deployment(1, [container("web", args=["c"])]), "first", schema=DEPLOYMENT, now=T2)
    assert obj["spec"]["template"]["spec"]["containers"][0]["args"] == ["c"]


def test_atomic_struct_is_one_field():
    obj = apply(None, deployment(1, [container("web")]), schema=DEPLOYMENT)
    assert entry(obj, "mgr")["fieldsV1"]["f:spec"]["f:selector"] == {}  # LabelSelector is atomic


def test_without_schema_maps_merge_and_lists_are_atomic():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
          "spec": {"size": 1, "tags": ["a"], "nested": {"x": 1}}}
    live = persisted(apply(None, cr, "first", schema=None))
    assert entry(live, "first")["fieldsV1"] == {
        "f:spec": {".": {}, "f:nested": {".": {}, "f:x": {}}, "f:size": {}, "f:tags": {}}}
    obj = apply(live, {**cr, "spec": {"tags": ["b"], "nested": {"y": 2}}}, "second", schema=None, now=T2,
                force=True)
    assert obj["spec"] == {"size": 1, "tags": ["b"], "nested": {"x": 1, "y": 2}}


# -- conflicts ------------------------------------------------------------------------------------


def conflict_of(live, config, manager="mgr", schema=DEPLOYMENT):
    with pytest.raises(errors.Conflict) as info:
        apply(live, config, manager, schema=schema, now=T2)
    return info.value


def client_side_created(obj: dict, schema=DEPLOYMENT, manager="kubectl-client-side-apply") -> dict:
    return persisted(update_managed_fields(None, obj, manager=manager, schema=schema, now=T1,
                                           api_version=obj["apiVersion"]))


def test_update_then_server_side_apply_conflicts():
    live = client_side_created(deployment(3, [container("web", image="nginx:1")]))
    err = conflict_of(live, deployment(5, [container("web", image="nginx:1")]), "kubectl")
    status = err.to_status()
    assert status["code"] == 409 and status["reason"] == "Conflict"
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                                 'using apps/v1: .spec.replicas')
    assert status["details"] == {"causes": [{
        "reason": "FieldManagerConflict",
        "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
        "field": ".spec.replicas"}]}


def test_several_conflicts_are_listed_by_manager():
    live = client_side_created(deployment(3, [container("web", image="nginx:1")]))
    live = persisted(apply(live, configmap_free_deployment_labels(), "labeller", schema=DEPLOYMENT, now=T1))
    err = conflict_of(live, deployment(5, [container("web", image="nginx:2")], labels={"team": "b"}))
    assert err.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="web"].image\n'
        'conflicts with "labeller":\n'
        "- .metadata.labels.team")
    assert [c["field"] for c in err.causes] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image', ".metadata.labels.team"]
    assert [c["message"] for c in err.causes][-1] == 'conflict with "labeller"'


def configmap_free_deployment_labels() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"team": "a"}}}


def test_conflict_with_subresource_manager_names_it():
    live = persisted(apply(None, deployment(1), "scaler", schema=DEPLOYMENT, subresource="scale"))
    err = conflict_of(live, deployment(4))
    assert err.message == 'Apply failed with 1 conflict: conflict with "scaler" with subresource "scale": .spec.replicas'


def test_force_moves_ownership_to_the_applier():
    live = client_side_created(deployment(3, [container("web", image="nginx:1")]))
    obj = apply(live, deployment(5), "kubectl", force=True, schema=DEPLOYMENT, now=T2)
    assert obj["spec"]["replicas"] == 5
    assert entry(obj, "kubectl")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entry(obj, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]
    assert owners(obj) == [("kubectl", "Apply"), ("kubectl-client-side-apply", "Update")]


def test_applying_an_unchanged_value_takes_shared_ownership_without_conflict():
    live = client_side_created(deployment(3))
    obj = apply(live, deployment(3), "kubectl", schema=DEPLOYMENT, now=T2)
    assert entry(obj, "kubectl")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entry(obj, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]["f:replicas"] == {}


@pytest.mark.parametrize(
    "last_applied_replicas, live_replicas, conflicts",
    [(3, 3, False), (3, 4, True)],
    ids=["annotation-matches-live-upgrades", "drifted-field-still-conflicts"],
)
def test_kubectl_upgrades_from_client_side_apply(last_applied_replicas, live_replicas, conflicts):
    last_applied = json.dumps(deployment(last_applied_replicas))
    live = client_side_created(deployment(live_replicas, annotations={
        "kubectl.kubernetes.io/last-applied-configuration": last_applied}))
    config = deployment(5)
    if conflicts:
        assert conflict_of(live, config, "kubectl").causes[0]["field"] == ".spec.replicas"
        return
    obj = apply(live, config, "kubectl", schema=DEPLOYMENT, now=T2)
    assert obj["spec"]["replicas"] == 5
    assert entry(obj, "kubectl")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    rewritten = obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert rewritten.endswith("\n") and json.loads(rewritten) == config


def test_other_managers_are_not_upgraded_from_client_side_apply():
    live = client_side_created(deployment(3, annotations={
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(deployment(3))}))
    conflict_of(live, deployment(5), "helm")


# -- what is and is not tracked -------------------------------------------------------------------


def test_first_apply_to_untracked_object_records_before_first_apply():
    live = persisted(configmap({"a": "1", "b": "2"}))
    obj = apply(live, configmap({"a": "1"}), now=T2)
    assert owners(obj) == [("mgr", "Apply"), ("before-first-apply", "Update")]
    assert entry(obj, "before-first-apply")["fieldsV1"] == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}
    assert obj["data"] == {"a": "1", "b": "2"}


def test_status_is_not_owned_on_the_main_resource():
    config = {**deployment(1), "status": {"replicas": 9}}
    obj = apply(None, config, schema=DEPLOYMENT)
    assert entry(obj, "mgr")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}


def test_status_subresource_owns_status_only():
    live = persisted(apply(None, deployment(1), schema=DEPLOYMENT))
    obj = apply(live, {**deployment(2), "status": {"replicas": 1}}, "controller", schema=DEPLOYMENT,
                subresource="status", now=T2)
    e = entry(obj, "controller")
    assert e["fieldsV1"] == {"f:status": {"f:replicas": {}}} and e["subresource"] == "status"


def test_reset_fields_parameter_overrides_default():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "status": {"ok": True}}
    obj = apply(None, cr, schema=None, reset_fields=())
    assert entry(obj, "mgr")["fieldsV1"] == {"f:status": {".": {}, "f:ok": {}}}


# -- rejected configurations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, kwargs, error, message",
    [
        (configmap({"a": "1"}, managedFields=[]), {}, errors.BadRequest, "metadata.managedFields must be nil"),
        ({**configmap({}), "kind": "Secret"}, {"live": configmap({})}, errors.BadRequest,
         "invalid object type: /v1, Kind=Secret"),
        (configmap({}), {"api_version": "v2"}, errors.BadRequest, "invalid object type: /v1, Kind=ConfigMap"),
        (deployment(1, [container("web"), container("web")]), {"schema": DEPLOYMENT}, TypedObjectError,
         "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
         '.spec.template.spec.containers: duplicate entries for key [name="web"]'),
        (deployment(1, [{"image": "x"}]), {"schema": DEPLOYMENT}, TypedObjectError,
         "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
         ".spec.template.spec.containers: element 0: associative list with keys has an element that omits "
         'all key fields ["name"] (and doesn\'t have default values for any key fields)'),
    ],
    ids=["managed-fields-set", "wrong-kind", "wrong-version", "duplicate-keys", "missing-key"],
)
def test_rejected_configurations(config, kwargs, error, message):
    live = kwargs.pop("live", None)
    with pytest.raises(error) as info:
        apply(live, config, **kwargs)
    assert info.value.message == message
    assert info.value.code == {errors.BadRequest: 400, TypedObjectError: 500}[error]


def test_apply_does_not_mutate_its_arguments():
    live = client_side_created(deployment(3, [container("web", image="a")]))
    config = deployment(5, [container("web", image="b")])
    before = json.dumps([live, config], sort_keys=True)
    apply(live, config, force=True, schema=DEPLOYMENT, now=T2)
    assert json.dumps([live, config], sort_keys=True) == before


def test_custom_resource_metadata_is_typed_as_object_meta():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"app": "x"}},
          "spec": {"size": 1}}
    obj = apply(None, cr, schema=None)
    assert entry(obj, "mgr")["fieldsV1"] == {"f:metadata": {"f:labels": {"f:app": {}}},
                                             "f:spec": {".": {}, "f:size": {}}}
