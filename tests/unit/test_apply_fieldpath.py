"""Field paths and the fieldsV1 encoding of server-side apply (kubepy.api.apply.fieldpath)."""

from __future__ import annotations

import pytest

from kubepy.api.apply.fieldpath import (
    exclude_prefixed,
    from_fields_v1,
    iteration_order,
    key,
    make_path,
    parse_element,
    path_string,
    serialize_element,
    set_value,
    to_fields_v1,
)

P = make_path


@pytest.mark.parametrize(
    "element, text",
    [
        (("f", "replicas"), "f:replicas"),
        (("f", "kubectl.kubernetes.io/last-applied-configuration"), "f:kubectl.kubernetes.io/last-applied-configuration"),
        (key({"name": "web"}), 'k:{"name":"web"}'),
        (key({"protocol": "TCP", "containerPort": 80}), 'k:{"containerPort":80,"protocol":"TCP"}'),
        (set_value("example.com/finalizer"), 'v:"example.com/finalizer"'),
        (set_value(8080), "v:8080"),
        (set_value(True), "v:true"),
        (("i", 3), "i:3"),
        (key({"name": "a<b"}), 'k:{"name":"a\\u003cb"}'),
    ],
    ids=["field", "field-with-slash", "key", "two-keys-sorted", "string-value", "int-value", "bool-value",
         "index", "html-escaped"],
)
def test_element_wire_form_round_trips(element, text):
    assert serialize_element(element) == text
    assert parse_element(text) == element


@pytest.mark.parametrize("text", ["x", "q:abc", "k:[1]", "i:one", "k:{bad"], ids=["short", "unknown-type", "key-not-object", "index-not-int", "bad-json"])
def test_malformed_elements_are_rejected(text):
    with pytest.raises(ValueError):
        parse_element(text)


@pytest.mark.parametrize(
    "path, text",
    [
        (P("spec", "replicas"), ".spec.replicas"),
        (P("spec", "template", "spec", "containers", key({"name": "web"}), "image"),
         '.spec.template.spec.containers[name="web"].image'),
        (P("spec", "ports", key({"port": 80, "protocol": "TCP"})), '.spec.ports[port=80,protocol="TCP"]'),
        (P("metadata", "finalizers", set_value("a/b")), '.metadata.finalizers[="a/b"]'),
        (P("spec", "args", ("i", 0)), ".spec.args[0]"),
    ],
    ids=["fields", "keyed-item", "multi-key", "set-value", "index"],
)
def test_path_string_matches_conflict_messages(path, text):
    assert path_string(path) == text


CONTAINER = key({"name": "web"})


@pytest.mark.parametrize(
    "paths, fields_v1",
    [
        (
            {P("metadata", "labels", "app"),
             P("spec", "containers", CONTAINER), P("spec", "containers", CONTAINER, "image"),
             P("spec", "containers", CONTAINER, "name")},
            {"f:metadata": {"f:labels": {"f:app": {}}},
             "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}}},
        ),
        (
            {P("metadata", "labels"), P("metadata", "labels", "app")},
            {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
        ),
        (
            {P("x", set_value("b")), P("x", set_value("a")), P("x", key({"k": 1})), P("x", "f"), P("x", ("i", 0))},
            {"f:x": {"f:f": {}, 'k:{"k":1}': {}, 'v:"a"': {}, 'v:"b"': {}, "i:0": {}}},
        ),
        (set(), {}),
    ],
    ids=["apiserver-example", "member-and-parent", "element-kinds-ordered", "empty"],
)
def test_fields_v1_encoding(paths, fields_v1):
    encoded = to_fields_v1(paths)
    assert encoded == fields_v1
    assert list(encoded) == list(fields_v1)  # key order is part of the wire form
    assert from_fields_v1(encoded) == paths


def test_fields_v1_key_order_is_nested_too():
    encoded = to_fields_v1({P("b", "z"), P("b", "a"), P("a")})
    assert list(encoded) == ["f:a", "f:b"]
    assert list(encoded["f:b"]) == ["f:a", "f:z"]


@pytest.mark.parametrize("bad", [[], {"f:a": 1}, {"zz": {}}], ids=["not-object", "non-object-entry", "bad-element"])
def test_invalid_fields_v1_is_rejected(bad):
    with pytest.raises(ValueError):
        from_fields_v1(bad)


def test_iteration_order_lists_members_before_children():
    paths = {P("spec", "replicas"), P("metadata", "labels", "app"), P("kind")}
    assert iteration_order(paths) == [P("kind"), P("metadata", "labels", "app"), P("spec", "replicas")]


@pytest.mark.parametrize(
    "paths, prefixes, expected",
    [
        ({P("status", "phase"), P("spec", "x")}, {P("status")}, {P("spec", "x")}),
        ({P("status"), P("statusX")}, {P("status")}, {P("statusX")}),
        ({P("spec", "x")}, set(), {P("spec", "x")}),
    ],
    ids=["under-prefix", "prefix-itself-not-lookalike", "nothing-excluded"],
)
def test_exclude_prefixed(paths, prefixes, expected):
    assert exclude_prefixed(paths, prefixes) == expected
