"""Harness for controller tests on a real ``kubepy server``: the controllers under test run
in the test's event loop, and the test plays kubelet and scheduler through the API.

Contract:

* ``api_only_server(label)`` makes a pytest fixture: a server of its own started without
  its controller-manager and scheduler (``API_ONLY``), so the in-process controllers are
  the only writers besides the test.
* ``running_controllers(server, modules, prefix=...)`` is an async context manager: a fresh
  namespace ``<prefix>-<suffix>``, one ``ControllerContext`` from the admin kubeconfig, the
  controllers of ``modules`` (each module's ``new_controllers(ctx)``) running, and optional
  background tasks (a fake kubelet; a ``FakeClock`` following real time). On exit every task
  is cancelled, the informers stopped, the event recorders closed, the objects made with
  ``Cluster.create_tracked`` and the namespace deleted, the client closed — also when the
  test fails.
* ``play_kubelet(cl, ...)`` binds unbound pods, writes each bound pod's status once (what
  ``state_for`` asks: Running and Ready, Running not Ready, Succeeded or Failed) and
  finishes graceful deletions of pods without finalizers. ``pod_status`` is the pure
  status it writes.
* ``wait_for(predicate)`` polls an async predicate until its value is truthy and returns
  it, or fails the test with the last value; ``run(coro)`` runs a test body with an overall
  time limit, so a hung controller fails instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Literal, TypeVar

import pytest

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock, FakeClock
from kubepy.client.controller import Controller
from kubepy.client.events import EVENTS, EventRecorder
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.rest import ApiClient
from kubepy.controllers.context import ControllerConfig, ControllerContext
from tests.conftest import API_ONLY, ServerProcess, start_server

Obj = dict[str, Any]
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
NAMESPACES: ResourceType = Registry().get("", "v1", "namespaces")  # type: ignore[assignment]
PODS: ResourceType = Registry().get("", "v1", "pods")  # type: ignore[assignment]
# what the fake kubelet makes of a bound pod: Running+Ready, Running not Ready, Succeeded,
# Failed (exit code 3)
PodState = Literal["ready", "unready", "succeed", "fail"]
FAILED_EXIT_CODE = 3


# ---------------------------------------------------------------------------- server, time

def api_only_server(label: str, *, name: str = "server",
                    scope: Literal["function", "module"] = "module") -> Any:
    """A fixture ``name`` (use: ``server = api_only_server("ctrl-jobs")`` at module level)
    giving a server without controller-manager and scheduler, data under a temp dir
    ``label``."""
    @pytest.fixture(scope=scope, name=name)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
        server = start_server(tmp_path_factory.mktemp(label), extra=API_ONLY)
        try:
            yield server
        finally:
            server.stop()
    return fixture


def run(coro: Awaitable[Any], timeout: float = 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def wait_for(predicate: Callable[[], Awaitable[Any]], timeout: float = 20.0,
                   interval: float = 0.05) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting; last value {value!r}")
        await asyncio.sleep(interval)


async def equals(value: Awaitable[Any], expected: Any) -> bool:
    """For ``wait_for(lambda: equals(phase(), "Bound"))``."""
    return await value == expected


async def gone(client: ApiClient, rt: ResourceType, name: str, namespace: str | None) -> bool:
    try:
        await client.get(rt, name, namespace)
    except errors.NotFound:
        return True
    return False


def timestamp(clock: Clock = REAL_CLOCK) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_clock() -> FakeClock:
    return FakeClock(start=datetime.now(timezone.utc), monotonic=1000.0)


async def follow_real_time(clock: FakeClock, step: float = 0.02) -> None:
    """Fake time follows real time (so retries and requeues fire); tests may jump ahead."""
    while True:
        await asyncio.sleep(step)
        clock.advance(step)


# ---------------------------------------------------------------------------- pod status

def pod_status(pod: Obj, state: PodState, *, now: str, ip: str, exit_code: int = 0) -> Obj:
    """The status a kubelet would report for ``pod`` in ``state`` (kept: fields of the old
    status the new one does not set, such as qosClass)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    if state in ("ready", "unready"):
        flag = "True" if state == "ready" else "False"
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now}
                      for t in ("PodScheduled", "Initialized")]
        conditions += [{"type": t, "status": flag, "lastTransitionTime": now}
                       for t in ("ContainersReady", "Ready")]
        new: Obj = {
            "phase": "Running", "conditions": conditions, "podIP": ip, "podIPs": [{"ip": ip}],
            "hostIP": "10.250.0.1", "startTime": now, "containerStatuses": [
                {"name": c["name"], "image": c["image"], "imageID": "",
                 "ready": state == "ready", "restartCount": 0, "started": True,
                 "state": {"running": {"startedAt": now}}} for c in containers]}
    else:
        new = {
            "phase": "Succeeded" if state == "succeed" else "Failed", "startTime": now,
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now,
                            "reason": "PodCompleted"}],
            "containerStatuses": [
                {"name": c["name"], "image": c["image"], "imageID": "", "ready": False,
                 "restartCount": 0, "started": False,
                 "state": {"terminated": {"exitCode": exit_code,
                                          "reason": "Completed" if exit_code == 0 else "Error",
                                          "startedAt": now, "finishedAt": now}}}
                for c in containers]}
    return {**(pod.get("status") or {}), **new}


def affinity_node(pod: Obj) -> str | None:
    """The node a required ``matchFields metadata.name`` term names (DaemonSet pods)."""
    required = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name":
                return req["values"][0]
    return None


# ---------------------------------------------------------------------------- cluster

@dataclass
class Cluster:
    """One test's view: its client, its namespace (``<prefix>-<suffix>``), the controllers'
    clock and event recorders, and the objects outside the namespace to delete at the end."""
    client: ApiClient
    namespace: str
    suffix: str
    kubeconfig: Path
    clock: Clock
    recorders: dict[str, EventRecorder] = field(default_factory=dict)
    tracked: list[tuple[ResourceType, str, str | None]] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"{base}-{self.suffix}"

    def recorder_for(self, component: str) -> EventRecorder:
        return self.recorders.setdefault(component, EventRecorder(self.client, component))

    async def create_tracked(self, rt: ResourceType, obj: Obj,
                             namespace: str | None = None) -> Obj:
        """Create an object outside the test namespace (cluster-scoped, or in
        ``namespace``); it is deleted when the cluster stops."""
        created = await self.client.create(rt, obj, namespace)
        self.tracked.append((rt, created["metadata"]["name"], namespace))
        return created

    async def pods(self, *, live: bool = False) -> list[Obj]:
        """The namespace's pods by name; ``live``: not terminating."""
        items = (await self.client.list(PODS, self.namespace))["items"]
        if live:
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return sorted(items, key=lambda p: p["metadata"]["name"])

    async def events(self, namespace: str | None = None, *,
                     reason: str | None = None) -> list[Obj]:
        """Events in ``namespace`` (default: the test's) once the recorders have written
        theirs; only those with ``reason`` if given."""
        for rec in self.recorders.values():
            await rec.flush()
        items = (await self.client.list(EVENTS, namespace or self.namespace))["items"]
        return [e for e in items if reason is None or e.get("reason") == reason]

    async def reasons_for(self, name: str, namespace: str | None = None) -> dict[str, str]:
        """reason -> message of the events about the object ``name``."""
        return {e["reason"]: e["message"] for e in await self.events(namespace)
                if e["involvedObject"]["name"] == name}

    async def set_pod_state(self, pod: Obj, state: PodState, *, ip: str = "10.42.0.9",
                            exit_code: int = 0) -> None:
        status = pod_status(pod, state, now=timestamp(), ip=ip, exit_code=exit_code)
        await self.client.update_status(PODS, {**pod, "status": status})

    async def kubectl(self, *args: str, timeout: float = 60) -> tuple[int, str]:
        """Real kubectl in the test namespace: (exit code, stdout and stderr)."""
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL), "--kubeconfig", str(self.kubeconfig), "-n", self.namespace, *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "KUBECACHEDIR": str(self.kubeconfig.parent / "kcache")})
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        return proc.returncode or 0, out.decode()


async def play_kubelet(cl: Cluster, *,
                       node_for: Callable[[Obj], str] = lambda pod: affinity_node(pod)
                       or "node-1",
                       state_for: Callable[[Obj], PodState | None] = lambda pod: "ready",
                       start_delay: float = 0.0, interval: float = 0.05) -> None:
    """Bind unbound pods to ``node_for(pod)``; write the status ``state_for(pod)`` names
    (None: leave it for now) once per pod, no sooner than ``start_delay`` after it was first
    seen bound; finish the graceful deletion of terminating pods without finalizers."""
    loop = asyncio.get_running_loop()
    first_seen: dict[str, float] = {}
    handled: set[str] = set()
    while True:
        for pod in await cl.pods():
            meta, spec = pod["metadata"], pod.get("spec") or {}
            name, uid = meta["name"], meta["uid"]
            try:
                if meta.get("deletionTimestamp"):
                    if not meta.get("finalizers"):
                        await cl.client.delete(PODS, name, cl.namespace, grace_period_seconds=0)
                elif not spec.get("nodeName"):
                    await cl.client.create_subresource(PODS, name, "binding", {
                        "apiVersion": "v1", "kind": "Binding",
                        "metadata": {"name": name, "namespace": cl.namespace},
                        "target": {"kind": "Node", "name": node_for(pod)}}, cl.namespace)
                elif uid not in handled:
                    if loop.time() - first_seen.setdefault(uid, loop.time()) < start_delay:
                        continue
                    state = state_for(pod)
                    if state is not None:
                        ip = f"10.42.{len(handled) // 250}.{len(handled) % 250 + 2}"
                        await cl.set_pod_state(pod, state, ip=ip, exit_code=0 if state != "fail"
                                               else FAILED_EXIT_CODE)
                        handled.add(uid)
            except (errors.NotFound, errors.Conflict):
                continue
        await asyncio.sleep(interval)


C = TypeVar("C", bound=Cluster)


@contextlib.asynccontextmanager
async def running_controllers(
        server: ServerProcess, modules: tuple[ModuleType, ...], *, prefix: str,
        cluster_type: type[C] = Cluster,  # type: ignore[assignment]
        clock: Clock = REAL_CLOCK, clock_follows_real_time: bool = False,
        config: ControllerConfig | None = None, namespaced_informers: bool = False,
        kubelet: Callable[[C], Awaitable[None]] | None = None) -> AsyncIterator[C]:
    """The controllers of ``modules`` running against ``server`` for one test namespace;
    ``namespaced_informers`` limits their informers to it; ``kubelet(cl)`` (such as
    ``play_kubelet``) runs alongside; ``clock_follows_real_time`` moves a FakeClock along."""
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    suffix = uuid.uuid4().hex[:8]
    namespace = f"{prefix}-{suffix}"
    await client.create(NAMESPACES, {"metadata": {"name": namespace}})
    cl = cluster_type(client, namespace, suffix, server.kubeconfig, clock)
    factory = SharedInformerFactory(client, namespace=namespace if namespaced_informers else None)
    ctx = ControllerContext(client, factory, clock, config or ControllerConfig(),
                            cl.recorder_for)
    controllers: list[Controller] = [c for m in modules for c in m.new_controllers(ctx)]
    factory.start()
    tasks = [asyncio.ensure_future(c.run()) for c in controllers]
    if kubelet is not None:
        tasks.append(asyncio.ensure_future(kubelet(cl)))
    if clock_follows_real_time:
        assert isinstance(clock, FakeClock), "only a FakeClock can follow real time"
        tasks.append(asyncio.ensure_future(follow_real_time(clock)))
    try:
        yield cl
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await factory.stop()
        for rec in cl.recorders.values():
            await rec.close()
        for rt, name, ns in reversed(cl.tracked):
            with contextlib.suppress(errors.StatusError):
                await client.delete(rt, name, ns)
        with contextlib.suppress(errors.StatusError):
            await client.delete(NAMESPACES, namespace)
        await client.close()
