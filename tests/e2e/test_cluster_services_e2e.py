"""Services and cluster DNS on a whole single-node cluster (issue 5's acceptance; root):
``kubepy server`` with its node agent (kubelet and service proxy) and cluster DNS, real
runc, CNI and iptables, real kubectl 1.32. Busybox images are built by the tests and
imported into the agent's image store.

From inside a pod (``runc exec`` in its container): ``web``, ``web.other`` and
``web.other.svc.cluster.local`` reach a Deployment's pods, spread over the replicas; a new
Service answers and a deleted one stops answering within 1 s; a pod whose readiness probe
fails stops receiving traffic; traffic keeps flowing while the agent is killed and
restarted; headless Service and
StatefulSet pod names resolve to the pods' IPs; SRV and ExternalName CNAME answers come
through the cluster DNS IP; dnsPolicy None writes exactly the configured resolv.conf. From
the host: the NodePort answers on the node address and 127.0.0.1, a LoadBalancer Service
shows the node address in its status and answers there; the seeds' hello-world (004) runs as
written. At the end ``kubepy killall`` leaves no KUBEPY rule, bridge, mount or container.

Isolation: its own bridge, netns dir, cgroup parent, cluster CIDR, data dir, API, kubelet
and DNS ports. The service proxy's chains are the host's (one proxy per machine, as
kube-proxy): do not run two of these at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

from kubepy.dns import wire
from kubepy.dns.forward import exchange_udp
from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.store import ImageStore
from tests.conftest import free_port, kubectl_binaries
from test_kubelet_pods_e2e import _links, _mounts_under, _require, _sh
from tests.images import CONTAINERD_NAME, IMAGE, ImageSpec, build_busybox_image, \
    busybox_entries, layer_tar, write_layout
from tests.nodes import ServerNode

Obj = dict[str, Any]
CLUSTER_CIDR = "10.236.0.0/16"
CLUSTER_DNS = "10.43.0.10"
HELLO_IMAGE = "docker.io/library/hello-python:latest"
NODE = "svc-e2e"
HELLO_SCRIPT = """#!/bin/sh
mkdir -p /www
printf '<h3>Hello %s!</h3><b>Hostname:</b> %s<br/>' "${NAME:-world}" "$(hostname)" \\
  > /www/index.html
exec httpd -f -p 5000 -h /www
"""
WEB_COMMAND = ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && "
               "exec httpd -f -p 8080 -h /www"]


def build_hello_image(layout: Path) -> None:
    """The seeds' hello-python app in busybox: port 5000 answers 'Hello world!' and the
    hostname (an OCI layout whose Cmd runs it)."""
    layer = layer_tar([*busybox_entries(dirs=("bin", "app", "tmp"),
                                        applets=("sh", "mkdir", "printf", "hostname", "httpd"),
                                        passwd=None, group=None),
                       ("app/main.sh", "f", HELLO_SCRIPT, 0o755)], mtime=1_700_000_000)
    write_layout(layout, [ImageSpec(HELLO_IMAGE, [layer],
                                    {"Cmd": ["/bin/sh", "/app/main.sh"], "Env": ["PATH=/bin"],
                                     "ExposedPorts": {"5000/tcp": {}}, "WorkingDir": "/app"})],
                 name_annotation=CONTAINERD_NAME)


def other_proxies() -> list[str]:
    """Command lines of other ``kubepy agent`` processes running a service proxy."""
    out = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if "agent" in args[:4] and any(a.endswith("kubepy") or a == "kubepy.cli.main"
                                       for a in args[:3]) \
                and "--disable-kube-proxy" not in args:
            out.append(" ".join(args))
    return out


def wait_for_other_proxies(timeout: float = 180) -> None:
    """The service proxy's chains are the machine's: wait until no other proxy runs."""
    deadline = time.monotonic() + timeout
    while other_proxies():
        if time.monotonic() > deadline:
            pytest.fail(f"another service proxy keeps running: {other_proxies()}")
        time.sleep(1)


def runc_containers(root: Path) -> list[str]:
    if not root.exists():
        return []
    out = _sh("runc", "--root", str(root), "list", "-q")
    return out.split()


def kubepy_rules() -> list[str]:
    return [line for t in ("nat", "filter")
            for line in _sh("iptables-save", "-t", t).splitlines() if "KUBEPY" in line]


class Cluster(ServerNode):
    def __init__(self, tmp: Path) -> None:
        tag = f"{os.getpid() % 100000}"
        super().__init__(tmp, bridge=f"kpysvc{tag}"[:15], cgroup_parent=f"kubepy-svc-e2e-{tag}")
        self.kubectl_bin = str(kubectl_binaries()["1.32"])

    def start_cluster(self) -> None:
        self.start(["--cluster-cidr", CLUSTER_CIDR, "--cluster-dns", CLUSTER_DNS,
                    "--node-name", NODE, "--node-ip", self.node_ip, "--kubelet-port", "0",
                    "--cluster-dns-port", str(free_port())])

    # ------------------------------------------------------------------ kubectl

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        assert self.server is not None
        r = subprocess.run([self.kubectl_bin, "--kubeconfig", str(self.server.kubeconfig),
                            *args], input=stdin, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}\n{self.log_tail()}")
        return r.stdout

    def apply(self, doc: Obj | list[Obj], ns: str = "default") -> None:
        docs = doc if isinstance(doc, list) else [doc]
        self.kubectl("apply", "-n", ns, "-f", "-",
                     stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))

    def get(self, *args: str) -> Obj:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def ready_pods(self, ns: str, selector: str, count: int) -> list[Obj]:
        def check() -> list[Obj] | None:
            pods = self.get("pods", "-n", ns, "-l", selector)["items"]
            ready = [p for p in pods if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions") or [])
                and not p["metadata"].get("deletionTimestamp")]
            return ready if len(ready) == count else None
        return self.wait_for(f"{count} ready pods {selector} in {ns}", check, timeout=120)

    # ------------------------------------------------------------------ inside a pod

    def exec(self, ns: str, pod: str, *argv: str, timeout: float = 20) -> tuple[int, str]:
        """Run argv in the pod's (first) container with runc exec: (exit code, output)."""
        status = self.get("pod", pod, "-n", ns)["status"]
        cid = status["containerStatuses"][0]["containerID"].split("://", 1)[1]
        r = subprocess.run(["runc", "--root", str(self.agent_dir / "runc"), "exec", cid,
                            *argv], capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def fetch(self, ns: str, pod: str, url: str) -> str | None:
        """``wget -qO- url`` from the pod (timeout 3 s): the body, None on failure."""
        code, out = self.exec(ns, pod, "timeout", "3", "wget", "-qO-", url)
        return out if code == 0 else None


def http_get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def dns_query(name: str, qtype: int) -> wire.Message:
    """One UDP query to the cluster DNS Service IP from the host (through the proxy)."""
    msg = wire.Message(random.getrandbits(16), wire.RD, [wire.Question(name, qtype)])
    return wire.decode(asyncio.run(exchange_udp((CLUSTER_DNS, 53), wire.encode(msg), 3.0)))


def deployment(name: str, replicas: int, labels: dict[str, str], container: Obj) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"terminationGracePeriodSeconds": 1,
                                           "containers": [container]}}}}


def service(name: str, selector: dict[str, str] | None, ports: list[Obj],
            **spec: Any) -> Obj:
    s: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
              "spec": {"ports": ports, **spec}}
    if selector is not None:
        s["spec"]["selector"] = selector
    return s


def sleeper(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, **spec, "containers": [
                {"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
                 "command": ["sleep", "3600"]}]}}


@contextmanager
def running_cluster(tmp: Path, images: Sequence[tuple[str, Callable[[Path], None]]], *,
                    check_netns: bool = True) -> Iterator[Cluster]:
    """A Cluster under *tmp* whose node is Ready, each of *images* (a name under *tmp* and
    the function writing an OCI layout there) imported into the agent's store first; it waits
    until no other service proxy runs. On leaving, even on failure, ``kubepy killall`` must
    succeed and leave no KUBEPY rule, bridge, mount, runc container and (*check_netns*) no
    network namespace."""
    _require()
    if "1.32" not in kubectl_binaries():
        pytest.fail("kubectl 1.32 not found")
    wait_for_other_proxies()
    c = Cluster(tmp)
    store = ImageStore(c.agent_dir / "images")
    for name, build in images:
        build(c.tmp / name)
        import_archive(store, c.tmp / name)
    try:
        c.start_cluster()
        c.wait_for("the node to be Ready", lambda: any(
            cond["type"] == "Ready" and cond["status"] == "True"
            for cond in c.get("node", NODE)["status"].get("conditions") or []), timeout=90)
        yield c
    finally:
        result = c.killall()
        if c.server is not None:
            c.server.stop()
        assert result.returncode == 0, result.stdout + result.stderr
        assert kubepy_rules() == []
        assert c.bridge not in _links()  # (other tests' veths may come and go meanwhile)
        assert _mounts_under(str(c.tmp)) == []
        if check_netns:
            assert not Path(c.netns_dir).exists() or not any(Path(c.netns_dir).iterdir())
        assert runc_containers(c.agent_dir / "runc") == []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("svc-e2e"),
                         [("busybox", build_busybox_image), ("hello", build_hello_image)]) as c:
        yield c


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> list[Obj]:
    """Namespace other: Deployment web (3 busybox httpd replicas serving their hostname on
    8080), Service web 80 -> 8080, and a client pod."""
    c = cluster
    c.kubectl("create", "namespace", "other")
    c.apply([deployment("web", 3, {"app": "web"},
                        {"name": "httpd", "image": IMAGE, "imagePullPolicy": "Never",
                         "command": WEB_COMMAND, "ports": [{"name": "http",
                                                            "containerPort": 8080}]}),
             service("web", {"app": "web"}, [{"name": "http", "port": 80,
                                             "targetPort": "http"}]),
             sleeper("client")], ns="other")
    pods = c.ready_pods("other", "app=web", 3)
    c.wait_for("the client pod", lambda: c.get("pod", "client", "-n", "other")["status"]
               .get("phase") == "Running")
    return pods


def test_node_is_control_plane_and_dns_published(cluster: Cluster) -> None:
    c = cluster
    node = c.get("node", NODE)
    labels = node["metadata"]["labels"]
    assert labels["node-role.kubernetes.io/control-plane"] == "true"
    assert labels["node-role.kubernetes.io/master"] == "true"
    assert {"type": "InternalIP", "address": c.node_ip} in node["status"]["addresses"]
    dns = c.get("service", "kube-dns", "-n", "kube-system")
    assert dns["spec"]["clusterIP"] == CLUSTER_DNS
    assert dns["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert [(p["name"], p["port"], p["protocol"]) for p in dns["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    assert "selector" not in dns["spec"]
    eps = c.wait_for("kube-dns endpoints", lambda: c.get("endpoints", "kube-dns", "-n",
                                                         "kube-system").get("subsets"))
    assert eps[0]["addresses"][0]["ip"] == c.node_ip
    answer = c.wait_for("the cluster DNS IP to answer", lambda: dns_query(
        "kubernetes.default.svc.cluster.local", wire.A), timeout=10)
    assert [r.data for r in answer.answers] == ["10.43.0.1"]


def test_service_names_from_a_pod_spread_over_replicas(cluster: Cluster, web: list[Obj]) -> None:
    c = cluster
    hostnames = {p["metadata"]["name"] for p in web}
    for url in ("http://web", "http://web.other", "http://web.other.svc.cluster.local"):
        body = c.wait_for(f"{url} from the client pod", lambda: c.fetch("other", "client", url),
                          timeout=30)
        assert body.strip() in hostnames
    seen = {(c.fetch("other", "client", "http://web") or "").strip() for _ in range(24)}
    assert seen == hostnames, f"requests went to {seen}, replicas are {hostnames}"


def test_new_service_within_a_second_and_deleted_gone(cluster: Cluster,
                                                       web: list[Obj]) -> None:
    c = cluster
    c.apply(service("web2", {"app": "web"}, [{"port": 8000, "targetPort": 8080}]), ns="other")
    started = time.monotonic()
    body = c.wait_for("web2 to answer", lambda: c.fetch("other", "client", "http://web2:8000"),
                      timeout=10, interval=0.05)
    took = time.monotonic() - started
    assert body.strip() in {p["metadata"]["name"] for p in web}
    assert took <= 1.0 + 0.5, f"new Service reachable after {took:.2f}s"  # + exec overhead
    cluster_ip = c.get("service", "web2", "-n", "other")["spec"]["clusterIP"]
    c.kubectl("delete", "service", "web2", "-n", "other")
    started = time.monotonic()
    c.wait_for("web2 to stop answering", lambda: c.fetch(
        "other", "client", f"http://{cluster_ip}:8000") is None, timeout=10, interval=0.05)
    took = time.monotonic() - started
    assert took <= 1.0 + 3.5, f"deleted Service still reachable after {took:.2f}s"  # wget 3 s


def test_nodeport_and_loadbalancer_from_the_host(cluster: Cluster, web: list[Obj]) -> None:
    c = cluster
    hostnames = {p["metadata"]["name"] for p in web}
    c.apply([service("web-np", {"app": "web"}, [{"port": 80, "targetPort": 8080}],
                     type="NodePort"),
             service("web-lb", {"app": "web"}, [{"port": 8081, "targetPort": 8080}],
                     type="LoadBalancer")], ns="other")
    node_port = c.get("service", "web-np", "-n", "other")["spec"]["ports"][0]["nodePort"]
    for host in (c.node_ip, "127.0.0.1"):
        body = c.wait_for(f"node port on {host}",
                          lambda: http_get(f"http://{host}:{node_port}/"), timeout=10)
        assert body.strip() in hostnames
    ingress = c.wait_for("the LoadBalancer ingress", lambda: c.get(
        "service", "web-lb", "-n", "other")["status"].get("loadBalancer", {}).get("ingress"))
    assert [i["ip"] for i in ingress] == [c.node_ip]
    body = c.wait_for("the LoadBalancer address",
                      lambda: http_get(f"http://{c.node_ip}:8081/"), timeout=10)
    assert body.strip() in hostnames
    # back to ClusterIP: the ingress goes away
    c.kubectl("patch", "service", "web-lb", "-n", "other", "--type=merge", "-p",
              json.dumps({"spec": {"type": "ClusterIP", "externalTrafficPolicy": None,
                                   "ports": [{"port": 8081, "targetPort": 8080}]}}))
    c.wait_for("the ingress to be cleared", lambda: not c.get(
        "service", "web-lb", "-n", "other")["status"].get("loadBalancer", {}).get("ingress"))


def test_headless_statefulset_srv_and_externalname(cluster: Cluster, web: list[Obj]) -> None:
    c = cluster
    c.apply([service("db", {"app": "db"}, [{"name": "tcp", "port": 5432}], clusterIP="None"),
             {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
              "spec": {"serviceName": "db", "replicas": 2,
                       "selector": {"matchLabels": {"app": "db"}},
                       "template": {"metadata": {"labels": {"app": "db"}},
                                    "spec": {"terminationGracePeriodSeconds": 1,
                                             "containers": [{
                                                 "name": "c", "image": IMAGE,
                                                 "imagePullPolicy": "Never",
                                                 "command": ["sleep", "3600"]}]}}}},
             service("ext", None, [], type="ExternalName",
                     externalName="web.other.svc.cluster.local")], ns="other")
    pods = {p["metadata"]["name"]: p["status"]["podIP"]
            for p in c.ready_pods("other", "app=db", 2)}
    assert set(pods) == {"db-0", "db-1"}

    def resolved(name: str) -> list[str]:
        code, out = c.exec("other", "client", "nslookup", name)
        assert code == 0, out
        return sorted(line.split()[-1] for line in out.splitlines()[2:]
                      if line.startswith("Address"))

    assert c.wait_for("db-0's name", lambda: resolved("db-0.db.other.svc.cluster.local")
                      == [pods["db-0"]], timeout=10)
    assert c.wait_for("the headless name", lambda: resolved("db.other.svc.cluster.local")
                      == sorted(pods.values()), timeout=10)
    srv = dns_query("_http._tcp.web.other.svc.cluster.local", wire.SRV)
    assert [(r.data.port, r.data.target) for r in srv.answers  # type: ignore[union-attr]
            if r.rtype == wire.SRV] == [
        (80, "web.other.svc.cluster.local.")]
    cname = dns_query("ext.other.svc.cluster.local", wire.A)
    assert cname.answers[0].rtype == wire.CNAME
    assert cname.answers[0].data == "web.other.svc.cluster.local."
    web_ip = c.get("service", "web", "-n", "other")["spec"]["clusterIP"]
    assert [r.data for r in cname.answers[1:]] == [web_ip]


def test_dns_policy_none_writes_the_configured_resolv_conf(cluster: Cluster) -> None:
    c = cluster
    c.apply(sleeper("custom-dns", dnsPolicy="None", dnsConfig={
        "nameservers": ["192.0.2.53", CLUSTER_DNS], "searches": ["a.example", "b.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}))
    c.wait_for("custom-dns running", lambda: c.get("pod", "custom-dns")["status"]
               .get("phase") == "Running")
    code, out = c.exec("default", "custom-dns", "cat", "/etc/resolv.conf")
    assert code == 0, out
    # as containerd and CRI-O write the CRI's DNSConfig: search, nameservers, options
    assert out == ("search a.example b.example\nnameserver 192.0.2.53\n"
                   "nameserver 10.43.0.10\noptions ndots:2 edns0\n")
    # and the ClusterFirst default of the same namespace
    c.apply(sleeper("cluster-first"))
    c.wait_for("cluster-first running", lambda: c.get("pod", "cluster-first")["status"]
               .get("phase") == "Running")
    code, out = c.exec("default", "cluster-first", "cat", "/etc/resolv.conf")
    lines = out.splitlines()
    assert [x for x in lines if x.startswith("nameserver")] == [f"nameserver {CLUSTER_DNS}"]
    assert [x for x in lines if x.startswith("search")][0].startswith(
        "search default.svc.cluster.local svc.cluster.local cluster.local")
    assert "options ndots:5" in lines


def test_seed_hello_world_walkthrough(cluster: Cluster) -> None:
    """Seed 004's deployment.yaml as written (NodePort 31000, 4 replicas, port 6000 ->
    5000), then its three curls: pod IP, cluster IP, host IP."""
    c = cluster
    c.kubectl("apply", "-f", "-", stdin="""
apiVersion: v1
kind: Service
metadata:
  name: hello-python-service
spec:
  type: NodePort
  selector:
    app: hello-python
  ports:
  - protocol: "TCP"
    port: 6000
    targetPort: 5000
    nodePort: 31000

---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-python
spec:
  selector:
    matchLabels:
      app: hello-python
  replicas: 4
  template:
    metadata:
      labels:
        app: hello-python
    spec:
      containers:
      - name: hello-python
        image: hello-python:latest
        imagePullPolicy: Never
        ports:
        - containerPort: 5000
""")
    pods = c.ready_pods("default", "app=hello-python", 4)
    names = {p["metadata"]["name"] for p in pods}
    wide = c.kubectl("get", "pods", "-l", "app=hello-python", "-o", "wide")
    assert all(p["status"]["podIP"] in wide for p in pods)
    cluster_ip = c.get("svc", "hello-python-service")["spec"]["clusterIP"]

    def hostname_of(body: str) -> str:
        assert body.startswith("<h3>Hello world!</h3><b>Hostname:</b> "), body
        return body.split("</b> ", 1)[1].removesuffix("<br/>")

    for pod in pods:
        body = _sh("curl", "-s", "--max-time", "3", f"http://{pod['status']['podIP']}:5000")
        assert hostname_of(body) == pod["metadata"]["name"]
    for url in (f"http://{cluster_ip}:6000", f"http://{c.node_ip}:31000"):
        body = c.wait_for(url, lambda: _sh("curl", "-s", "--max-time", "3", url), timeout=10)
        assert hostname_of(body) in names
    seen = {hostname_of(_sh("curl", "-s", "--max-time", "3", f"http://{c.node_ip}:31000"))
            for _ in range(30)}
    assert len(seen) >= 3, seen


def test_unready_pod_stops_receiving_traffic(cluster: Cluster, web: list[Obj]) -> None:
    """A readiness probe that starts failing takes the pod out of the Service (EndpointSlice
    ready=false -> the proxy drops its endpoint); passing again brings it back."""
    c = cluster
    command = ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && touch /ready && "
               "exec httpd -f -p 8080 -h /www"]
    c.apply([deployment("flaky", 2, {"app": "flaky"}, {
        "name": "httpd", "image": IMAGE, "imagePullPolicy": "Never", "command": command,
        "readinessProbe": {"exec": {"command": ["test", "-f", "/ready"]},
                           "periodSeconds": 1, "failureThreshold": 1}}),
        service("flaky", {"app": "flaky"}, [{"port": 80, "targetPort": 8080}])], ns="other")
    pods = sorted(p["metadata"]["name"] for p in c.ready_pods("other", "app=flaky", 2))

    def answers() -> set[str]:
        return {(c.fetch("other", "client", "http://flaky") or "").strip() for _ in range(16)}

    c.wait_for("both replicas answering", lambda: answers() == set(pods), timeout=20)
    code, out = c.exec("other", pods[0], "rm", "/ready")
    assert code == 0, out
    c.wait_for(f"{pods[0]} unready", lambda: c.get("pod", pods[0], "-n", "other")["status"][
        "containerStatuses"][0]["ready"] is False, timeout=20)
    assert c.wait_for("only the ready replica answering",
                      lambda: answers() == {pods[1]}, timeout=10)
    c.exec("other", pods[0], "touch", "/ready")
    c.wait_for("both replicas answering again", lambda: answers() == set(pods), timeout=20)


def test_traffic_keeps_flowing_while_the_agent_restarts(cluster: Cluster,
                                                        web: list[Obj]) -> None:
    """The proxy leaves its rules when the agent dies; ``kubepy server`` restarts the agent,
    whose first (full) sync rewrites the same rules."""
    from kubepy.cli.killall import cmdlines

    c = cluster
    agents = [pid for pid, argv in cmdlines().items()
              if "agent" in argv[:4] and str(c.data) in argv]
    assert len(agents) == 1, agents
    web_ip = c.get("service", "web", "-n", "other")["spec"]["clusterIP"]
    os.kill(agents[0], 9)
    hostnames = {p["metadata"]["name"] for p in web}
    for _ in range(5):  # the agent is down (restarted after a 1 s back-off)
        assert (c.fetch("other", "client", f"http://{web_ip}") or "").strip() in hostnames
    c.wait_for("a new agent", lambda: [
        pid for pid, argv in cmdlines().items()
        if "agent" in argv[:4] and str(c.data) in argv and pid != agents[0]], timeout=30)
    c.wait_for("names still answering with the new agent", lambda: c.fetch(
        "other", "client", "http://web.other") is not None, timeout=20)
    assert (c.fetch("other", "client", f"http://{web_ip}") or "").strip() in hostnames
