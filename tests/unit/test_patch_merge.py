"""RFC 7386 JSON merge patch as kube-apiserver applies it (evanphx/json-patch v4 MergePatch)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubepy import errors
from kubepy.api.patch import apply_merge_patch

DEPLOYMENT = {
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1,
        "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}},
    },
}

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # RFC 7386 appendix A, for object targets
    ("rfc-replace-member", {"a": "b"}, {"a": "c"}, {"a": "c"}),
    ("rfc-add-member", {"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ("rfc-null-deletes", {"a": "b"}, {"a": None}, {}),
    ("rfc-null-deletes-only-that", {"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ("rfc-scalar-replaces-array", {"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ("rfc-array-replaces-scalar", {"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ("rfc-nested-merge-and-delete", {"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ("rfc-array-replaced-whole", {"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ("rfc-existing-null-kept", {"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ("rfc-new-object-nulls-dropped", {}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ("empty-patch-no-change", {"a": 1}, {}, {"a": 1}),
    ("delete-missing-member-is-fine", {"a": 1}, {"b": None}, {"a": 1}),
    ("object-replaces-scalar", {"a": 1}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}),
    ("object-replaces-null", {"a": None}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}),
    # v4 prunes nulls inside objects inside a new array, keeps null elements
    ("new-array-objects-pruned", {}, {"a": [{"b": None, "c": 1}, None]}, {"a": [{"c": 1}, None]}),
    # ...but takes an array as is when it replaces an object
    ("array-replacing-object-not-pruned", {"a": {"x": 1}}, {"a": [{"b": None}]}, {"a": [{"b": None}]}),
    ("kubectl-label", DEPLOYMENT, {"metadata": {"labels": {"tier": "frontend"}}},
     {**DEPLOYMENT, "metadata": {"name": "web", "labels": {"app": "web", "tier": "frontend"}}}),
    ("kubectl-label-remove", DEPLOYMENT, {"metadata": {"labels": {"app": None}}},
     {**DEPLOYMENT, "metadata": {"name": "web", "labels": {}}}),
    ("kubectl-scale-subresource", DEPLOYMENT, {"spec": {"replicas": 5}},
     {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replicas": 5}}),
    ("containers-list-replaced-not-merged", DEPLOYMENT,
     {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
     {**DEPLOYMENT, "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
]


@pytest.mark.parametrize("doc,patch,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_apply(doc: dict, patch: dict, expected: dict) -> None:
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    assert apply_merge_patch(doc, patch) == expected
    assert doc == before_doc and patch == before_patch, "inputs must not be mutated"


def test_result_shares_nothing_with_patch() -> None:
    patch = {"a": {"b": [1]}}
    result = apply_merge_patch({}, patch)
    result["a"]["b"].append(2)
    assert patch == {"a": {"b": [1]}}


@pytest.mark.parametrize("patch", [None, "x", 1, 1.5, True], ids=["null", "string", "int", "float", "bool"])
def test_non_object_patch_is_bad_request(patch: Any) -> None:
    with pytest.raises(errors.BadRequest) as info:
        apply_merge_patch({"a": 1}, patch)
    assert (info.value.code, info.value.message) == (400, "Invalid JSON Patch")


def test_array_patch_is_invalid_object() -> None:
    with pytest.raises(errors.Invalid) as info:
        apply_merge_patch({"a": 1}, [{"a": None}])  # type: ignore[arg-type]
    status = info.value.to_status()
    assert status["code"] == 422
    assert status["message"].startswith(' "" is invalid: patch: Invalid value: "[{}]"')
