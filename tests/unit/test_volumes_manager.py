"""VolumeManager on a real filesystem (root, under tmp_path): emptyDir on disk and as tmpfs,
hostPath type checks and creation, downwardAPI with refresh, fsGroup, teardown leaving
nothing mounted, and the read-only rule of container_mounts. API-backed sources are in
tests/integration/test_volumes_live.py."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from kubepy.client.clock import FakeClock
from kubepy.kubelet.pods.mounts import container_mounts, read_only_volume_path
from kubepy.kubelet.volumes import VolumeError, VolumeManager
from kubepy.kubelet.volumes.hostpath import type_error
from kubepy.kubelet.volumes.manager import read_only_volumes
from kubepy.kubelet.volumes.ownership import owned_mode
from kubepy.kubelet.volumes.tmpfs import mount_points

Obj = dict[str, Any]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts tmpfs: needs root")


def pod(*volumes: Obj, fs_group: int | None = None, labels: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "resources": {"limits": {"cpu": "500m"}}}],
                 "volumes": list(volumes)}
    if fs_group is not None:
        spec["securityContext"] = {"fsGroup": fs_group}
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "uid-1", "labels": labels or {}},
            "spec": spec}


def manager() -> VolumeManager:
    return VolumeManager(None, node_name="n1", clock=FakeClock(), allocatable={"cpu": "4"})


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def mounted_under(root: Path) -> list[str]:
    return [m for m in mount_points() if m.startswith(str(root.resolve()) + "/")]


def test_empty_dirs_disk_and_memory(tmp_path: Path) -> None:
    vm, pod_dir = manager(), tmp_path / "pod"
    p = pod({"name": "scratch", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "2Mi"}})
    try:
        paths = run(vm.setup(p, str(pod_dir)))
        assert paths == {"scratch": str(pod_dir / "volumes/kubernetes.io~empty-dir/scratch"),
                         "mem": str(pod_dir / "volumes/kubernetes.io~empty-dir/mem")}
        assert stat.S_IMODE(os.stat(paths["scratch"]).st_mode) == 0o777
        assert mounted_under(tmp_path) == [paths["mem"]]
        vfs = os.statvfs(paths["mem"])
        assert vfs.f_blocks * vfs.f_frsize == 2 * 1024 * 1024
        Path(paths["mem"], "kept").write_text("x")
        Path(paths["scratch"], "kept").write_text("y")
        assert run(vm.setup(p, str(pod_dir))) == paths      # idempotent: no second mount
        assert mounted_under(tmp_path) == [paths["mem"]]
        assert Path(paths["mem"], "kept").read_text() == "x"
        assert Path(paths["scratch"], "kept").read_text() == "y"
    finally:
        run(vm.teardown(p, str(pod_dir)))
    assert mounted_under(tmp_path) == []
    assert not (pod_dir / "volumes").exists()


def test_memory_size_limit_is_enforced(tmp_path: Path) -> None:
    vm, pod_dir = manager(), tmp_path / "pod"
    p = pod({"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "64Ki"}})
    try:
        path = run(vm.setup(p, str(pod_dir)))["mem"]
        with pytest.raises(OSError) as e:
            Path(path, "big").write_bytes(b"\0" * 200 * 1024)
        assert e.value.errno == 28   # ENOSPC
    finally:
        run(vm.teardown(p, str(pod_dir)))
    assert mounted_under(tmp_path) == []


@pytest.mark.parametrize("kind,make,mode", [
    ("DirectoryOrCreate", None, 0o755), ("FileOrCreate", None, 0o644),
    ("DirectoryOrCreate", "dir", None), ("FileOrCreate", "file", None),
    ("Directory", "dir", None), ("File", "file", None), ("", None, None),
    ("Socket", "socket", None), ("CharDevice", "/dev/null", None),
])
def test_host_path_accepted(tmp_path: Path, kind: str, make: str | None, mode: int | None) -> None:
    target = tmp_path / "host" / "thing"
    target.parent.mkdir(parents=True)
    if make and make.startswith("/"):
        target = Path(make)
    elif make:
        if make == "dir":
            target.mkdir()
        elif make == "file":
            target.write_text("")
        else:
            s = socket.socket(socket.AF_UNIX)
            s.bind(str(target))
            s.close()
    p = pod({"name": "h", "hostPath": {"path": str(target), "type": kind}})
    assert run(manager().setup(p, str(tmp_path / "pod"))) == {"h": str(target)}
    if mode is not None:
        assert stat.S_IMODE(target.stat().st_mode) == mode
        assert target.is_dir() is (kind == "DirectoryOrCreate")


@pytest.mark.parametrize("kind,make,cause", [
    ("Directory", None, "hostPath type check failed: {p} is not a directory"),
    ("Directory", "file", "hostPath type check failed: {p} is not a directory"),
    ("DirectoryOrCreate", "file", "hostPath type check failed: {p} is not a directory"),
    ("File", "dir", "hostPath type check failed: {p} is not a file"),
    ("FileOrCreate", "dir", "hostPath type check failed: {p} is not a file"),
    ("Socket", "file", "hostPath type check failed: {p} is not a socket file"),
    ("Socket", None, 'path "{p}" does not exist'),
    ("CharDevice", "file", "hostPath type check failed: {p} is not a character device"),
    ("BlockDevice", "file", "hostPath type check failed: {p} is not a block device"),
    ("Weird", "file", "Weird is an invalid volume type"),
    ("FileOrCreate", "no-parent", "open {p}: no such file or directory"),
])
def test_host_path_rejected(tmp_path: Path, kind: str, make: str | None, cause: str) -> None:
    target = tmp_path / "thing"
    if make == "no-parent":
        target = tmp_path / "missing-dir" / "thing"
    if make == "dir":
        target.mkdir()
    elif make == "file":
        target.write_text("")
    p = pod({"name": "h", "hostPath": {"path": str(target), "type": kind}})
    with pytest.raises(VolumeError) as e:
        run(manager().setup(p, str(tmp_path / "pod")))
    assert e.value.reason == "FailedMount"
    assert e.value.message == ('MountVolume.SetUp failed for volume "h" : '
                               + cause.format(p=target))


def test_host_path_with_backsteps_rejected(tmp_path: Path) -> None:
    p = pod({"name": "h", "hostPath": {"path": f"{tmp_path}/a/../b"}})
    with pytest.raises(VolumeError, match=r"invalid HostPath `.*/a/\.\./b`: must not contain '\.\.'"):
        run(manager().setup(p, str(tmp_path / "pod")))


@pytest.mark.parametrize("mode,path_type,message", [
    (None, "Directory", "hostPath type check failed: /x is not a directory"),
    (stat.S_IFDIR | 0o755, "Directory", None), (stat.S_IFREG, "File", None),
    (stat.S_IFBLK, "BlockDevice", None), (stat.S_IFSOCK, "Socket", None),
    (stat.S_IFREG, "", None), (None, "", None)])
def test_type_error(mode: int | None, path_type: str, message: str | None) -> None:
    assert type_error("/x", path_type, mode) == message


def test_downward_api_refresh_and_fs_group(tmp_path: Path) -> None:
    vm, pod_dir = manager(), tmp_path / "pod"
    vol = {"name": "info", "downwardAPI": {"defaultMode": 0o400, "items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "limits/cpu", "resourceFieldRef": {"containerName": "c",
                                                    "resource": "limits.cpu", "divisor": "1m"}},
        {"path": "limits/mem", "resourceFieldRef": {"containerName": "c",
                                                    "resource": "limits.memory"}}]}}
    p = pod(vol, fs_group=4321, labels={"app": "web"})
    path = Path(run(vm.setup(p, str(pod_dir)))["info"])
    assert path == pod_dir / "volumes/kubernetes.io~downward-api/info"
    assert (path / "labels").read_text() == 'app="web"'
    assert (path / "limits/cpu").read_text() == "500"
    assert (path / "limits/mem").read_text() == "0"            # no limit, no allocatable memory
    data = path / os.readlink(path / "..data")
    st = (data / "labels").stat()
    assert st.st_gid == 4321 and stat.S_IMODE(st.st_mode) == 0o440   # defaultMode + group read
    assert (data / "limits").stat().st_mode & stat.S_ISGID
    first = os.readlink(path / "..data")

    # running containers see the new labels through the swapped ..data link
    p["metadata"]["labels"] = {"app": "web", "version": "2"}
    run(vm.refresh(p, str(pod_dir)))
    assert (path / "labels").read_text() == 'app="web"\nversion="2"'
    assert os.readlink(path / "..data") != first
    assert (path / os.readlink(path / "..data") / "labels").stat().st_gid == 4321
    run(vm.teardown(p, str(pod_dir)))


@pytest.mark.parametrize("volume,cause", [
    ({"name": "v", "downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}}]}},
     "unsupported fieldPath: spec.nodeName"),
    ({"name": "v", "downwardAPI": {"items": [{"path": "../x", "fieldRef": {"fieldPath": "metadata.name"}}]}},
     "invalid path: must not start with '..': ../x"),
    ({"name": "v", "emptyDir": {"medium": "HugePages"}}, "emptyDir medium HugePages is not supported"),
    ({"name": "v", "nfs": {"server": "s", "path": "/"}}, "volume type nfs is not supported"),
    ({"name": "v", "configMap": {"name": "cfg"}},
     "couldn't get configMap ns/cfg, no kubeClient defined"),
])
def test_setup_failures(tmp_path: Path, volume: Obj, cause: str) -> None:
    with pytest.raises(VolumeError) as e:
        run(manager().setup(pod(volume), str(tmp_path / "pod")))
    assert e.value.message == f'MountVolume.SetUp failed for volume "v" : {cause}'


def test_claim_without_client(tmp_path: Path) -> None:
    p = pod({"name": "data", "persistentVolumeClaim": {"claimName": "c1"}})
    with pytest.raises(VolumeError) as e:
        run(manager().setup(p, str(tmp_path / "pod")))
    assert e.value.message == (
        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[], "
        "failed to process volumes=[data]: error processing PVC ns/c1: failed to fetch PVC "
        "from API server: couldn't get PersistentVolumeClaim ns/c1, no kubeClient defined")


def test_teardown_detaches_a_busy_mount_and_is_idempotent(tmp_path: Path) -> None:
    vm, pod_dir = manager(), tmp_path / "pod"
    p = pod({"name": "mem", "emptyDir": {"medium": "Memory"}})
    path = run(vm.setup(p, str(pod_dir)))["mem"]
    with open(Path(path, "f"), "w") as busy:       # an open file keeps the tmpfs busy
        busy.write("data")
        run(vm.teardown(p, str(pod_dir)))          # lazily detached
        assert mounted_under(tmp_path) == [] and not os.path.exists(path)
    run(vm.teardown(p, str(pod_dir)))


@pytest.mark.parametrize("mode,is_dir,read_only,expected", [
    (0o644, False, True, 0o644), (0o400, False, True, 0o440), (0o600, False, False, 0o660),
    (0o755, True, True, 0o2755), (0o700, True, False, 0o2770), (0o777, True, False, 0o2777)])
def test_owned_mode(mode: int, is_dir: bool, read_only: bool, expected: int) -> None:
    assert owned_mode(mode, is_dir=is_dir, read_only=read_only) == expected


VOLUMES = {"cfg": "/k/pods/u/volumes/kubernetes.io~configmap/cfg",
           "sec": "/k/pods/u/volumes/kubernetes.io~secret/sec",
           "tok": "/k/pods/u/volumes/kubernetes.io~projected/tok",
           "dw": "/k/pods/u/volumes/kubernetes.io~downward-api/dw",
           "scratch": "/k/pods/u/volumes/kubernetes.io~empty-dir/scratch",
           "host": "/srv/data", "claim": "/srv/pv1"}


@pytest.mark.parametrize("mount,read_only_names,expected", [
    ({"name": "cfg", "mountPath": "/etc/cfg"}, (), True),
    ({"name": "cfg", "mountPath": "/etc/cfg", "readOnly": False}, (), True),
    ({"name": "sec", "mountPath": "/s", "subPath": "key"}, (), True),
    ({"name": "tok", "mountPath": "/t"}, (), True),
    ({"name": "dw", "mountPath": "/d"}, (), True),
    ({"name": "scratch", "mountPath": "/x"}, (), False),
    ({"name": "scratch", "mountPath": "/x", "readOnly": True}, (), True),
    ({"name": "host", "mountPath": "/h"}, (), False),
    ({"name": "claim", "mountPath": "/c"}, ("claim",), True),
])
def test_container_mounts_read_only(mount: Obj, read_only_names: tuple[str, ...],
                                    expected: bool) -> None:
    mounts = container_mounts({"name": "c", "volumeMounts": [mount]}, volumes=VOLUMES,
                              etc_hosts=None, etc_hostname=None, resolv_conf=None,
                              termination_log=None, read_only_volumes=read_only_names)
    assert mounts[0]["options"][-1] == ("ro" if expected else "rw")


def test_read_only_volumes_and_paths() -> None:
    p = pod({"name": "a", "configMap": {"name": "x"}}, {"name": "b", "emptyDir": {}},
            {"name": "c", "persistentVolumeClaim": {"claimName": "x", "readOnly": True}},
            {"name": "d", "persistentVolumeClaim": {"claimName": "y"}},
            {"name": "e", "projected": {"sources": []}})
    assert read_only_volumes(p) == {"a", "c", "e"}
    assert read_only_volume_path("/x/volumes/kubernetes.io~secret/s")
    assert not read_only_volume_path("/srv/volumes/kubernetes.io~secret")   # no volume name
    assert not read_only_volume_path("/x/volumes/kubernetes.io~empty-dir/s")
