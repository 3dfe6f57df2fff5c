"""RFC 6902 JSON patch as kube-apiserver applies it (evanphx/json-patch v4 semantics)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubepy import errors
from kubepy.api.patch import MAX_JSON_PATCH_OPERATIONS, apply_json_patch
from kubepy.api.patch.common import UNPROCESSABLE_MESSAGE

POD = {
    "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a/b": "1", "c~d": "2"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]},
}

APPLY_CASES: list[tuple[str, dict[str, Any], list[Any], dict[str, Any]]] = [
    ("add-member", {"a": 1}, [{"op": "add", "path": "/b", "value": 2}], {"a": 1, "b": 2}),
    ("add-replaces-existing-member", {"a": 1}, [{"op": "add", "path": "/a", "value": [1]}], {"a": [1]}),
    ("add-array-index", {"l": [1, 3]}, [{"op": "add", "path": "/l/1", "value": 2}], {"l": [1, 2, 3]}),
    ("add-array-end-index", {"l": [1]}, [{"op": "add", "path": "/l/1", "value": 2}], {"l": [1, 2]}),
    ("add-dash-appends", {"l": [1]}, [{"op": "add", "path": "/l/-", "value": {"x": 1}}], {"l": [1, {"x": 1}]}),
    ("add-negative-index", {"l": [1, 3]}, [{"op": "add", "path": "/l/-1", "value": 2}], {"l": [1, 3, 2]}),
    ("add-without-value-adds-null", {}, [{"op": "add", "path": "/a"}], {"a": None}),
    ("remove-member", {"a": 1, "b": 2}, [{"op": "remove", "path": "/a"}], {"b": 2}),
    ("remove-element", {"l": [1, 2, 3]}, [{"op": "remove", "path": "/l/1"}], {"l": [1, 3]}),
    ("remove-last-by-negative-index", {"l": [1, 2, 3]}, [{"op": "remove", "path": "/l/-1"}], {"l": [1, 2]}),
    ("replace-member", {"a": {"b": 1}}, [{"op": "replace", "path": "/a/b", "value": "x"}], {"a": {"b": "x"}}),
    ("replace-missing-member-adds-it", {"a": {}}, [{"op": "replace", "path": "/a/b", "value": 1}], {"a": {"b": 1}}),
    ("replace-element", {"l": ["a", "b"]}, [{"op": "replace", "path": "/l/0", "value": "z"}], {"l": ["z", "b"]}),
    ("replace-whole-document", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("move-member", {"a": {"x": 1}, "b": {}}, [{"op": "move", "from": "/a/x", "path": "/b/y"}], {"a": {}, "b": {"y": 1}}),
    ("move-element", {"l": [1, 2, 3]}, [{"op": "move", "from": "/l/0", "path": "/l/-"}], {"l": [2, 3, 1]}),
    ("copy-member", {"a": {"x": [1]}}, [{"op": "copy", "from": "/a/x", "path": "/b"}], {"a": {"x": [1]}, "b": [1]}),
    ("copy-missing-member-copies-null", {"a": {}}, [{"op": "copy", "from": "/a/x", "path": "/b"}], {"a": {}, "b": None}),
    ("test-then-replace", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}, {"op": "replace", "path": "/a", "value": 2}], {"a": 2}),
    ("test-object-ignores-key-order", {"a": {"x": 1, "y": 2}}, [{"op": "test", "path": "/a", "value": {"y": 2, "x": 1}}], {"a": {"x": 1, "y": 2}}),
    ("test-null-on-missing-member", {"a": {}}, [{"op": "test", "path": "/a/b", "value": None}], {"a": {}}),
    ("escape-tilde-one-is-slash", {"m": {"a/b": 1}}, [{"op": "remove", "path": "/m/a~1b"}], {"m": {}}),
    ("escape-tilde-zero-is-tilde", {"m": {"c~d": 1}}, [{"op": "replace", "path": "/m/c~0d", "value": 2}], {"m": {"c~d": 2}}),
    ("escape-order-tilde-zero-one", {"m": {"~1": 1}}, [{"op": "remove", "path": "/m/~01"}], {"m": {}}),
    ("null-patch-is-no-op", {"a": 1}, None, {"a": 1}),  # type: ignore[list-item]
    ("ops-apply-in-order", {}, [{"op": "add", "path": "/a", "value": {}}, {"op": "add", "path": "/a/b", "value": 1}], {"a": {"b": 1}}),
    (
        "kubectl-patch-type-json-image",
        POD,
        [{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.27"}],
        {**POD, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}},
    ),
    (
        "kubectl-patch-type-json-label-with-slash",
        POD,
        [{"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}],
        {**POD, "metadata": {**POD["metadata"], "labels": {"app": "web", "app.kubernetes.io/name": "web"}}},
    ),
]


@pytest.mark.parametrize("doc,ops,expected", [c[1:] for c in APPLY_CASES], ids=[c[0] for c in APPLY_CASES])
def test_apply(doc: dict, ops: list, expected: dict) -> None:
    before_doc, before_ops = copy.deepcopy(doc), copy.deepcopy(ops)
    assert apply_json_patch(doc, ops) == expected
    assert doc == before_doc and ops == before_ops, "inputs must not be mutated"


def test_result_shares_nothing_with_inputs() -> None:
    value = {"nested": [1]}
    result = apply_json_patch({"a": {"b": []}}, [{"op": "add", "path": "/v", "value": value}])
    result["v"]["nested"].append(2)
    result["a"]["b"].append(1)
    assert value == {"nested": [1]}


def test_bool_is_not_a_number_in_test_op() -> None:
    with pytest.raises(errors.Invalid):
        apply_json_patch({"a": True}, [{"op": "test", "path": "/a", "value": 1}])


BAD_REQUEST_CASES = [
    ("object-not-array", {"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    ("string-not-array", "add", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
    ("element-not-object", ["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ("element-number", [1], "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
]


@pytest.mark.parametrize("ops,message", [c[1:] for c in BAD_REQUEST_CASES], ids=[c[0] for c in BAD_REQUEST_CASES])
def test_malformed_patch_is_bad_request(ops: Any, message: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        apply_json_patch({}, ops)
    assert info.value.code == 400
    assert info.value.message == message


INVALID_CASES = [
    ("unknown-op", {"a": 1}, [{"op": "frob", "path": "/a"}], "Unexpected kind: frob"),
    ("missing-op", {"a": 1}, [{"path": "/a"}], "Unexpected kind: unknown"),
    ("null-operation", {"a": 1}, [None], "Unexpected kind: unknown"),
    ("missing-path", {}, [{"op": "add", "value": 1}], "add operation failed to decode path"),
    ("add-missing-parent", {}, [{"op": "add", "path": "/a/b", "value": 1}], 'doc is missing path: "/a/b"'),
    ("add-empty-path", {}, [{"op": "add", "path": "", "value": {}}], "doc is missing path"),
    ("add-index-past-end", {"l": [1]}, [{"op": "add", "path": "/l/3", "value": 1}], "Unable to access invalid index: 3"),
    ("add-bad-index", {"l": [1]}, [{"op": "add", "path": "/l/x", "value": 1}], "value was not a proper array index: 'x'"),
    ("remove-missing-member", {"a": 1}, [{"op": "remove", "path": "/b"}], "Unable to remove nonexistent key: b"),
    ("remove-index-out-of-range", {"l": []}, [{"op": "remove", "path": "/l/0"}], "Unable to access invalid index: 0"),
    ("replace-index-out-of-range", {"l": [1]}, [{"op": "replace", "path": "/l/5", "value": 1}], "doc is missing key: /l/5"),
    ("replace-root-with-scalar", {}, [{"op": "replace", "path": "", "value": 1}], "value must be object or array"),
    ("move-missing-from", {}, [{"op": "move", "path": "/a"}], "move operation failed to decode from"),
    ("move-missing-source", {}, [{"op": "move", "from": "/x", "path": "/a"}], "Unable to remove nonexistent key: x"),
    ("copy-missing-destination", {"a": 1}, [{"op": "copy", "from": "/a", "path": "/x/y"}], "doc is missing destination path"),
    ("test-fails", {"a": 1}, [{"op": "test", "path": "/a", "value": 2}], "testing value /a failed: test failed"),
    ("test-missing-value-field", {"a": 1}, [{"op": "test", "path": "/a"}], "testing value /a failed"),
    ("test-missing-parent", {}, [{"op": "test", "path": "/a/b", "value": 1}], "test operation does not apply: is missing path"),
    ("pointer-without-leading-slash", {"a": 1}, [{"op": "remove", "path": "a"}], "doc is missing path"),
    ("replace-root-with-array", {}, [{"op": "replace", "path": "", "value": [1]}], "cannot unmarshal array"),
    ("failure-discards-earlier-ops", {"a": 1}, [{"op": "remove", "path": "/a"}, {"op": "remove", "path": "/a"}], "nonexistent key: a"),
]


@pytest.mark.parametrize("doc,ops,detail", [c[1:] for c in INVALID_CASES], ids=[c[0] for c in INVALID_CASES])
def test_op_that_cannot_apply_is_422_with_generic_message(doc: dict, ops: list, detail: str) -> None:
    before = copy.deepcopy(doc)
    with pytest.raises(errors.Invalid) as info:
        apply_json_patch(doc, ops)
    status = info.value.to_status()
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert status["message"] == UNPROCESSABLE_MESSAGE
    assert detail in info.value.detail  # type: ignore[attr-defined]
    assert doc == before


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(errors.RequestEntityTooLarge) as info:
        apply_json_patch({"a": 1}, ops)
    assert info.value.message == "The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_max_operations_is_allowed() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * MAX_JSON_PATCH_OPERATIONS
    assert apply_json_patch({"a": 1}, ops) == {"a": 1}
