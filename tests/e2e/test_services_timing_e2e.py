"""A new Service is reachable, and a deleted one stops being reachable, within 1 s, measured
from inside a pod (issue 5; root): ``kubepy server`` with its node agent (service proxy),
real runc, CNI, iptables and kubectl 1.32.

A client pod (the python stand-in image of tests/images.py) runs a probe loop: every 100 ms
it sends an HTTP GET to the Service's cluster IP and port (socket timeout 200 ms) and
appends ``<epoch-ms> ok|fail`` (the attempt's start) to a log file: ok only when a backend
answers with its name (its hostname; the sandbox's network may accept connections to any
address, so a connect alone proves nothing). The test creates the Service (a
fixed clusterIP, so the address is known before it exists) and later deletes it, noting the
wall-clock time just before each ``kubectl`` call, then reads the log through ``runc exec
cat``. The latency of a change is the start of the first attempt from which on every attempt
shows the new state (ok after the create, fail after the delete) minus the change's time;
it includes kubectl's own start-up and is an upper bound by up to one attempt. Three rounds;
each latency must be <= 1 s (printed with ``-s``).

Isolation as tests/e2e/test_cluster_services_e2e.py (whose running_cluster it uses): its own bridge,
netns dir, cgroup parent, data dir and ports; the proxy's chains are the host's, so it waits
until no other service proxy runs, and ``kubepy killall`` leaves nothing behind.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Iterator

import pytest

from test_cluster_services_e2e import WEB_COMMAND, Cluster, Obj, deployment, running_cluster, \
    service
from tests.images import CONTAINERD_NAME, IMAGE, ImageSpec, build_busybox_image, \
    image_specs, write_layout

PYTHON_IMAGE = "docker.io/library/python:e2e"
PROBE_LOG = "/tmp/probe.log"
PROBE = f"""
import socket, sys, time
target = (sys.argv[1], int(sys.argv[2]))
with open({PROBE_LOG!r}, "a", buffering=1) as log:
    while True:
        start = time.time()
        result = "fail"
        try:
            with socket.create_connection(target, timeout=0.2) as conn:
                conn.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
                reply = b""
                while chunk := conn.recv(4096):
                    reply += chunk
            if reply[9:13] == b"200 " and sys.argv[3].encode() in reply:
                result = "ok"
        except OSError:
            pass
        log.write(f"{{int(start * 1000)}} {{result}}\\n")
        time.sleep(max(0.0, 0.1 - (time.time() - start)))
"""
ROUNDS = 3


def build_python_image(layout: Path, name: str = PYTHON_IMAGE) -> None:
    spec = image_specs(["python"])[0]
    write_layout(layout, [ImageSpec(name, spec.layers, spec.config)],
                 name_annotation=CONTAINERD_NAME)


def settled_at(lines: list[tuple[int, str]], after_ms: int, state: str) -> int | None:
    """Start (epoch ms) of the first attempt at or after *after_ms* from which on every
    attempt shows *state*; None when the log does not end in that state."""
    at = None
    for ms, result in lines:
        if ms < after_ms:
            continue
        if result != state:
            at = None
        elif at is None:
            at = ms
    return at


@pytest.mark.parametrize("lines,after,state,expected", [
    ([(0, "fail"), (100, "fail"), (200, "ok"), (300, "ok")], 50, "ok", 200),
    ([(0, "ok"), (100, "ok"), (200, "fail"), (300, "ok"), (400, "ok")], 150, "ok", 300),
    ([(0, "ok"), (100, "fail"), (200, "ok"), (300, "fail")], 0, "fail", 300),
    ([(0, "ok"), (100, "ok")], 150, "ok", None),
    ([(0, "fail"), (100, "ok"), (200, "fail")], 0, "ok", None),
], ids=["first-ok", "spurious-fail-restarts", "flap-then-fail", "nothing-after", "not-ending-ok"])
def test_settled_at(lines: list[tuple[int, str]], after: int, state: str,
                    expected: int | None) -> None:
    assert settled_at(lines, after, state) == expected


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("svc-timing"),
                         [("busybox", build_busybox_image), ("python", build_python_image)],
                         check_netns=False) as c:
        yield c


def probe_pod(name: str, ip: str, port: int, expect: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                {"name": "probe", "image": PYTHON_IMAGE, "imagePullPolicy": "Never",
                 "command": ["python3", "-c", PROBE, ip, str(port), expect]}]}}


def read_log(c: Cluster, pod: str) -> list[tuple[int, str]]:
    code, out = c.exec("default", pod, "cat", PROBE_LOG)
    assert code == 0, out
    lines = []
    for line in out.splitlines():
        ms, _, result = line.partition(" ")
        if result in ("ok", "fail"):
            lines.append((int(ms), result))
    return lines


def wait_settled(c: Cluster, pod: str, after_ms: int, state: str) -> int:
    """The settle time once the log has shown *state* for 1.5 s after it settled."""
    def check() -> int | None:
        lines = read_log(c, pod)
        at = settled_at(lines, after_ms, state)
        return at if at is not None and lines[-1][0] - at >= 1500 else None
    try:
        return int(c.wait_for(f"the probe to settle on {state}", check, timeout=20,
                              interval=0.5))
    except AssertionError as e:
        raise AssertionError(f"{e}\nprobe log tail: {read_log(c, pod)[-20:]}") from None


def test_new_and_deleted_service_within_a_second_from_a_pod(cluster: Cluster) -> None:
    c = cluster
    cluster_ip = f"10.43.{random.randrange(100, 250)}.{random.randrange(2, 250)}"
    c.apply([deployment("backend", 2, {"app": "backend"},
                        {"name": "httpd", "image": IMAGE, "imagePullPolicy": "Never",
                         "command": WEB_COMMAND}),
             probe_pod("probe", cluster_ip, 8000, "backend-")])
    c.ready_pods("default", "app=backend", 2)
    c.wait_for("the probe log", lambda: len(read_log(c, "probe")) >= 5, timeout=60)
    assert {r for _, r in read_log(c, "probe")} == {"fail"}  # no Service yet
    created, deleted = [], []
    for _ in range(ROUNDS):
        t0 = int(time.time() * 1000)
        c.apply(service("timed", {"app": "backend"}, [{"port": 8000, "targetPort": 8080}],
                        clusterIP=cluster_ip))
        created.append((wait_settled(c, "probe", t0, "ok") - t0) / 1000)
        t0 = int(time.time() * 1000)
        c.kubectl("delete", "service", "timed")
        deleted.append((wait_settled(c, "probe", t0, "fail") - t0) / 1000)
    print(f"\nnew Service reachable after {created} s; deleted Service unreachable after "
          f"{deleted} s (from a pod, including kubectl start-up)")
    assert max(created) <= 1.0, f"new Service reachable after {created} s"
    assert max(deleted) <= 1.0, f"deleted Service unreachable after {deleted} s"
