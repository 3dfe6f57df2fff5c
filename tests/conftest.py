"""Shared fixtures: a real ``kubepy server`` process and the kubectl binaries on this machine.

``kubepy_server`` (session scope) starts one API server (no controllers, no scheduler) on a
free port with a fresh data dir; tests isolate themselves with their own namespaces. ``start_server`` starts extra
servers for tests that restart or kill one; they run no node agent (``--disable-agent``)
unless a test asks for one with ``agent=True`` (root e2e tests, which then pass their own
bridge, netns dir, cgroup parent and ports, and run ``kubepy killall`` at the end). Every process started here is stopped at the end
of its scope, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    log_path: Path

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def _ready(port: int) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx,
                                    timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


def start_server(data_dir: Path, port: int | None = None, extra: list[str] | None = None,
                 timeout: float = 20, *, agent: bool = False) -> ServerProcess:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    cmd = [str(VENV_BIN / "kubepy"), "server", "--data-dir", str(data_dir),
           "--https-listen-port", str(port), "--bind-address", "127.0.0.1",
           *([] if agent else ["--disable-agent"]), *(extra or [])]
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    server = ServerProcess(proc, data_dir, port, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kubepy server exited with {proc.returncode}:\n{server.log()}")
        if _ready(port) and server.kubeconfig.exists():
            return server
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"kubepy server not ready after {timeout}s:\n{server.log()}")


API_ONLY = ["--disable-controller-manager", "--disable-scheduler"]


@pytest.fixture(scope="session")
def kubepy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The API server alone (no controllers or scheduler acting on what tests create), so
    that what kubectl prints does not depend on how far reconciliation got."""
    server = start_server(tmp_path_factory.mktemp("kubepy-server"), extra=API_ONLY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own, for tests that restart, kill or fill one."""
    server = start_server(tmp_path / "data")
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------- kubectl

GCLOUD_KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_120 = ROOT / ".tools" / "kubectl-1.20" / "usr" / "bin" / "kubectl"


def kubectl_binaries() -> dict[str, Path]:
    """Every kubectl generation on this machine: {"1.20": path, "1.27": path, ...}."""
    found: dict[str, Path] = {}
    if KUBECTL_120.exists():
        found["1.20"] = KUBECTL_120
    on_path = shutil.which("kubectl")
    real_dir = Path(os.path.realpath(on_path)).parent if on_path else GCLOUD_KUBECTL_DIR
    for d in {real_dir, GCLOUD_KUBECTL_DIR}:
        if d.is_dir():
            for p in sorted(d.glob("kubectl.1.*")):
                found.setdefault(p.name[len("kubectl."):], p)
    if not found and on_path:
        found["path"] = Path(on_path)
    return dict(sorted(found.items(), key=lambda kv: [int(x) if x.isdigit() else 0
                                                        for x in kv[0].split(".")]))
