"""kubectl logs, exec, attach and port-forward through the apiserver to a real kubelet (root).

A ``kubepy server`` (controllers and scheduler, no agent) and a ``kubepy agent`` process with
its own bridge, netns dir, cgroup parent and data dir, its kubelet API on a free port
(``--kubelet-port 0``), busybox pods, and every kubectl generation on this machine:

- ``kubectl logs``: plain, ``--tail``, ``--timestamps``, ``-f`` ending when the container
  exits, ``--previous`` after a restart;
- ``kubectl exec``: the exit code of ``sh -c 'exit 3'``, ``-i`` with stdin (SPDY for 1.20-1.29,
  WebSocket for 1.30+);
- ``kubectl attach -i`` to a container reading stdin;
- ``kubectl port-forward`` to busybox httpd, fetched with a local HTTP request (SPDY up to
  1.30, SPDY tunnelled in WebSocket for 1.31+);
- the official Python client's ``stream()`` exec.

Everything the test makes is removed at the end (see test_kubelet_agent_e2e's fixture).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import kubectl_binaries, start_server
from test_kubelet_agent_e2e import Cluster, _conditions, _safety_net, cni_nat_state
from test_kubelet_pods_e2e import _links, _mounts_under, _require
from tests.images import IMAGE

Obj = dict[str, Any]

# a /16 of its own per run (two runs of this file side by side must not share pod routes)
SECOND_OCTET = 220 + os.getpid() % 10
CLUSTER_CIDR = f"10.{SECOND_OCTET}.0.0/16"
VERSIONS = kubectl_binaries()


class StreamingCluster(Cluster):
    """The agent of test_kubelet_agent_e2e, running kubectl of any version."""

    def run(self, version: str, *args: str, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VERSIONS[version]), "--kubeconfig",
                               str(self.server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StreamingCluster]:
    _require()
    tmp = tmp_path_factory.mktemp("streaming")
    tag = f"{os.getpid() % 100000}"
    server = start_server(tmp / "server", extra=["--cluster-cidr", CLUSTER_CIDR])
    c = StreamingCluster(tmp, server, bridge=f"kpst{tag}", network=f"kubepy-e2e-st{tag}",
                         node=f"streaming-{tag}", pod_cidr=f"10.{SECOND_OCTET}.0.0/24",
                         cgroup_parent=f"kubepy-streaming-e2e-{tag}",
                         agent_args=["--cluster-cidr", CLUSTER_CIDR])
    try:
        c.import_busybox_image()
        c.start_agent()
        node = c.wait_for("the node to be Ready", lambda: (
            lambda n: n if n["spec"].get("podCIDR") and _conditions(n).get("Ready") == "True"
            else None)(c.get("node", c.node)), timeout=60)
        port = node["status"].get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
        if not _listening("127.0.0.1", port):
            pytest.skip(f"the agent does not serve the kubelet API (advertised port {port}): "
                        "Agent.start must start KubeletServer when client_ca_pem is set")
        _pods(c)
        # the teardown's check sees this network's rules (the node's masquerade rule)
        assert cni_nat_state(c.network_name), "no nat rule names the test's network"
        yield c
    finally:
        if c.proc is not None and c.proc.poll() is None:
            # the agent tears its pods down (a stopped agent leaves them running, as a kubelet)
            c.kubectl("delete", "pods", "--all", "--grace-period=1", "--wait=true",
                      "--timeout=60s", check=False)
        c.stop_agent()
        server.stop()
        problems = asyncio.run(_safety_net(c))
        assert problems == []
        # only what this test made: other engineers' e2e tests run beside it
        assert cni_nat_state(c.network_name) == set()
        assert c.bridge not in _links()
        assert _mounts_under(str(tmp)) == []


def _listening(host: str, port: Any) -> bool:
    if not isinstance(port, int) or port <= 0:
        return False
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _pod(name: str, script: str, *, restart: str = "Always", stdin: bool = False) -> Obj:
    container: Obj = {"name": name, "image": IMAGE, "command": ["sh", "-c", script]}
    if stdin:
        container["stdin"] = True
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], "restartPolicy": restart,
                     "terminationGracePeriodSeconds": 1}}


PODS = [
    _pod("logger", "echo one; echo two; echo three; trap 'exit 0' TERM; sleep 3600 & wait"),
    _pod("counter", "for i in 1 2 3; do echo $i; sleep 1; done", restart="Never"),
    _pod("crasher", "echo crashed-run; sleep 1; exit 1"),
    _pod("reader", "while read line; do echo got $line; done; sleep 3600", stdin=True),
    _pod("web", "echo hi-from-httpd > /tmp/index.html; httpd -f -p 8080 -h /tmp"),
]


def _pods(c: StreamingCluster) -> None:
    for pod in PODS:
        subprocess.run([c.kubectl_bin, "--kubeconfig", str(c.server.kubeconfig), "create",
                        "-f", "-"], input=json.dumps(pod), text=True, check=True,
                       capture_output=True, timeout=30)
    for name in ("logger", "reader", "web"):
        c.wait_for(f"{name} to be Ready", lambda name=name: _conditions(
            c.get("pod", name)).get("Ready") == "True", timeout=60)


def _readline(proc: subprocess.Popen[str], deadline: float) -> str:
    """The next stdout line of ``proc``, or "" at EOF or once ``deadline`` passes."""
    assert proc.stdout is not None
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
        return ""
    return proc.stdout.readline()


# ------------------------------------------------------------------------------ logs


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_logs(cluster: StreamingCluster, version: str) -> None:
    c = cluster
    out = c.run(version, "logs", "logger")
    assert (out.returncode, out.stdout) == (0, "one\ntwo\nthree\n"), out.stderr
    out = c.run(version, "logs", "logger", "--tail=1")
    assert (out.returncode, out.stdout) == (0, "three\n"), out.stderr
    out = c.run(version, "logs", "logger", "--timestamps")
    assert out.returncode == 0, out.stderr
    stamped = out.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two", "three"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)",
                            line.split(" ", 1)[0]) for line in stamped), stamped


def test_kubectl_logs_follow_ends_with_the_container(cluster: StreamingCluster) -> None:
    c = cluster
    c.kubectl("delete", "pod", "counter", "--wait=true")
    subprocess.run([c.kubectl_bin, "--kubeconfig", str(c.server.kubeconfig), "create", "-f",
                    "-"], input=json.dumps(PODS[1]), text=True, check=True,
                   capture_output=True, timeout=30)
    c.wait_for("counter to start", lambda: "running" in (
        c.get("pod", "counter")["status"].get("containerStatuses") or [{}])[0].get(
        "state", {}), timeout=40)
    started = time.monotonic()
    out = c.run("1.32", "logs", "-f", "counter", timeout=30)
    assert (out.returncode, out.stdout) == (0, "1\n2\n3\n"), out.stderr
    assert time.monotonic() - started < 15


def test_kubectl_logs_previous(cluster: StreamingCluster) -> None:
    c = cluster
    c.wait_for("crasher to restart", lambda: (c.get("pod", "crasher")["status"].get(
        "containerStatuses") or [{}])[0].get("restartCount", 0) >= 1, timeout=60)
    for version in sorted(VERSIONS):
        out = c.run(version, "logs", "--previous", "crasher")
        assert (out.returncode, out.stdout) == (0, "crashed-run\n"), (version, out.stderr)


# ------------------------------------------------------------------------------ exec


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_exec(cluster: StreamingCluster, version: str) -> None:
    c = cluster
    out = c.run(version, "exec", "logger", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (out.returncode, out.stdout) == (3, "out\n"), out.stderr
    assert "err\n" in out.stderr
    out = c.run(version, "exec", "-i", "logger", "--", "cat", input="hello stdin\n")
    assert (out.returncode, out.stdout) == (0, "hello stdin\n"), out.stderr


def test_python_client_stream_exec(cluster: StreamingCluster) -> None:
    from kubernetes import client, config
    from kubernetes.stream import stream

    api_client = config.new_client_from_config(str(cluster.server.kubeconfig))
    try:
        v1 = client.CoreV1Api(api_client)
        out = stream(v1.connect_get_namespaced_pod_exec, "logger", "default",
                     command=["sh", "-c", "echo from-python"], stdout=True, stderr=True,
                     stdin=False, tty=False)
        assert out == "from-python\n"
    finally:
        api_client.close()


# ------------------------------------------------------------------------------ attach


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_attach(cluster: StreamingCluster, version: str) -> None:
    c = cluster
    proc = subprocess.Popen([str(VERSIONS[version]), "--kubeconfig",
                             str(c.server.kubeconfig), "attach", "-i", "reader"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        word = f"ping-{version}"
        deadline = time.monotonic() + 20
        proc.stdin.write(f"{word}\n")
        proc.stdin.flush()
        line = ""
        while word not in line:
            line = _readline(proc, deadline)
            if not line:
                break
        assert f"got {word}" in line, (line, proc.stderr.read() if proc.poll() else "")
    finally:
        proc.kill()
        proc.wait(10)


# ------------------------------------------------------------------------------ port-forward


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_port_forward(cluster: StreamingCluster, version: str) -> None:
    c = cluster
    proc = subprocess.Popen([str(VERSIONS[version]), "--kubeconfig", str(c.server.kubeconfig),
                             "port-forward", "pod/web", ":8080"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc, time.monotonic() + 30)
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        for _ in range(2):  # two connections over the one upgraded stream
            with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/index.html",
                                        timeout=10) as r:
                assert r.read() == b"hi-from-httpd\n"
    finally:
        proc.kill()
        proc.wait(10)
