"""Manifests, indexes and image configs (OCI image spec and Docker schema 2), as pure data.

A registry or archive answers with either an image manifest (config + ordered layers) or an
index / manifest list (one manifest per platform); ``select_platform`` picks the entry for the
node's platform (linux/amd64 by default). ``parse_manifest`` and ``parse_image_config`` check
the shape and return plain dicts with the fields the kubelet uses. Layer identity follows the
OCI spec: ``diff_ids`` are digests of the uncompressed layer tars (from the config),
``chain_ids`` name a layer together with everything beneath it.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypedDict

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
# What a client sends as Accept: every manifest and index type it understands.
ACCEPT = ", ".join(MANIFEST_TYPES + INDEX_TYPES)

LAYER_COMPRESSION: dict[str, str] = {
    "application/vnd.oci.image.layer.v1.tar": "none",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "none",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}

DEFAULT_PLATFORM = {"os": "linux", "architecture": "amd64"}


class ManifestError(ValueError):
    """A manifest, index or config that cannot be used."""


class Descriptor(TypedDict, total=False):
    mediaType: str
    digest: str
    size: int
    platform: dict[str, Any]
    annotations: dict[str, str]


class Manifest(TypedDict):
    mediaType: str
    config: Descriptor
    layers: list[Descriptor]


class ImageConfig(TypedDict):
    """The parts of an image config that run a container, plus layer identity."""

    entrypoint: list[str]
    cmd: list[str]
    env: list[str]
    working_dir: str
    user: str
    diff_ids: list[str]
    os: str
    architecture: str
    exposed_ports: list[str]
    labels: dict[str, str]


def media_type(document: dict[str, Any], content_type: str | None = None) -> str:
    """The media type of a manifest document: its own field, else the HTTP Content-Type, else a guess."""
    declared = document.get("mediaType") or ""
    if declared:
        return declared
    if content_type and content_type.split(";")[0].strip() in MANIFEST_TYPES + INDEX_TYPES:
        return content_type.split(";")[0].strip()
    if "manifests" in document:
        return OCI_INDEX
    if "layers" in document and "config" in document:
        return OCI_MANIFEST
    raise ManifestError(f"unsupported manifest (schemaVersion {document.get('schemaVersion')})")


def is_index(document: dict[str, Any], content_type: str | None = None) -> bool:
    return media_type(document, content_type) in INDEX_TYPES


def _descriptor(d: Any, what: str) -> Descriptor:
    if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or ":" not in d["digest"]:
        raise ManifestError(f"{what}: descriptor without a digest")
    return d  # type: ignore[return-value]


def parse_manifest(document: dict[str, Any], content_type: str | None = None) -> Manifest:
    """Check an image manifest; raises ManifestError for indexes, schema 1 and malformed ones."""
    kind = media_type(document, content_type)
    if kind not in MANIFEST_TYPES:
        raise ManifestError(f"not an image manifest: {kind}")
    if document.get("schemaVersion") != 2:
        raise ManifestError(f"unsupported schemaVersion {document.get('schemaVersion')!r}")
    config = _descriptor(document.get("config"), "config")
    layers = document.get("layers")
    if not isinstance(layers, list):
        raise ManifestError("manifest without layers")
    parsed = [_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    for i, layer in enumerate(parsed):
        if layer.get("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip") not in LAYER_COMPRESSION:
            raise ManifestError(f"layers[{i}]: unsupported media type {layer.get('mediaType')}")
    return {"mediaType": kind, "config": config, "layers": parsed}


def _platform_matches(platform: dict[str, Any], want: dict[str, Any]) -> bool:
    if platform.get("os") != want.get("os") or platform.get("architecture") != want.get("architecture"):
        return False
    return not want.get("variant") or platform.get("variant") in (None, "", want["variant"])


def select_platform(index: dict[str, Any], platform: dict[str, Any] | None = None) -> Descriptor:
    """The index entry for ``platform`` (default linux/amd64); raises ManifestError when none fits.

    Entries without a platform (attestations, unknown) are skipped; among matching entries the
    first wins, as in containerd.
    """
    want = platform or DEFAULT_PLATFORM
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ManifestError("index without manifests")
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and _platform_matches(entry.get("platform") or {}, want):
            return _descriptor(entry, f"manifests[{i}]")
    wanted = f"{want['os']}/{want['architecture']}" + (f"/{want['variant']}" if want.get("variant") else "")
    raise ManifestError(f"no matching manifest for {wanted} in the manifest list entries")


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"config.{field} must be a list of strings")
    return list(value)


def parse_image_config(document: dict[str, Any]) -> ImageConfig:
    """The runtime settings and diff_ids of an image config blob."""
    config = document.get("config") or {}
    rootfs = document.get("rootfs") or {}
    if rootfs.get("type", "layers") != "layers":
        raise ManifestError(f"unsupported rootfs type {rootfs.get('type')!r}")
    return {
        "entrypoint": _strings(config.get("Entrypoint"), "Entrypoint"),
        "cmd": _strings(config.get("Cmd"), "Cmd"),
        "env": _strings(config.get("Env"), "Env"),
        "working_dir": config.get("WorkingDir") or "",
        "user": config.get("User") or "",
        "diff_ids": _strings(rootfs.get("diff_ids"), "rootfs.diff_ids"),
        "os": document.get("os") or "linux",
        "architecture": document.get("architecture") or "amd64",
        "exposed_ports": sorted((config.get("ExposedPorts") or {}).keys()),
        "labels": dict(config.get("Labels") or {}),
    }


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainIDs: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n])."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            text = f"{chains[-1]} {diff_id}".encode()
            chains.append("sha256:" + hashlib.sha256(text).hexdigest())
    return chains


def layer_compression(descriptor: Descriptor) -> str:
    """``none``, ``gzip`` or ``zstd`` for a layer descriptor."""
    kind = descriptor.get("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip")
    if kind not in LAYER_COMPRESSION:
        raise ManifestError(f"unsupported layer media type {kind}")
    return LAYER_COMPRESSION[kind]


def process_args(image: ImageConfig, command: list[str] | None, args: list[str] | None) -> list[str]:
    """The container's argv from the image and the pod spec, with the Kubernetes rules.

    command given: command + args (image Entrypoint and Cmd ignored); only args given: image
    Entrypoint + args; neither: Entrypoint + Cmd.
    """
    if command:
        return list(command) + list(args or [])
    if args:
        return image["entrypoint"] + list(args)
    return image["entrypoint"] + image["cmd"]
