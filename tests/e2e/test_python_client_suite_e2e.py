"""The official Python client's e2e tests of exec and port-forward, against kubepy's kubelet.

Runs scripts/python-client-e2e.sh (a fresh ``kubepy server`` with its node agent, the suite's
busybox/python/nginx images built here by tests/images.py and pulled by the kubelet from a
loopback registry answering for docker.io) on the suite's tests that run pods and stream to
them: exec over WebSocket v4/v5 (text, binary, stdin, stderr, the error channel, exit codes,
closing stdin with v5's CLOSE) and port-forward (raw sockets to a Python server, HTTP to the
nginx stand-in). Every one of them must pass — a skip (e.g. "v5.channel.k8s.io subprotocol
not negotiated") fails this test.

The suite is never part of this repository: set PYCLIENT_CHECKOUT to a checkout (work tree or
git directory) of github.com/kubernetes-client/python; without it the test is skipped. Needs
root, runc, conmon, CNI plugins, docker-registry, skopeo, openssl, busybox-static.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "python-client-e2e.sh"
CHECKOUT = os.environ.get("PYCLIENT_CHECKOUT", "")

# test name -> what it shows
EXPECTED = {
    "test_pod_apis": "exec: text and binary output, stdin/stdout/stderr, Success status",
    "test_exit_code": "exec: exit codes 0, 1 and 3 on the error channel",
    "test_pod_exec_close_channel": "exec over v5.channel.k8s.io: CLOSE of stdin ends cat",
    "test_portforward_raw": "port-forward: two ports at once, a closed port's error",
    "test_portforward_http": "port-forward: HTTP to the nginx stand-in",
}

pytestmark = [
    pytest.mark.skipif(not CHECKOUT, reason="PYCLIENT_CHECKOUT is not set: point it at a "
                       "checkout of kubernetes-client/python (never part of this repo)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, CNI, mounts)"),
]


def _outcomes(junit: Path) -> dict[str, str]:
    """testcase name -> passed | failed | error | skipped: <message>."""
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        result = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                result = f"{child.tag}: {child.get('message', '')}"
                break
        outcomes[case.get("name", "")] = result
    return outcomes


def test_exec_and_portforward_tests_of_the_suite_pass(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    selection = " or ".join(EXPECTED)
    env = {**os.environ, "PYCLIENT_CHECKOUT": CHECKOUT, "TMPDIR": str(tmp_path)}
    env.pop("E2E_SKIP_KUBELET", None)
    env.pop("E2E_AGENT", None)
    env.pop("E2E_KEEP", None)
    proc = subprocess.Popen([str(SCRIPT), "--", "-k", selection, f"--junitxml={junit}"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        proc.terminate()            # the script's trap stops the suite, server, pods, registry
        stdout, stderr = proc.communicate(timeout=180)
        pytest.fail(f"the suite took over 900 s:\n{stdout}\n{stderr}")
    report = f"rc={proc.returncode}\n{stdout}\n{stderr}"
    assert junit.exists(), f"the suite did not run:\n{report}"
    outcomes = _outcomes(junit)
    assert {name: outcomes.get(name, "not run") for name in EXPECTED} \
        == {name: "passed" for name in EXPECTED}, report
    assert proc.returncode == 0, report
    assert not list(tmp_path.glob("kubepy-pyclient-e2e.*")), "the script left its temp dir"
