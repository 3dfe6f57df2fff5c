"""Pods pulling from a real registry with auth (root): Debian's docker-registry on loopback
with htpasswd basic auth holds a busybox image (built here, pushed with skopeo); ``kubepy
server --disable-agent`` and ``kubepy agent --insecure-registry 127.0.0.1:<port>`` run the
pods; real kubectl 1.32 creates them.

- a pod whose ``imagePullSecrets`` name a missing secret and one made by ``kubectl create
  secret docker-registry`` pulls the image with it and runs (Pulling/Pulled events, the
  kubelet's FailedToRetrieveImagePullSecret warning for the missing one);
- the same pod without the secret gets ErrImagePull (the registry's 401), then
  ImagePullBackOff;
- a tag the registry does not have gives ErrImagePull with the registry's "manifest unknown"
  (the states are watched with the official Python client from a resource version, so that a
  reason the next sync replaces at once is seen too);
- a container log past 10Mi is rotated by the agent (``0.log.<timestamp>``, a fresh ``0.log``).

Names shared with the host are this run's own (bridge, CNI network, cgroup parent, ports);
everything made is removed, also on failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client, config, watch

from kubepy.kubelet.runtime.runc import Runc
from test_kubelet_agent_e2e import Cluster, _conditions, _safety_net, cni_nat_state
from test_kubelet_images_e2e import Registry
from test_kubelet_pods_e2e import _links, _mounts_under, _require
from tests.conftest import start_server
from tests.images import ImageSpec, busybox_entries, layer_tar, write_layout

Obj = dict[str, Any]

CLUSTER_CIDR = "10.233.0.0/16"
POD_CIDR = "10.233.0.0/24"          # the node's (first) /24: only the cleanup needs it
BRIDGE = f"kpypull{os.getpid() % 100000}"
NETWORK = f"kubepy-e2e-pull-{os.getpid()}"
NODE = "pull-e2e"
USER, PASSWORD = "alice", "wonderland"
REPO = "team/busybox"


class Node:
    def __init__(self, cluster: Cluster, registry: Registry) -> None:
        self.c, self.registry = cluster, registry
        self.image = f"{registry.host}/{REPO}:1"

    def apply(self, pod: Obj) -> None:
        path = self.c.tmp / f"{pod['metadata']['name']}.json"
        path.write_text(json.dumps(pod))
        self.c.kubectl("apply", "-f", str(path))

    def pod(self, name: str, image: str, *, secrets: list[str], policy: str) -> Obj:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                        "containers": [{"name": "main", "image": image,
                                        "imagePullPolicy": policy,
                                        "command": ["sh", "-c", "echo pulled-ok; sleep 3600"]}]}}
        if secrets:
            pod["spec"]["imagePullSecrets"] = [{"name": s} for s in secrets]
        return pod

    def events(self, name: str) -> set[tuple[str, str, str]]:
        return {(e["type"], e["reason"], e["message"]) for e in self.c.get(
            "events", "--field-selector", f"involvedObject.name={name}")["items"]
            if e["source"].get("component") == "kubelet"}

    def resource_version(self) -> str:
        """The pods' list resource version now: a watch from it sees every change after."""
        return str(self.api().list_namespaced_pod("default").metadata.resource_version)

    def api(self) -> client.CoreV1Api:
        return client.CoreV1Api(config.new_client_from_config(str(self.c.server.kubeconfig)))

    def states(self, name: str, since: str, until: str,
               timeout: float = 40) -> list[tuple[str, str]]:
        """The (reason, message) waiting states pod *name* passed through after resource
        version *since* (every status write, also a reason the next sync replaced at once),
        watched with the official Python client until the reason *until*."""
        api = self.api()
        out: list[tuple[str, str]] = []
        stream = watch.Watch().stream(api.list_namespaced_pod, "default",
                                      field_selector=f"metadata.name={name}",
                                      resource_version=since, timeout_seconds=int(timeout))
        for event in stream:
            for status in event["object"].status.container_statuses or []:
                waiting = status.state.waiting
                if waiting is not None and (not out or out[-1] != (waiting.reason,
                                                                   waiting.message)):
                    out.append((waiting.reason, waiting.message))
            if out and out[-1][0] == until:
                break
        return out

    def delete(self, name: str) -> None:
        """Delete the pod and wait until the agent has stopped it and removed its directory
        (the API object of a pod with grace period 0 goes before that)."""
        uid = self.c.get("pod", name)["metadata"]["uid"]
        self.c.kubectl("delete", "pod", name, "--wait=true", "--timeout=30s")
        self.c.wait_for(f"the agent to remove {name}",
                        lambda: not (self.c.agent_dir / "pods" / uid).exists(), timeout=30)


async def _cleanup(c: Cluster) -> list[str]:
    """The agent e2e's safety net, after removing stopped runc containers (an agent stopped
    while it removed a pod leaves them; the safety net only stops running ones)."""
    runc = Runc(str(c.agent_dir / "runc"))
    if (c.agent_dir / "runc").exists():
        for state in await runc.list():
            if state.pid <= 0 or state.status == "stopped":
                await runc.delete(state.id, force=True)
    return await _safety_net(c)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    _require()
    for tool in ("docker-registry", "skopeo", "htpasswd"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (docker-registry, skopeo, apache2-utils)")
    tmp = tmp_path_factory.mktemp("pull")
    nat_before = cni_nat_state(NETWORK)
    registry = Registry(tmp / "registry", users={USER: PASSWORD})
    server = None
    cluster: Cluster | None = None
    try:
        layout = tmp / "layout"
        layer = layer_tar(busybox_entries(dirs=("bin", "etc", "tmp", "root")),
                          mtime=1_700_000_000)
        write_layout(layout, [ImageSpec("1", [layer], {"Cmd": ["/bin/sh"],
                                                       "Env": ["PATH=/bin"]})])
        registry.push(layout, "1", f"{REPO}:1", "--dest-creds", f"{USER}:{PASSWORD}")
        server = start_server(tmp / "server", extra=["--cluster-cidr", CLUSTER_CIDR])
        cluster = Cluster(tmp, server, bridge=BRIDGE, network=NETWORK, node=NODE,
                          pod_cidr=POD_CIDR, cgroup_parent=f"kubepy-pull-e2e-{os.getpid()}",
                          agent_args=["--insecure-registry", registry.host])
        cluster.start_agent()
        c = cluster
        c.wait_for("the node to be Ready",
                   lambda: _conditions(c.get("node", NODE)).get("Ready") == "True", timeout=60)
        yield Node(c, registry)
    finally:
        problems: list[str] = []
        try:
            if cluster is not None:
                cluster.stop_agent()
            if server is not None:
                server.stop()
            if cluster is not None:
                problems = asyncio.run(_cleanup(cluster))
        finally:
            registry.stop()
        assert problems == []
        assert cni_nat_state(NETWORK) == nat_before
        assert BRIDGE not in _links()
        assert _mounts_under(str(tmp)) == []


def test_pull_secret_pulls_the_image_and_the_pod_runs(node: Node) -> None:
    c = node.c
    c.kubectl("create", "secret", "docker-registry", "regcred",
              f"--docker-server={node.registry.host}", f"--docker-username={USER}",
              f"--docker-password={PASSWORD}")
    node.apply(node.pod("withsecret", node.image, secrets=["absent", "regcred"],
                        policy="Always"))
    pod = c.wait_for("withsecret to run", lambda: (
        lambda p: p if _conditions(p).get("Ready") == "True" else None)(
        c.get("pod", "withsecret")), timeout=60,
        describe=lambda: c.get("pod", "withsecret")["status"])
    status = pod["status"]["containerStatuses"][0]
    assert status["imageID"].startswith(f"{node.registry.host}/{REPO}@sha256:")
    assert c.wait_for("the log", lambda: c.kubectl("logs", "withsecret") == "pulled-ok\n")
    events = node.events("withsecret")
    assert ("Normal", "Pulling", f'Pulling image "{node.image}"') in events
    assert any(reason == "Pulled" and message.startswith(
        f'Successfully pulled image "{node.image}" in ') for _, reason, message in events)
    assert ("Warning", "FailedToRetrieveImagePullSecret",
            "Unable to retrieve some image pull secrets (absent); attempting to pull the "
            "image may not succeed.") in events
    node.delete("withsecret")


def test_without_the_secret_the_pull_fails_then_backs_off(node: Node) -> None:
    since = node.resource_version()
    node.apply(node.pod("nosecret", node.image, secrets=[], policy="Always"))
    seen = node.states("nosecret", since, until="ImagePullBackOff")
    reasons = [reason for reason, _ in seen]
    assert "ErrImagePull" in reasons, seen
    assert reasons[reasons.index("ErrImagePull") + 1] == "ImagePullBackOff", seen
    assert seen[-1] == ("ImagePullBackOff", f'Back-off pulling image "{node.image}"')
    message = dict(seen)["ErrImagePull"]
    assert message.startswith(f'failed to pull image "{node.image}": '), message
    assert "authentication required" in message, message
    events = node.events("nosecret")
    assert ("Warning", "Failed", "Error: ErrImagePull") in events
    assert any(reason == "Failed" and message.startswith(f'Failed to pull image "{node.image}"')
               for _, reason, message in events)
    assert node.c.get("pod", "nosecret")["status"]["phase"] == "Pending"
    node.delete("nosecret")


def test_a_missing_tag_is_err_image_pull_with_the_registrys_message(node: Node) -> None:
    c = node.c
    if "regcred" not in c.kubectl("get", "secrets", "-o", "name"):
        c.kubectl("create", "secret", "docker-registry", "regcred",
                  f"--docker-server={node.registry.host}", f"--docker-username={USER}",
                  f"--docker-password={PASSWORD}")
    missing = f"{node.registry.host}/{REPO}:missing"
    since = node.resource_version()
    node.apply(node.pod("notag", missing, secrets=["regcred"], policy="IfNotPresent"))
    seen = dict(node.states("notag", since, until="ImagePullBackOff"))
    message = seen.get("ErrImagePull", "")
    assert message.startswith(f'failed to pull image "{missing}": '), seen
    assert "404" in message and "manifest unknown" in message, message
    assert any(reason == "Failed" and "manifest unknown" in text
               for _, reason, text in node.events("notag"))
    node.delete("notag")



def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_a_log_past_10mi_is_rotated(node: Node) -> None:
    """The agent's log rotation (containerLogMaxSize 10Mi, checked every 10 s): the live log
    is renamed to ``0.log.<timestamp>`` and conmon goes on in a fresh ``0.log``."""
    c = node.c
    script = ("yes 0123456789012345678901234567890123456789012345678901234567890123456789 "
              "| head -c 11000000; echo; while true; do echo tick; sleep 0.5; done")
    pod = node.pod("chatty", node.image, secrets=["regcred"], policy="IfNotPresent")
    pod["spec"]["containers"][0]["command"] = ["sh", "-c", script]
    node.apply(pod)
    uid = c.wait_for("chatty to run", lambda: (
        lambda p: p["metadata"]["uid"] if _conditions(p).get("Ready") == "True" else None)(
        c.get("pod", "chatty")), timeout=60)
    logs = c.agent_dir / "logs" / f"default_chatty_{uid}" / "main"
    rotated = c.wait_for("the rotated log", lambda: sorted(logs.glob("0.log.*")), timeout=40)
    assert len(rotated) == 1 and rotated[0].stat().st_size > 10 * 1024 * 1024
    assert rotated[0].name[len("0.log."):].replace("-", "").isdigit()
    # between the rename and conmon's reopen there is briefly no 0.log
    c.wait_for("ticks in the fresh log", lambda: "stdout F tick" in _read(logs / "0.log"))
    assert (logs / "0.log").stat().st_size < 1024 * 1024
    assert set(c.kubectl("logs", "chatty").split()) == {"tick"}
    node.delete("chatty")
