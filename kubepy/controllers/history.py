"""ControllerRevisions: the recorded history of a StatefulSet's or DaemonSet's pod template
(pkg/controller/history's contract, written anew).

* The data of a revision is the owner's template as a strategic-merge patch that replaces
  it: ``{"spec": {"template": {..., "$patch": "replace"}}}``.
* Its name is ``<owner>-<hash>`` (owner name cut to 223 characters), where ``hash`` is the
  32-bit FNV-1 of the data's JSON (Go encoding: sorted keys, compact, HTML-escaped) plus,
  when the owner has a ``status.collisionCount``, that number in decimal, written through
  ``rand.SafeEncodeString`` (digits mapped to consonants and digits so no word is spelt).
* Revision numbers grow by one; a template that returns to an earlier revision's data
  reuses that revision and bumps its number to the next one.
* Beyond ``revisionHistoryLimit``, the oldest revisions no live pod uses are deleted.

The pure part takes and returns dicts; ``ensure_revision`` and ``prune_revisions`` do the
API writes (create with collision handling, renumber, delete).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterable

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.controllers.podcontrol import controller_ref

Obj = dict[str, Any]

CONTROLLER_REVISIONS: ResourceType = Registry().get("apps", "v1", "controllerrevisions")  # type: ignore[assignment]
CONTROLLER_REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
POD_REVISION_LABEL = "controller-revision-hash"  # apps/v1 ControllerRevisionHashLabelKey
_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
MAX_PREFIX = 223


def go_json(obj: Any) -> bytes:
    """JSON bytes as Go's encoding/json writes a map: sorted keys, no spaces, and <, >, &,
    U+2028, U+2029 escaped."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


def fnv32(data: bytes) -> int:
    """FNV-1 (multiply then xor), 32 bits: Go's hash/fnv New32."""
    h = 0x811C9DC5
    for b in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return h


def safe_encode_string(text: str) -> str:
    return "".join(_SAFE_ALPHANUMS[ord(ch) % len(_SAFE_ALPHANUMS)] for ch in text)


def hash_revision_data(data: Obj, collision_count: int | None) -> str:
    raw = go_json(data)
    if collision_count is not None:
        raw += str(collision_count).encode()
    return safe_encode_string(str(fnv32(raw)))


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:MAX_PREFIX]}-{hash_}"


def template_patch(owner: Obj) -> Obj:
    """The revision data for an owner: its pod template as a replacing patch."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: Obj) -> Obj:
    """The pod template a revision recorded (``$patch`` directive removed)."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template")
                             or {})
    template.pop("$patch", None)
    return template


def new_revision(owner: Obj, *, api_version: str, kind: str, revision: int,
                 collision_count: int | None, hash_label: str = CONTROLLER_REVISION_HASH_LABEL
                 ) -> Obj:
    """A ControllerRevision for the owner's current template (not yet created)."""
    data = template_patch(owner)
    hash_ = hash_revision_data(data, collision_count)
    labels = dict((((owner.get("spec") or {}).get("template") or {}).get("metadata") or {})
                  .get("labels") or {})
    labels[hash_label] = hash_
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": revision_name(owner["metadata"]["name"], hash_),
                         "namespace": owner["metadata"].get("namespace"),
                         "labels": labels,
                         "ownerReferences": [controller_ref(owner, api_version=api_version,
                                                            kind=kind)]},
            "data": data, "revision": revision}


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """By revision number, then creation time, then name (oldest first)."""
    return sorted(revisions, key=lambda r: (int(r.get("revision") or 0),
                                            r["metadata"].get("creationTimestamp") or "",
                                            r["metadata"]["name"]))


def next_revision_number(revisions: Iterable[Obj]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def equal_revisions(revisions: Iterable[Obj], data: Obj) -> list[Obj]:
    """The revisions (in the given order) whose data equals ``data``."""
    return [r for r in revisions if r.get("data") == data]


def owned_revisions(revisions: Iterable[Obj], owner_uid: str) -> list[Obj]:
    """Revisions controlled by the owner, or by nobody (candidates for adoption)."""
    out = []
    for r in revisions:
        refs = [ref for ref in r["metadata"].get("ownerReferences") or [] if ref.get("controller")]
        if not refs or refs[0].get("uid") == owner_uid:
            out.append(r)
    return out


def revisions_to_prune(revisions: Iterable[Obj], live: set[str], limit: int) -> list[Obj]:
    """Oldest-first revisions to delete so that at most ``limit`` revisions not named in
    ``live`` (current/update revisions and those live pods use) remain."""
    history = [r for r in sort_revisions(revisions) if r["metadata"]["name"] not in live]
    excess = len(history) - max(0, limit)
    return history[:excess] if excess > 0 else []


def plan_update_revision(owner: Obj, revisions: list[Obj], *, api_version: str, kind: str,
                         hash_label: str = CONTROLLER_REVISION_HASH_LABEL
                         ) -> tuple[Obj, str]:
    """What to do for the owner's current template: ``(revision, action)`` where action is
    "keep" (an equal revision is already the newest), "renumber" (an older equal revision
    gets the next number: ``revision`` carries it) or "create"."""
    history = sort_revisions(revisions)
    number = next_revision_number(history)
    status = owner.get("status") or {}
    candidate = new_revision(owner, api_version=api_version, kind=kind, revision=number,
                             collision_count=status.get("collisionCount"), hash_label=hash_label)
    equal = equal_revisions(history, candidate["data"])
    if equal:
        found = equal[-1]
        if history and found["metadata"]["name"] == history[-1]["metadata"]["name"]:
            return found, "keep"
        renumbered = copy.deepcopy(found)
        renumbered["revision"] = number
        return renumbered, "renumber"
    return candidate, "create"


# ------------------------------------------------------------------ API writes

async def ensure_revision(client: Any, owner: Obj, revisions: list[Obj], *, api_version: str,
                          kind: str, hash_label: str = CONTROLLER_REVISION_HASH_LABEL
                          ) -> tuple[Obj, int | None]:
    """Make a revision for the owner's current template exist and be the newest; returns it
    and the collisionCount to record (changed only after a name collision)."""
    revision, action = plan_update_revision(owner, revisions, api_version=api_version,
                                            kind=kind, hash_label=hash_label)
    collision = (owner.get("status") or {}).get("collisionCount")
    ns = owner["metadata"].get("namespace")
    if action == "keep":
        return revision, collision
    if action == "renumber":
        return await client.update(CONTROLLER_REVISIONS, revision), collision
    for _ in range(100):
        try:
            return await client.create(CONTROLLER_REVISIONS, revision, ns), collision
        except errors.AlreadyExists:
            existing = await client.get(CONTROLLER_REVISIONS, revision["metadata"]["name"], ns)
            if existing.get("data") == revision["data"] and \
                    (existing["metadata"].get("ownerReferences") or [{}])[0].get("uid") == \
                    owner["metadata"]["uid"]:
                return existing, collision
            collision = (collision or 0) + 1
            patched = copy.deepcopy(owner)
            patched.setdefault("status", {})["collisionCount"] = collision
            revision = new_revision(patched, api_version=api_version, kind=kind,
                                    revision=revision["revision"], collision_count=collision,
                                    hash_label=hash_label)
    raise errors.Conflict(f"no free ControllerRevision name for {owner['metadata']['name']}")


async def prune_revisions(client: Any, revisions: list[Obj], live: set[str],
                          limit: int) -> None:
    for revision in revisions_to_prune(revisions, live, limit):
        try:
            await client.delete(CONTROLLER_REVISIONS, revision["metadata"]["name"],
                                revision["metadata"].get("namespace"))
        except errors.NotFound:
            pass
