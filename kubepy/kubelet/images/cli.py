"""``kubepy images import FILE | pull REF | ls | rm REF...`` over the image store of a data dir.

``pull`` shows the progress of a long pull as ``crictl pull``/``ctr pull`` do, one line per
step (``progress_line``, pure): the resolved manifest, each blob's download (at most one
line per blob every ``PROGRESS_EVERY`` seconds), unpacking, and the result.

The image store lives in ``<data-dir>/agent/images`` (see ``store_root``). ``main(argv)``
takes the arguments after ``images`` and returns the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp

from kubepy.kubelet.images.archive import ArchiveError, import_archive
from kubepy.kubelet.images.auth import registry_key
from kubepy.kubelet.images.pull import pull_image
from kubepy.kubelet.images.registry import RegistryClient, RegistryError
from kubepy.kubelet.images.layers import LayerError
from kubepy.kubelet.images.manifest import ManifestError
from kubepy.kubelet.images.reference import parse_reference
from kubepy.kubelet.images.store import Image, ImageNotFound, ImageStore


def store_root(data_dir: Path) -> Path:
    return data_dir / "agent" / "images"


def _default_data_dir() -> Path:
    return Path("/var/lib/kubepy") if os.geteuid() == 0 else Path.home() / ".local" / "share" / "kubepy"


def _human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.3g}{unit}"
        size /= 1000
    return f"{size:.3g}TB"


PROGRESS_EVERY = 0.5


def progress_line(event: dict[str, object]) -> str | None:
    """One line of pull progress for a ``pull_image`` progress event; None: nothing to say."""
    phase = event.get("phase")
    digest = str(event.get("digest") or "")
    short = digest.split(":", 1)[-1][:12]
    if phase == "resolved":
        sizes = event.get("layers") or []
        total = sum(int(x) for x in sizes) if isinstance(sizes, list) else 0
        count = len(sizes) if isinstance(sizes, list) else 0
        return f"resolved {digest} ({count} layers, {_human(total)})"
    if phase == "downloading":
        current, total = int(str(event.get("current") or 0)), int(str(event.get("total") or 0))
        size = f"{_human(current)}/{_human(total)}" if total else _human(current)
        return f"{short}: downloading {size}"
    if phase == "downloaded":
        return f"{short}: done"
    if phase == "unpacking":
        return "unpacking layers"
    if phase == "done":
        return f"image {event.get('id')}"
    return None


def format_images(images: list[Image]) -> list[str]:
    """``kubepy images ls`` lines, in the columns of ``crictl images``."""
    rows = [("IMAGE", "TAG", "IMAGE ID", "SIZE")]
    for image in images:
        untagged = [f"{d.split('@')[0]}:<none>" for d in image["repo_digests"][:1]] or ["<none>:<none>"]
        tags = image["repo_tags"] or untagged
        for tag in tags:
            name, _, version = tag.rpartition(":")
            rows.append((name, version, image["id"].removeprefix("sha256:")[:13], _human(image["size"])))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubepy images", description="manage the node's image store")
    p.add_argument("--data-dir", "-d", type=Path, default=None, help="kubepy data dir")
    sub = p.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="import a docker-archive or an OCI layout (tar or dir)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="repository for OCI layouts whose ref names are bare tags")
    pull = sub.add_parser("pull", help="pull an image from its registry, showing progress")
    pull.add_argument("image")
    pull.add_argument("--creds", default=None, help="USER:PASSWORD for the image's registry")
    pull.add_argument("--insecure-registry", action="append", default=[],
                      help="registry host[:port] reached over plain HTTP (repeatable; "
                           "loopback registries always are)")
    sub.add_parser("ls", help="list images")
    rm = sub.add_parser("rm", help="remove images (by name, digest or ID) and free unused content")
    rm.add_argument("refs", nargs="+")
    return p


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    store = ImageStore(store_root((args.data_dir or _default_data_dir()).resolve()))
    if args.action == "import":
        started = time.monotonic()
        try:
            if args.name:
                parse_reference(args.name)
            images = import_archive(store, args.file, name=args.name)
        except (ArchiveError, ManifestError, LayerError, ValueError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        for image in images:
            names = ", ".join(image["repo_tags"] or image["repo_digests"]) or "<none>"
            print(f"imported {names} ({image['id']}) in {time.monotonic() - started:.2f}s")
        return 0
    if args.action == "pull":
        return asyncio.run(_pull(store, args))
    if args.action == "ls":
        print("\n".join(format_images(store.list())))
        return 0
    status = 0
    for ref in args.refs:
        try:
            image = store.remove(ref)
            print(f"Deleted: {ref} ({image['id']})")
        except ImageNotFound as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
    store.garbage_collect()
    return status


async def _pull(store: ImageStore, args: argparse.Namespace) -> int:
    started = time.monotonic()
    last: dict[str, float] = {}

    def progress(event: dict[str, object]) -> None:
        key = str(event.get("digest") or event.get("phase"))
        now = time.monotonic()
        if event.get("phase") == "downloading" and now - last.get(key, -PROGRESS_EVERY) < PROGRESS_EVERY:
            return
        last[key] = now
        line = progress_line(event)
        if line:
            print(line, flush=True)

    credentials = {}
    if args.creds:
        user, _, password = args.creds.partition(":")
        credentials[registry_key(parse_reference(args.image).registry)] = (user, password)
    try:
        async with aiohttp.ClientSession() as session:
            client = RegistryClient(session, credentials=credentials,
                                    insecure_registries=args.insecure_registry)
            image = await pull_image(store, client, args.image, progress=progress)
    except (RegistryError, ManifestError, LayerError, ValueError, OSError,
            aiohttp.ClientError) as e:
        print(f"error: pulling {args.image}: {e}", file=sys.stderr)
        return 1
    print(f"pulled {args.image} ({image['id']}) in {time.monotonic() - started:.2f}s")
    return 0


async def main(argv: list[str]) -> int:
    return await asyncio.to_thread(run, argv)
