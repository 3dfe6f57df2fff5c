"""Custom resources: CRD -> resource types, structural defaulting, validation, printer columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.api import crd
from kubepy.api.printers import custom

CRD: dict[str, Any] = {
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                  "shortNames": ["wg"], "categories": ["all"]},
        "versions": [
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object"}}},
            {"name": "v1", "served": True, "storage": True,
             "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size",
                                                       "statusReplicasPath": ".status.size"}},
             "additionalPrinterColumns": [
                 {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                 {"name": "Ready", "type": "string",
                  "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                 {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
             "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                 "spec": {"type": "object", "required": ["color"], "properties": {
                     "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                     "color": {"type": "string", "enum": ["red", "green"]},
                     "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                     "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                     "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                 }},
                 "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
             }}}},
            {"name": "v0", "served": False, "storage": False},
        ]}}


def test_resource_types_per_served_version() -> None:
    types = {rt.version: rt for rt in crd.resource_types(CRD)}
    assert set(types) == {"v1beta1", "v1"}
    v1 = types["v1"]
    assert (v1.group, v1.plural, v1.kind, v1.namespaced) == ("example.com", "widgets", "Widget",
                                                             True)
    assert v1.short_names == ("wg",) and v1.categories == ("all",)
    assert [s.name for s in v1.subresources] == ["status", "scale"]
    assert v1.key_prefix == "/registry/example.com/widgets/"
    assert v1.stored_version == "v1" and types["v1beta1"].stored_version == "v1"
    assert [c["name"] for c in types["v1beta1"].printer_columns] == ["Age"]


def _v1_schema() -> Any:
    return {rt.version: rt for rt in crd.resource_types(CRD)}["v1"].schema


def test_defaults_fill_absent_properties_only() -> None:
    obj = {"spec": {"color": "red"}}
    crd.apply_defaults(obj, _v1_schema())
    assert obj == {"spec": {"color": "red", "size": 1}}
    obj = {"spec": {"color": "red", "size": 4}}
    crd.apply_defaults(obj, _v1_schema())
    assert obj["spec"]["size"] == 4


@pytest.mark.parametrize("spec,field,message", [
    ({"color": "red", "size": 0}, "spec.size",
     "Invalid value: 0: spec.size in body should be greater than or equal to 1"),
    ({"color": "red", "size": 11}, "spec.size",
     "Invalid value: 11: spec.size in body should be less than or equal to 10"),
    ({"color": "red", "size": "x"}, "spec.size",
     'Invalid value: "string": spec.size in body must be of type integer: "string"'),
    ({"color": "blue"}, "spec.color",
     'Unsupported value: "blue": supported values: "red", "green"'),
    ({}, "spec.color", "Required value"),
    ({"color": "red", "name": "abcdef"}, "spec.name", "Too long: may not be more than 5 bytes"),
    ({"color": "red", "name": "AB"}, "spec.name",
     "Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'"),
    ({"color": "red", "tags": ["a", "b", "c"]}, "spec.tags",
     "Too many: 3: must have at most 2 items"),
], ids=["minimum", "maximum", "type", "enum", "required", "maxLength", "pattern", "maxItems"])
def test_validation_causes(spec: dict[str, Any], field: str, message: str) -> None:
    causes = crd.validate({"spec": spec}, _v1_schema())
    assert {"field": field, "message": message} in [
        {"field": c["field"], "message": c["message"]} for c in causes]


def test_valid_object_has_no_causes() -> None:
    assert crd.validate({"spec": {"color": "green", "size": 3, "extra": {"any": [1]}}},
                        _v1_schema()) == []


def test_established_status() -> None:
    status = crd.established_status(CRD, "2026-01-01T00:00:00Z")
    assert status["acceptedNames"]["listKind"] == "WidgetList"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True"), ("Established", "True")]
    assert status["storedVersions"] == ["v1"]


NOW = datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("path,expected", [
    (".spec.size", [3]),
    (".spec.tags[0]", ["a"]),
    (".spec.tags[*]", ["a", "b"]),
    ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
    (".metadata.labels['app.kubernetes.io/name']", ["w"]),
    (".spec.missing", []),
], ids=["key", "index", "all", "filter", "quoted-key", "missing"])
def test_jsonpath_subset(path: str, expected: list[Any]) -> None:
    obj = {"metadata": {"labels": {"app.kubernetes.io/name": "w"}},
           "spec": {"size": 3, "tags": ["a", "b"]},
           "status": {"conditions": [{"type": "Synced", "status": "False"},
                                     {"type": "Ready", "status": "True"}]}}
    assert custom.evaluate(obj, path) == expected


def test_custom_table_cells() -> None:
    (v1,) = [rt for rt in crd.resource_types(CRD) if rt.version == "v1"]
    obj = {"metadata": {"name": "w1",
                        "creationTimestamp": (NOW - timedelta(minutes=5)).strftime(
                            "%Y-%m-%dT%H:%M:%SZ")},
           "spec": {"size": 3}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    table = custom.table_for(v1.printer_columns, [obj], NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready", "Age"]
    assert table["rows"][0]["cells"] == ["w1", 3, "True", "5m"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
