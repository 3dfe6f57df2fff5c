"""The informer's cache: a thread-unsafe (single event loop) indexed store of objects by key.

Keys are ``namespace/name`` for namespaced objects and ``name`` otherwise (client-go's
``MetaNamespaceKeyFunc``). An index function maps an object to the list of values it is
filed under; ``by_index(index, value)`` returns the objects filed under ``value``.

Cached objects are shared by every reader and are immutable by contract: never change a
dict (or anything inside it) that came out of a store — copy it first
(``copy.deepcopy`` or build a new dict) and send the copy to the API server. The informer
replaces objects wholesale, it never edits them in place.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable, Iterable

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]

NAMESPACE_INDEX = "namespace"
OWNER_UID_INDEX = "owner-uid"


def meta_key(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[str | None, str]:
    """``"ns/name"`` -> ``("ns", "name")``; ``"name"`` -> ``(None, "name")``."""
    if "/" in key:
        ns, name = key.split("/", 1)
        return ns, name
    return None, key


def namespace_index(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def owner_uid_index(obj: Obj) -> list[str]:
    """The uid of every ownerReference (use ``controller_owner_uid_index`` for the
    controller only)."""
    return [ref["uid"] for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
            if ref.get("uid")]


def controller_owner_uid_index(obj: Obj) -> list[str]:
    return [ref["uid"] for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
            if ref.get("uid") and ref.get("controller")]


ORPHAN_NAMESPACE_INDEX = "orphan-namespace"


def orphan_namespace_index(obj: Obj) -> list[str]:
    """The namespace of an object no controller owns (candidates for adoption)."""
    meta = obj.get("metadata") or {}
    if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
        return []
    return [meta.get("namespace") or ""]


class Store:
    """Objects by key, with secondary indexes kept in step on every write."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    # -- reads (``list`` names a method in this class: annotations say ``builtins.list``)
    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by_name(self, namespace: str | None, name: str) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> builtins.list[Obj]:
        return list(self._items.values())

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, index: str, value: str) -> builtins.list[Obj]:
        if index not in self._indexers:
            raise KeyError(f"no index {index!r}")
        return [self._items[k] for k in sorted(self._indices[index].get(value, ()))]

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        if index not in self._indexers:
            raise KeyError(f"no index {index!r}")
        return sorted(self._indices[index].get(value, ()))

    # -- indexes
    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Add an index (existing objects are indexed at once); re-adding a name replaces it."""
        self._indexers[name] = fn
        self._indices[name] = {}
        for key, obj in self._items.items():
            self._file(name, key, obj)

    @property
    def indexers(self) -> dict[str, IndexFunc]:
        return dict(self._indexers)

    # -- writes (the informer's)
    def put(self, key: str, obj: Obj) -> Obj | None:
        """Store ``obj`` under ``key``; return the object it replaced."""
        old = self._items.get(key)
        if old is not None:
            self._unfile_all(key, old)
        self._items[key] = obj
        for name in self._indexers:
            self._file(name, key, obj)
        return old

    def delete(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unfile_all(key, old)
        return old

    def replace(self, items: Iterable[tuple[str, Obj]]) -> None:
        self._items = {}
        self._indices = {name: {} for name in self._indexers}
        for key, obj in items:
            self.put(key, obj)

    def _file(self, index: str, key: str, obj: Obj) -> None:
        for value in self._indexers[index](obj):
            self._indices[index].setdefault(value, set()).add(key)

    def _unfile_all(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            bucket = self._indices[name]
            for value in fn(obj):
                keys = bucket.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del bucket[value]
