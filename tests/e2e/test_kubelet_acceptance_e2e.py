"""Issue 4's acceptance list through real kubectl and ``kubepy server``'s own node agent
(root; real runc, conmon, CNI).

One ``kubepy server`` with its agent (controllers and scheduler, no service proxy, no
coredns/servicelb), the busybox image imported with ``kubepy images import``, and these pods,
created together:

- ``hostns``: hostNetwork, hostPID and hostIPC — its IP is the node IP, its network, PID and
  IPC namespaces are the host's (it sees the test's own bridge and the server's process);
- ``shared``: shareProcessNamespace — each container sees the other's processes;
- ``duo``: two containers sharing an emptyDir and talking over localhost (httpd on 8080);
  its containers do not see each other's processes (the control for ``shared``);
- ``secretive``: a secret volume (defaultMode 0400) and secret env (secretKeyRef, envFrom);
- ``probed``: an httpGet readiness and a tcpSocket liveness probe against busybox httpd, a
  tcpSocket readiness probe that passes once a listener is started, and httpGet postStart /
  preStop hooks against an HTTP server of the test on the host (``host: 127.0.0.1``);
- ``unlive``: failing httpGet and tcpSocket liveness probes (restarts and Unhealthy events);
- ``talker`` and ``ticker``: ``kubectl logs`` with ``-c``, ``--all-containers``, ``--since``
  and ``-f``, for every kubectl generation on this machine; ``kubectl exec`` exit codes and
  ``kubectl port-forward`` for every generation too.

At the end ``kubepy killall --data-dir`` with the isolation flags runs (also on failure), and
nothing of this file is left: no kubepy process of its data dir, runc container, mount,
network namespace, bridge or pod cgroup.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from kubepy.cli.killall import cmdlines, kubepy_processes
from kubepy.kubelet.runtime import cgroups
from tests.conftest import VENV_BIN, ServerProcess, kubectl_binaries
from test_cluster_services_e2e import runc_containers
from test_kubelet_pods_e2e import _links, _mounts_under, _require
from tests.images import IMAGE, build_busybox_image
from tests.nodes import ServerNode

Obj = dict[str, Any]
VERSIONS = kubectl_binaries()
TAG = f"{os.getpid() % 100000}"
NODE = f"accept-{TAG}"
# a /16 of its own per run (beside the other e2e files' 10.220-10.236 ranges)
CLUSTER_CIDR = f"10.{240 + os.getpid() % 10}.0.0/16"


class HookRecorder:
    """An HTTP server on 127.0.0.1 recording the paths the kubelet's hooks request."""

    def __init__(self) -> None:
        paths: list[str] = []
        self.paths = paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Cluster(ServerNode):
    """``tests.nodes.ServerNode`` with this file's names and flags, kubectl of every
    generation and the hook recorder."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, bridge=f"kpyacc{TAG}"[:15],
                         cgroup_parent=f"kubepy-accept-e2e-{TAG}")
        self.hooks = HookRecorder()

    def start(self, extra: Sequence[str] = ()) -> ServerProcess:
        return super().start([
            "--cluster-cidr", CLUSTER_CIDR, "--node-name", NODE, "--node-ip", self.node_ip,
            "--kubelet-port", "0", "--disable-kube-proxy", "--disable", "coredns,servicelb",
            *extra])

    def run(self, version: str, *args: str, input: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.server is not None
        return subprocess.run([str(VERSIONS[version]), "--kubeconfig",
                               str(self.server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=timeout)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        r = self.run("1.32", *args, input=stdin)
        if r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}\n{self.log_tail()}")
        return r.stdout

    def exec(self, pod: str, container: str, *argv: str) -> str:
        return self.kubectl("exec", pod, "-c", container, "--", *argv)

    def get(self, *args: str) -> Obj:
        obj: Obj = json.loads(self.kubectl("get", *args, "-o", "json"))
        return obj

    def status(self, pod: str, container: str) -> Obj:
        statuses = self.get("pod", pod)["status"].get("containerStatuses") or []
        return next((s for s in statuses if s["name"] == container), {})


def _container(name: str, script: str, **extra: Any) -> Obj:
    return {"name": name, "image": IMAGE, "imagePullPolicy": "Never",
            "command": ["sh", "-c", script], **extra}


def _pod(name: str, containers: list[Obj], **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": containers, **spec}}


SLEEP = "trap 'exit 0' TERM; sleep 3600 & wait"
HTTPD = "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www"


def manifests(hook_port: int) -> list[Obj]:
    def hook(path: str) -> Obj:
        return {"httpGet": {"host": "127.0.0.1", "port": hook_port, "path": path}}

    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
         "stringData": {"user": "admin", "password": "s3cr3t"}},
        _pod("hostns", [_container("c", SLEEP)], hostNetwork=True, hostPID=True, hostIPC=True),
        _pod("shared", [_container("one", "exec sleep 3601"),
                        _container("two", "exec sleep 3602")], shareProcessNamespace=True),
        _pod("duo", [
            _container("writer", "echo from-writer > /data/msg && exec httpd -f -p 8080 -h /data",
                       volumeMounts=[{"name": "scratch", "mountPath": "/data"}]),
            _container("reader", SLEEP,
                       volumeMounts=[{"name": "scratch", "mountPath": "/shared"}])],
             volumes=[{"name": "scratch", "emptyDir": {}}]),
        _pod("secretive", [_container(
            "c", SLEEP, volumeMounts=[{"name": "creds", "mountPath": "/etc/creds",
                                       "readOnly": True}],
            env=[{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {
                "name": "creds", "key": "password"}}}],
            envFrom=[{"prefix": "S_", "secretRef": {"name": "creds"}}])],
             volumes=[{"name": "creds", "secret": {"secretName": "creds",
                                                   "defaultMode": 0o400}}]),
        _pod("probed", [
            _container("web", HTTPD,
                       readinessProbe={"httpGet": {"path": "/healthz", "port": 8080},
                                       "periodSeconds": 1, "failureThreshold": 1},
                       livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1,
                                      "failureThreshold": 2},
                       lifecycle={"postStart": hook("/poststart"),
                                  "preStop": hook("/prestop")}),
            _container("tcpready", SLEEP,
                       readinessProbe={"tcpSocket": {"port": 8081}, "periodSeconds": 1,
                                       "failureThreshold": 1})]),
        _pod("unlive", [
            _container("http", HTTPD, livenessProbe={
                "httpGet": {"path": "/missing", "port": 8080}, "periodSeconds": 1,
                "failureThreshold": 1}),
            _container("tcp", SLEEP, livenessProbe={
                "tcpSocket": {"port": 9}, "periodSeconds": 1, "failureThreshold": 1})]),
        _pod("talker", [_container("a", f"echo a-early; sleep 8; echo a-late; {SLEEP}"),
                        _container("b", f"echo b-only; {SLEEP}")]),
        _pod("ticker", [_container("c", "i=0; while true; do i=$((i+1)); echo tick $i; "
                                        "sleep 1; done")]),
    ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require()
    if "1.32" not in VERSIONS:
        pytest.fail("kubectl 1.32 not found")
    c = Cluster(tmp_path_factory.mktemp("accept"))
    try:
        build_busybox_image(c.tmp / "busybox")
        r = subprocess.run([str(VENV_BIN / "kubepy"), "images", "--data-dir", str(c.data),
                            "import", str(c.tmp / "busybox")], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        c.start()
        c.wait_for("the node to be Ready", lambda: any(
            cond["type"] == "Ready" and cond["status"] == "True"
            for cond in c.get("node", NODE)["status"].get("conditions") or []), timeout=90)
        c.kubectl("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": manifests(c.hooks.port)}))
        def running() -> list[str]:
            pods = c.get("pods")["items"]
            return sorted(p["metadata"]["name"] for p in pods
                          if p["status"].get("phase") == "Running")

        c.wait_for("every pod running", lambda: running() == sorted(
            m["metadata"]["name"] for m in manifests(0) if m["kind"] == "Pod"), timeout=90)
        yield c
    finally:
        c.hooks.close()
        result = c.killall()
        if c.server is not None:
            c.server.stop()
        assert result.returncode == 0, result.stdout + result.stderr
        assert kubepy_processes(cmdlines(), str(c.data)) == []
        assert runc_containers(c.data / "agent" / "runc") == []
        assert _mounts_under(str(c.tmp)) == []
        assert not Path(c.netns_dir).exists() or not any(Path(c.netns_dir).iterdir())
        assert c.bridge not in _links()
        assert cgroups.existing(c.cgroup_parent) == []


# ------------------------------------------------------------------------------ namespaces


def test_host_network_pid_and_ipc(cluster: Cluster) -> None:
    c = cluster
    pod = c.get("pod", "hostns")
    assert pod["status"]["podIP"] == c.node_ip
    assert pod["status"]["hostIP"] == c.node_ip
    for ns in ("net", "pid", "ipc"):
        assert c.exec("hostns", "c", "readlink", f"/proc/self/ns/{ns}").strip() == \
            os.readlink(f"/proc/self/ns/{ns}"), ns
    # the host's UTS namespace: the node's hostname, as the kubelet gives hostNetwork pods
    assert c.exec("hostns", "c", "hostname").strip() == socket.gethostname()
    # the host's interfaces: the test's own bridge; the host's processes: the server
    links = c.exec("hostns", "c", "cat", "/proc/net/dev")
    assert re.search(rf"^\s*{c.bridge}:", links, re.M), links
    assert c.server is not None
    cmdline = c.exec("hostns", "c", "cat", f"/proc/{c.server.proc.pid}/cmdline")
    assert "kubepy\0server" in cmdline or "server\0--data-dir" in cmdline, cmdline
    # a pod without them has namespaces of its own
    for ns in ("net", "pid", "ipc"):
        assert c.exec("duo", "reader", "readlink", f"/proc/self/ns/{ns}").strip() != \
            os.readlink(f"/proc/self/ns/{ns}"), ns
    assert c.get("pod", "duo")["status"]["podIP"] != c.node_ip
    assert c.exec("duo", "reader", "hostname").strip() == "duo"


def test_share_process_namespace(cluster: Cluster) -> None:
    c = cluster
    one = c.exec("shared", "one", "ps", "-o", "args")
    two = c.exec("shared", "two", "ps", "-o", "args")
    for out in (one, two):
        assert "sleep 3601" in out and "sleep 3602" in out, out
    assert c.exec("shared", "one", "readlink", "/proc/self/ns/pid") == \
        c.exec("shared", "two", "readlink", "/proc/self/ns/pid")
    # without it, each container has its own PID namespace
    reader = c.exec("duo", "reader", "ps", "-o", "args")
    assert "httpd" not in reader, reader
    assert c.exec("duo", "reader", "readlink", "/proc/self/ns/pid") != \
        c.exec("duo", "writer", "readlink", "/proc/self/ns/pid")


# ------------------------------------------------------------------------------ pod sharing


def test_containers_share_localhost_and_an_empty_dir(cluster: Cluster) -> None:
    c = cluster
    assert c.exec("duo", "reader", "wget", "-qO-", "http://localhost:8080/msg") == \
        "from-writer\n"
    assert c.exec("duo", "reader", "cat", "/shared/msg") == "from-writer\n"
    c.exec("duo", "reader", "sh", "-c", "echo from-reader > /shared/back")
    assert c.exec("duo", "writer", "cat", "/data/back") == "from-reader\n"
    assert c.exec("duo", "reader", "wget", "-qO-", "http://127.0.0.1:8080/back") == \
        "from-reader\n"


def test_secret_volume_and_env(cluster: Cluster) -> None:
    c = cluster
    assert c.exec("secretive", "c", "ls", "/etc/creds").split() == ["password", "user"]
    assert c.exec("secretive", "c", "cat", "/etc/creds/user") == "admin"
    assert c.exec("secretive", "c", "cat", "/etc/creds/password") == "s3cr3t"
    assert c.exec("secretive", "c", "stat", "-L", "-c", "%a", "/etc/creds/user").strip() == \
        "400"
    env = dict(line.split("=", 1) for line in c.exec("secretive", "c", "env").splitlines()
               if "=" in line)
    assert (env.get("PASSWORD"), env.get("S_user"), env.get("S_password")) == \
        ("s3cr3t", "admin", "s3cr3t"), env
    # a tmpfs of the pod's, as the kubelet keeps secrets off the disk
    mounts = [line.split() for line in c.exec("secretive", "c", "cat", "/proc/mounts")
              .splitlines()]
    assert [m[2] for m in mounts if m[1] == "/etc/creds"] == ["tmpfs"], mounts
    # read-only as mounted
    r = c.run("1.32", "exec", "secretive", "--", "sh", "-c", "echo x > /etc/creds/user")
    assert r.returncode != 0


# ------------------------------------------------------------------------------ probes, hooks


def _ready(c: Cluster, pod: str) -> dict[str, bool]:
    p = c.get("pod", pod)
    out = {s["name"]: s["ready"] for s in p["status"].get("containerStatuses") or []}
    out["<pod>"] = any(cond["type"] == "Ready" and cond["status"] == "True"
                       for cond in p["status"].get("conditions") or [])
    return out


def test_http_and_tcp_readiness_and_liveness(cluster: Cluster) -> None:
    c = cluster
    # httpGet readiness passes, tcpSocket readiness (nothing on 8081) does not
    c.wait_for("web ready, tcpready not", lambda: _ready(c, "probed") == {
        "web": True, "tcpready": False, "<pod>": False}, timeout=30)
    c.exec("probed", "tcpready", "httpd", "-p", "8081", "-h", "/tmp")   # daemonises
    c.wait_for("tcpready ready", lambda: _ready(c, "probed") == {
        "web": True, "tcpready": True, "<pod>": True}, timeout=20)
    # the httpGet readiness fails on a 404; the tcpSocket liveness keeps passing
    c.exec("probed", "web", "rm", "/www/healthz")
    c.wait_for("web unready", lambda: _ready(c, "probed") == {
        "web": False, "tcpready": True, "<pod>": False}, timeout=20)
    c.exec("probed", "web", "sh", "-c", "echo ok > /www/healthz")
    c.wait_for("web ready again", lambda: _ready(c, "probed")["<pod>"], timeout=20)
    assert c.status("probed", "web")["restartCount"] == 0
    assert c.status("probed", "tcpready")["restartCount"] == 0
    # failing httpGet and tcpSocket liveness probes restart their containers
    c.wait_for("both unlive containers restarted", lambda: all(
        c.status("unlive", n).get("restartCount", 0) >= 1 for n in ("http", "tcp")),
        timeout=60)
    events = c.get("events")["items"]
    messages = {(e["type"], e["reason"], e.get("message", "")) for e in events
                if e["involvedObject"].get("name") == "unlive"}
    pod_ip = c.get("pod", "unlive")["status"]["podIP"]
    assert ("Warning", "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 404") in messages, \
        messages
    assert ("Warning", "Unhealthy", f"Liveness probe failed: dial tcp {pod_ip}:9: connect: "
            "connection refused") in messages, messages
    assert any(reason == "Killing" and "failed liveness probe" in m
               for _, reason, m in messages), messages


def test_http_post_start_and_pre_stop_hooks(cluster: Cluster) -> None:
    c = cluster
    assert c.hooks.paths[:1] == ["/poststart"]
    assert "/prestop" not in c.hooks.paths
    # (last test touching "probed": deleting it runs preStop before the container stops)
    c.kubectl("delete", "pod", "probed", "--wait=false")
    c.wait_for("the preStop request", lambda: "/prestop" in c.hooks.paths, timeout=30)
    assert c.hooks.paths.count("/poststart") == 1
    assert c.hooks.paths.count("/prestop") == 1


# ------------------------------------------------------------------------------ logs


@pytest.fixture(scope="module")
def talker_done(cluster: Cluster) -> Cluster:
    cluster.wait_for("a-late", lambda: "a-late" in cluster.kubectl("logs", "talker", "-c", "a"),
                     timeout=30)
    return cluster


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_logs_container_and_all_containers(talker_done: Cluster, version: str) -> None:
    c = talker_done
    for container, want in (("a", "a-early\na-late\n"), ("b", "b-only\n")):
        r = c.run(version, "logs", "talker", "-c", container)
        assert (r.returncode, r.stdout) == (0, want), r.stderr
    # each container's log whole, in an order of kubectl's (a Go map in some generations)
    r = c.run(version, "logs", "talker", "--all-containers")
    assert r.returncode == 0, r.stderr
    assert r.stdout in ("a-early\na-late\nb-only\n", "b-only\na-early\na-late\n"), r.stdout
    r = c.run(version, "logs", "talker", "--all-containers", "--prefix")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == [
        "[pod/talker/a] a-early", "[pod/talker/a] a-late", "[pod/talker/b] b-only"], r.stdout
    # without -c: 1.20 asks for a container, later kubectl takes the first and says so
    r = c.run(version, "logs", "talker")
    if version == "1.20":
        assert r.returncode != 0 and "choose one of: [a b]" in r.stderr, r.stderr
    else:
        assert (r.returncode, r.stdout) == (0, "a-early\na-late\n"), r.stderr
        assert 'Defaulted container "a" out of: a, b' in r.stderr


def _stamp(line: str) -> float:
    ts = line.split(" ", 1)[0]
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", ts)
    assert m, ts
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base.timestamp() + float("0" + (m.group(2) or ".0")[:7])


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_logs_since(talker_done: Cluster, version: str) -> None:
    """--since=Ns with N just past a-late's age: a-late only (a-early is 8 s older)."""
    c = talker_done
    stamped = c.kubectl("logs", "talker", "-c", "a", "--timestamps").splitlines()
    late = _stamp(stamped[1])
    early = _stamp(stamped[0])
    assert late - early >= 7.5
    since = math.ceil(time.time() - late) + 2
    r = c.run(version, "logs", "talker", "-c", "a", f"--since={since}s")
    assert (r.returncode, r.stdout) == (0, "a-late\n"), (since, r.stderr)
    r = c.run(version, "logs", "talker", "-c", "a", f"--since={since + 600}s")
    assert (r.returncode, r.stdout) == (0, "a-early\na-late\n"), r.stderr


def test_kubectl_logs_follow_every_generation(cluster: Cluster) -> None:
    """``logs -f --tail=1`` of a pod printing a tick a second: the last tick, then the next
    ones as they come (every generation at once)."""
    c = cluster
    assert c.server is not None
    procs = {v: subprocess.Popen([str(p), "--kubeconfig", str(c.server.kubeconfig), "logs",
                                  "-f", "--tail=1", "ticker"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
             for v, p in VERSIONS.items()}
    try:
        deadline = time.monotonic() + 20
        for version, proc in procs.items():
            lines = [_readline(proc, deadline) for _ in range(3)]
            ticks = [int(m.group(1)) for line in lines
                     if (m := re.fullmatch(r"tick (\d+)\n", line))]
            assert len(ticks) == 3 and ticks == list(range(ticks[0], ticks[0] + 3)), \
                (version, lines, _stderr(proc))
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait(10)


def _stderr(proc: subprocess.Popen[str]) -> str:
    """What an exited *proc* wrote to stderr ("" while it runs)."""
    return proc.stderr.read() if proc.stderr and proc.poll() is not None else ""


def _readline(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
        return ""
    return proc.stdout.readline()


# ------------------------------------------------------------------------------ exec, port-forward


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_kubectl_exec_exit_code_and_port_forward(cluster: Cluster, version: str) -> None:
    c = cluster
    r = c.run(version, "exec", "duo", "-c", "reader", "--", "sh", "-c",
              "echo out; echo err >&2; exit 7")
    assert (r.returncode, r.stdout) == (7, "out\n"), r.stderr
    assert "err\n" in r.stderr
    assert c.server is not None
    proc = subprocess.Popen([str(VERSIONS[version]), "--kubeconfig", str(c.server.kubeconfig),
                             "port-forward", "pod/duo", ":8080"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc, time.monotonic() + 30)
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", line)
        assert m, (line, _stderr(proc))
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/msg", timeout=10) as resp:
            assert resp.read() == b"from-writer\n"
    finally:
        proc.kill()
        proc.wait(10)
