"""Process lifecycle of ``kubepy server``: time to /readyz, bootstrap objects, SIGTERM, and
durability across restarts (clean stop and kill -9) on the same data dir, with the PKI and
admin kubeconfig reused."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VENV_BIN, ServerProcess, free_port, start_server
from tests.integration.conftest import Api, configmap, deployment

PKI_FILES = ["tls/ca.crt", "tls/ca.key", "tls/serving.crt", "tls/serving.key", "tls/admin.crt",
             "tls/admin.key", "admin.kubeconfig"]


def _readyz(port: int) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=1)
        conn.request("GET", "/readyz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def _timed_start(data_dir: Path, port: int | None = None) -> tuple[ServerProcess, float]:
    """Popen the server and poll /readyz every 10 ms: (process, seconds to the first 200)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    log = open(log_path, "ab")
    started = time.monotonic()
    proc = subprocess.Popen([str(VENV_BIN / "kubepy"), "server", "--data-dir", str(data_dir),
                             "--https-listen-port", str(port), "--bind-address", "127.0.0.1",
                             "--disable-agent"], stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, data_dir, port, log_path)
    while not _readyz(port):
        if proc.poll() is not None or time.monotonic() - started > 20:
            server.stop(signal.SIGKILL)
            raise AssertionError(f"server not ready:\n{server.log()}")
        time.sleep(0.01)
    return server, time.monotonic() - started


def test_ready_quickly_and_sigterm_exits_zero(tmp_path: Path, record_property: Any) -> None:
    first, first_ready = _timed_start(tmp_path / "data")
    try:
        assert (tmp_path / "data" / "admin.kubeconfig").exists()
    finally:
        t = time.monotonic()
        assert first.stop(signal.SIGTERM, timeout=10) == 0, first.log()
        first_exit = time.monotonic() - t
    again, restart_ready = _timed_start(tmp_path / "data")
    t = time.monotonic()
    assert again.stop(signal.SIGTERM, timeout=10) == 0, again.log()
    restart_exit = time.monotonic() - t
    for name, v in [("first_start_ready_s", first_ready), ("restart_ready_s", restart_ready),
                    ("first_sigterm_exit_s", first_exit),
                    ("restart_sigterm_exit_s", restart_exit)]:
        record_property(name, round(v, 3))
    print(f"\nreadyz after Popen: first start (new PKI) {first_ready:.2f}s, restart "
          f"{restart_ready:.2f}s; SIGTERM exit {first_exit:.2f}s / {restart_exit:.2f}s")
    # the first start creates the CA and certificates: recorded, loosely bounded
    assert first_ready <= 5.0, first_ready
    assert restart_ready <= 2.5, restart_ready
    assert first_exit <= 3.0 and restart_exit <= 3.0


def test_default_namespaces(api: Api) -> None:
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        ns = api.read(f"/api/v1/namespaces/{name}")
        assert ns["status"]["phase"] == "Active", ns
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name


def test_kubernetes_service_and_endpoints(api: Api, server: ServerProcess) -> None:
    svc = api.read("/api/v1/namespaces/default/services/kubernetes")
    spec = svc["spec"]
    assert spec["clusterIP"] == "10.43.0.1" and spec["clusterIPs"] == ["10.43.0.1"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                              "targetPort": server.port}]
    assert "selector" not in spec
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    ep = api.read("/api/v1/namespaces/default/endpoints/kubernetes")
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": server.port,
                                         "protocol": "TCP"}]}]
    slices = api.read("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                      params={"labelSelector": "kubernetes.io/service-name=kubernetes"})
    assert [s["metadata"]["name"] for s in slices["items"]] == ["kubernetes"]
    es = slices["items"][0]
    assert es["addressType"] == "IPv4"
    assert [e["addresses"] for e in es["endpoints"]] == [["127.0.0.1"]]
    assert es["ports"] == [{"name": "https", "port": server.port, "protocol": "TCP"}]


KINDS = [  # (collection path under the namespace, factory)
    ("/api/v1/namespaces/{ns}/configmaps", lambda i: configmap(f"cm-{i}", {"i": str(i)})),
    ("/api/v1/namespaces/{ns}/secrets",
     lambda i: {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s-{i}"},
                "stringData": {"password": f"p{i}"}}),
    ("/api/v1/namespaces/{ns}/services",
     lambda i: {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
                "spec": {"selector": {"app": f"a{i}"}, "ports": [{"port": 80 + i}]}}),
    ("/apis/apps/v1/namespaces/{ns}/deployments", lambda i: deployment(f"d-{i}", replicas=i)),
    ("/api/v1/namespaces/{ns}/serviceaccounts",
     lambda i: {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa-{i}"}}),
    ("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
     lambda i: {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": f"r-{i}"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
    ("/apis/batch/v1/namespaces/{ns}/jobs",
     lambda i: {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"j-{i}"},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "busybox:1.36"}]}}}}),
]


def _everything(api: Api, ns: str) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": api.read(f"/api/v1/namespaces/{ns}")}
    for path, _ in KINDS:
        for obj in api.read(path.format(ns=ns))["items"]:
            out[f"{obj['kind']}/{obj['metadata']['name']}"] = obj
    return out


def test_restart_keeps_every_object(fresh_server: ServerProcess) -> None:
    api = Api(fresh_server)
    ns = "durable"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns}})
    created = 1
    i = 0
    while created < 50:
        path, make = KINDS[i % len(KINDS)]
        api.create(path.format(ns=ns), make(i))
        created += 1
        i += 1
    # some updates and deletes too, so history is not only creates
    api.ok("PATCH", f"/api/v1/namespaces/{ns}/configmaps/cm-0", 200,
           body={"data": {"i": "patched"}}, content_type="application/merge-patch+json")
    api.ok("DELETE", f"/api/v1/namespaces/{ns}/configmaps/cm-7", 200)
    before = _everything(api, ns)
    assert len(before) == 49  # 50 created, one deleted
    revision = int(api.read("/api/v1/namespaces")["metadata"]["resourceVersion"])
    pki = {f: (fresh_server.data_dir / f).read_bytes() for f in PKI_FILES}
    assert fresh_server.stop(signal.SIGTERM) == 0

    again = start_server(fresh_server.data_dir, port=fresh_server.port)
    try:
        api2 = Api(again)  # the old CA and admin certificate still work
        after = _everything(api2, ns)
        assert after == before
        assert int(api2.read("/api/v1/namespaces")["metadata"]["resourceVersion"]) >= revision
        assert {f: (again.data_dir / f).read_bytes() for f in PKI_FILES} == pki
        # and the store keeps counting from where it was
        made = api2.create(f"/api/v1/namespaces/{ns}/configmaps", configmap("after-restart"))
        assert int(api2.read(f"/api/v1/namespaces/{ns}/configmaps/after-restart")["metadata"][
            "resourceVersion"]) > revision
        assert made["metadata"]["uid"] not in {o["metadata"]["uid"] for o in before.values()}
    finally:
        again.stop()


def test_kill_9_loses_no_acknowledged_create(fresh_server: ServerProcess) -> None:
    api = Api(fresh_server)
    ns = "crash"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": ns}})
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        client = Api(fresh_server)
        n = 0
        while not stop.is_set():
            name = f"w{w}-{n}"
            n += 1
            try:
                r = client.post(f"/api/v1/namespaces/{ns}/configmaps", configmap(name),
                                timeout=5)
            except Exception:  # the server died mid-request: not acknowledged
                return
            if r.status_code == 201:
                with lock:
                    acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    fresh_server.proc.send_signal(signal.SIGKILL)  # mid-stream: the writers are still busy
    fresh_server.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    with lock:
        acked = set(acknowledged)
    assert len(acked) >= 150, f"only {len(acked)} creates acknowledged before the kill"
    pki = {f: (fresh_server.data_dir / f).read_bytes() for f in PKI_FILES}

    again = start_server(fresh_server.data_dir, port=fresh_server.port)
    try:
        api2 = Api(again)
        stored = {o["metadata"]["name"] for o in
                  api2.read(f"/api/v1/namespaces/{ns}/configmaps")["items"]}
        lost = sorted(acked - stored)
        assert not lost, f"{len(lost)} acknowledged creates lost after kill -9: {lost[:20]}"
        assert {f: (again.data_dir / f).read_bytes() for f in PKI_FILES} == pki
        print(f"\nkill -9 after {len(acked)} acknowledged creates; {len(stored)} stored")
    finally:
        again.stop()


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_verbose_health(api: Api, path: str) -> None:
    r = api.get(path, params={"verbose": "1"})
    assert r.status_code == 200
    assert r.text.rstrip().endswith(f"{path[1:]} check passed"), r.text
    assert "[+]ping ok" in r.text
