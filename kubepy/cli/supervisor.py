"""The child processes ``kubepy server`` runs beside the API server, so it keeps a core of
its own despite Python's GIL: the controller-manager and scheduler (``kubepy components``),
the node agent (``kubepy agent``) and the cluster DNS (``kubepy dns``).

``ComponentSupervisor.start()`` spawns a child; if it dies it is restarted after a
back-off (1 s doubling to 30 s; reset after it ran 60 s). ``stop()`` sends SIGTERM, then
SIGKILL after ``stop_timeout`` seconds. The child is also told to die with its parent
(PR_SET_PDEATHSIG on Linux, and it watches its parent pid), so a ``kill -9`` of the server
leaves no orphan reconciling.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import sys
import time
from pathlib import Path

from kubepy.apiserver import certs

log = logging.getLogger("kubepy.cli.supervisor")

COMPONENTS_USER = "system:kubepy-components"
NODE_GROUP = "system:nodes"
MIN_BACKOFF, MAX_BACKOFF, HEALTHY_RUN = 1.0, 30.0, 60.0


def write_components_kubeconfig(data_dir: Path, server_url: str, ca: certs.KeyPair) -> Path:
    """A kubeconfig with a client certificate of its own for the components process
    (O=system:masters: the bootstrap RBAC has no controller-manager roles yet)."""
    tls = data_dir / "tls"
    client = certs.KeyPair(tls / "components.crt", tls / "components.key")
    if not (client.cert_path.exists() and client.key_path.exists()):
        certs.issue(ca, client, common_name=COMPONENTS_USER,
                    organizations=("system:masters",), client=True)
    path = data_dir / "cred" / "components.kubeconfig"
    certs.write_kubeconfig(path, certs.kubeconfig(server_url, ca, client))
    return path


def write_node_kubeconfig(data_dir: Path, server_url: str, ca: certs.KeyPair,
                          node_name: str) -> Path:
    """The node agent's kubeconfig: a client certificate CN=system:node:<name>,
    O=system:nodes (the kubelet's identity) and O=system:masters, since the bootstrap RBAC
    has no node authorizer or system:node binding yet. Reissued when the node name changes."""
    tls = data_dir / "tls"
    client = certs.KeyPair(tls / "node.crt", tls / "node.key")
    cn = f"system:node:{node_name}"
    if not (client.cert_path.exists() and client.key_path.exists()
            and _subject_cn(client.cert_path) == cn):
        certs.issue(ca, client, common_name=cn, organizations=(NODE_GROUP, "system:masters"),
                    client=True)
    path = data_dir / "cred" / "node.kubeconfig"
    certs.write_kubeconfig(path, certs.kubeconfig(server_url, ca, client))
    return path


def _subject_cn(cert_path: Path) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ComponentSupervisor:
    def __init__(self, args: list[str], *, stop_timeout: float = 5.0,
                 subcommand: str = "components") -> None:
        self.command = [sys.executable, "-m", "kubepy.cli.main", subcommand, *args]
        self.subcommand = subcommand
        self.stop_timeout = stop_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise(),
                                                             name="component supervisor")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def _supervise(self) -> None:
        backoff = MIN_BACKOFF
        while not self._stopping:
            started = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(*self.command,
                                                             preexec_fn=_die_with_parent)
            log.info("%s process started (pid %d)", self.subcommand, self.proc.pid)
            code = await self.proc.wait()
            # stop() may have run during the await; mypy keeps the loop condition's narrowing
            if self._stopping:
                return  # type: ignore[unreachable]
            if time.monotonic() - started >= HEALTHY_RUN:
                backoff = MIN_BACKOFF
            self.restarts += 1
            log.warning("%s process (pid %d) exited with %s; restarting in %.0fs",
                        self.subcommand, self.proc.pid, code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_timeout)
            except TimeoutError:
                log.warning("%s process (pid %d) ignored SIGTERM; killing it",
                            self.subcommand, proc.pid)
                proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
