"""Strategic merge patch: kubectl's real patches on built-in kinds, plus golden directive cases."""

from __future__ import annotations

import copy
import pathlib
from typing import Any, Callable

import pytest
import yaml

from kubepy import errors
from kubepy.api.patch import apply_strategic_merge_patch, unsupported_patch_type
from kubepy.api.schema import SchemaNode, schemas

GOLDEN = yaml.safe_load((pathlib.Path(__file__).parent / "data" / "patch" / "strategic_directives.yaml").read_text())
GOLDEN_ROOT = SchemaNode(GOLDEN["schema"], GOLDEN["schema"]["Shelf"], "Shelf")


def schema(group: str, version: str, kind: str) -> SchemaNode:
    node = schemas().for_kind(group, version, kind)
    assert node is not None
    return node


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "finalizers": ["example.com/keep"],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {"name": "sidecar", "image": "envoy:1.30"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                    "restartPolicy": "Always",
                },
            },
        },
    }


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def container(obj: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(obj)["containers"] if c["name"] == name)


def names(items: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [i[key] for i in items]


def _apply_body(d: dict[str, Any]) -> None:
    d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    d["spec"]["replicas"] = 3
    container(d, "web")["image"] = "nginx:1.27"


def _remove_sidecar(d: dict[str, Any]) -> None:
    pod_spec(d)["containers"] = [c for c in pod_spec(d)["containers"] if c["name"] != "sidecar"]


def _swap_volume(d: dict[str, Any]) -> None:
    pod_spec(d)["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-pvc"}}]


TPL = lambda spec: {"spec": {"template": {"spec": spec}}}  # noqa: E731

DEPLOYMENT_CASES: list[tuple[str, dict[str, Any], Callable[[dict[str, Any]], None]]] = [
    (
        "kubectl-apply-observed-body",
        {
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"replicas": 3, "template": {"spec": {
                "$setElementOrder/containers": [{"name": "web"}],
                "containers": [{"image": "nginx:1.27", "name": "web"}],
            }}},
        },
        _apply_body,
    ),
    (
        "kubectl-set-image",
        TPL({"containers": [{"image": "nginx:1.27", "name": "web"}]}),
        lambda d: container(d, "web").update(image="nginx:1.27"),
    ),
    (
        "kubectl-rollout-restart",
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}}}}},
        lambda d: d["spec"]["template"]["metadata"].update(
            annotations={"kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}
        ),
    ),
    (
        "kubectl-set-env-remove",
        TPL({"containers": [{"env": [{"$patch": "delete", "name": "DEBUG"}], "name": "web"}]}),
        lambda d: container(d, "web").update(env=[{"name": "MODE", "value": "prod"}]),
    ),
    (
        "kubectl-set-env-add-goes-first",
        TPL({"containers": [{"env": [{"name": "LOG", "value": "info"}], "name": "web"}]}),
        lambda d: container(d, "web").update(
            env=[{"name": "LOG", "value": "info"}, {"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}]
        ),
    ),
    (
        "kubectl-apply-container-removed-from-manifest",
        TPL({"$setElementOrder/containers": [{"name": "web"}], "containers": [{"$patch": "delete", "name": "sidecar"}]}),
        _remove_sidecar,
    ),
    (
        "kubectl-apply-container-added-in-middle",
        TPL({
            "$setElementOrder/containers": [{"name": "web"}, {"name": "metrics"}, {"name": "sidecar"}],
            "containers": [{"image": "prom:2", "name": "metrics"}],
        }),
        lambda d: pod_spec(d)["containers"].insert(1, {"image": "prom:2", "name": "metrics"}),
    ),
    (
        "kubectl-apply-reorder-containers",
        TPL({"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}),
        lambda d: pod_spec(d)["containers"].reverse(),
    ),
    (
        "kubectl-apply-volume-source-change-retain-keys",
        TPL({
            "$setElementOrder/volumes": [{"name": "data"}],
            "volumes": [{
                "$retainKeys": ["name", "persistentVolumeClaim"],
                "name": "data",
                "persistentVolumeClaim": {"claimName": "data-pvc"},
            }],
        }),
        _swap_volume,
    ),
    (
        "kubectl-apply-strategy-to-recreate",
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}},
        lambda d: d["spec"].update(strategy={"type": "Recreate"}),
    ),
    (
        "container-port-merges-by-container-port",
        TPL({"containers": [{"name": "web", "ports": [{"containerPort": 443, "protocol": "TCP"}]}]}),
        lambda d: container(d, "web").update(
            ports=[{"containerPort": 443, "protocol": "TCP"}, {"containerPort": 80, "protocol": "TCP"}]
        ),
    ),
    (
        "volume-mount-merges-by-mount-path",
        TPL({"containers": [{"name": "web", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}),
        lambda d: container(d, "web").update(volumeMounts=[{"name": "data", "mountPath": "/data", "readOnly": True}]),
    ),
    (
        "tolerations-without-strategy-are-replaced",
        TPL({"tolerations": [{"key": "b", "operator": "Exists"}]}),
        lambda d: pod_spec(d).update(tolerations=[{"key": "b", "operator": "Exists"}]),
    ),
    (
        "replace-whole-container-list",
        TPL({"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}),
        lambda d: pod_spec(d).update(containers=[{"name": "only", "image": "x"}]),
    ),
    (
        "finalizer-added-with-order",
        {"metadata": {"$setElementOrder/finalizers": ["example.com/keep", "example.com/new"], "finalizers": ["example.com/new"]}},
        lambda d: d["metadata"]["finalizers"].append("example.com/new"),
    ),
    (
        "finalizer-removed-with-delete-list",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/keep"]}},
        lambda d: d["metadata"].update(finalizers=[]),
    ),
    (
        "annotation-null-deletes",
        {"metadata": {"annotations": {"deployment.kubernetes.io/revision": None}}},
        lambda d: d["metadata"].update(annotations={}),
    ),
    (
        "labels-replace-directive",
        {"metadata": {"labels": {"$patch": "replace", "tier": "db"}}},
        lambda d: d["metadata"].update(labels={"tier": "db"}),
    ),
    (
        "new-container-is-cleaned",
        TPL({"containers": [{
            "name": "metrics",
            "image": "prom:2",
            "args": None,
            "$setElementOrder/env": [{"name": "A"}],
            "env": [{"name": "A", "value": "1"}, {"$patch": "delete", "name": "B"}],
        }]}),
        lambda d: pod_spec(d)["containers"].insert(0, {"name": "metrics", "image": "prom:2", "env": [{"name": "A", "value": "1"}]}),
    ),
]


@pytest.mark.parametrize("patch,change", [c[1:] for c in DEPLOYMENT_CASES], ids=[c[0] for c in DEPLOYMENT_CASES])
def test_deployment_patches(patch: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
    live, before_patch = deployment(), copy.deepcopy(patch)
    expected = deployment()
    change(expected)
    assert apply_strategic_merge_patch(live, patch, schema("apps", "v1", "Deployment")) == expected
    assert live == deployment() and patch == before_patch, "inputs must not be mutated"


OTHER_KINDS: list[tuple[str, tuple[str, str, str], dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "kubectl-taint-replaces-taints",
        ("", "v1", "Node"),
        {"spec": {"taints": [{"key": "old", "effect": "NoExecute"}], "podCIDR": "10.0.0.0/24"}},
        {"spec": {"taints": [{"effect": "NoSchedule", "key": "key", "value": "val"}]}},
        {"spec": {"taints": [{"effect": "NoSchedule", "key": "key", "value": "val"}], "podCIDR": "10.0.0.0/24"}},
    ),
    (
        "kubectl-cordon",
        ("", "v1", "Node"),
        {"spec": {"podCIDR": "10.0.0.0/24"}},
        {"spec": {"unschedulable": True}},
        {"spec": {"podCIDR": "10.0.0.0/24", "unschedulable": True}},
    ),
    (
        "node-status-conditions-merge-by-type",
        ("", "v1", "Node"),
        {"status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False"}]}},
        {"status": {
            "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "Ready"}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        }},
        {"status": {"conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady"},
        ]}},
    ),
    (
        "pod-status-conditions-merge-by-type",
        ("", "v1", "Pod"),
        {"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}},
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}},
    ),
    (
        "service-ports-merge-by-port",
        ("", "v1", "Service"),
        {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "type": "ClusterIP"}},
        {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090}]}},
        {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090}], "type": "ClusterIP"}},
    ),
    (
        "owner-references-merge-by-uid",
        ("", "v1", "ConfigMap"),
        {"metadata": {"ownerReferences": [{"uid": "u1", "name": "a", "kind": "X", "apiVersion": "v1"}]}, "data": {"k": "v"}},
        {"metadata": {"ownerReferences": [{"uid": "u2", "name": "b", "kind": "X", "apiVersion": "v1"}]}},
        {"metadata": {"ownerReferences": [
            {"uid": "u2", "name": "b", "kind": "X", "apiVersion": "v1"},
            {"uid": "u1", "name": "a", "kind": "X", "apiVersion": "v1"},
        ]}, "data": {"k": "v"}},
    ),
    (
        "kubectl-apply-configmap-data",
        ("", "v1", "ConfigMap"),
        {"metadata": {"name": "demo"}, "data": {"a": "1", "b": "2"}},
        {"data": {"a": "2"}, "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}},
        {"metadata": {"name": "demo", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}, "data": {"a": "2", "b": "2"}},
    ),
    (
        "pdb-selector-replace-strategy",
        ("policy", "v1", "PodDisruptionBudget"),
        {"spec": {"selector": {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]}}},
        {"spec": {"selector": {"matchLabels": {"app": "b"}}}},
        {"spec": {"selector": {"matchLabels": {"app": "b"}}}},
    ),
    (
        "untyped-controller-revision-data",
        ("apps", "v1", "ControllerRevision"),
        {"data": {"spec": {"template": {"containers": [{"name": "a"}, {"name": "b"}]}, "keep": 1}}, "revision": 1},
        {"data": {"spec": {"template": {"containers": [{"name": "c"}]}}}},
        {"data": {"spec": {"template": {"containers": [{"name": "c"}]}, "keep": 1}}, "revision": 1},
    ),
]


@pytest.mark.parametrize("gvk,live,patch,expected", [c[1:] for c in OTHER_KINDS], ids=[c[0] for c in OTHER_KINDS])
def test_other_kinds(gvk: tuple[str, str, str], live: dict, patch: dict, expected: dict) -> None:
    assert apply_strategic_merge_patch(live, patch, schema(*gvk)) == expected


ERROR_CASES: list[tuple[str, dict[str, Any], type[errors.StatusError], int, str]] = [
    (
        "container-without-merge-key",
        TPL({"containers": [{"image": "nginx"}]}),
        errors.StatusError, 500, "map: map[image:nginx] does not contain declared merge key: name",
    ),
    (
        "merge-directive-in-map",
        {"spec": {"$patch": "merge", "replicas": 2}},
        errors.StatusError, 500, "unknown patch type: merge in map: map[$patch:merge replicas:2]",
    ),
    (
        "retain-keys-missing-patched-field",
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}},
        errors.BadRequest, 400, "invalid patch format of retainKeys",
    ),
    (
        "set-element-order-at-odds-with-patch",
        TPL({"$setElementOrder/containers": [{"name": "web"}], "containers": [{"name": "sidecar", "image": "x"}]}),
        errors.StatusError, 500,
        "The order in patch list:\n[map[image:x name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:web]]\n",
    ),
    (
        "finalizers-list-of-lists",
        {"metadata": {"finalizers": [["a"]]}},
        errors.StatusError, 500, "list element types are not identical: [[example.com/keep] [[a]]]",
    ),
]


@pytest.mark.parametrize("patch,cls,code,message", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors_on_deployment(patch: dict, cls: type[errors.StatusError], code: int, message: str) -> None:
    with pytest.raises(cls) as info:
        apply_strategic_merge_patch(deployment(), patch, schema("apps", "v1", "Deployment"))
    assert (info.value.code, info.value.message) == (code, message)


def test_empty_image_pull_secret_in_live_object_fails_like_kubernetes() -> None:
    live = {"spec": {"imagePullSecrets": [{}], "containers": [{"name": "a"}]}}
    with pytest.raises(errors.StatusError) as info:
        apply_strategic_merge_patch(live, {"spec": {"imagePullSecrets": [{"name": "reg"}]}}, schema("", "v1", "Pod"))
    status = info.value.to_status()
    # metav1.Status.reason is omitempty: an unknown error carries no reason at all
    assert status["code"] == 500 and "reason" not in status
    assert status["message"] == "map: map[] does not contain declared merge key: name"


def test_custom_resource_without_schema_is_415() -> None:
    with pytest.raises(errors.UnsupportedMediaType) as info:
        apply_strategic_merge_patch({"spec": {}}, {"spec": {"x": 1}}, None)
    assert info.value.code == 415
    assert info.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    assert unsupported_patch_type().message == info.value.message


@pytest.mark.parametrize("patch", [[{"op": "add"}], "x", None], ids=["array", "string", "null"])
def test_non_object_patch_is_bad_request(patch: Any) -> None:
    with pytest.raises(errors.BadRequest):
        apply_strategic_merge_patch({}, patch, schema("", "v1", "ConfigMap"))


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["id"] for c in GOLDEN["cases"]])
def test_golden_directives(case: dict[str, Any]) -> None:
    live, patch = copy.deepcopy(case["live"]), copy.deepcopy(case["patch"])
    if "error" in case:
        with pytest.raises(errors.StatusError) as info:
            apply_strategic_merge_patch(live, patch, GOLDEN_ROOT)
        got = {"code": info.value.code, "reason": info.value.reason, "message": info.value.message}
        assert got == case["error"]
    else:
        result = apply_strategic_merge_patch(live, patch, GOLDEN_ROOT)
        # compare as text so list order (and only list order) matters
        assert yaml.safe_dump(result, sort_keys=True) == yaml.safe_dump(case["result"], sort_keys=True)
    assert live == case["live"] and patch == case["patch"], "inputs must not be mutated"


GO_FORMAT_CASES = [
    ("map-sorted-keys", {"name": "web", "image": "nginx"}, "map[image:nginx name:web]"),
    ("nested", {"a": [1, None, True], "b": {}}, "map[a:[1 <nil> true] b:map[]]"),
    ("float", 1.5, "1.5"),
    ("float-large-exponent", 1000000.0, "1e+06"),
    ("float-small-exponent", 0.00001, "1e-05"),
    ("float-integral", 80.0, "80"),
]


@pytest.mark.parametrize("value,text", [c[1:] for c in GO_FORMAT_CASES], ids=[c[0] for c in GO_FORMAT_CASES])
def test_error_values_render_like_go(value: Any, text: str) -> None:
    from kubepy.api.patch.common import go_format

    assert go_format(value) == text
