"""API discovery for the controllers that act on every resource type: the namespace
controller (deletes every namespaced object) and the garbage collector (watches every
deletable resource). Custom resources exist only in the API server's discovery, never in
this process's registry, so both ask the server (client-go's ``ServerPreferredResources``).

Pure part: ``parse_resource_list`` turns one ``APIResourceList`` into ``ResourceType``s
(subresources such as ``pods/status`` skipped; built-in types come from the registry table,
with the verbs discovery reports; others are built from the entry and marked ``custom``);
``preferred_group_versions`` picks each group's preferred version from an ``APIGroupList``;
``with_verbs`` filters.

I/O part: ``discover(client)`` reads ``/api/v1``, ``/apis`` and each preferred
``/apis/<group>/<version>`` concurrently and returns a ``DiscoveryResult``: the resources
found plus the group versions that failed (a failing group never hides the others, as
``ErrGroupDiscoveryFailed`` does not). ``kind_index`` maps (group, kind) to the preferred
resource, the REST mapping ownerReferences need.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from kubepy.api.registry import Registry, ResourceType

Obj = dict[str, Any]

_REGISTRY = Registry()


@dataclass
class DiscoveryResult:
    resources: list[ResourceType] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # groupVersion -> error message

    def error_message(self) -> str:
        """client-go's ErrGroupDiscoveryFailed text, or "" when nothing failed."""
        if not self.failed:
            return ""
        parts = ", ".join(f"{gv}: {msg}" for gv, msg in sorted(self.failed.items()))
        return f"unable to retrieve the complete list of server APIs: {parts}"


def split_group_version(group_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    if "/" in group_version:
        group, version = group_version.split("/", 1)
        return group, version
    return "", group_version


def parse_resource_list(doc: Mapping[str, Any]) -> list[ResourceType]:
    """The top-level resources of one ``APIResourceList``."""
    group, version = split_group_version(str(doc.get("groupVersion") or ""))
    found: list[ResourceType] = []
    for entry in doc.get("resources") or []:
        plural = str(entry.get("name") or "")
        if not plural or "/" in plural:
            continue
        verbs = tuple(entry.get("verbs") or ())
        known = _REGISTRY.get(group, version, plural)
        if known is not None and not known.custom:
            found.append(known if known.verbs == verbs else replace(known, verbs=verbs))
            continue
        found.append(ResourceType(group, version, plural, str(entry.get("kind") or ""),
                                  bool(entry.get("namespaced")),
                                  str(entry.get("singularName") or ""),
                                  tuple(entry.get("shortNames") or ()),
                                  tuple(entry.get("categories") or ()), verbs, custom=True))
    return found


def preferred_group_versions(group_list: Mapping[str, Any]) -> list[str]:
    """Each group's preferred ``group/version`` from an ``APIGroupList``."""
    out: list[str] = []
    for group in group_list.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if not preferred:
            versions = group.get("versions") or []
            preferred = versions[0].get("groupVersion") if versions else None
        if preferred:
            out.append(str(preferred))
    return out


def with_verbs(resources: Iterable[ResourceType], *verbs: str,
               namespaced: bool | None = None) -> list[ResourceType]:
    """The resources that support every verb (and have the scope, when given)."""
    return [rt for rt in resources if all(v in rt.verbs for v in verbs)
            and (namespaced is None or rt.namespaced == namespaced)]


def kind_index(resources: Iterable[ResourceType]) -> dict[tuple[str, str], ResourceType]:
    """(group, kind) -> resource; the first resource of a kind wins (the preferred one)."""
    index: dict[tuple[str, str], ResourceType] = {}
    for rt in resources:
        index.setdefault((rt.group, rt.kind), rt)
    return index


async def discover(client: Any) -> DiscoveryResult:
    """Every preferred-version resource the server serves (``client`` is an ApiClient)."""
    result = DiscoveryResult()
    paths = ["/api/v1"]
    try:
        paths += [f"/apis/{gv}" for gv in preferred_group_versions(await client.request(
            "GET", "/apis"))]
    except Exception as e:  # noqa: BLE001 - reported, the core group is still served
        result.failed["apis"] = str(e)
    answers = await asyncio.gather(*(client.request("GET", p) for p in paths),
                                   return_exceptions=True)
    for path, answer in zip(paths, answers):
        gv = path.removeprefix("/apis/").removeprefix("/api/")
        if isinstance(answer, BaseException):
            result.failed[gv] = str(answer)
        elif isinstance(answer, dict):
            result.resources.extend(parse_resource_list(answer))
        else:
            result.failed[gv] = f"unexpected discovery answer {answer!r:.80}"
    return result
