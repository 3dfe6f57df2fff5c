"""Local stand-ins for the public images tests name, built from this machine's files.

The machine has no internet, so ``busybox``, ``python`` and ``nginx`` are made here:

- ``busybox``: Debian's busybox-static with every applet linked in /bin (``Cmd ["sh"]``);
- ``python``: the busybox layer, then a layer with the host's /usr/bin/python3.11, the shared
  libraries it and its extension modules load (from ``ldd``) and its stdlib (without tests,
  IDLE, Tk, ensurepip), ``python``/``python3`` on PATH (``Cmd ["python3"]``);
- ``nginx``: the busybox layer, then /usr/share/nginx/html/index.html with nginx's welcome
  heading, served by busybox httpd on port 80 in the foreground (``Cmd`` as nginx's image has
  its own).

``write_layout`` puts the chosen images into one OCI image layout (blobs shared; each
manifest named by ``org.opencontainers.image.ref.name``, or by ``io.containerd.image.name`` for
a full reference), which skopeo copies to a registry (``oci:<dir>:<name>``) and ``kubepy images
import`` reads. Run as a script: ``python tests/images.py DIR [busybox python nginx]``.

The e2e tests' own images come from here too: ``build_busybox_image`` (``IMAGE``, busybox with
every applet, ``Cmd ["/bin/sh"]``) and ``busybox_entries`` for a layer of a few applets plus
the test's own files; ``layer_tar`` and ``blob`` for layouts a test shapes by hand.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

BUSYBOX = Path("/bin/busybox")
PYTHON = Path("/usr/bin/python3.11")
NGINX_HTML = "/usr/share/nginx/html"
NGINX_INDEX = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>A stand-in built by kubepy's tests: busybox httpd serving this page on port 80.</p>
</body>
</html>
"""
# the e2e tests' busybox image, as pods name it
IMAGE = "docker.io/library/busybox:e2e"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
# stdlib parts no test needs (a third of the size)
PYTHON_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
               "dist-packages", "site-packages", "config-3.11-x86_64-linux-gnu"}

Entry = tuple[str, str, bytes | str, int]   # (path, "d"|"f"|"l", data or link target, mode)


@dataclass
class ImageSpec:
    name: str                               # ref name in the layout
    layers: list[bytes]                     # uncompressed tars, bottom first
    config: dict[str, Any] = field(default_factory=dict)   # the OCI config's "config"


def layer_tar(entries: Iterable[Entry], *, mtime: int = 0) -> bytes:
    """A deterministic, uncompressed layer tar (root-owned, every entry at *mtime*) of
    *entries*, in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, mtime
            if kind == "d":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
                tar.addfile(info)
            else:
                payload = data if isinstance(data, bytes) else data.encode()
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def busybox_applets() -> list[str]:
    """The applets this machine's busybox-static has (``busybox --list``)."""
    return subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                          check=True).stdout.split()


def busybox_entries(*, dirs: Iterable[str] = ("bin", "etc", "tmp", "root", "usr", "usr/bin",
                                              "var"),
                    applets: Iterable[str] | None = None,
                    passwd: str | None = PASSWD, group: str | None = GROUP) -> list[Entry]:
    """A busybox tree, in this order: *dirs* (``tmp`` mode 1777), /bin/busybox, a symlink in
    /bin per applet (every applet when *applets* is None), /etc/passwd and /etc/group unless
    None (*dirs* must then hold ``etc``)."""
    entries: list[Entry] = [(d, "d", b"", 0o1777 if d == "tmp" else 0o755) for d in dirs]
    entries.append(("bin/busybox", "f", BUSYBOX.read_bytes(), 0o755))
    names = busybox_applets() if applets is None else applets
    entries += [(f"bin/{a}", "l", "busybox", 0o777) for a in names if a != "busybox"]
    entries += [(f"etc/{name}", "f", text, 0o644)
                for name, text in (("passwd", passwd), ("group", group)) if text is not None]
    return entries


def busybox_layer() -> bytes:
    return layer_tar(busybox_entries())


def build_busybox_image(layout: Path, name: str = IMAGE) -> None:
    """An OCI layout at *layout* holding one image, *name* (``io.containerd.image.name``):
    busybox-static with every applet linked in /bin, /etc/passwd and /etc/group,
    ``Cmd ["/bin/sh"]``, ``Env ["PATH=/bin"]``."""
    layer = layer_tar(busybox_entries(dirs=("bin", "etc", "tmp", "root")), mtime=1_700_000_000)
    write_layout(layout, [ImageSpec(name, [layer], {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]})],
                 name_annotation=CONTAINERD_NAME)


def shared_libraries(binaries: Iterable[str]) -> set[str]:
    """Absolute paths of the libraries ``ldd`` resolves for *binaries* (and the loader)."""
    libs: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
            if m:
                libs.add(m.group(1))
    return libs


def _files_with_symlinks(path: str) -> list[Entry]:
    """*path* as a regular file, and, if it was reached through symlinks, the links too."""
    entries: list[Entry] = []
    real = os.path.realpath(path)
    if real != path:
        entries.append((path.lstrip("/"), "l", real, 0o777))
    entries.append((real.lstrip("/"), "f", Path(real).read_bytes(), os.stat(real).st_mode & 0o777))
    return entries


def python_layer(python: Path = PYTHON) -> bytes:
    version = python.name.removeprefix("python")              # "3.11"
    stdlib = Path(f"/usr/lib/python{version}")
    files: list[Entry] = []
    extensions: list[str] = []
    for root, dirs, names in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in PYTHON_SKIP)
        for name in sorted(names):
            full = os.path.join(root, name)
            if os.path.islink(full) and not os.path.exists(full):
                continue                                      # e.g. sitecustomize -> /etc
            real = os.path.realpath(full)
            if not os.path.isfile(real):
                continue
            files.append((full.lstrip("/"), "f", Path(real).read_bytes(),
                          os.stat(real).st_mode & 0o777))
            if name.endswith(".so"):
                extensions.append(full)
    entries: list[Entry] = []
    for lib in sorted(shared_libraries([str(python), *extensions])):
        entries += _files_with_symlinks(lib)
    entries += [(str(python).lstrip("/"), "f", python.read_bytes(), 0o755),
                ("usr/bin/python3", "l", python.name, 0o777),
                ("usr/bin/python", "l", python.name, 0o777)]
    entries += files
    dirs = sorted({p for e in entries for p in _parents(e[0])})
    return layer_tar([(d, "d", b"", 0o755) for d in dirs] + entries)


def nginx_layer() -> bytes:
    html = NGINX_HTML.lstrip("/")
    return layer_tar([*[(d, "d", b"", 0o755) for d in _parents(html + "/index.html")],
                      (f"{html}/index.html", "f", NGINX_INDEX, 0o644)])


def image_specs(names: Iterable[str] = ("busybox", "python", "nginx")) -> list[ImageSpec]:
    base = busybox_layer()
    path = {"PATH=/usr/local/bin:/usr/bin:/bin"}
    build = {
        "busybox": lambda: ImageSpec("busybox", [base], {"Cmd": ["sh"], "Env": sorted(path)}),
        "python": lambda: ImageSpec("python", [base, python_layer()],
                                    {"Cmd": ["python3"], "Env": sorted(path | {"LANG=C.UTF-8"})}),
        "nginx": lambda: ImageSpec("nginx", [base, nginx_layer()],
                                   {"Cmd": ["httpd", "-f", "-v", "-p", "80", "-h", NGINX_HTML],
                                    "ExposedPorts": {"80/tcp": {}}, "Env": sorted(path)}),
    }
    return [build[n]() for n in names]


def blob(layout: Path, data: bytes) -> dict[str, Any]:
    """Store *data* under the layout's blobs/sha256 (once); its descriptor's digest and size."""
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    target = blobs / digest
    if not target.exists():
        target.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_layout(layout: Path, specs: Iterable[ImageSpec], *,
                 name_annotation: str = REF_NAME) -> list[str]:
    """Write *specs* as one OCI image layout at *layout* (amd64/linux, gzipped layers), each
    manifest named by its spec's name in the *name_annotation*; returns the names."""
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    compressed: dict[str, tuple[bytes, str]] = {}

    manifests = []
    for spec in specs:
        layers, diff_ids = [], []
        for raw in spec.layers:
            diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
            if diff_id not in compressed:
                compressed[diff_id] = (gzip.compress(raw, compresslevel=6, mtime=0), diff_id)
            layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           **blob(layout, compressed[diff_id][0])})
            diff_ids.append(diff_id)
        config = {"architecture": "amd64", "os": "linux", "config": spec.config,
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               **blob(layout, json.dumps(config).encode())},
                    "layers": layers}
        manifests.append({"mediaType": manifest["mediaType"],
                          **blob(layout, json.dumps(manifest).encode()),
                          "annotations": {name_annotation: spec.name}})
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2,
                                                   "manifests": manifests}))
    return [m["annotations"][name_annotation] for m in manifests]


def main(argv: list[str]) -> int:
    if not argv:
        print(f"usage: {sys.argv[0]} LAYOUT_DIR [busybox python nginx]", file=sys.stderr)
        return 2
    names = write_layout(Path(argv[0]), image_specs(argv[1:] or ("busybox", "python", "nginx")))
    print(" ".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
