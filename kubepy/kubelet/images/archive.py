"""Importing images from files: ``docker save`` archives and OCI image layouts.

- docker-archive: a tar with ``manifest.json`` = [{"Config": path, "RepoTags": [...],
  "Layers": [path, ...]}], layer tars uncompressed or gzipped. A Docker schema 2 manifest is
  written for each image so it is stored like a pulled one.
- OCI image layout: ``oci-layout`` + ``index.json`` + ``blobs/<alg>/<hex>``, as a directory or
  a tar. Each index entry (an index inside is resolved to linux/amd64) becomes an image named
  by its ``io.containerd.image.name`` annotation, else by ``org.opencontainers.image.ref.name``
  when that is a full reference; a bare tag (``1``) is combined with ``name`` when given.

Docker 25+ writes both files into one tar; ``manifest.json`` then wins. Blob digests are
verified on the way into the store.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from kubepy.kubelet.images import manifest as mf
from kubepy.kubelet.images.layers import detect_compression, safe_member_path
from kubepy.kubelet.images.reference import InvalidReference, Reference, parse_reference
from kubepy.kubelet.images.store import Image, ImageStore

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class ArchiveError(ValueError):
    """A file that is neither a docker-archive nor an OCI layout, or an inconsistent one."""


class _Source:
    """Files of a directory or of a tar, by relative name (extracted to a temp dir on demand)."""

    def __init__(self, path: Path, tmp_root: Path) -> None:
        self.path = path
        self.tar: tarfile.TarFile | None = None
        self.tmp = Path(tempfile.mkdtemp(dir=tmp_root, prefix="import-"))
        if path.is_file():
            try:
                self.tar = tarfile.open(path, "r:*")
            except tarfile.TarError as e:
                raise ArchiveError(f"{path}: not a tar archive: {e}") from e
            self.members = {safe_member_path(m.name): m for m in self.tar.getmembers() if m.isreg() or m.islnk()}
        elif not path.is_dir():
            raise ArchiveError(f"{path}: no such file or directory")

    def exists(self, name: str) -> bool:
        rel = safe_member_path(name)
        return rel in self.members if self.tar else (self.path / rel).is_file()

    def file(self, name: str) -> Path:
        rel = safe_member_path(name)
        if self.tar is None:
            if not (self.path / rel).is_file():
                raise ArchiveError(f"{self.path}: missing {name}")
            return self.path / rel
        member = self.members.get(rel)
        if member is None:
            raise ArchiveError(f"{self.path}: missing {name}")
        out = self.tmp / rel.replace("/", "_")
        if not out.exists():
            source = self.tar.extractfile(member)
            assert source is not None
            with open(out, "wb") as f:
                shutil.copyfileobj(source, f, 1 << 20)
        return out

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.file(name).read_bytes())
        except ValueError as e:
            raise ArchiveError(f"{self.path}: {name} is not JSON: {e}") from e

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def import_archive(store: ImageStore, path: Path | str, *, name: str | None = None) -> list[Image]:
    """Import every image in ``path`` (docker-archive or OCI layout, file or directory)."""
    source = _Source(Path(path), store.tmp_dir)
    try:
        if source.exists("manifest.json"):
            return _import_docker_archive(store, source)
        if source.exists("index.json"):
            return _import_oci_layout(store, source, name)
        raise ArchiveError(f"{path}: neither a docker-archive (manifest.json) nor an OCI layout (index.json)")
    finally:
        source.close()


def _names(texts: list[str]) -> list[Reference]:
    names = []
    for text in texts:
        try:
            names.append(parse_reference(text))
        except InvalidReference as e:
            raise ArchiveError(f"bad image name {text!r}: {e}") from e
    return names


def _import_docker_archive(store: ImageStore, source: _Source) -> list[Image]:
    entries = source.json("manifest.json")
    if not isinstance(entries, list):
        raise ArchiveError("manifest.json is not a list")
    images = []
    for entry in entries:
        config_digest = store.import_blob(source.file(entry["Config"]))
        layers = []
        for layer_path in entry.get("Layers") or []:
            blob = source.file(layer_path)
            compressed = detect_compression(blob) == "gzip"
            kind = "application/vnd.docker.image.rootfs.diff.tar" + (".gzip" if compressed else "")
            layers.append({"mediaType": kind, "digest": store.import_blob(blob), "size": blob.stat().st_size})
        manifest = {"schemaVersion": 2, "mediaType": mf.DOCKER_MANIFEST,
                    "config": {"mediaType": mf.DOCKER_CONFIG, "digest": config_digest,
                               "size": store.blob_path(config_digest).stat().st_size},
                    "layers": layers}
        manifest_digest = store.write_blob(json.dumps(manifest, separators=(",", ":")).encode())
        images.append(store.add_image(_names(entry.get("RepoTags") or []), manifest_digest, config_digest))
    return images


def _oci_blob(store: ImageStore, source: _Source, digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return store.import_blob(source.file(f"blobs/{algorithm}/{hexpart}"), digest)


def _oci_name(annotations: dict[str, str], name: str | None) -> list[str]:
    if annotations.get(CONTAINERD_NAME):
        return [annotations[CONTAINERD_NAME]]
    ref_name = annotations.get(REF_NAME)
    if not ref_name:
        return [name] if name else []
    if "/" in ref_name or ":" in ref_name:
        return [ref_name]
    if name:
        return [f"{parse_reference(name).name}:{ref_name}"]
    return []


def _import_oci_layout(store: ImageStore, source: _Source, name: str | None) -> list[Image]:
    index = source.json("index.json")
    images = []
    for entry in index.get("manifests") or []:
        digest = entry["digest"]
        names = _names(_oci_name(entry.get("annotations") or {}, name))
        index_digest = None
        document = json.loads(store.blob_path(_oci_blob(store, source, digest)).read_bytes())
        if mf.is_index(document, entry.get("mediaType")):
            index_digest = digest
            digest = mf.select_platform(document)["digest"]
            document = json.loads(store.blob_path(_oci_blob(store, source, digest)).read_bytes())
        manifest = mf.parse_manifest(document, entry.get("mediaType") if not index_digest else None)
        for descriptor in [manifest["config"], *manifest["layers"]]:
            _oci_blob(store, source, descriptor["digest"])
        images.append(store.add_image(names, digest, manifest["config"]["digest"], index_digest=index_digest))
    if not images:
        raise ArchiveError(f"{source.path}: index.json lists no images")
    return images
