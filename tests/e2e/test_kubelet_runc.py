"""The runc runtime layer against real runc (root): sandbox, containers joining it, exit
codes, logs, OOM kills, stopping, and nothing left behind.

Needs root, runc and busybox-static (Debian packages ``runc``, ``busybox-static``); fails,
not skips, when they are missing. Every test works under its own runc root, temp dir and
cgroup parent ``kubepy-test-<random>``; the fixture deletes every container, bundle and
cgroup it created and checks that nothing is left, also when the test fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.runc import (ContainerNotFound, ExitWatcher, Runc,
                                         oom_score_adj_floor, stop)
from kubepy.kubelet.runtime.sandbox import (BUSYBOX, Sandbox, prepare_pause_rootfs,
                                            run_sandbox, stop_sandbox)
from tests.bundles import busybox_rootfs, container_bundle, remove_runc_containers
from tests.bundles import sh_container as sh

Obj = dict[str, Any]


def _require() -> None:
    if os.geteuid() != 0:
        pytest.fail("e2e runtime tests need root")
    if not shutil.which("runc"):
        pytest.fail("runc is not installed (Debian package runc)")
    if not os.path.exists(BUSYBOX):
        pytest.fail("busybox-static is not installed")


@dataclass
class Env:
    tmp: str
    runc: Runc
    watcher: ExitWatcher
    cgroup_parent: str
    rootfs: str
    pause_rootfs: str
    pod: Obj
    containers: list[tuple[str, int]] = field(default_factory=list)

    def run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    async def sandbox(self) -> Sandbox:
        sandbox_id = f"{self.pod['metadata']['uid']}-sb"
        sandbox = await run_sandbox(self.runc, self.pod, sandbox_id=sandbox_id,
                                 bundle_dir=os.path.join(self.tmp, "sandbox"),
                                 pause_rootfs=self.pause_rootfs,
                                 cgroup_parent=self.cgroup_parent,
                                 oom_score_adj_floor=oom_score_adj_floor())
        self.containers.append((sandbox.id, sandbox.pid))
        return sandbox

    async def create(self, container: Obj, sandbox: Sandbox | None, *,
                     pod: Obj | None = None) -> tuple[str, int, str, Obj]:
        cid, bundle, spec = container_bundle(
            os.path.join(self.tmp, "bundles"), pod or self.pod, container, rootfs=self.rootfs,
            cgroup_parent=self.cgroup_parent, sandbox=sandbox,
            container_id=f"{self.pod['metadata']['uid']}-{container['name']}")
        pid = await self.runc.create(cid, bundle, stdout_path=os.path.join(bundle, "stdout"),
                                     stderr_path=os.path.join(bundle, "stderr"))
        self.containers.append((cid, pid))
        return cid, pid, bundle, spec

    async def run_to_completion(self, container: Obj, sandbox: Sandbox | None = None,
                                pod: Obj | None = None) -> tuple[int | None, str, str]:
        cid, pid, bundle, _ = await self.create(container, sandbox, pod=pod)
        waiter = asyncio.ensure_future(self.watcher.wait(pid))
        await self.runc.start(cid)
        code = await asyncio.wait_for(waiter, 20)
        await self.runc.delete(cid)
        return (code, open(os.path.join(bundle, "stdout")).read(),
                open(os.path.join(bundle, "stderr")).read())


async def _cleanup(env: Env) -> list[str]:
    problems = await remove_runc_containers(env.runc)
    for _cid, pid in env.containers:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    problems += cgroups.remove_cgroup(env.cgroup_parent)
    return problems


@pytest.fixture
def env() -> Iterator[Env]:
    _require()
    tmp = tempfile.mkdtemp(prefix="kubepy-runc-")
    uid = uuid.uuid4().hex[:12]
    e = Env(tmp=tmp, runc=Runc(os.path.join(tmp, "runc")), watcher=ExitWatcher(),
            cgroup_parent=f"kubepy-test-{uid}",
            rootfs=busybox_rootfs(os.path.join(tmp, "rootfs")),
            pause_rootfs=prepare_pause_rootfs(os.path.join(tmp, "pause")),
            pod={"metadata": {"name": "web-0", "namespace": "default", "uid": uid},
                 "spec": {"containers": []}})
    try:
        yield e
    finally:
        problems = asyncio.run(_cleanup(e))
        left = asyncio.run(e.runc.list())
        shutil.rmtree(tmp, ignore_errors=True)
        assert not problems, problems
        assert not left, left
        assert not cgroups.existing(e.cgroup_parent)
        for _cid, pid in e.containers:
            assert not os.path.exists(f"/proc/{pid}"), f"process {pid} left"


def test_exit_code_and_logs(env: Env) -> None:
    async def main() -> tuple[int | None, str, str]:
        sandbox = await env.sandbox()
        try:
            return await env.run_to_completion(
                sh("app", "echo hello $(GREETING); echo oops >&2; exit 3",
                   env=[{"name": "GREETING", "value": "world"}]), sandbox)
        finally:
            await stop_sandbox(env.runc, sandbox)

    code, out, err = env.run(main())
    assert (code, out, err) == (3, "hello world\n", "oops\n")


def test_container_joins_sandbox_namespaces(env: Env) -> None:
    async def main() -> None:
        sandbox = await env.sandbox()
        try:
            cid, pid, _, _ = await env.create(sh("app", "sleep 60"), sandbox)
            waiter = asyncio.ensure_future(env.watcher.wait(pid))
            await env.runc.start(cid)
            listed = {st.id: st for st in await env.runc.list()}
            assert listed[cid].status == "running" and listed[cid].pid == pid
            assert listed[cid].annotations["io.kubernetes.pod.name"] == "web-0"
            assert listed[sandbox.id].annotations["io.kubernetes.cri.container-type"] == \
                "sandbox"
            with pytest.raises(ContainerNotFound):
                await env.runc.state("no-such-container")
            for ns in ("net", "ipc", "uts"):
                assert os.readlink(f"/proc/{pid}/ns/{ns}") == \
                    os.readlink(f"/proc/{sandbox.pid}/ns/{ns}"), ns
                assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")
            for ns in ("pid", "mnt"):
                assert os.readlink(f"/proc/{pid}/ns/{ns}") != \
                    os.readlink(f"/proc/{sandbox.pid}/ns/{ns}"), ns
            code, out, _ = await env.run_to_completion(
                sh("probe", "hostname; ip -o link | cut -d: -f2 | tr -d ' '"), sandbox)
            assert code == 0 and out.split() == ["web-0", "lo"]
            await stop(env.runc, cid, pid, grace=0)
            assert await waiter == 137
            await env.runc.delete(cid)
        finally:
            await stop_sandbox(env.runc, sandbox)

    env.run(main())


@pytest.mark.parametrize("container,expected", [
    (sh("user", "id -u; id -g", securityContext={"runAsUser": 1000, "runAsGroup": 2000}),
     "1000\n2000\n"),
    (sh("readonly", "touch /tmp/x 2>/dev/null && echo writable || echo readonly",
        securityContext={"readOnlyRootFilesystem": True}), "readonly\n"),
    (sh("caps", "grep CapBnd /proc/self/status"), "CapBnd:\t00000000a80425fb\n"),
    (sh("caps-drop-all", "grep CapBnd /proc/self/status",
        securityContext={"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}),
     "CapBnd:\t0000000000001000\n"),
    (sh("masked", "cat /proc/kcore | wc -c; echo x > /proc/sys/kernel/domainname || echo ro"),
     "0\nro\n"),
    (sh("cwd", "pwd", workingDir="/tmp"), "/tmp\n"),
], ids=["runAsUser", "readOnlyRootFilesystem", "default-caps", "drop-all-add", "masked-ro-proc",
        "workingDir"])
def test_security_settings(env: Env, container: Obj, expected: str) -> None:
    code, out, err = env.run(env.run_to_completion(container))
    assert (code, out) == (0, expected), err


def test_oom_killed_under_memory_limit(env: Env) -> None:
    container = sh("hog", "tail /dev/zero",
                   resources={"limits": {"memory": "16Mi"}})

    async def main() -> tuple[int | None, int]:
        cid, pid, _, spec = await env.create(container, None)
        waiter = asyncio.ensure_future(env.watcher.wait(pid))
        await env.runc.start(cid)
        code = await asyncio.wait_for(waiter, 20)
        ooms = cgroups.oom_kill_count(spec["linux"]["cgroupsPath"])
        await env.runc.delete(cid)
        return code, ooms

    code, ooms = env.run(main())
    assert code == 137 and ooms >= 1


@pytest.mark.parametrize("script,grace,expected_code,min_s,max_s", [
    ("trap 'exit 0' TERM; sleep 60 & wait", 5.0, 0, 0.0, 2.0),
    ("trap '' TERM; sleep 60 & wait; sleep 60", 0.5, 137, 0.5, 3.0),
    ("sleep 60", 0.0, 137, 0.0, 2.0),
], ids=["term-honoured", "term-ignored-then-kill", "grace-0"])
def test_stop(env: Env, script: str, grace: float, expected_code: int, min_s: float,
              max_s: float) -> None:
    async def main() -> tuple[int | None, float]:
        cid, pid, _, _ = await env.create(sh("app", script), None)
        waiter = asyncio.ensure_future(env.watcher.wait(pid))
        await env.runc.start(cid)
        await asyncio.sleep(0.2)
        assert (await env.runc.state(cid)).status == "running"
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await stop(env.runc, cid, pid, grace=grace)
        elapsed = loop.time() - t0
        code = await asyncio.wait_for(waiter, 5)
        assert (await env.runc.state(cid)).status == "stopped"
        await env.runc.delete(cid)
        return code, elapsed

    code, elapsed = env.run(main())
    assert code == expected_code
    assert min_s <= elapsed <= max_s
