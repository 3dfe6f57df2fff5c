"""The Store protocol: a revisioned key/value store with the etcd v3 data model.

Every write gets the next integer revision of the whole store (etcd's ``header.revision``).
A key carries ``create_revision``, ``mod_revision`` and ``version`` (writes since creation).
Writes are compare-and-swap on ``mod_revision``; watches stream every change after a given
revision in commit order; ``compact(rev)`` forgets history older than ``rev``.

The apiserver uses ``mod_revision`` as the object's resourceVersion. Backends: SQLite
(``kubepy.storage.sqlite``, the embedded default) and, later, a real etcd v3 cluster; the
shape of this protocol is chosen so that each method maps onto one etcd transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import AsyncIterator, Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int  # 1 on create, +1 on each update


class EventType(enum.Enum):
    PUT = "PUT"  # create or update (``prev`` is None on create)
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    kv: KeyValue  # on DELETE: the key with the deleted value, mod_revision = the delete's revision
    prev: KeyValue | None  # the value before this event (None for a create)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    revision: int  # the store revision the range was read at
    more: bool  # True when ``limit`` cut the result


class StoreError(Exception):
    """Base of the store's own errors; the apiserver maps them onto Status errors."""


class KeyExistsError(StoreError):
    """create() of a key that exists."""


class KeyNotFoundError(StoreError):
    """update()/delete() of a key that does not exist."""


class RevisionMismatchError(StoreError):
    """CAS failure: the key's mod_revision is not the expected one. ``current`` is the live kv."""

    def __init__(self, current: KeyValue):
        super().__init__(f"{current.key}: mod_revision is {current.mod_revision}")
        self.current = current


class CompactedError(StoreError):
    """The requested revision is older than the compacted revision (apiserver: 410 Expired)."""

    def __init__(self, requested: int, compacted: int):
        super().__init__(f"revision {requested} has been compacted (oldest is {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StoreError):
    """The requested revision is newer than the store's current revision."""


class Store(Protocol):
    """What every backend provides. All methods are safe to call concurrently."""

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Create ``key``; raise KeyExistsError when it exists. Returns the stored kv."""
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        """Replace ``key`` iff its mod_revision equals ``expected_revision``.

        Raises KeyNotFoundError when absent, RevisionMismatchError on a CAS failure.
        """
        ...

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        """Delete ``key`` (iff its mod_revision matches, when given). Returns the deleted kv
        with ``mod_revision`` set to the revision of the delete."""
        ...

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        """The key at ``revision`` (0 = latest). Raises CompactedError/FutureRevisionError."""
        ...

    async def range(self, prefix: str, *, start_after: str = "", limit: int = 0,
                    revision: int = 0) -> RangeResult:
        """Live keys starting with ``prefix`` and sorting after ``start_after``, in key order,
        at ``revision`` (0 = latest), at most ``limit`` (0 = all)."""
        ...

    async def count(self, prefix: str) -> int:
        """Number of live keys under ``prefix`` at the latest revision."""
        ...

    def watch(self, prefix: str, *, start_revision: int) -> AsyncIterator[Event]:
        """Every event on keys under ``prefix`` with revision >= ``start_revision``, in commit
        order, then live events as they commit. Raises CompactedError (on first iteration)
        when ``start_revision`` is older than the compacted revision. The iterator ends only
        when the consumer closes it or the store closes."""
        ...

    async def current_revision(self) -> int:
        ...

    async def compacted_revision(self) -> int:
        ...

    async def compact(self, revision: int) -> None:
        """Forget every superseded or deleted value older than ``revision``."""
        ...

    async def close(self) -> None:
        ...
