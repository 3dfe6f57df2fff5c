"""Tables for the kubelet image store's pure parts: references, manifests, whiteouts, layer
unpacking (flat and overlay), pull policy, credentials, and the store's index and GC."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from kubepy.kubelet.images import manifest as mf
from kubepy.kubelet.images.auth import (credentials_from_docker_config, parse_www_authenticate,
                                        registry_scheme)
from kubepy.kubelet.images.layers import LayerError, safe_member_path, unpack_layer, whiteout_action
from kubepy.kubelet.images.pull import PullAction, default_pull_policy, pull_action
from kubepy.kubelet.images.reference import InvalidReference, parse_reference
from kubepy.kubelet.images.store import ImageNotFound, ImageStore

SHA = "sha256:" + "a" * 64


@pytest.mark.parametrize("text,expected", [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest"),
    ("user/app", "docker.io/user/app:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest"),
    ("index.docker.io/user/app:v1", "docker.io/user/app:v1"),
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000/test/busybox:1"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    ("quay.io/a/b/c", "quay.io/a/b/c:latest"),
    ("[::1]:5000/x:y", "[::1]:5000/x:y"),
    (f"busybox@{SHA}", f"docker.io/library/busybox@{SHA}"),
    (f"busybox:1@{SHA}", f"docker.io/library/busybox:1@{SHA}"),
    ("my_app__x/a-b.c", "docker.io/my_app__x/a-b.c:latest"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_parse_reference(text: str, expected: str) -> None:
    assert str(parse_reference(text)) == expected


@pytest.mark.parametrize("text", [
    "", "Busybox", "busybox:", "busybox@sha256:abc", "busybox:-bad", " busybox", "a//b",
    "busybox:" + "x" * 129, "host:port:bad/x", "-a/b",
], ids=repr)
def test_invalid_reference(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


@pytest.mark.parametrize("text,familiar,reference", [
    ("busybox", "busybox:latest", "latest"),
    ("user/app:2", "user/app:2", "2"),
    ("localhost:5000/app", "localhost:5000/app:latest", "latest"),
    (f"busybox@{SHA}", f"busybox@{SHA}", SHA),
], ids=["library", "user", "local", "digest"])
def test_reference_forms(text: str, familiar: str, reference: str) -> None:
    ref = parse_reference(text)
    assert ref.familiar() == familiar
    assert ref.reference == reference


def _desc(digest: str = SHA, **extra: object) -> dict:
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": 1, **extra}


def _index(*platforms: dict) -> dict:
    return {"schemaVersion": 2, "mediaType": mf.OCI_INDEX,
            "manifests": [{"mediaType": mf.OCI_MANIFEST, "digest": f"sha256:{str(i) * 64}", "size": 1,
                           **({"platform": p} if p else {})} for i, p in enumerate(platforms)]}


@pytest.mark.parametrize("index,want,expected", [
    (_index({"os": "linux", "architecture": "arm64"}, {"os": "linux", "architecture": "amd64"}), None, 1),
    (_index({}, {"os": "linux", "architecture": "amd64"}), None, 1),
    (_index({"os": "windows", "architecture": "amd64"}, {"os": "linux", "architecture": "amd64", "variant": "v3"}),
     None, 1),
    (_index({"os": "linux", "architecture": "arm", "variant": "v6"}, {"os": "linux", "architecture": "arm",
                                                                       "variant": "v7"}),
     {"os": "linux", "architecture": "arm", "variant": "v7"}, 1),
    (_index({"os": "linux", "architecture": "arm64"}), None, None),
    (_index(), None, None),
], ids=["second", "skip-unknown", "variant-any", "variant-wanted", "none-fits", "empty"])
def test_select_platform(index: dict, want: dict | None, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(mf.ManifestError, match="no matching manifest"):
            mf.select_platform(index, want)
    else:
        assert mf.select_platform(index, want)["digest"] == f"sha256:{str(expected) * 64}"


@pytest.mark.parametrize("document,content_type,error", [
    ({"schemaVersion": 2, "mediaType": mf.DOCKER_MANIFEST, "config": _desc(), "layers": [_desc()]}, None, None),
    ({"schemaVersion": 2, "config": _desc(), "layers": []}, None, None),
    ({"schemaVersion": 2, "config": _desc(), "layers": [_desc()]}, mf.DOCKER_MANIFEST, None),
    ({"schemaVersion": 1, "name": "x", "fsLayers": []}, None, "unsupported manifest"),
    ({"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": []}, None, "not an image manifest"),
    ({"schemaVersion": 2, "config": _desc(), "layers": [{"size": 1}]}, None, "without a digest"),
    ({"schemaVersion": 2, "config": _desc(), "layers": [_desc(mediaType="text/plain")]}, None, "unsupported media"),
], ids=["docker", "oci-implicit", "content-type", "schema1", "index", "no-digest", "bad-layer-type"])
def test_parse_manifest(document: dict, content_type: str | None, error: str | None) -> None:
    if error:
        with pytest.raises(mf.ManifestError, match=error):
            mf.parse_manifest(document, content_type)
    else:
        assert mf.parse_manifest(document, content_type)["config"]["digest"] == SHA


def test_image_config_and_chain_ids() -> None:
    config = mf.parse_image_config({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin"],
                   "WorkingDir": "/srv", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]}})
    assert (config["entrypoint"], config["cmd"], config["env"], config["working_dir"], config["user"]) == (
        ["/bin/sh", "-c"], ["echo hi"], ["PATH=/bin"], "/srv", "1000:1000")
    chains = mf.chain_ids(config["diff_ids"])
    expected = "sha256:" + hashlib.sha256(f"sha256:{'1' * 64} sha256:{'2' * 64}".encode()).hexdigest()
    assert chains == ["sha256:" + "1" * 64, expected]


IMAGE = {"entrypoint": ["/entry"], "cmd": ["default"]}


@pytest.mark.parametrize("command,args,expected", [
    (None, None, ["/entry", "default"]),
    (["/bin/x"], None, ["/bin/x"]),
    (None, ["a"], ["/entry", "a"]),
    (["/bin/x"], ["a"], ["/bin/x", "a"]),
], ids=["image", "command", "args", "both"])
def test_process_args(command: list[str] | None, args: list[str] | None, expected: list[str]) -> None:
    assert mf.process_args(IMAGE, command, args) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("name,expected", [
    ("./a//b/", "a/b"), ("/etc/passwd", "etc/passwd"), ("a/../b", "b"), (".", ""), ("a/./b/..", "a"),
], ids=["dots", "absolute", "parent-inside", "root", "trailing"])
def test_safe_member_path(name: str, expected: str) -> None:
    assert safe_member_path(name) == expected


@pytest.mark.parametrize("name", ["..", "../x", "a/../../x", "/../x"], ids=repr)
def test_member_path_escape(name: str) -> None:
    with pytest.raises(LayerError):
        safe_member_path(name)


@pytest.mark.parametrize("path,expected", [
    ("etc/.wh.passwd", ("whiteout", "etc/passwd")),
    (".wh.tmp", ("whiteout", "tmp")),
    ("var/.wh..wh..opq", ("opaque", "var")),
    (".wh..wh..opq", ("opaque", "")),
    ("etc/passwd", ("file", "etc/passwd")),
    ("etc/x.wh.y", ("file", "etc/x.wh.y")),
], ids=["file", "top", "opaque", "opaque-root", "plain", "not-prefix"])
def test_whiteout_action(path: str, expected: tuple[str, str]) -> None:
    assert whiteout_action(path) == expected


def _tar(entries: list[tuple[str, str, bytes | str]], *, compress: bool = False) -> bytes:
    """entries: (name, type 'f'|'d'|'l'|'h', data or link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
                tar.addfile(info)
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
                tar.addfile(info)
            else:
                payload = data if isinstance(data, bytes) else data.encode()
                info.size, info.mode = len(payload), 0o644
                tar.addfile(info, io.BytesIO(payload))
    raw = buf.getvalue()
    return gzip.compress(raw) if compress else raw


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "->" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_char_device():
                out[rel] = "whiteout"
            else:
                out[rel] = p.read_text()
    return out


BASE = [("etc", "d", b""), ("etc/passwd", "f", "root"), ("etc/group", "f", "g"), ("var", "d", b""),
        ("var/old", "f", "o"), ("var/sub", "d", b""), ("var/sub/deep", "f", "d"), ("bin", "d", b""),
        ("bin/sh", "f", "sh")]
UPPER = [("etc/.wh.group", "f", b""), ("var/.wh..wh..opq", "f", b""), ("var/new", "f", "n"),
         ("bin/ls", "h", "bin/sh"), ("usr", "l", "/bin")]


def test_unpack_flat_applies_whiteouts(tmp_path: Path) -> None:
    for i, (entries, compress) in enumerate([(BASE, True), (UPPER, False)]):
        blob = tmp_path / f"l{i}"
        blob.write_bytes(_tar(entries, compress=compress))
        diff_id, _ = unpack_layer(blob, tmp_path / "root", mode="flat")
        assert diff_id == "sha256:" + hashlib.sha256(_tar(entries)).hexdigest()
    assert _tree(tmp_path / "root") == {
        "etc": "dir", "var": "dir", "bin": "dir", "usr": "->/bin", "etc/passwd": "root",
        "var/new": "n", "bin/sh": "sh", "bin/ls": "sh"}
    assert os.stat(tmp_path / "root/bin/ls").st_ino == os.stat(tmp_path / "root/bin/sh").st_ino


@pytest.mark.skipif(os.geteuid() != 0, reason="overlay whiteouts are device nodes and trusted xattrs (root)")
def test_unpack_overlay_format(tmp_path: Path) -> None:
    blob = tmp_path / "l"
    blob.write_bytes(_tar(UPPER[:3]))
    unpack_layer(blob, tmp_path / "diff", mode="overlay")
    assert _tree(tmp_path / "diff") == {"etc": "dir", "var": "dir", "etc/group": "whiteout", "var/new": "n"}
    assert os.stat(tmp_path / "diff/etc/group").st_rdev == 0
    assert os.getxattr(tmp_path / "diff/var", "trusted.overlay.opaque") == b"y"


@pytest.mark.parametrize("entries,message", [
    ([("../evil", "f", "x")], "escapes"),
    ([("a", "l", "/etc"), ("a/passwd", "f", "x")], "symlink"),
    ([("x", "h", "../../etc/passwd")], "escapes"),
    ([("x", "h", "missing")], "missing"),
], ids=["dotdot", "through-symlink", "hardlink-outside", "hardlink-missing"])
def test_unpack_refuses_escapes(tmp_path: Path, entries: list, message: str) -> None:
    blob = tmp_path / "l"
    blob.write_bytes(_tar(entries))
    with pytest.raises(LayerError, match=message):
        unpack_layer(blob, tmp_path / "root", mode="flat")
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("policy,present,expected", [
    ("Always", True, PullAction.PULL),
    ("Always", False, PullAction.PULL),
    ("IfNotPresent", True, PullAction.USE_PRESENT),
    ("IfNotPresent", False, PullAction.PULL),
    ("Never", True, PullAction.USE_PRESENT),
    ("Never", False, PullAction.NEVER_PULL_ERROR),
], ids=lambda v: str(v))
def test_pull_action(policy: str, present: bool, expected: PullAction) -> None:
    assert pull_action(policy, present=present) is expected


@pytest.mark.parametrize("image,policy", [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
    (f"busybox@{SHA}", "IfNotPresent"), (f"busybox:latest@{SHA}", "IfNotPresent"),
], ids=["no-tag", "latest", "tag", "digest", "latest-digest"])
def test_default_pull_policy(image: str, policy: str) -> None:
    assert default_pull_policy(image) == policy


def test_credentials_from_docker_config() -> None:
    auth = base64.b64encode(b"alice:s3:cret").decode()
    creds = credentials_from_docker_config(
        {"auths": {"https://index.docker.io/v1/": {"auth": auth}, "reg.example:5000": {"username": "bob",
                                                                                          "password": "pw"}}},
        {"reg.example:5000": {"username": "later", "password": "x"}, "http://other/": {"auth": "!!"}})
    assert creds == {"docker.io": ("alice", "s3:cret"), "reg.example:5000": ("bob", "pw")}


@pytest.mark.parametrize("header,expected", [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
     ("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                 "scope": "repository:library/busybox:pull"})),
    ('Basic realm="Registry Realm"', ("basic", {"realm": "Registry Realm"})),
    ('Bearer realm=https://a/t, service=x', ("bearer", {"realm": "https://a/t", "service": "x"})),
], ids=["bearer", "basic", "unquoted"])
def test_parse_www_authenticate(header: str, expected: tuple) -> None:
    assert parse_www_authenticate(header) == expected


@pytest.mark.parametrize("registry,insecure,scheme", [
    ("localhost:5000", [], "http"), ("127.0.0.1:5000", [], "http"), ("127.1.2.3", [], "http"),
    ("[::1]:5000", [], "http"), ("docker.io", [], "https"), ("reg.lan:5000", [], "https"),
    ("reg.lan:5000", ["reg.lan:5000"], "http"), ("reg.lan:5000", ["http://reg.lan"], "http"),
    ("10.0.0.1:5000", [], "https"),
], ids=lambda v: str(v))
def test_registry_scheme(registry: str, insecure: list[str], scheme: str) -> None:
    assert registry_scheme(registry, insecure) == scheme


def _put_image(store: ImageStore, layers: list[bytes], tag: str, env: str = "A=1") -> str:
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = store.write_blob(json.dumps({"os": "linux", "architecture": "amd64", "config": {"Env": [env]},
                                          "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
    descs = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": store.write_blob(layer),
              "size": len(layer)} for layer in layers]
    manifest = store.write_blob(json.dumps({"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                                            "config": {"mediaType": mf.OCI_CONFIG, "digest": config, "size": 1},
                                            "layers": descs}).encode())
    return store.add_image([parse_reference(tag)], manifest, config)["id"]


def test_store_index_sharing_and_gc(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    base, top = _tar(BASE), _tar([("extra", "f", "e")])
    first = _put_image(store, [base], "test/a:1")
    second = _put_image(store, [base, top], "test/b:1", env="B=2")
    assert len(list((tmp_path / "layers/sha256").iterdir())) == 2  # base shared
    assert store.get("test/a:1")["id"] == first  # type: ignore[index]
    assert store.get("docker.io/test/b:1")["id"] == second  # type: ignore[index]
    assert store.get(second[7:19])["id"] == second  # type: ignore[index]
    assert store.get("test/a:2") is None
    digest = store.get("test/b:1")["repo_digests"][0]  # type: ignore[index]
    assert store.get(digest.replace("docker.io/", ""))["id"] == second  # type: ignore[index]
    assert [i["id"] for i in store.list()] == [first, second]
    # retagging moves the tag
    _put_image(store, [base], "test/b:1")
    assert store.get("test/b:1")["id"] == first  # type: ignore[index]
    assert store.get(second)["repo_tags"] == []  # type: ignore[index]
    removed = store.garbage_collect(in_use=["test/a:1"])
    assert removed["images"] == [second] and len(removed["layers"]) == 1
    assert store.layer_dir(mf.chain_ids(["sha256:" + hashlib.sha256(base).hexdigest()])[0]).is_dir()
    store.remove("test/a:1")
    assert store.get(first)["repo_tags"] == ["docker.io/test/b:1"]  # type: ignore[index]
    store.remove("test/b:1")
    assert store.list() == []
    with pytest.raises(ImageNotFound):
        store.remove("test/b:1")
    store.garbage_collect()
    assert list((tmp_path / "blobs/sha256").iterdir()) == [] and list((tmp_path / "layers/sha256").iterdir()) == []


def test_store_rejects_wrong_digest_and_diff_id(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(ValueError, match="mismatch"):
        store.write_blob(b"data", SHA)
    layer = _tar(BASE)
    config = store.write_blob(json.dumps({"rootfs": {"type": "layers", "diff_ids": [SHA]}}).encode())
    manifest = store.write_blob(json.dumps({"schemaVersion": 2, "config": {"digest": config}, "layers": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": store.write_blob(layer)}]}).encode())
    with pytest.raises(LayerError, match="does not match"):
        store.add_image([parse_reference("x:1")], manifest, config)
    assert list((tmp_path / "layers/sha256").iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []
