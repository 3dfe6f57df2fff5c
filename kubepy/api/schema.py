"""Schema data for the built-in kinds, from the ``kubernetes-validate`` package.

That package ships the Kubernetes OpenAPI definitions (JSON Schema form, with the
``x-kubernetes-*`` extensions: patch merge keys and strategies, list types, GVKs). kubepy
pins the Kubernetes minor it claims to be (``SCHEMA_VERSION``) and reads that one file
lazily, once per process.

``SchemaNode`` is a small navigator over those definitions used by the patch engines,
server-side apply, strict field validation and the OpenAPI documents:

    node = schemas().for_kind("apps", "v1", "Deployment")
    node.field("spec").field("template").field("spec").field("containers").patch_merge_key
    -> "name"
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import orjson

SCHEMA_VERSION = "v1.32.0"
_REF_PREFIX = "#/$defs/"


def _load_definitions() -> dict[str, dict[str, Any]]:
    root = importlib.resources.files("kubernetes_validate")
    path = root / "kubernetes-json-schema" / f"{SCHEMA_VERSION}-local" / "_definitions.json"
    definitions: dict[str, dict[str, Any]] = orjson.loads(path.read_bytes())["$defs"]
    return definitions


class SchemaNode:
    """One schema position. Navigation never raises: unknown paths give ``None``."""

    __slots__ = ("_defs", "raw", "name")

    def __init__(self, defs: dict[str, dict[str, Any]], raw: dict[str, Any], name: str = ""):
        self._defs = defs
        self.name = name  # the definition name when this node is a $ref target
        self.raw = raw

    @staticmethod
    def _resolve(defs: dict[str, dict[str, Any]], raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
        name = ""
        while "$ref" in raw:
            name = raw["$ref"][len(_REF_PREFIX):]
            target = defs.get(name, {})
            # keep the extensions written beside the $ref (they win, as in OpenAPI)
            extra = {k: v for k, v in raw.items() if k != "$ref"}
            raw = {**target, **extra} if extra else target
        return raw, name

    def _child(self, raw: dict[str, Any] | None) -> SchemaNode | None:
        if raw is None:
            return None
        resolved, name = self._resolve(self._defs, raw)
        return SchemaNode(self._defs, resolved, name)

    @property
    def types(self) -> set[str]:
        t = self.raw.get("type")
        if t is None:
            if "oneOf" in self.raw:  # IntOrString, Quantity
                out: set[str] = set()
                for alt in self.raw["oneOf"]:
                    at = alt.get("type")
                    out.update([at] if isinstance(at, str) else (at or []))
                out.discard("null")
                return out
            return set()
        if isinstance(t, str):
            return {t}
        return {x for x in t if x != "null"}

    @property
    def is_object(self) -> bool:
        return "object" in self.types or "properties" in self.raw

    @property
    def is_array(self) -> bool:
        return "array" in self.types

    @property
    def is_map(self) -> bool:
        """An object with free keys (``additionalProperties``), such as labels or data."""
        return "additionalProperties" in self.raw and "properties" not in self.raw

    @property
    def is_untyped(self) -> bool:
        """No type information (RawExtension, JSON): patch and apply treat it atomically."""
        return not self.types and "properties" not in self.raw and "additionalProperties" not in self.raw

    def field(self, name: str) -> SchemaNode | None:
        props = self.raw.get("properties")
        if not props:
            return None
        return self._child(props.get(name))

    def fields(self) -> dict[str, SchemaNode]:
        out = {}
        for key, raw in (self.raw.get("properties") or {}).items():
            child = self._child(raw)
            if child is not None:
                out[key] = child
        return out

    def items(self) -> SchemaNode | None:
        return self._child(self.raw.get("items"))

    def map_values(self) -> SchemaNode | None:
        ap = self.raw.get("additionalProperties")
        return self._child(ap) if isinstance(ap, dict) else None

    @property
    def description(self) -> str:
        description: str = self.raw.get("description", "")
        return description

    @property
    def required(self) -> list[str]:
        return list(self.raw.get("required", []))

    @property
    def patch_merge_key(self) -> str | None:
        return self.raw.get("x-kubernetes-patch-merge-key")

    @property
    def patch_strategies(self) -> set[str]:
        """``{"merge"}``, ``{"retainKeys"}``, ``{"merge", "retainKeys"}``, ``{"replace"}`` or empty."""
        s = self.raw.get("x-kubernetes-patch-strategy")
        return set(s.split(",")) if s else set()

    @property
    def list_type(self) -> str | None:
        """``atomic``, ``set`` or ``map`` (server-side apply semantics)."""
        return self.raw.get("x-kubernetes-list-type")

    @property
    def list_map_keys(self) -> list[str]:
        return list(self.raw.get("x-kubernetes-list-map-keys", []))

    @property
    def map_type(self) -> str | None:
        return self.raw.get("x-kubernetes-map-type")

    @property
    def gvks(self) -> list[dict[str, str]]:
        return list(self.raw.get("x-kubernetes-group-version-kind", []))


class Schemas:
    """All definitions, indexed by name and by group/version/kind."""

    def __init__(self, definitions: dict[str, dict[str, Any]]):
        self.definitions = definitions
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, raw in definitions.items():
            for gvk in raw.get("x-kubernetes-group-version-kind", []):
                key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
                # the first definition wins (DeleteOptions, WatchEvent appear under many GVKs)
                self._by_gvk.setdefault(key, name)

    def definition_name(self, group: str, version: str, kind: str) -> str | None:
        return self._by_gvk.get((group, version, kind))

    def for_kind(self, group: str, version: str, kind: str) -> SchemaNode | None:
        name = self.definition_name(group, version, kind)
        return self.node(name) if name else None

    def node(self, name: str) -> SchemaNode | None:
        raw = self.definitions.get(name)
        if raw is None:
            return None
        return SchemaNode(self.definitions, raw, name)


@functools.cache
def schemas() -> Schemas:
    """The process-wide schema data (loaded on first use, about 4 MB of JSON)."""
    return Schemas(_load_definitions())
