"""The image store against real tools: Debian's docker-registry on loopback (with and without
htpasswd basic auth), images built here from busybox-static as an OCI layout and pushed with
skopeo (OCI manifest, Docker schema 2, and a multi-platform index), pulled with our client
and checked through an overlayfs mount of the unpacked layers (whiteouts and opaque dirs);
docker-archive and OCI layouts (dir and tar) imported with ``kubepy images``.

Needs root (device-node whiteouts, trusted xattrs, overlay mounts), docker-registry, skopeo,
htpasswd (apache2-utils) and busybox-static. Every registry process, mount and temp dir is
removed in fixtures.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest

from kubepy.kubelet.images import cli
from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.auth import credentials_from_docker_config
from kubepy.kubelet.images.pull import pull_image
from kubepy.kubelet.images.registry import RegistryClient, RegistryError
from kubepy.kubelet.images.store import ImageStore
from tests.images import BUSYBOX, blob, busybox_entries, layer_tar

TOOLS = ["/usr/bin/docker-registry", "/usr/bin/skopeo", "/usr/bin/htpasswd"]
APPLETS = ["sh", "true", "ls", "cat", "echo"]


@pytest.fixture(scope="module", autouse=True)
def _require_tools() -> None:
    missing = [t for t in TOOLS + [str(BUSYBOX)] if not os.access(t, os.X_OK)]
    if missing:
        pytest.fail(f"missing tools (install docker-registry skopeo apache2-utils busybox-static): {missing}")
    if os.geteuid() != 0:
        pytest.fail("these tests need root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_busybox_layout(layout: Path) -> None:
    """An OCI layout with tags ``1`` (two layers: a busybox rootfs, then a layer that whites out
    /etc/motd and makes /data opaque) and ``multi`` (an index: arm64 then amd64)."""
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    base = [*busybox_entries(dirs=("bin",), applets=APPLETS, passwd=None, group=None),
            ("etc", "d", b"", 0o755), ("etc/motd", "f", "hello", 0o644), ("etc/hostname", "f", "bb", 0o644),
            ("data", "d", b"", 0o755), ("data/old", "f", "old", 0o644), ("tmp", "d", b"", 0o1777)]
    upper = [("etc", "d", b"", 0o755), ("etc/.wh.motd", "f", b"", 0o644), ("data", "d", b"", 0o755),
             ("data/.wh..wh..opq", "f", b"", 0o644), ("data/new", "f", "new", 0o644)]
    raws = [layer_tar(base, mtime=1_700_000_000), layer_tar(upper, mtime=1_700_000_000)]
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(layout, gzip.compress(r))}
              for r in raws]
    diff_ids = ["sha256:" + hashlib.sha256(r).hexdigest() for r in raws]
    manifests = {}
    for arch in ("amd64", "arm64"):
        config = {"architecture": arch, "os": "linux",
                  "config": {"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "echo hi"], "Env": ["PATH=/bin"],
                             "WorkingDir": "/tmp", "User": "0"},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               **blob(layout, json.dumps(config).encode())},
                    "layers": layers}
        manifests[arch] = {"mediaType": manifest["mediaType"], **blob(layout, json.dumps(manifest).encode())}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{**manifests[a], "platform": {"os": "linux", "architecture": a}}
                           for a in ("arm64", "amd64")]}
    top = {"schemaVersion": 2, "manifests": [
        {**manifests["amd64"], "annotations": {"org.opencontainers.image.ref.name": "1"}},
        {"mediaType": index["mediaType"], **blob(layout, json.dumps(index).encode()),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}
    (layout / "index.json").write_text(json.dumps(top))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("images")
    try:
        build_busybox_layout(path / "layout")
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Registry:
    def __init__(self, root: Path, *, users: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        root.mkdir(parents=True)
        config = [
            "version: 0.1", "log:", "  level: error", "storage:", f"  filesystem:",
            f"    rootdirectory: {root / 'storage'}", "  delete:", "    enabled: true",
            "http:", f"  addr: 127.0.0.1:{self.port}"]
        if users:
            htpasswd = root / "htpasswd"
            for i, (user, password) in enumerate(users.items()):
                subprocess.run(["htpasswd", "-B", "-b"] + (["-c"] if i == 0 else []) + [str(htpasswd), user, password],
                               check=True, capture_output=True)
            config += ["auth:", "  htpasswd:", "    realm: kubepy-test", f"    path: {htpasswd}"]
        (root / "config.yml").write_text("\n".join(config) + "\n")
        self.log = open(root / "registry.log", "wb")
        self.proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(root / "config.yml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401 under auth: it is serving
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"docker-registry did not start: {(root / 'registry.log').read_text()}")
                time.sleep(0.05)

    def push(self, layout: Path, tag: str, repo: str, *extra: str) -> None:
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra, f"oci:{layout}:{tag}",
                        f"docker://{self.host}/{repo}"], check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(tmp_path / "registry")
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(tmp_path / "registry", users={"alice": "wonderland"})
    try:
        yield reg
    finally:
        reg.stop()


def _overlay_view(store: ImageStore, image: dict, mountpoint: Path) -> dict[str, str]:
    """Mount the image's layers read-only with overlayfs and read what a container would see."""
    lower = ":".join(str(store.layer_dir(c)) for c in reversed(image["layers"]))
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}", str(mountpoint)],
                   check=True, capture_output=True)
    try:
        return {"etc": ",".join(sorted(os.listdir(mountpoint / "etc"))),
                "data": ",".join(sorted(os.listdir(mountpoint / "data"))),
                "sh": os.readlink(mountpoint / "bin/sh"),
                "busybox": hashlib.sha256((mountpoint / "bin/busybox").read_bytes()).hexdigest(),
                "true": str(subprocess.run(["chroot", str(mountpoint), "/bin/true"]).returncode)}
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


EXPECTED_VIEW = {"etc": "hostname", "data": "new", "sh": "busybox",
                 "busybox": hashlib.sha256(BUSYBOX.read_bytes()).hexdigest(), "true": "0"}


async def _pull(store: ImageStore, image: str, **client_args: object) -> tuple[dict, list[dict]]:
    events: list[dict] = []
    async with aiohttp.ClientSession() as session:
        client = RegistryClient(session, **client_args)  # type: ignore[arg-type]
        record = await pull_image(store, client, image, progress=events.append)
    return dict(record), events


@pytest.mark.parametrize("tag,skopeo_args,arch_digest", [
    ("1", [], False),
    ("1", ["--format", "v2s2"], False),
    ("multi", ["--all"], True),
], ids=["oci-manifest", "docker-schema2", "index"])
def test_pull_from_registry(registry: Registry, workdir: Path, tmp_path: Path, tag: str,
                            skopeo_args: list[str], arch_digest: bool) -> None:
    registry.push(workdir / "layout", tag, "test/busybox:1", *skopeo_args)
    store = ImageStore(tmp_path / "store")
    image, events = asyncio.run(_pull(store, f"{registry.host}/test/busybox:1"))
    assert image["repo_tags"] == [f"{registry.host}/test/busybox:1"]
    assert image["config"]["entrypoint"] == ["/bin/sh"] and image["config"]["working_dir"] == "/tmp"
    assert image["config"]["architecture"] == "amd64"
    assert bool(image.get("index_digests")) is arch_digest
    assert [e["phase"] for e in events][0] == "resolved" and events[-1] == {"phase": "done", "id": image["id"]}
    assert any(e["phase"] == "downloading" and e["current"] == e["total"] for e in events)
    assert _overlay_view(store, image, tmp_path / "mnt") == EXPECTED_VIEW
    # by digest, and again: nothing is downloaded twice
    pinned = image["repo_digests"][0]
    again, events = asyncio.run(_pull(store, pinned))
    assert again["id"] == image["id"] and not any(e["phase"] == "downloading" for e in events)
    with pytest.raises(RegistryError) as missing:
        asyncio.run(_pull(store, f"{registry.host}/test/nothing:1"))
    assert missing.value.status == 404


def test_pull_with_basic_auth(auth_registry: Registry, workdir: Path, tmp_path: Path) -> None:
    auth_registry.push(workdir / "layout", "1", "private/busybox:1", "--dest-creds", "alice:wonderland")
    store = ImageStore(tmp_path / "store")
    ref = f"{auth_registry.host}/private/busybox:1"
    with pytest.raises(RegistryError) as denied:
        asyncio.run(_pull(store, ref))
    assert denied.value.status == 401
    with pytest.raises(RegistryError):
        asyncio.run(_pull(store, ref, credentials={auth_registry.host: ("alice", "wrong")}))
    secret = {"auths": {f"http://{auth_registry.host}": {"username": "alice", "password": "wonderland"}}}
    image, _ = asyncio.run(_pull(store, ref, credentials=credentials_from_docker_config(secret)))
    assert store.get(ref)["id"] == image["id"]  # type: ignore[index]
    assert _overlay_view(store, image, tmp_path / "mnt") == EXPECTED_VIEW


def test_kubepy_images_pull_shows_progress(auth_registry: Registry, workdir: Path,
                                           tmp_path: Path) -> None:
    """``kubepy images pull`` from a registry with basic auth: refused without --creds, then
    pulled with a progress line per step, and listed by ``kubepy images ls``."""
    auth_registry.push(workdir / "layout", "1", "private/busybox:1", "--dest-creds", "alice:wonderland")
    ref = f"{auth_registry.host}/private/busybox:1"
    kubepy = [str(Path(__file__).resolve().parents[2] / ".venv/bin/kubepy"), "images",
              "--data-dir", str(tmp_path / "data")]
    denied = subprocess.run([*kubepy, "pull", ref], capture_output=True, text=True, timeout=60)
    assert denied.returncode == 1 and "error: pulling" in denied.stderr, denied
    pulled = subprocess.run([*kubepy, "pull", ref, "--creds", "alice:wonderland"],
                            capture_output=True, text=True, timeout=60)
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stdout.splitlines()
    assert lines[0].startswith("resolved sha256:") and "layers" in lines[0], lines
    assert any(line.endswith(": done") for line in lines), lines
    assert "unpacking layers" in lines and lines[-1].startswith(f"pulled {ref} (sha256:"), lines
    listed = subprocess.run([*kubepy, "ls"], capture_output=True, text=True, timeout=60)
    assert f"{auth_registry.host}/private/busybox" in listed.stdout, listed.stdout


def _skopeo(source: str, dest: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", source, dest], check=True, capture_output=True, timeout=60)


def test_import_archives(workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = workdir / "layout"
    _skopeo(f"oci:{layout}:1", f"docker-archive:{tmp_path / 'docker.tar'}:test/busybox:1")
    _skopeo(f"oci:{layout}:1", f"oci-archive:{tmp_path / 'oci.tar'}:2")
    data_dir = tmp_path / "data"
    run = lambda *argv: asyncio.run(cli.main(["--data-dir", str(data_dir), *argv]))  # noqa: E731
    assert run("import", str(tmp_path / "docker.tar")) == 0
    assert run("import", "--name", "test/busybox", str(tmp_path / "oci.tar")) == 0
    assert run("import", "--name", "example.com/bb", str(layout)) == 0
    assert run("import", str(tmp_path)) == 1
    capsys.readouterr()
    assert run("ls") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    names = sorted(" ".join(line.split()[:2]) for line in listing[1:])
    assert names == ["docker.io/test/busybox 1", "docker.io/test/busybox 2",
                     "example.com/bb 1", "example.com/bb multi"], listing
    store = ImageStore(cli.store_root(data_dir))
    # the same layers, whatever the container format: one set of unpacked layers
    assert len(list((cli.store_root(data_dir) / "layers/sha256").iterdir())) == 2
    imported = store.get("test/busybox:1")
    assert imported is not None and _overlay_view(store, imported, tmp_path / "mnt") == EXPECTED_VIEW
    for ref in ["test/busybox:1", "test/busybox:2", "example.com/bb:1", "example.com/bb:multi"]:
        assert run("rm", ref) == 0, ref
    assert run("rm", "test/busybox:1") == 1
    assert store.list() == []
    assert list((cli.store_root(data_dir) / "layers/sha256").iterdir()) == []
    assert list((cli.store_root(data_dir) / "blobs/sha256").iterdir()) == []


def test_import_docker_archive_api(workdir: Path, tmp_path: Path) -> None:
    _skopeo(f"oci:{workdir / 'layout'}:1", f"docker-archive:{tmp_path / 'a.tar'}:test/busybox:3")
    store = ImageStore(tmp_path / "store")
    [image] = import_archive(store, tmp_path / "a.tar")
    assert image["repo_tags"] == ["docker.io/test/busybox:3"]
    assert image["config"]["cmd"] == ["-c", "echo hi"] and image["config"]["env"] == ["PATH=/bin"]


async def _bearer_registry_pull(layout: Path, store: ImageStore) -> tuple[dict, list[str]]:
    """A minimal token-auth registry (aiohttp) serving the layout's tag ``multi``: every /v2 request
    needs ``Bearer good-token``, which /token hands out for alice's basic credentials."""
    from aiohttp import web

    seen: list[str] = []
    index = json.loads((layout / "index.json").read_text())
    multi = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "multi")

    async def token(request: web.Request) -> web.Response:
        seen.append(f"token {request.query.get('service')} {request.query.get('scope')}")
        if request.headers.get("Authorization") != "Basic " + __import__("base64").b64encode(b"alice:pw").decode():
            return web.Response(status=401)
        return web.json_response({"token": "good-token"})

    async def v2(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer good-token":
            realm = f"http://{request.host}/token"
            return web.Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="fake",'
                                                                        f'scope="repository:test/bb:pull"'})
        kind, ref = request.match_info["kind"], request.match_info["ref"]
        digest = multi["digest"] if ref == "multi" else ref
        data = (layout / "blobs/sha256" / digest.split(":")[1]).read_bytes()
        content_type = json.loads(data).get("mediaType", "") if kind == "manifests" else "application/octet-stream"
        seen.append(f"{kind} {ref}")
        return web.Response(body=data, content_type=content_type.split(";")[0] or "application/octet-stream")

    app = web.Application()
    app.router.add_get("/token", token)
    app.router.add_get("/v2/test/bb/{kind}/{ref}", v2)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        record, _ = await _pull(store, f"localhost:{port}/test/bb:multi",
                                credentials={f"localhost:{port}": ("alice", "pw")})
    finally:
        await runner.cleanup()
    return record, seen


def test_pull_with_bearer_token(workdir: Path, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "store")
    image, seen = asyncio.run(_bearer_registry_pull(workdir / "layout", store))
    assert seen[0] == "token fake repository:test/bb:pull" and seen.count(seen[0]) == 1, seen
    assert seen[1] == "manifests multi" and len([s for s in seen if s.startswith("blobs")]) == 3, seen
    assert image["repo_tags"] == [f"{image['repo_tags'][0].split('/')[0]}/test/bb:multi"]
    assert _overlay_view(store, image, tmp_path / "mnt") == EXPECTED_VIEW
