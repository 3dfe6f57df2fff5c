"""Custom resources: from a CustomResourceDefinition to served resource types, and the
structural-schema semantics of its ``openAPIV3Schema`` (defaulting, validation, pruning).

Pure logic on plain dicts, as the apiextensions-apiserver does it:
- ``resource_types(crd)``: one ResourceType per served version (scope, names, status and
  scale subresources, printer columns, the storage version);
- ``schema_node(version_schema)``: a SchemaNode over the version's schema, with
  ``metadata`` typed as ObjectMeta (so pruning, server-side apply and patches know it);
- ``apply_defaults(obj, schema)``: ``default`` values of absent properties;
- ``validate(obj, schema)``: one cause per violated rule (type, required, enum, bounds,
  lengths, items, pattern), worded as the apiserver words them;
- ``established_status(crd, now)``: the status the CRD gets once it is served.
CEL rules (``x-kubernetes-validations``) are not evaluated.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kubepy.api.registry import ALL_VERBS, ResourceType, Subresource
from kubepy.api.schema import SchemaNode, schemas
from kubepy.errors import field_cause

Obj = dict[str, Any]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def storage_version(crd: Obj) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return str(v["name"])
    versions = (crd.get("spec") or {}).get("versions") or [{}]
    return str(versions[0].get("name", "v1"))


def schema_node(version: Obj) -> SchemaNode | None:
    raw = ((version.get("schema") or {}).get("openAPIV3Schema"))
    if not isinstance(raw, dict):
        return None
    props = dict(raw.get("properties") or {})
    props["metadata"] = {"$ref": "#/$defs/" + OBJECT_META}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    return SchemaNode(schemas().definitions, {**raw, "type": "object", "properties": props})


def resource_types(crd: Obj) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    kind = names.get("kind", "")
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs_spec = v.get("subresources") or {}
        subs: list[Subresource] = []
        if "status" in subs_spec:
            subs.append(Subresource("status", kind, ("get", "patch", "update")))
        if "scale" in subs_spec:
            subs.append(Subresource("scale", "Scale", ("get", "patch", "update"),
                                    "autoscaling", "v1"))
        columns = tuple(v.get("additionalPrinterColumns") or [_AGE_COLUMN])
        out.append(ResourceType(
            group, v["name"], plural, kind, spec.get("scope", "Namespaced") == "Namespaced",
            names.get("singular") or kind.lower(), tuple(names.get("shortNames") or ()),
            tuple(names.get("categories") or ()), ALL_VERBS, tuple(subs),
            f"{group}/{plural}", custom=True, schema=schema_node(v), printer_columns=columns,
            scale_paths=subs_spec.get("scale"), stored_version=storage_version(crd)))
    return out


def established_status(crd: Obj, now: str) -> Obj:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    return {
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now,
             "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now,
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": [storage_version(crd)],
    }


# ---------------------------------------------------------------------------- defaulting

def apply_defaults(obj: Any, node: SchemaNode | None) -> None:
    """Fill ``default`` values of absent properties, in place, recursively."""
    if node is None:
        return
    if isinstance(obj, dict):
        if node.is_map:
            values = node.map_values()
            for v in obj.values():
                apply_defaults(v, values)
            return
        for name, child in node.fields().items():
            if name == "metadata":
                continue
            if name not in obj and "default" in child.raw:
                obj[name] = copy.deepcopy(child.raw["default"])
            if name in obj:
                apply_defaults(obj[name], child)
    elif isinstance(obj, list):
        items = node.items()
        for v in obj:
            apply_defaults(v, items)


# ---------------------------------------------------------------------------- validation

_PY_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object",
            list: "array", type(None): "null"}


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return '"' + type(value).__name__ + '"'
    return str(value)


def _type_matches(value: Any, want: str) -> bool:
    got = _PY_TYPE.get(type(value))
    return got == want or (want == "number" and got == "integer")


def validate(obj: Any, node: SchemaNode | None) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    if node is not None and isinstance(obj, dict):
        for name, child in node.fields().items():
            if name in ("metadata", "apiVersion", "kind"):
                continue
            if name in obj:
                _check(obj[name], child, name, causes)
        for name in node.required:
            if name not in obj and name not in ("metadata", "apiVersion", "kind"):
                causes.append(field_cause(name, "Required value", "FieldValueRequired"))
    return causes


def _check(value: Any, node: SchemaNode, path: str, causes: list[dict[str, str]]) -> None:
    raw = node.raw
    if value is None:
        if raw.get("nullable"):
            return
    want = raw.get("type")
    if isinstance(want, str) and not raw.get("x-kubernetes-int-or-string"):
        if not _type_matches(value, want):
            got = _PY_TYPE.get(type(value), "unknown")
            causes.append(field_cause(path, f'Invalid value: "{got}": {path} in body must be '
                                      f'of type {want}: "{got}"', "FieldValueTypeInvalid"))
            return
    if "enum" in raw and value not in raw["enum"]:
        allowed = ", ".join(_go_value(v) for v in raw["enum"])
        causes.append(field_cause(path, f"Unsupported value: {_go_value(value)}: supported "
                                  f"values: {allowed}", "FieldValueNotSupported"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _bounds(value, raw, path, causes)
    if isinstance(value, str):
        _strings(value, raw, path, causes)
    if isinstance(value, list):
        if "maxItems" in raw and len(value) > raw["maxItems"]:
            causes.append(field_cause(path, f"Too many: {len(value)}: must have at most "
                                      f"{raw['maxItems']} items", "FieldValueTooMany"))
        if "minItems" in raw and len(value) < raw["minItems"]:
            causes.append(field_cause(path, f"Invalid value: {len(value)}: {path} in body "
                                      f"should have at least {raw['minItems']} items"))
        items = node.items()
        if items is not None:
            for i, v in enumerate(value):
                _check(v, items, f"{path}[{i}]", causes)
    if isinstance(value, dict):
        if node.is_map:
            values = node.map_values()
            if values is not None:
                for k, v in value.items():
                    _check(v, values, f"{path}.{k}", causes)
        else:
            for name, child in node.fields().items():
                if name in value:
                    _check(value[name], child, f"{path}.{name}", causes)
            for name in node.required:
                if name not in value:
                    causes.append(field_cause(f"{path}.{name}", "Required value",
                                              "FieldValueRequired"))


def _bounds(value: float, raw: Obj, path: str, causes: list[dict[str, str]]) -> None:
    if "minimum" in raw:
        lo = raw["minimum"]
        if value < lo or (raw.get("exclusiveMinimum") and value == lo):
            rel = "greater than" if raw.get("exclusiveMinimum") else "greater than or equal to"
            causes.append(field_cause(path, f"Invalid value: {_go_value(value)}: {path} in "
                                      f"body should be {rel} {lo}"))
    if "maximum" in raw:
        hi = raw["maximum"]
        if value > hi or (raw.get("exclusiveMaximum") and value == hi):
            rel = "less than" if raw.get("exclusiveMaximum") else "less than or equal to"
            causes.append(field_cause(path, f"Invalid value: {_go_value(value)}: {path} in "
                                      f"body should be {rel} {hi}"))


def _strings(value: str, raw: Obj, path: str, causes: list[dict[str, str]]) -> None:
    if "maxLength" in raw and len(value) > raw["maxLength"]:
        causes.append(field_cause(path, f"Too long: may not be more than {raw['maxLength']} "
                                  "bytes", "FieldValueTooLong"))
    if "minLength" in raw and len(value) < raw["minLength"]:
        causes.append(field_cause(path, f"Invalid value: {_go_value(value)}: {path} in body "
                                  f"should be at least {raw['minLength']} chars long"))
    if "pattern" in raw:
        try:
            ok = re.search(raw["pattern"], value) is not None
        except re.error:
            ok = True
        if not ok:
            causes.append(field_cause(path, f"Invalid value: {_go_value(value)}: {path} in "
                                      f"body should match '{raw['pattern']}'"))
