"""The pod lifecycle of ``kubepy agent`` on a real node (root, real runc/CNI, kubectl 1.32):
restartPolicy Always/OnFailure/Never, CrashLoopBackOff with a growing restartCount and
lastState, an init container restarted until it succeeds, and ImagePullBackOff for an
image that cannot be pulled. One server and one agent serve the whole module; the pods run
side by side.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import start_server
from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.store import ImageStore
from test_kubelet_agent_e2e import Cluster, _safety_net, cni_nat_state
from test_kubelet_pods_e2e import IMAGE, _links, _mounts_under, _require, build_busybox_image

Obj = dict[str, Any]
CLUSTER_CIDR = "10.238.0.0/16"
MISSING_IMAGE = "127.0.0.1:9/kubepy-e2e/missing:v1"   # discard port: nothing listens


def _pod(name: str, policy: str, script: str, *, init: str | None = None,
         image: str = IMAGE) -> Obj:
    spec: Obj = {"restartPolicy": policy, "terminationGracePeriodSeconds": 2,
                 "volumes": [{"name": "d", "emptyDir": {}}],
                 "containers": [{"name": name, "image": image, "command": ["sh", "-c", script],
                                 "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]}
    if init is not None:
        spec["initContainers"] = [{"name": "init", "image": IMAGE,
                                   "command": ["sh", "-c", init],
                                   "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


PODS = [
    _pod("crash", "Always", "echo crashing; exit 1"),
    _pod("retry", "OnFailure", "if [ -f /d/x ]; then exit 0; fi; touch /d/x; exit 3"),
    _pod("never", "Never", "exit 2"),
    _pod("initretry", "Always", "trap 'exit 0' TERM; sleep 3600 & wait",
         init="if [ -f /d/i ]; then exit 0; fi; touch /d/i; exit 5"),
    _pod("nopull", "Always", "true", image=MISSING_IMAGE),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require()
    tmp = tmp_path_factory.mktemp("lifecycle")
    tag = f"{os.getpid() % 100000}"
    nat_before, links_before = cni_nat_state(), _links()
    server = start_server(tmp / "server", extra=["--cluster-cidr", CLUSTER_CIDR])
    c = Cluster(tmp, server, bridge=f"kpylc{tag}"[:15], network=f"kubepy-e2e-lc-{tag}",
                node=f"lifecycle-{tag}", pod_cidr="10.238.0.0/24")
    try:
        layout = tmp / "layout"
        build_busybox_image(layout)
        import_archive(ImageStore(c.agent_dir / "images"), layout)
        c.start_agent()
        c.wait_for("the node", lambda: c.get("node", c.node)["spec"].get("podCIDR"), 40)
        manifest = tmp / "pods.json"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": PODS}))
        c.kubectl("apply", "-f", str(manifest))
        yield c
    finally:
        c.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=40s", check=False)
        c.stop_agent()
        server.stop()
        problems = asyncio.run(_safety_net(c))
        assert problems == []
        assert cni_nat_state() == nat_before
        assert _links() == links_before
        assert _mounts_under(str(tmp)) == []


def _status(c: Cluster, name: str) -> Obj:
    return c.get("pod", name)["status"]


def _container(c: Cluster, name: str, *, init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    return (_status(c, name).get(key) or [{}])[0]


def _events(c: Cluster, name: str) -> set[tuple[str, str]]:
    return {(e["reason"], e["message"]) for e in c.get(
        "events", "--field-selector", f"involvedObject.name={name}")["items"]}


def test_always_crash_loop_back_off(cluster: Cluster) -> None:
    c = cluster
    uid = c.get("pod", "crash")["metadata"]["uid"]
    cs = c.wait_for("crash in CrashLoopBackOff after a restart", lambda: (
        lambda s: s if s.get("restartCount", 0) >= 1 and
        s["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" else None)(
        _container(c, "crash")), timeout=30)
    assert cs["state"]["waiting"]["message"] == (
        f"back-off 10s restarting failed container=crash pod=crash_default({uid})")
    last = cs["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error")
    assert cs["ready"] is False and cs["started"] is False
    assert _status(c, "crash")["phase"] == "Running"
    # after the 10 s back-off it runs again: the count grows, the back-off doubles
    cs = c.wait_for("a 20s back-off", lambda: (
        lambda s: s if "back-off 20s" in s["state"].get("waiting", {}).get("message", "")
        else None)(_container(c, "crash")), timeout=30)
    assert cs["restartCount"] >= 2
    logs = sorted(p.name for p in (c.agent_dir / "logs").glob(f"default_crash_{uid}/crash/*"))
    assert logs[:3] == ["0.log", "1.log", "2.log"]
    assert c.wait_for("the BackOff event", lambda: (
        "BackOff", f"Back-off restarting failed container crash in pod crash_default({uid})")
        in _events(c, "crash"))


def test_on_failure_restarts_until_success(cluster: Cluster) -> None:
    c = cluster
    st = c.wait_for("retry to succeed", lambda: (
        lambda s: s if s.get("phase") in ("Succeeded", "Failed") else None)(
        _status(c, "retry")), timeout=40)
    assert st["phase"] == "Succeeded", json.dumps(st)
    cs = st["containerStatuses"][0]
    assert cs["restartCount"] == 1
    assert cs["state"]["terminated"]["exitCode"] == 0
    assert cs["lastState"]["terminated"]["exitCode"] == 3


def test_never_fails_without_restart(cluster: Cluster) -> None:
    c = cluster
    st = c.wait_for("never to fail", lambda: (
        lambda s: s if s.get("phase") in ("Succeeded", "Failed") else None)(
        _status(c, "never")), timeout=40)
    assert st["phase"] == "Failed"
    cs = st["containerStatuses"][0]
    assert (cs["restartCount"], cs["lastState"]) == (0, {})
    assert (cs["state"]["terminated"]["exitCode"], cs["state"]["terminated"]["reason"]) == \
        (2, "Error")


def test_failed_init_container_is_restarted(cluster: Cluster) -> None:
    c = cluster
    st = c.wait_for("initretry to run", lambda: (
        lambda s: s if s.get("phase") == "Running" else None)(_status(c, "initretry")),
        timeout=40)
    init = st["initContainerStatuses"][0]
    assert init["restartCount"] == 1
    assert init["state"]["terminated"]["exitCode"] == 0
    assert init["lastState"]["terminated"]["exitCode"] == 5
    assert st["containerStatuses"][0]["state"].get("running")


def test_image_pull_back_off(cluster: Cluster) -> None:
    c = cluster
    cs = c.wait_for("ImagePullBackOff", lambda: (
        lambda s: s if s["state"].get("waiting", {}).get("reason") == "ImagePullBackOff"
        else None)(_container(c, "nopull")), timeout=15)
    assert cs["state"]["waiting"]["message"] == f'Back-off pulling image "{MISSING_IMAGE}"'
    assert _status(c, "nopull")["phase"] == "Pending"
    events = c.wait_for("pull events", lambda: (lambda e: e if (
        "BackOff", f'Back-off pulling image "{MISSING_IMAGE}"') in e else None)(
        _events(c, "nopull")))
    assert ("Pulling", f'Pulling image "{MISSING_IMAGE}"') in events
    assert ("Failed", "Error: ErrImagePull") in events
