"""The whole control plane together: `kubepy server` (API server, controller-manager and
scheduler in their own processes) plus `kubepy simulate` nodes, driven by real kubectl.

No component is run in-process here: this is the cluster a user gets from `kubepy server`
and `kubepy simulate --nodes 3`, checked through what kubectl shows.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import VENV_BIN, ServerProcess, kubectl_binaries, start_server

KUBECTL = next(p for v, p in kubectl_binaries().items() if v == "1.32")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("cluster"))
    sim = subprocess.Popen([str(VENV_BIN / "kubepy"), "simulate", "--nodes", "3",
                            "--kubeconfig", str(server.kubeconfig), "--log-level", "WARNING"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield server
    finally:
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
        server.stop()


def kubectl(server: ServerProcess, *args: str, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(KUBECTL), "--kubeconfig", str(server.kubeconfig), *args],
                         capture_output=True, text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
    return res


def get_json(server: ServerProcess, *args: str) -> Any:
    return json.loads(kubectl(server, "get", *args, "-o", "json").stdout)


def wait_for(predicate: Any, timeout: float = 60, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def test_nodes_register_ready(cluster: ServerProcess) -> None:
    def ready_nodes() -> list[str]:
        nodes = get_json(cluster, "nodes")["items"]
        return [n["metadata"]["name"] for n in nodes
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in n["status"].get("conditions", []))]
    assert len(wait_for(lambda: len(ready_nodes()) == 3 and ready_nodes())) == 3


def test_deployment_rollout_undo_scale(cluster: ServerProcess) -> None:
    kubectl(cluster, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=10")
    kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    dep = get_json(cluster, "deployment", "web")
    assert dep["status"].get("availableReplicas") == 10
    pods = get_json(cluster, "pods", "-l", "app=web")["items"]
    assert len(pods) == 10
    assert all(p["spec"].get("nodeName", "").startswith("sim-") for p in pods)
    assert all(p["status"]["phase"] == "Running" and p["status"].get("podIP") for p in pods)

    kubectl(cluster, "set", "image", "deployment/web", "nginx=nginx:1.28")
    kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    images = {p["spec"]["containers"][0]["image"]
              for p in get_json(cluster, "pods", "-l", "app=web")["items"]
              if not p["metadata"].get("deletionTimestamp")}
    assert images == {"nginx:1.28"}
    history = kubectl(cluster, "rollout", "history", "deployment/web").stdout
    assert "1 " in history and "2 " in history

    kubectl(cluster, "rollout", "undo", "deployment/web")
    kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    dep = get_json(cluster, "deployment", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"

    kubectl(cluster, "scale", "deployment/web", "--replicas=4")
    wait_for(lambda: get_json(cluster, "deployment", "web")["status"].get(
        "availableReplicas") == 4 and get_json(cluster, "deployment", "web")["status"].get(
        "replicas") == 4, timeout=90)

    kubectl(cluster, "delete", "deployment", "web", timeout=120)
    wait_for(lambda: not [p for p in get_json(cluster, "pods", "-l", "app=web")["items"]],
             timeout=90)
    assert not get_json(cluster, "replicasets", "-l", "app=web")["items"]


def test_pod_that_fits_nowhere_stays_pending(cluster: ServerProcess, tmp_path: Path) -> None:
    manifest = tmp_path / "big.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: big}\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n    resources: {requests: {cpu: '64'}}\n")
    kubectl(cluster, "apply", "-f", str(manifest))

    def scheduled_condition() -> dict[str, Any] | None:
        pod = get_json(cluster, "pod", "big")
        for c in pod["status"].get("conditions", []):
            if c["type"] == "PodScheduled" and c["status"] == "False":
                return c
        return None

    cond = wait_for(scheduled_condition, timeout=30)
    assert cond["reason"] == "Unschedulable"
    assert cond["message"].startswith("0/3 nodes are available: 3 Insufficient cpu.")
    events = kubectl(cluster, "get", "events", "--field-selector",
                     "involvedObject.name=big,reason=FailedScheduling").stdout
    assert "FailedScheduling" in events
    kubectl(cluster, "delete", "pod", "big", "--grace-period=0", "--force")
