"""The garbage collector's owner/dependent graph and its decisions — pure, no I/O.

``Graph`` holds one ``Node`` per uid seen, either *observed* (an informer delivered the
object) or *virtual* (only named by some dependent's ownerReference; its existence must
be checked against the API server). Edges go from an owner to the uids of its dependents.
``observe(obj)`` (add/update events), ``forget(obj)`` (delete events) and
``forget_virtual(uid)`` (a virtual owner found absent) update the graph and return the
``Work`` the change calls for, as upstream's graph builder does:

* a new virtual owner is checked (``delete`` queue);
* a removed node's dependents are re-examined, and its uid is known absent;
* owners waiting in foreground deletion are re-examined whenever a dependent goes away,
  drops its reference or its blockOwnerDeletion;
* an object being deleted with the ``orphan`` finalizer goes to the ``orphan`` queue; one
  with ``foregroundDeletion`` is re-examined, and its dependents too when it enters that
  state.

Invariants: every uid in some ``node.dependents`` names a node in the graph whose
``owners`` reference that owner; a virtual node always has at least one dependent (it is
dropped with its last one).

``decide(item, owner_states, ...)`` is upstream's ``attemptToDeleteItem`` verdict for one
object given each owner's state (solid, dangling — absent or a different uid —, or waiting
for its dependents' deletion); ``decide_deleting_dependents`` is the verdict for an owner in
foreground deletion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass(frozen=True, slots=True)
class Identity:
    """An object's coordinates: ownerReference fields plus the namespace."""
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""


@dataclass(slots=True)
class Node:
    identity: Identity
    observed: bool = False
    owners: list[Obj] = field(default_factory=list)  # the object's ownerReferences
    dependents: set[str] = field(default_factory=set)
    being_deleted: bool = False
    deleting_dependents: bool = False  # deletionTimestamp + foregroundDeletion
    orphaning: bool = False  # deletionTimestamp + orphan
    resource: Any = None  # which informer delivered it (the controller's key)


@dataclass
class Work:
    delete: list[str] = field(default_factory=list)  # uids to attempt to delete/verify
    orphan: list[str] = field(default_factory=list)  # uids whose dependents to orphan
    absent: list[str] = field(default_factory=list)  # uids now known not to exist

    def extend(self, other: "Work") -> None:
        self.delete += other.delete
        self.orphan += other.orphan
        self.absent += other.absent


def identity_of(obj: Mapping[str, Any]) -> Identity:
    meta = obj.get("metadata") or {}
    return Identity(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""),
                    str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                    str(meta.get("uid") or ""))


def owner_identity(ref: Mapping[str, Any], namespace: str) -> Identity:
    """A referenced owner's identity: a namespaced owner lives in its dependent's namespace."""
    return Identity(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), namespace,
                    str(ref.get("name") or ""), str(ref.get("uid") or ""))


def owner_references(obj: Mapping[str, Any]) -> list[Obj]:
    """The object's ownerReferences with a uid, first occurrence of each uid kept."""
    seen: set[str] = set()
    out: list[Obj] = []
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        uid = ref.get("uid") if isinstance(ref, dict) else None
        if uid and uid not in seen:
            seen.add(uid)
            out.append(ref)
    return out


class Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    # ------------------------------------------------------------------ events

    def observe(self, obj: Mapping[str, Any], resource: Any = None) -> Work:
        """An object was added or updated."""
        work = Work()
        ident = identity_of(obj)
        uid = ident.uid
        if not uid:
            return work
        meta = obj.get("metadata") or {}
        node = self.nodes.get(uid)
        old_refs: list[Obj] = []
        was_deleting_dependents = False
        if node is None:
            node = Node(ident, observed=True)
            self.nodes[uid] = node
        elif not node.observed:
            if (node.identity.kind, node.identity.name) != (ident.kind, ident.name) or \
                    node.identity.group != ident.group:
                work.delete += sorted(node.dependents)  # they named it wrongly: re-check
            node.identity = ident
            node.observed = True
        else:
            node.identity = ident
            old_refs = node.owners
            was_deleting_dependents = node.deleting_dependents
        finalizers = meta.get("finalizers") or []
        node.resource = resource
        node.being_deleted = bool(meta.get("deletionTimestamp"))
        node.deleting_dependents = node.being_deleted and FOREGROUND in finalizers
        node.orphaning = node.being_deleted and ORPHAN in finalizers
        new_refs = owner_references(obj)
        self._relink(node, old_refs, new_refs, work)
        node.owners = new_refs
        if node.orphaning:
            work.orphan.append(uid)
        if node.deleting_dependents:
            work.delete.append(uid)
            if not was_deleting_dependents:
                work.delete += sorted(node.dependents)
        return work

    def forget(self, obj: Mapping[str, Any]) -> Work:
        """An object was deleted."""
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        node = self.nodes.get(uid)
        work = Work()
        if node is None or not node.observed:
            return work
        del self.nodes[uid]
        self._unlink_owners(node, work)
        if node.dependents:
            work.absent.append(uid)
            work.delete += sorted(node.dependents)
        return work

    def forget_virtual(self, uid: str) -> Work:
        """A virtual owner does not exist (or exists with another uid)."""
        node = self.nodes.get(uid)
        work = Work(absent=[uid])
        if node is None or node.observed:
            return work
        del self.nodes[uid]
        work.delete += sorted(node.dependents)
        return work

    # ------------------------------------------------------------------ queries

    def blocking_dependents(self, uid: str) -> list[Node]:
        """Dependents whose reference to ``uid`` has blockOwnerDeletion: true."""
        node = self.nodes.get(uid)
        if node is None:
            return []
        out = []
        for dep_uid in sorted(node.dependents):
            dep = self.nodes.get(dep_uid)
            if dep is not None and any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                                       for r in dep.owners):
                out.append(dep)
        return out

    def dependents(self, uid: str) -> list[Node]:
        node = self.nodes.get(uid)
        if node is None:
            return []
        return [self.nodes[d] for d in sorted(node.dependents) if d in self.nodes]

    # ------------------------------------------------------------------ edges

    def _relink(self, node: Node, old_refs: list[Obj], new_refs: list[Obj], work: Work) -> None:
        uid = node.identity.uid
        old = {r["uid"]: r for r in old_refs}
        new = {r["uid"]: r for r in new_refs}
        for owner_uid in old.keys() - new.keys():
            self._drop_dependent(owner_uid, uid, work)
        for owner_uid, ref in new.items():
            owner = self.nodes.get(owner_uid)
            if owner_uid not in old:
                if owner is None:
                    owner = Node(owner_identity(ref, node.identity.namespace))
                    self.nodes[owner_uid] = owner
                    work.delete.append(owner_uid)  # does it exist?
                owner.dependents.add(uid)
                if owner.deleting_dependents:
                    work.delete += [uid, owner_uid]
            elif owner is not None and old[owner_uid].get("blockOwnerDeletion") and \
                    not ref.get("blockOwnerDeletion") and owner.deleting_dependents:
                work.delete.append(owner_uid)

    def _unlink_owners(self, node: Node, work: Work) -> None:
        for ref in node.owners:
            self._drop_dependent(ref["uid"], node.identity.uid, work)

    def _drop_dependent(self, owner_uid: str, dep_uid: str, work: Work) -> None:
        owner = self.nodes.get(owner_uid)
        if owner is None:
            return
        owner.dependents.discard(dep_uid)
        if owner.deleting_dependents:
            work.delete.append(owner_uid)
        if not owner.observed and not owner.dependents:
            del self.nodes[owner_uid]


# ---------------------------------------------------------------------------- decisions

class OwnerState(Enum):
    SOLID = "solid"  # exists with the referenced uid
    DANGLING = "dangling"  # absent, or the name now belongs to another uid
    WAITING = "waiting"  # exists, being deleted in the foreground (waits for dependents)


@dataclass(frozen=True)
class Decision:
    """What to do with one object.

    ``action``: ``none``; ``remove-finalizer`` (``finalizer``); ``attempt`` (re-examine
    ``uids``); ``remove-owners`` (drop the references to ``uids`` from the object);
    ``delete`` with ``policy`` (after setting blockOwnerDeletion false on all its
    references when ``unblock``)."""
    action: str
    policy: str = ""
    uids: tuple[str, ...] = ()
    finalizer: str = ""
    unblock: bool = False


NOTHING = Decision("none")


def deletion_policy(item: Mapping[str, Any]) -> str:
    finalizers = (item.get("metadata") or {}).get("finalizers") or []
    if ORPHAN in finalizers:
        return "Orphan"
    if FOREGROUND in finalizers:
        return "Foreground"
    return "Background"


def decide_deleting_dependents(graph: Graph, uid: str) -> Decision:
    """An owner in foreground deletion: done when no dependent blocks it, else push the
    blocking dependents (those not themselves waiting on theirs) towards deletion."""
    blocking = graph.blocking_dependents(uid)
    if not blocking:
        return Decision("remove-finalizer", finalizer=FOREGROUND)
    pending = tuple(d.identity.uid for d in blocking if not d.deleting_dependents)
    return Decision("attempt", uids=pending) if pending else NOTHING


def decide(item: Mapping[str, Any], owner_states: Mapping[str, OwnerState], *,
           has_dependents: bool = False, dependent_deleting_dependents: bool = False) -> Decision:
    """The verdict for an object that is not itself waiting on its dependents.
    ``owner_states`` maps each referenced owner uid to its state."""
    meta = item.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return NOTHING  # already going; foreground owners use decide_deleting_dependents
    refs = owner_references(item)
    if not refs:
        return NOTHING
    solid = [r["uid"] for r in refs if owner_states.get(r["uid"]) == OwnerState.SOLID]
    dangling = [r["uid"] for r in refs if owner_states.get(r["uid"]) == OwnerState.DANGLING]
    waiting = [r["uid"] for r in refs if owner_states.get(r["uid"]) == OwnerState.WAITING]
    if len(solid) + len(dangling) + len(waiting) < len(refs):
        return NOTHING  # an owner's state is unknown: decide nothing
    if solid:
        if dangling or waiting:
            return Decision("remove-owners", uids=tuple(dangling + waiting))
        return NOTHING
    if waiting and has_dependents:
        return Decision("delete", policy="Foreground", unblock=dependent_deleting_dependents)
    return Decision("delete", policy=deletion_policy(item))


def without_owners(refs: Iterable[Mapping[str, Any]], uids: Iterable[str]) -> list[Obj]:
    drop = set(uids)
    return [dict(r) for r in refs if r.get("uid") not in drop]


def unblocked(refs: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The references with blockOwnerDeletion switched off (breaks foreground cycles)."""
    return [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else dict(r)
            for r in refs]
