"""The image store: content-addressed blobs, shared unpacked layers and an index of images.

Layout under ``root`` (the kubelet's ``<data-dir>/images``)::

    blobs/sha256/<hex>            manifests, configs and compressed layers, named by digest
    layers/sha256/<chain hex>/    one unpacked layer (overlay format, see layers.py) in ``diff/``
                                  with ``layer.json`` {chain_id, diff_id, parent, size}
    images.json                   the index: image ID (config digest) -> record
    tmp/                          partial downloads and unpacks, renamed into place when whole

A layer directory is named by its ChainID, so two images that share their bottom layers share
those directories. Every write lands in ``tmp/`` first and is renamed into place, so a crash
never leaves a half blob or half layer under its final name. The index is rewritten atomically
under an flock, so the kubelet and ``kubepy images`` may both use the store. Methods block
(file I/O); async callers run them in a thread.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, NotRequired, TypedDict

from kubepy.kubelet.images import manifest as mf
from kubepy.kubelet.images.layers import LayerError, unpack_layer
from kubepy.kubelet.images.reference import InvalidReference, Reference, is_sha256_digest, parse_reference


class ImageNotFound(LookupError):
    """No image in the store answers to the reference."""


class DigestMismatch(ValueError):
    """Content whose sha256 differs from the digest it was fetched or stored under."""


class Image(TypedDict):
    id: str                   # config digest, as Docker and CRI report it
    repo_tags: list[str]      # fully qualified name:tag
    repo_digests: list[str]   # fully qualified name@manifest digest
    manifest_digest: str
    config: mf.ImageConfig
    layers: list[str]         # chain IDs, bottom first
    size: int                 # compressed size of config + layers
    created: float
    index_digests: NotRequired[list[str]]  # manifest lists / indexes the image came through


def _hex(digest: str) -> str:
    if not is_sha256_digest(digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest.split(":", 1)[1]


class BlobWriter:
    """Streams one blob into tmp/, verifying its digest on commit."""

    def __init__(self, store: "ImageStore", digest: str) -> None:
        self.digest = digest
        self.store = store
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="blob-")
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)
        self.file.write(data)

    def commit(self) -> Path:
        self.file.close()
        actual = "sha256:" + self.hash.hexdigest()
        if actual != self.digest:
            self.path.unlink(missing_ok=True)
            raise DigestMismatch(f"blob digest mismatch: expected {self.digest}, got {actual}")
        final = self.store.blob_path(self.digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, final)
        return final

    def abort(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)


class ImageStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        for sub in ("blobs/sha256", "layers/sha256", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "images.json"

    # blobs ------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / _hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def blob_writer(self, digest: str) -> BlobWriter:
        _hex(digest)
        return BlobWriter(self, digest)

    def write_blob(self, data: bytes, digest: str | None = None) -> str:
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        writer = self.blob_writer(digest)
        writer.write(data)
        writer.commit()
        return digest

    def import_blob(self, source: Path, digest: str | None = None) -> str:
        """Copy a file into the store (verifying ``digest`` when given); returns its digest."""
        with open(source, "rb") as f:
            if digest is None:
                digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
                f.seek(0)
            if self.has_blob(digest):
                return digest
            writer = self.blob_writer(digest)
            try:
                while chunk := f.read(1 << 20):
                    writer.write(chunk)
                writer.commit()
            except BaseException:
                writer.abort()
                raise
        return digest

    def read_json_blob(self, digest: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.blob_path(digest).read_bytes())
        return doc

    # layers -----------------------------------------------------------------------------
    def layer_dir(self, chain_id: str) -> Path:
        """The unpacked layer (``diff/``), usable as an overlayfs lowerdir."""
        return self.root / "layers" / "sha256" / _hex(chain_id) / "diff"

    def has_layer(self, chain_id: str) -> bool:
        return (self.layer_dir(chain_id).parent / "layer.json").is_file()

    def unpack(self, manifest: mf.Manifest, config: mf.ImageConfig) -> list[str]:
        """Unpack every layer not yet present; returns the chain IDs, bottom first."""
        if len(manifest["layers"]) != len(config["diff_ids"]):
            raise mf.ManifestError(f"{len(manifest['layers'])} layers but {len(config['diff_ids'])} diff_ids")
        chains = mf.chain_ids(config["diff_ids"])
        for i, (descriptor, chain_id) in enumerate(zip(manifest["layers"], chains)):
            if self.has_layer(chain_id):
                continue
            work = Path(tempfile.mkdtemp(dir=self.tmp_dir, prefix="layer-"))
            try:
                diff_id, size = unpack_layer(self.blob_path(descriptor["digest"]), work / "diff",
                                             compression=mf.layer_compression(descriptor))
                if diff_id != config["diff_ids"][i]:
                    raise LayerError(f"layer {descriptor['digest']}: diff_id {diff_id} does not match "
                                     f"the config's {config['diff_ids'][i]}")
                meta = {"chain_id": chain_id, "diff_id": diff_id, "parent": chains[i - 1] if i else None,
                        "size": size, "digest": descriptor["digest"]}
                (work / "layer.json").write_text(json.dumps(meta))
                final = self.layer_dir(chain_id).parent
                try:
                    os.rename(work, final)
                except OSError:
                    if not (final / "layer.json").is_file():
                        raise
                    # another pull unpacked the same layer meanwhile; its copy wins
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
        return chains

    # index ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Image]]:
        with open(self.root / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            images = self._load()
            before = json.dumps(images, sort_keys=True)
            yield images
            if json.dumps(images, sort_keys=True) != before:
                tmp = self.tmp_dir / "images.json.tmp"
                tmp.write_text(json.dumps({"images": images}, indent=1, sort_keys=True))
                os.replace(tmp, self.index_path)

    def _load(self) -> dict[str, Image]:
        try:
            return json.loads(self.index_path.read_text())["images"]  # type: ignore[no-any-return]
        except FileNotFoundError:
            return {}

    def add_image(self, names: Iterable[Reference], manifest_digest: str, config_digest: str,
                  *, index_digest: str | None = None) -> Image:
        """Record an image whose manifest, config and layer blobs are in the store; unpacks
        the layers not yet unpacked.

        ``names`` with a tag become repo tags (moved away from any other image); every name
        also gets a repo digest ``name@<index_digest or manifest_digest>`` (Docker records the
        manifest list's digest when the image came through one).
        """
        manifest = mf.parse_manifest(self.read_json_blob(manifest_digest))
        config = mf.parse_image_config(self.read_json_blob(config_digest))
        chains = self.unpack(manifest, config)
        tags = sorted({str(Reference(n.registry, n.repository, n.tag)) for n in names if n.tag})
        digests = sorted({f"{n.name}@{index_digest or manifest_digest}" for n in names})
        size = manifest["config"].get("size", 0) + sum(layer.get("size", 0) for layer in manifest["layers"])
        with self._locked() as images:
            for other in images.values():
                other["repo_tags"] = [t for t in other["repo_tags"] if t not in tags]
            image = images.get(config_digest)
            if image is None:
                image = {"id": config_digest, "repo_tags": [], "repo_digests": [],
                         "manifest_digest": manifest_digest, "config": config, "layers": chains,
                         "size": size, "created": time.time()}
                images[config_digest] = image
            image["repo_tags"] = sorted(set(image["repo_tags"]) | set(tags))
            image["repo_digests"] = sorted(set(image["repo_digests"]) | set(digests))
            image["manifest_digest"] = manifest_digest
            if index_digest:
                image["index_digests"] = sorted(set(image.get("index_digests", [])) | {index_digest})
            return dict(image)  # type: ignore[return-value]

    def _find(self, images: dict[str, Image], ref: str) -> Image | None:
        if ref in images:
            return images[ref]
        short = ref.removeprefix("sha256:")
        if len(short) >= 12 and all(c in "0123456789abcdef" for c in short):
            found = [i for key, i in images.items() if key.removeprefix("sha256:").startswith(short)]
            if len(found) == 1:
                return found[0]
        try:
            parsed = parse_reference(ref)
        except InvalidReference:
            return None
        for image in images.values():
            if parsed.digest and f"{parsed.name}@{parsed.digest}" in image["repo_digests"]:
                return image
            if not parsed.digest and str(parsed) in image["repo_tags"]:
                return image
        return None

    def get(self, ref: str) -> Image | None:
        """The image a reference (name[:tag], name@digest, image ID or its 12+ hex prefix) names."""
        return self._find(self._load(), ref)

    def list(self) -> list[Image]:
        return sorted(self._load().values(), key=lambda i: (i["repo_tags"][:1], i["id"]))

    def remove(self, ref: str) -> Image:
        """Untag ``ref``; the image record goes when no tag is left, or when ``ref`` is its ID or
        a digest. Content is freed by ``garbage_collect``. Raises ImageNotFound."""
        with self._locked() as images:
            image = self._find(images, ref)
            if image is None:
                raise ImageNotFound(f"image {ref!r} not found")
            parsed: Reference | None = None
            try:
                parsed = parse_reference(ref)
            except InvalidReference:
                pass
            by_tag = (parsed is not None and parsed.digest is None
                      and str(parsed) in image["repo_tags"])
            if by_tag and parsed is not None:
                image["repo_tags"].remove(str(parsed))
                name = parsed.name
                if not any(t.rsplit(":", 1)[0] == name for t in image["repo_tags"]):
                    image["repo_digests"] = [d for d in image["repo_digests"] if not d.startswith(name + "@")]
            if not by_tag or not image["repo_tags"]:
                del images[image["id"]]
            return dict(image)  # type: ignore[return-value]

    def garbage_collect(self, in_use: Iterable[str] | None = None) -> dict[str, builtins.list[str]]:
        """Remove images not named in ``in_use`` (refs or IDs; None keeps every image), then
        every blob and layer no remaining image refers to. Returns what was removed.

        Blobs of a pull in progress belong to no image yet: callers serialise GC with pulls."""
        removed: dict[str, builtins.list[str]] = {"images": [], "blobs": [], "layers": []}
        with self._locked() as images:
            if in_use is not None:
                keep = {image["id"] for ref in in_use if (image := self._find(images, ref)) is not None}
                for image_id in [i for i in images if i not in keep]:
                    del images[image_id]
                    removed["images"].append(image_id)
            blobs: set[str] = set()
            layers: set[str] = set()
            for image in images.values():
                layers.update(_hex(c) for c in image["layers"])
                blobs.add(_hex(image["id"]))
                blobs.add(_hex(image["manifest_digest"]))
                blobs.update(_hex(d) for d in image.get("index_digests", []))
                with contextlib.suppress(OSError, ValueError, KeyError):
                    manifest = self.read_json_blob(image["manifest_digest"])
                    blobs.update(_hex(layer["digest"]) for layer in manifest["layers"])
            for path in (self.root / "blobs" / "sha256").iterdir():
                if path.name not in blobs:
                    path.unlink()
                    removed["blobs"].append("sha256:" + path.name)
            for path in (self.root / "layers" / "sha256").iterdir():
                if path.name not in layers:
                    shutil.rmtree(path, ignore_errors=True)
                    removed["layers"].append("sha256:" + path.name)
            stale = time.time() - 3600
            for path in self.tmp_dir.iterdir():
                if path.name != "images.json.tmp" and path.stat().st_mtime < stale:
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
        return removed
