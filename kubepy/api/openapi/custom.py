"""Definitions for custom resources (kinds served from CustomResourceDefinitions).

``extra_schemas`` maps ``"<group>/<version>/<Kind>"`` to that CRD version's
``openAPIV3Schema``. Each custom kind gets two definitions named as the apiserver names them,
by the reversed group: ``com.example.stable.v1.CronTab`` and ``...CronTabList``. A kind with
no schema is published as an object that keeps unknown fields.

v3 keeps the structural schema as written (plus apiVersion, kind and metadata). v2 cannot
express ``nullable``, int-or-string, ``x-kubernetes-preserve-unknown-fields`` or the logical
combinators, and kubectl's client-side validation rejects fields a v2 object schema does not
list; so those nodes are published without a type (kubectl treats them as arbitrary), the
combinators and CEL rules are dropped, and a kind with no schema has no properties at all.
"""

from __future__ import annotations

from typing import Any, Iterable

from kubepy.api import registry as reg
from kubepy.api.openapi.definitions import LIST_META, OBJECT_META, REF_PREFIX, Flavour

_API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources")
_KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds")
_METADATA_DOC = ("Standard object's metadata. More info: https://git.k8s.io/community/"
                 "contributors/devel/sig-architecture/api-conventions.md#metadata")
_V2_DROPPED = ("oneOf", "anyOf", "allOf", "not", "nullable", "default", "enum", "example",
               "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields",
               "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource")


def definition_name(group: str, version: str, kind: str) -> str:
    """``stable.example.com``/v1/CronTab -> ``com.example.stable.v1.CronTab``."""
    reversed_group = ".".join(reversed(group.split("."))) if group else "core"
    return f"{reversed_group}.{version}.{kind}"


def schema_key(group: str, version: str, kind: str) -> str:
    return f"{group}/{version}/{kind}"


def _ref(name: str, flavour: Flavour, description: str) -> dict[str, Any]:
    target = REF_PREFIX[flavour] + name
    if flavour == "v2":
        return {"$ref": target, "description": description}
    return {"allOf": [{"$ref": target}], "description": description}


def _v2_node(schema: dict[str, Any]) -> dict[str, Any]:
    loose = (schema.get("x-kubernetes-preserve-unknown-fields") is True
             or schema.get("x-kubernetes-int-or-string") is True
             or schema.get("nullable") is True)
    if loose:
        return {k: v for k, v in schema.items() if k == "description"}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _V2_DROPPED:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {n: _v2_node(v) for n, v in value.items() if isinstance(v, dict)}
        elif key == "items":
            if isinstance(value, dict):
                out[key] = _v2_node(value)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = _v2_node(value)
        else:
            out[key] = value
    if out.get("type") == "array" and "items" not in out:
        out.pop("type")
    return out


def custom_kind_definition(group: str, version: str, kind: str,
                           schema: dict[str, Any] | None, flavour: Flavour) -> dict[str, Any]:
    gvk = [{"group": group, "kind": kind, "version": version}]
    if schema is None:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if flavour == "v2":
        if schema.get("x-kubernetes-preserve-unknown-fields") is True:
            out: dict[str, Any] = {"type": "object"}
            if "description" in schema:
                out["description"] = schema["description"]
            out["x-kubernetes-group-version-kind"] = gvk
            return out
        out = _v2_node(schema)
    else:
        out = dict(schema)
    out["type"] = "object"
    props = dict(out.get("properties") or {})
    props.setdefault("apiVersion", {"description": _API_VERSION_DOC, "type": "string"})
    props.setdefault("kind", {"description": _KIND_DOC, "type": "string"})
    props["metadata"] = _ref(OBJECT_META, flavour, _METADATA_DOC)
    out["properties"] = props
    out["x-kubernetes-group-version-kind"] = gvk
    return out


def custom_list_definition(group: str, version: str, kind: str,
                           flavour: Flavour) -> dict[str, Any]:
    item = {"$ref": REF_PREFIX[flavour] + definition_name(group, version, kind)}
    return {
        "description": f"{kind}List is a list of {kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "items": {"description": f"List of {kind.lower()}s. More info: "
                      "https://git.k8s.io/community/contributors/devel/"
                      "sig-architecture/api-conventions.md", "type": "array", "items": item},
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": _ref(LIST_META, flavour, "Standard list metadata. More info: "
                             "https://git.k8s.io/community/contributors/devel/"
                             "sig-architecture/api-conventions.md#types-kinds"),
        },
        "x-kubernetes-group-version-kind": [
            {"group": group, "kind": kind + "List", "version": version}],
    }


def custom_definitions(types: Iterable[reg.ResourceType], extra: dict[str, dict[str, Any]],
                       flavour: Flavour) -> dict[str, dict[str, Any]]:
    """Definitions of the custom kinds among ``types`` (keyed by definition name)."""
    out: dict[str, dict[str, Any]] = {}
    for rt in types:
        schema = extra.get(schema_key(rt.group, rt.version, rt.kind))
        out[definition_name(rt.group, rt.version, rt.kind)] = custom_kind_definition(
            rt.group, rt.version, rt.kind, schema, flavour)
        out[definition_name(rt.group, rt.version, rt.list_kind)] = custom_list_definition(
            rt.group, rt.version, rt.kind, flavour)
    return out
