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
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import start_server
from test_kubelet_agent_e2e import Cluster, _safety_net, bridge_ports, cni_nat_state
from test_kubelet_pods_e2e import _links, _mounts_under, _require
from tests.images import IMAGE

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


CONFIG = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"},
     "data": {"greeting": "hello"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
     "stringData": {"password": "pw"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm2"},
     "data": {"2bad": "x", "1bad": "y", "good": "g"}},
]


def _config_pod() -> Obj:
    p = _pod("cfg", "Always", "echo \"$GREETING $PASS $FROMALL\" > /d/env; "
             "while true; do cat /etc/cfg/greeting > /d/seen.tmp; mv /d/seen.tmp /d/seen; "
             "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace > /d/ns; "
             "sleep 0.3; done")
    c = p["spec"]["containers"][0]
    c["env"] = [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cm1",
                                                                       "key": "greeting"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s1",
                                                                "key": "password"}}},
                {"name": "FROMALL", "value": "$(greeting)!"}]
    c["envFrom"] = [{"configMapRef": {"name": "cm1"}}]
    c["volumeMounts"].append({"name": "cfg", "mountPath": "/etc/cfg"})
    p["spec"]["volumes"].append({"name": "cfg", "configMap": {"name": "cm1"}})
    return p


def _sub_path_pod() -> Obj:
    """One configMap key mounted as a file with subPath (the key is a symlink into ..data)."""
    p = _pod("subpath", "Always", "cat /etc/greeting > /d/greeting; sleep 3600")
    p["spec"]["volumes"].append({"name": "cfg", "configMap": {"name": "cm1"}})
    p["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "cfg", "mountPath": "/etc/greeting", "subPath": "greeting"})
    return p


def _sub_path_expr_pod() -> Obj:
    """subPathExpr expanded from the container's resolved environment (a fieldRef)."""
    p = _pod("subpathexpr", "Always", "echo mine > /mine/f; sleep 3600")
    c = p["spec"]["containers"][0]
    c["env"] = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    c["volumeMounts"].append({"name": "d", "mountPath": "/mine", "subPathExpr": "$(POD_NAME)"})
    return p


def _env_alloc_pod() -> Obj:
    """A memory limit read without a limit set (the node's allocatable), and envFrom keys
    that are no variable names (skipped, with a Warning event)."""
    p = _pod("envalloc", "Always", 'echo "$MEM $good" > /d/env; sleep 3600')
    c = p["spec"]["containers"][0]
    c["env"] = [{"name": "MEM", "valueFrom": {"resourceFieldRef": {
        "resource": "limits.memory", "divisor": "1Ki"}}}]
    c["envFrom"] = [{"configMapRef": {"name": "cm2"}}]
    return p


def _missing_volume_pod() -> Obj:
    p = _pod("nocm", "Always", "sleep 3600")
    p["spec"]["volumes"].append({"name": "cfg", "configMap": {"name": "absent"}})
    p["spec"]["containers"][0]["volumeMounts"].append({"name": "cfg", "mountPath": "/c"})
    return p


def _missing_env_pod() -> Obj:
    p = _pod("noenv", "Always", "sleep 3600")
    p["spec"]["containers"][0]["env"] = [{"name": "X", "valueFrom": {"configMapKeyRef": {
        "name": "absent", "key": "k"}}}]
    return p


def _exec(*argv: str) -> Obj:
    return {"exec": {"command": list(argv)}}


def _probe_pods(host_dir: str) -> list[Obj]:
    live = _pod("live", "Always", "touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 3600")
    live["spec"]["containers"][0]["livenessProbe"] = {
        **_exec("cat", "/tmp/ok"), "periodSeconds": 1, "failureThreshold": 1,
        "terminationGracePeriodSeconds": 1}   # the kill waits 1 s, not the pod's 60
    live["spec"]["terminationGracePeriodSeconds"] = 60
    ready = _pod("ready", "Always", "trap 'exit 0' TERM; sleep 3600 & wait")
    ready["spec"]["containers"][0]["readinessProbe"] = {
        **_exec("test", "-f", "/d/ready"), "periodSeconds": 1}
    hooks = _pod("hooks", "Always", "trap 'echo term >> /h/order; exit 0' TERM; "
                 "sleep 3600 & wait")
    hooks["spec"]["terminationGracePeriodSeconds"] = 10
    hooks["spec"]["volumes"].append({"name": "h", "hostPath": {"path": host_dir,
                                                               "type": "Directory"}})
    c = hooks["spec"]["containers"][0]
    c["volumeMounts"].append({"name": "h", "mountPath": "/h"})
    c["lifecycle"] = {"postStart": _exec("sh", "-c", "echo poststart >> /h/order"),
                      "preStop": _exec("sh", "-c", "echo prestop >> /h/order")}
    badhook = _pod("badhook", "Always", "sleep 3600")
    badhook["spec"]["containers"][0]["lifecycle"] = {"postStart": _exec("sh", "-c", "exit 3")}
    oom = _pod("oom", "Never", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived")
    oom["spec"]["containers"][0]["resources"] = {"limits": {"memory": "24Mi"}}
    forced = _pod("forced", "Always", "trap '' TERM; sleep 3600")
    forced["spec"]["terminationGracePeriodSeconds"] = 30
    startup = _pod("startup", "Always", "trap 'exit 0' TERM; sleep 3600 & wait")
    startup["spec"]["containers"][0]["startupProbe"] = {
        **_exec("test", "-f", "/d/started"), "periodSeconds": 1, "failureThreshold": 300}
    deadline = _pod("deadline", "Always", "sleep 3600")
    deadline["spec"]["activeDeadlineSeconds"] = 4
    deadline["spec"]["terminationGracePeriodSeconds"] = 1
    sandboxed = _pod("sandboxed", "Always", "trap 'exit 0' TERM; sleep 3600 & wait",
                     init="echo init >> /d/inits")
    return [live, ready, hooks, badhook, oom, forced, startup, deadline, sandboxed]


def _fallback(p: Obj) -> Obj:
    p["spec"]["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
    return p


PODS = [
    _config_pod(), _sub_path_pod(), _sub_path_expr_pod(), _missing_volume_pod(),
    _env_alloc_pod(), _missing_env_pod(),
    _pod("crash", "Always", "echo crashing; exit 1"),
    _pod("retry", "OnFailure", "if [ -f /d/x ]; then exit 0; fi; touch /d/x; exit 3"),
    _fallback(_pod("never", "Never", "echo first; echo last words >&2; exit 2")),
    _pod("initretry", "Always", "trap 'exit 0' TERM; sleep 3600 & wait",
         init="if [ -f /d/i ]; then exit 0; fi; touch /d/i; exit 5"),
    _pod("nopull", "Always", "true", image=MISSING_IMAGE),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require()
    tmp = tmp_path_factory.mktemp("lifecycle")
    tag = f"{os.getpid() % 100000}"
    network = f"kubepy-e2e-lc-{tag}"
    nat_before = cni_nat_state(network)
    server = start_server(tmp / "server", extra=["--cluster-cidr", CLUSTER_CIDR])
    c = Cluster(tmp, server, bridge=f"kpylc{tag}"[:15], network=network,
                node=f"lifecycle-{tag}", pod_cidr="10.238.0.0/24")
    try:
        c.import_busybox_image()
        c.start_agent()
        c.wait_for("the node", lambda: c.get("node", c.node)["spec"].get("podCIDR"), 40)
        manifest = tmp / "pods.json"
        host_dir = tmp / "hostdir"
        host_dir.mkdir()
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                        "items": CONFIG + PODS + _probe_pods(str(host_dir))}))
        c.kubectl("apply", "-f", str(manifest))
        yield c
    finally:
        c.kubectl("delete", "pods", "--all", "--grace-period=1", "--wait=true", "--timeout=40s",
                  check=False)
        ports = bridge_ports(c.bridge)
        c.stop_agent()
        server.stop()
        problems = asyncio.run(_safety_net(c))
        assert problems == []
        assert cni_nat_state(network) == nat_before
        assert ports == [], "veths left behind"
        assert c.bridge not in _links()
        assert _mounts_under(str(tmp)) == []


def _status(c: Cluster, name: str) -> Obj:
    return c.get("pod", name)["status"]


def _container(c: Cluster, name: str, *, init: bool = False) -> Obj:
    key = "initContainerStatuses" if init else "containerStatuses"
    return (_status(c, name).get(key) or [{"state": {}}])[0]


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
    # terminationMessagePolicy FallbackToLogsOnError: the end of the log
    assert cs["state"]["terminated"]["message"] == "first\nlast words\n"


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


def _empty_dir(c: Cluster, name: str) -> Path:
    uid = c.get("pod", name)["metadata"]["uid"]
    return c.agent_dir / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / "d"


def test_config_map_and_secret_reach_env_and_volumes(cluster: Cluster) -> None:
    c = cluster
    d = c.wait_for("cfg to run", lambda: (lambda p: p if (p / "seen").exists() else None)(
        _empty_dir(c, "cfg")), timeout=40)
    assert (d / "env").read_text() == "hello pw hello!\n"
    assert (d / "seen").read_text() == "hello"
    assert (d / "ns").read_text() == "default"   # the service-account token volume
    c.kubectl("patch", "configmap", "cm1", "--type=merge", "-p",
              json.dumps({"data": {"greeting": "bonjour"}}))
    c.wait_for("the new configMap content in the running container",
               lambda: (d / "seen").read_text() == "bonjour", timeout=30)
    assert _status(c, "cfg")["containerStatuses"][0]["restartCount"] == 0


def test_config_map_key_mounted_with_sub_path(cluster: Cluster) -> None:
    c = cluster
    d = c.wait_for("subpath to read its file", lambda: (
        lambda p: p if (p / "greeting").exists() else None)(_empty_dir(c, "subpath")),
        timeout=40, describe=lambda: _status(c, "subpath"))
    assert (d / "greeting").read_text() in ("hello", "bonjour")
    assert _container(c, "subpath")["state"].get("running")


def test_sub_path_expr_expands_the_container_env(cluster: Cluster) -> None:
    c = cluster
    d = c.wait_for("subpathexpr to write into its own directory", lambda: (
        lambda p: p if (p / "subpathexpr" / "f").exists() else None)(
        _empty_dir(c, "subpathexpr")), timeout=40, describe=lambda: _status(c, "subpathexpr"))
    assert (d / "subpathexpr" / "f").read_text() == "mine\n"
    assert not (d / "f").exists()


def test_env_limits_default_to_allocatable_and_invalid_keys_warn(cluster: Cluster) -> None:
    c = cluster
    d = c.wait_for("envalloc to write its env", lambda: (
        lambda p: p if (p / "env").exists() else None)(_empty_dir(c, "envalloc")),
        timeout=40, describe=lambda: _status(c, "envalloc"))
    memory = c.get("node", c.node)["status"]["allocatable"]["memory"]
    assert memory.endswith("Ki") and int(memory[:-2]) > 0
    assert (d / "env").read_text() == f"{memory[:-2]} g\n"
    assert c.wait_for("the InvalidEnvironmentVariableNames event", lambda: (
        "InvalidEnvironmentVariableNames", "Keys [1bad, 2bad] from the EnvFrom configMap "
        "default/cm2 were skipped since they are considered invalid environment variable "
        "names.") in _events(c, "envalloc"))


def test_missing_config_map_volume_fails_the_mount(cluster: Cluster) -> None:
    c = cluster
    events = c.wait_for("a FailedMount event", lambda: [
        m for r, m in _events(c, "nocm") if r == "FailedMount"], timeout=30)
    assert 'configmap "absent" not found' in events[0]
    cs = _container(c, "nocm")
    assert cs["state"]["waiting"]["reason"] == "ContainerCreating"
    assert _status(c, "nocm")["phase"] == "Pending"


def test_missing_env_source_is_a_config_error(cluster: Cluster) -> None:
    c = cluster
    cs = c.wait_for("CreateContainerConfigError", lambda: (
        lambda s: s if s["state"].get("waiting", {}).get("reason") ==
        "CreateContainerConfigError" else None)(_container(c, "noenv")), timeout=30)
    assert cs["state"]["waiting"]["message"] == 'configmap "absent" not found'
    assert _status(c, "noenv")["phase"] == "Pending"


def test_liveness_failure_restarts_the_container(cluster: Cluster) -> None:
    c = cluster
    cs = c.wait_for("live to be restarted", lambda: (
        lambda s: s if s.get("restartCount", 0) >= 1 else None)(_container(c, "live")),
        timeout=40)
    assert cs["lastState"]["terminated"]["exitCode"] == 137   # sh ignores SIGTERM as pid 1
    events = c.wait_for("Unhealthy and Killing", lambda: (lambda e: e if any(
        r == "Unhealthy" and m.startswith("Liveness probe failed:") for r, m in e) else None)(
        _events(c, "live")))
    assert ("Killing", "Container live failed liveness probe, will be restarted") in events


def test_readiness_flips_ready(cluster: Cluster) -> None:
    c = cluster
    d = c.wait_for("ready to run", lambda: (lambda p: p if p.exists() else None)(
        _empty_dir(c, "ready")), timeout=40)
    time.sleep(1.5)
    st = _status(c, "ready")
    assert st["phase"] == "Running"
    conds = {x["type"]: x for x in st["conditions"]}
    assert conds["Ready"]["status"] == "False"
    assert conds["ContainersReady"]["message"] == "containers with unready status: [ready]"
    assert st["containerStatuses"][0]["started"] is True
    (d / "ready").touch()
    c.wait_for("Ready", lambda: _container(c, "ready")["ready"], timeout=15)
    assert {x["type"]: x["status"] for x in _status(c, "ready")["conditions"]}["Ready"] == "True"
    (d / "ready").unlink()
    c.wait_for("not Ready again", lambda: not _container(c, "ready")["ready"], timeout=15)


def test_startup_probe_gates_started_and_ready(cluster: Cluster) -> None:
    c = cluster
    d = c.wait_for("startup to run", lambda: (lambda p: p if p.exists() and _container(
        c, "startup")["state"].get("running") else None)(_empty_dir(c, "startup")), timeout=40)
    time.sleep(1.5)
    cs = _container(c, "startup")
    assert (cs["started"], cs["ready"]) == (False, False)
    (d / "started").touch()
    cs = c.wait_for("started and ready", lambda: (lambda s: s if s["started"] and s["ready"]
                                                  else None)(_container(c, "startup")),
                    timeout=15)
    assert cs["restartCount"] == 0


def test_post_start_and_pre_stop_hooks_with_graceful_deletion(cluster: Cluster) -> None:
    c = cluster
    order = c.tmp / "hostdir" / "order"
    c.wait_for("postStart", lambda: order.exists() and order.read_text() == "poststart\n",
               timeout=40)
    c.wait_for("hooks Running", lambda: _container(c, "hooks")["state"].get("running"))
    started = time.monotonic()
    c.kubectl("delete", "pod", "hooks", "--wait=true", "--timeout=30s")
    assert time.monotonic() - started < 8     # TERM ends it well before the 10 s grace
    assert order.read_text() == "poststart\nprestop\nterm\n"


def test_failed_post_start_hook_kills_the_container(cluster: Cluster) -> None:
    c = cluster
    c.wait_for("badhook restarted", lambda: _container(c, "badhook").get("restartCount", 0) >= 1,
               timeout=40)
    events = c.wait_for("FailedPostStartHook", lambda: (lambda e: e if (
        "FailedPostStartHook", "PostStartHook failed") in e else None)(_events(c, "badhook")))
    assert ("Killing", "FailedPostStartHook") in events


def test_oom_killed(cluster: Cluster) -> None:
    c = cluster
    st = c.wait_for("oom to fail", lambda: (
        lambda s: s if s.get("phase") in ("Succeeded", "Failed") else None)(_status(c, "oom")),
        timeout=40)
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert (st["phase"], term["reason"], term["exitCode"]) == ("Failed", "OOMKilled", 137)


def test_active_deadline_fails_the_pod(cluster: Cluster) -> None:
    c = cluster
    st = c.wait_for("deadline to fail", lambda: (
        lambda s: s if s.get("phase") == "Failed" else None)(_status(c, "deadline")),
        timeout=40)
    assert (st["reason"], st["message"]) == (
        "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 137 and st["containerStatuses"][0]["restartCount"] == 0


def test_dead_sandbox_is_recreated(cluster: Cluster) -> None:
    c = cluster
    c.wait_for("sandboxed running", lambda: _container(c, "sandboxed")["state"].get("running"),
               timeout=40)
    uid = c.get("pod", "sandboxed")["metadata"]["uid"]
    checkpoint = json.loads((c.agent_dir / "pods" / uid / "runtime.json").read_text())
    sandbox = checkpoint["sandbox"]["id"]
    subprocess.run(["runc", "--root", str(c.agent_dir / "runc"), "kill", sandbox, "KILL"],
                   check=True)
    cs = c.wait_for("a new sandbox and a restarted container", lambda: (
        lambda s: s if s.get("restartCount") == 1 and s["state"].get("running") else None)(
        _container(c, "sandboxed")), timeout=40, describe=lambda: _status(c, "sandboxed"))
    assert cs["lastState"]["terminated"]["exitCode"] in (0, 137)
    init = _status(c, "sandboxed")["initContainerStatuses"][0]
    assert init["restartCount"] == 1 and init["state"]["terminated"]["exitCode"] == 0
    assert (_empty_dir(c, "sandboxed") / "inits").read_text() == "init\ninit\n"
    new = json.loads((c.agent_dir / "pods" / uid / "runtime.json").read_text())
    assert new["sandbox"]["id"] != sandbox
    assert ("SandboxChanged", "Pod sandbox changed, it will be killed and re-created.") in \
        _events(c, "sandboxed")


def test_forced_deletion_stops_at_once(cluster: Cluster) -> None:
    c = cluster
    c.wait_for("forced Running", lambda: _container(c, "forced")["state"].get("running"),
               timeout=40)
    uid = c.get("pod", "forced")["metadata"]["uid"]
    c.kubectl("delete", "pod", "forced", "--grace-period=0", "--force")
    c.wait_for("forced's containers gone", lambda: not (c.agent_dir / "pods" / uid).exists(),
               timeout=10)


def test_kubelet_api_logs_and_exec_through_the_apiserver(cluster: Cluster) -> None:
    c = cluster
    port = c.get("node", c.node)["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    assert port not in (0, 10250)            # the free port the agent really listens on
    c.wait_for("crash restarted", lambda: _container(c, "crash").get("restartCount", 0) >= 1,
               timeout=30)
    assert c.kubectl("logs", "crash") == "crashing\n"
    assert c.kubectl("logs", "crash", "--previous") == "crashing\n"
    c.wait_for("ready running", lambda: _container(c, "ready")["state"].get("running"),
               timeout=30)
    assert c.kubectl("exec", "ready", "--", "sh", "-c", "echo $((6*7))") == "42\n"
    r = subprocess.run([c.kubectl_bin, "--kubeconfig", str(c.server.kubeconfig), "exec",
                        "ready", "--", "sh", "-c", "exit 3"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 3, r.stderr


def _runc_ids(c: Cluster) -> set[str]:
    """The container ids runc knows (``runc list`` fails when a container's state goes
    while it reads it, as crash-looping pods' containers do: it is asked again)."""
    for _ in range(10):
        r = subprocess.run(["runc", "--root", str(c.agent_dir / "runc"), "list", "-q"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return set(r.stdout.split())
        time.sleep(0.1)
    raise AssertionError(f"runc list failed: {r.stderr}")


def test_agent_restart_keeps_running_pods_and_reports_exits(cluster: Cluster) -> None:
    """Runs last: the agent is stopped and started again with pods running."""
    c = cluster
    wait = "trap 'exit 0' TERM; echo start >> /d/starts; "
    pods = [_pod("survivor", "Always", wait + "sleep 3600 & wait"),
            _pod("exitsdown", "Never", wait + "while [ ! -f /d/exit ]; do sleep 0.2; done; "
                 "exit 7"),
            _pod("restartsdown", "Always", wait + "while [ ! -f /d/exit ]; do sleep 0.2; "
                 "done; rm /d/exit; exit 9"),
            _pod("deleteddown", "Always", wait + "sleep 3600 & wait"),
            _pod("orphaned", "Always", wait + "sleep 3600 & wait")]
    manifest = c.tmp / "restart.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))
    c.kubectl("apply", "-f", str(manifest))
    names = [p["metadata"]["name"] for p in pods]
    for name in names:
        c.wait_for(f"{name} running", lambda n=name: _container(c, n)["state"].get("running"),
                   timeout=40)
    before = {n: _container(c, n)["containerID"] for n in names}
    ids_before = _runc_ids(c)

    assert c.stop_agent() == 0, c.log()
    assert _runc_ids(c) == ids_before            # the pods keep running without the agent
    for name in ("exitsdown", "restartsdown"):
        (_empty_dir(c, name) / "exit").touch()
    deleted_uid = c.get("pod", "deleteddown")["metadata"]["uid"]
    c.kubectl("delete", "pod", "deleteddown", "--wait=false")
    # "orphaned": as if the agent died between creating its container and recording it
    orphan_uid = c.get("pod", "orphaned")["metadata"]["uid"]
    cp_path = c.agent_dir / "pods" / orphan_uid / "runtime.json"
    cp = json.loads(cp_path.read_text())
    cp["containers"]["orphaned"] = {"name": "orphaned", "phase": "waiting",
                                    "reason": "ContainerCreating"}
    cp["instances"] = []
    cp_path.write_text(json.dumps(cp))
    time.sleep(1.0)                               # the exits happen while no agent runs

    c.start_agent()
    st = c.wait_for("exitsdown reported failed", lambda: (
        lambda s: s if s.get("phase") == "Failed" else None)(_status(c, "exitsdown")),
        timeout=40)
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (7, "Error")
    assert st["containerStatuses"][0]["containerID"] == before["exitsdown"]
    cs = c.wait_for("restartsdown restarted", lambda: (
        lambda s: s if s.get("restartCount") == 1 and s["state"].get("running") else None)(
        _container(c, "restartsdown")), timeout=40,
        describe=lambda: json.dumps(_status(c, "restartsdown")))
    assert cs["lastState"]["terminated"]["exitCode"] == 9
    assert cs["lastState"]["terminated"]["containerID"] == before["restartsdown"]
    c.wait_for("deleteddown gone", lambda: "deleteddown" not in c.kubectl(
        "get", "pods", "-o", "name"), timeout=30)
    assert not (c.agent_dir / "pods" / deleted_uid).exists()

    orphan_id = before["orphaned"].split("://")[1]
    cs = c.wait_for("orphaned running a new container", lambda: (
        lambda s: s if s["state"].get("running") and s["containerID"] != before["orphaned"]
        else None)(_container(c, "orphaned")), timeout=40)
    assert cs["restartCount"] == 0
    assert orphan_id not in _runc_ids(c)           # the unrecorded one was removed

    survivor = _container(c, "survivor")
    assert survivor["containerID"] == before["survivor"]    # not restarted, not duplicated
    assert (survivor["restartCount"], survivor["state"].get("running") is not None) == (0, True)
    assert (_empty_dir(c, "survivor") / "starts").read_text() == "start\n"
    survivor_id = before["survivor"].split("://")[1]
    assert survivor_id in _runc_ids(c)
    assert sum(1 for i in _runc_ids(c) if i == survivor_id) == 1
