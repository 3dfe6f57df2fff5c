"""Pulling images into the store, and the imagePullPolicy decision.

``pull_action`` is the kubelet's table: Always pulls (the registry is asked for the manifest
every time; layers already present are not fetched again), IfNotPresent pulls only a missing
image, Never uses a present image or fails with ErrImageNeverPull. ``default_pull_policy`` is
the API defaulting (Always for ``:latest`` or no tag, else IfNotPresent). ``pull_image`` fetches
manifest (choosing linux/amd64 from an index), config and missing layer blobs, verifies every
digest, unpacks and records the image, reporting progress through a callback.
"""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from typing import Any, Awaitable, Callable

from kubepy.kubelet.images import manifest as mf
from kubepy.kubelet.images.reference import Reference, parse_reference
from kubepy.kubelet.images.registry import RegistryClient
from kubepy.kubelet.images.store import Image, ImageStore

PullPolicy = str  # "Always" | "IfNotPresent" | "Never"
ProgressCallback = Callable[[dict[str, Any]], Awaitable[None] | None]


class PullAction(Enum):
    USE_PRESENT = "UsePresent"
    PULL = "Pull"
    NEVER_PULL_ERROR = "ErrImageNeverPull"


def default_pull_policy(image: str) -> PullPolicy:
    """The API default for containers[].imagePullPolicy."""
    ref = parse_reference(image)
    return "Always" if ref.digest is None and ref.tag == "latest" else "IfNotPresent"


def pull_action(policy: PullPolicy, *, present: bool) -> PullAction:
    if policy == "Always":
        return PullAction.PULL
    if policy == "Never":
        return PullAction.USE_PRESENT if present else PullAction.NEVER_PULL_ERROR
    if policy in ("IfNotPresent", ""):
        return PullAction.USE_PRESENT if present else PullAction.PULL
    raise ValueError(f"unknown imagePullPolicy {policy!r}")


def never_pull_message(image: str) -> str:
    return f'Container image "{image}" is not present with pull policy of Never'


async def _emit(progress: ProgressCallback | None, event: dict[str, Any]) -> None:
    if progress is not None:
        result = progress(event)
        if result is not None:
            await result


async def pull_image(store: ImageStore, client: RegistryClient, image: str, *,
                     progress: ProgressCallback | None = None, platform: dict[str, str] | None = None) -> Image:
    """Pull ``image`` into ``store`` and return its record.

    Progress events: {"phase": "resolved", "digest", "layers": [...sizes]}, then per blob
    {"phase": "downloading", "digest", "current", "total"} and {"phase": "downloaded", "digest"},
    {"phase": "unpacking"} and finally {"phase": "done", "id"}. Raises RegistryError,
    ManifestError, LayerError, InvalidReference.
    """
    ref = parse_reference(image)
    body, content_type, digest = await client.get_manifest(ref)
    index_digest = None
    document = json.loads(body)
    if mf.is_index(document, content_type):
        index_digest = digest
        await asyncio.to_thread(store.write_blob, body, digest)
        chosen = mf.select_platform(document, platform)
        body, content_type, digest = await client.get_manifest(ref, chosen["digest"])
        document = json.loads(body)
    manifest = mf.parse_manifest(document, content_type)
    await _emit(progress, {"phase": "resolved", "digest": digest,
                           "layers": [layer.get("size", 0) for layer in manifest["layers"]]})
    for descriptor in [manifest["config"], *manifest["layers"]]:
        await _fetch(store, client, ref, descriptor, progress)
    await asyncio.to_thread(store.write_blob, body, digest)
    await _emit(progress, {"phase": "unpacking", "digest": digest})
    record = await asyncio.to_thread(store.add_image, [ref], digest,
                                     manifest["config"]["digest"], index_digest=index_digest)
    await _emit(progress, {"phase": "done", "id": record["id"]})
    return record


async def _fetch(store: ImageStore, client: RegistryClient, ref: Reference, descriptor: mf.Descriptor,
                 progress: ProgressCallback | None) -> None:
    digest = descriptor["digest"]
    if store.has_blob(digest):
        await _emit(progress, {"phase": "downloaded", "digest": digest, "cached": True})
        return
    total = descriptor.get("size", 0)
    current = 0

    async def advance(n: int) -> None:
        nonlocal current
        current += n
        await _emit(progress, {"phase": "downloading", "digest": digest, "current": current, "total": total})

    writer = store.blob_writer(digest)
    try:
        await client.fetch_blob(ref, digest, writer, progress=advance if progress else None)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    await _emit(progress, {"phase": "downloaded", "digest": digest})
