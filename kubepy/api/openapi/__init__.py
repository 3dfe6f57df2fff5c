"""The OpenAPI documents the API server publishes, built from the resource registry.

``OpenAPIDocuments(registry, extra_schemas)`` answers, as bytes plus an ETag:

* ``v3_index()`` — ``/openapi/v3``: ``{"paths": {"api/v1": {"serverRelativeURL":
  "/openapi/v3/api/v1?hash=<ETAG>"}, ...}}`` listing ``api``, ``apis``, ``version``, every
  ``apis/<group>`` and every group-version;
* ``v3_document(name)`` — ``/openapi/v3/<name>`` (``None`` when nothing is served there);
* ``v2_json()`` / ``v2_protobuf()`` — ``/openapi/v2`` as swagger JSON or as the gnostic
  ``openapi.v2.Document`` protobuf (``application/com.github.proto-openapi.spec.v2.v1.0+
  protobuf``), both with the ETag of the JSON bytes, as the apiserver does.

ETags are the uppercase hex SHA-512 of the JSON bytes (kube-openapi's choice), so a
``?hash=`` URL names one exact document. Everything is built on first use and cached; a
cache entry is rebuilt when the registry's resource types for it change (custom resources
come and go) or ``set_extra_schemas`` is called. Methods are safe to call from threads.

``extra_schemas`` maps ``"<group>/<version>/<Kind>"`` to a custom kind's
``openAPIV3Schema`` (see ``custom``).
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import orjson

from kubepy.api import registry as reg
from kubepy.api.openapi import custom, paths, protobuf_v2, v2, v3
from kubepy.api.openapi.definitions import Flavour, builtin_definitions
from kubepy.api.schema import SCHEMA_VERSION, schemas

__all__ = ["OpenAPIDocuments", "V2_PROTOBUF_CONTENT_TYPE"]

V2_PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


class _Overlay(Mapping[str, dict[str, Any]]):
    """Built-in definitions with the custom ones laid over them, without copying."""

    def __init__(self, base: Mapping[str, dict[str, Any]], top: Mapping[str, dict[str, Any]]):
        self.base, self.top = base, top

    def __getitem__(self, key: str) -> dict[str, Any]:
        if key in self.top:
            return self.top[key]
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.top or key in self.base

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self.top
        yield from (k for k in self.base if k not in self.top)

    def __len__(self) -> int:
        return len(self.base) + sum(1 for k in self.top if k not in self.base)


def is_builtin(rt: reg.ResourceType) -> bool:
    """A kind the Kubernetes schema defines (everything else is a custom resource)."""
    return schemas().definition_name(rt.group, rt.version, rt.kind) is not None


class OpenAPIDocuments:
    def __init__(self, registry: reg.Registry,
                 extra_schemas: dict[str, dict[str, Any]] | None = None):
        self.registry = registry
        self._extra: dict[str, dict[str, Any]] = dict(extra_schemas or {})
        self._generation = 0
        self._lock = threading.RLock()
        self._v3: dict[str, tuple[object, bytes, str]] = {}
        self._v2: tuple[object, bytes, str] | None = None
        self._v2_pb: tuple[object, bytes] | None = None

    def set_extra_schemas(self, extra_schemas: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            self._extra = dict(extra_schemas)
            self._generation += 1

    # -- lookups -------------------------------------------------------------------------

    def _definitions(self, types: list[reg.ResourceType], flavour: Flavour
                     ) -> tuple[Mapping[str, dict[str, Any]], paths.DefinitionOf]:
        customs = [t for t in types if not is_builtin(t)]
        own = custom.custom_definitions(customs, self._extra, flavour)
        custom_kinds = {(t.group, t.version, k) for t in customs for k in (t.kind, t.list_kind)}
        index = schemas()

        def definition_of(group: str, version: str, kind: str) -> str | None:
            if (group, version, kind) in custom_kinds:
                return custom.definition_name(group, version, kind)
            return index.definition_name(group, version, kind)

        return _Overlay(builtin_definitions(flavour), own), definition_of

    def _document_names(self) -> list[str]:
        names = ["api", "apis", "version"]
        for group, versions in self.registry.groups().items():
            if group:
                names.append(f"apis/{group}")
            names.extend(paths.group_version_root(group, v).lstrip("/") for v in versions)
        return names

    # -- v3 ------------------------------------------------------------------------------

    def _v3_items(self, name: str) -> tuple[list[paths.PathItem], list[reg.ResourceType]] | None:
        parts = name.strip("/").split("/")
        if parts in (["api"], ["apis"], ["version"]):
            return paths.root_paths(parts[0]), []
        if len(parts) == 2 and parts[0] == "apis":
            if parts[1] in self.registry.groups() and parts[1]:
                return paths.group_paths(parts[1]), []
            return None
        if len(parts) == 2 and parts[0] == "api":
            group, version = "", parts[1]
        elif len(parts) == 3 and parts[0] == "apis" and parts[1]:
            group, version = parts[1], parts[2]
        else:
            return None
        types = self.registry.group_version_resources(group, version)
        if not types:
            return None
        _, definition_of = self._definitions(types, "v3")
        return paths.group_version_paths(group, version, types, definition_of,
                                         is_builtin), types

    def v3_document(self, path: str) -> tuple[bytes, str] | None:
        """``/openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``, ``apis/apps``, ...)."""
        name = path.strip("/")
        with self._lock:
            parts = name.split("/")
            types = (tuple(self.registry.group_version_resources(
                "" if parts[0] == "api" else parts[1], parts[-1]))
                if len(parts) in (2, 3) and parts[0] in ("api", "apis") else ())
            key = (types, self._generation, tuple(sorted(self.registry.groups())))
            cached = self._v3.get(name)
            if cached is not None and cached[0] == key:
                return cached[1], cached[2]
            built = self._v3_items(name)
            if built is None:
                return None
            items, gv_types = built
            defs, _ = self._definitions(gv_types, "v3")
            body, tag = v3.encode(v3.document(items, defs))
            self._v3[name] = (key, body, tag)
            return body, tag

    def v3_index(self) -> bytes:
        """``/openapi/v3``: every document name with its ``?hash=`` URL."""
        with self._lock:
            etags: dict[str, str] = {}
            for name in self._document_names():
                doc = self.v3_document(name)
                if doc is not None:
                    etags[name] = doc[1]
            return v3.index(etags)

    # -- v2 ------------------------------------------------------------------------------

    def _v2_key(self) -> object:
        return (tuple(self.registry), self._generation)

    def v2_json(self) -> tuple[bytes, str]:
        """``/openapi/v2`` as swagger 2.0 JSON, with its ETag."""
        with self._lock:
            key = self._v2_key()
            if self._v2 is not None and self._v2[0] == key:
                return self._v2[1], self._v2[2]
            doc = self._v2_document()
            body, tag = v3.encode(doc)
            self._v2 = (key, body, tag)
            return body, tag

    def _v2_document(self) -> dict[str, Any]:
        types = list(self.registry)
        defs, definition_of = self._definitions(types, "v2")
        items = paths.root_paths("api") + paths.root_paths("apis") + paths.root_paths("version")
        for group, versions in self.registry.groups().items():
            if group:
                items += paths.group_paths(group)
            for version in versions:
                items += paths.group_version_paths(
                    group, version, self.registry.group_version_resources(group, version),
                    definition_of, is_builtin)
        return v2.document(items, defs, version=SCHEMA_VERSION)

    def v2_protobuf(self) -> tuple[bytes, str]:
        """``/openapi/v2`` as the gnostic OpenAPIv2 ``Document`` message, with its ETag."""
        with self._lock:
            body, tag = self.v2_json()
            key = self._v2_key()
            if self._v2_pb is not None and self._v2_pb[0] == key:
                return self._v2_pb[1], tag
            pb = protobuf_v2.encode_document(orjson.loads(body))
            self._v2_pb = (key, pb)
            return pb, tag
