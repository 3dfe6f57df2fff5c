"""The kubelet HTTPS server against a real runc container (root).

A pod sandbox (its own network namespace, only lo) and one busybox container run under a
private runc root and cgroup parent; a small StreamingRuntime describes them to a real
KubeletServer on 127.0.0.1:<free port>. Clients are this repository's WebSocket client
(websocket_conn.connect) and H4a's SPDY session, over TLS with a client certificate from a
test CA. Checked: exec over WebSocket v5/v4/base64 and SPDY (exit codes as Status, stdin and
its half-close, a tty with resize), port-forward to busybox httpd inside the pod netns over
WebSocket channels, SPDY and SPDY tunnelled in WebSocket, logs (tail, timestamps, follow),
401 without a client certificate, a refused handshake with a certificate of another CA, and
403 for a certificate of the cluster CA whose subject is not authorized.
Everything created is removed, also on failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import json
import os
import shutil
import ssl
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.conmon import ConmonRunner
from kubepy.kubelet.runtime.runc import Runc, oom_score_adj_floor
from kubepy.kubelet.runtime.sandbox import (BUSYBOX, Sandbox, prepare_pause_rootfs,
                                            run_sandbox, stop_sandbox)
from tests.bundles import ROOT_PASSWD, busybox_rootfs, container_bundle, \
    remove_runc_containers, sh_container
from kubepy.kubelet.server import ContainerRef, KubeletServer, PodRef
from kubepy.kubelet.server.logs import format_timestamp
from kubepy.streaming.spdy import SpdySession, SpdyStream, stream_reader_writer
from kubepy.streaming.websocket import Message, Opcode
from kubepy.streaming.websocket_conn import UpgradeRefused, WebSocket, connect

Obj = dict[str, Any]
HTTPD = ("mkdir -p /tmp/www && echo pod-content > /tmp/www/index.html && "
         "httpd -p 8080 -h /tmp/www && echo started && exec sleep 3600")


# ---- certificates ------------------------------------------------------------------------

def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def make_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_client(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], cn: str,
                directory: Path, org: str | None = None) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn, org))
            .issuer_name(ca[0].subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(ca[1], hashes.SHA256()))
    cert_path, key_path = directory / f"{cn}.crt", directory / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def client_context(cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # as the apiserver: the kubelet's cert is not checked
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


# ---- the pod -----------------------------------------------------------------------------

@dataclass
class Runtime:
    """The StreamingRuntime of the test: one pod, containers by name."""
    runc_root: str
    pods: dict[tuple[str, str], PodRef] = field(default_factory=dict)
    containers: dict[tuple[str, str, str], ContainerRef] = field(default_factory=dict)
    live: dict[tuple[str, str, str], Callable[[], ContainerRef]] = field(default_factory=dict)

    def pod(self, namespace: str, name: str) -> PodRef | None:
        return self.pods.get((namespace, name))

    def container(self, namespace: str, name: str, container: str) -> ContainerRef | None:
        key = (namespace, name, container)
        if key in self.live:
            return self.live[key]()
        return self.containers.get(key)

    def runc_command(self) -> list[str]:
        return ["runc", "--root", self.runc_root]


@dataclass
class Env:
    tmp: Path
    runtime: Runtime
    ca_pem: bytes
    client: tuple[Path, Path]
    stranger: tuple[Path, Path]
    sandbox: Sandbox
    app_id: str
    conmon: ConmonRunner
    pod: Obj
    rootfs: str
    cgroup_parent: str
    conmon_ids: list[str] = field(default_factory=list)
    forbidden: tuple[Path, Path] | None = None     # the cluster CA's, but not authorized

    async def conmon_container(self, name: str, script: str, *, tty: bool = False,
                               stdin: bool = False, stdin_once: bool = False) -> str:
        """A container of the pod under conmon (CRI log, attach socket); returns its id."""
        cid, bundle, _ = container_bundle(self.tmp / "bundles", self.pod,
                                          sh_container(name, script), rootfs=self.rootfs,
                                          cgroup_parent=self.cgroup_parent,
                                          sandbox=self.sandbox, tty=tty)
        log_path = str(self.tmp / "logs" / f"{name}.log")
        self.conmon_ids.append(cid)
        await self.conmon.create(cid, str(bundle), log_path=log_path, stdin=stdin,
                                 stdin_once=stdin_once, tty=tty)
        await self.conmon.start(cid)
        uid = self.pod["metadata"]["uid"]

        def ref() -> ContainerRef:
            return ContainerRef(
                pod_uid=uid, namespace="default", pod_name="web", container_name=name,
                container_id=cid, running=self.conmon.exit_status(cid) is None,
                log_path=log_path, previous_log_path=None, tty=tty, stdin=stdin,
                stdin_once=stdin_once, attach_socket=self.conmon.attach_socket(cid),
                ctl_path=self.conmon.ctl_path(cid))

        self.runtime.live[("default", "web", name)] = ref
        return cid


def _require() -> None:
    if os.geteuid() != 0:
        pytest.fail("e2e kubelet server tests need root")
    if not shutil.which("runc"):
        pytest.fail("runc is not installed (Debian package runc)")
    if not os.path.exists(BUSYBOX):
        pytest.fail("busybox-static is not installed")


def _pod(uid: str) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "uid": uid},
            "spec": {"containers": []}}


async def _start_pod(tmp: Path, runc: Runc, uid: str, cgroup_parent: str
                     ) -> tuple[Sandbox, str]:
    pod = _pod(uid)
    sandbox = await run_sandbox(runc, pod, sandbox_id=f"{uid}-sb",
                                bundle_dir=str(tmp / "sandbox"),
                                pause_rootfs=prepare_pause_rootfs(str(tmp / "pause")),
                                cgroup_parent=cgroup_parent,
                                oom_score_adj_floor=oom_score_adj_floor())
    rootfs = busybox_rootfs(str(tmp / "rootfs"),
                            dirs=("bin", "etc", "tmp", "dev", "proc", "sys"),
                            passwd=ROOT_PASSWD, group="root:x:0:\n")
    cid, bundle_dir, _ = container_bundle(tmp / "bundles", pod, sh_container("app", HTTPD),
                                          rootfs=rootfs, cgroup_parent=cgroup_parent,
                                          sandbox=sandbox)
    bundle = Path(bundle_dir)
    await runc.create(cid, str(bundle), stdout_path=str(bundle / "stdout"),
                      stderr_path=str(bundle / "stderr"))
    await runc.start(cid)
    for _ in range(100):  # httpd listening
        if (bundle / "stdout").read_text().strip() == "started":
            break
        await asyncio.sleep(0.05)
    return sandbox, cid


async def _cleanup(runc: Runc, sandbox: Sandbox | None, cgroup_parent: str,
                   conmon: ConmonRunner, conmon_ids: list[str]) -> list[str]:
    problems = []
    for cid in conmon_ids:
        try:
            await conmon.stop(cid, 0)
            await conmon.remove(cid)
        except Exception as e:  # noqa: BLE001 - reported below
            problems.append(f"{cid}: {e}")
    problems += await remove_runc_containers(runc, keep={sandbox.id} if sandbox else set())
    if sandbox is not None:
        await stop_sandbox(runc, sandbox)
    problems += cgroups.remove_cgroup(cgroup_parent)
    return problems


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    _require()
    tmp = Path(tempfile.mkdtemp(prefix="kubepy-kls-"))
    uid = uuid.uuid4().hex[:12]
    cgroup_parent = f"kubepy-test-{uid}"
    runc = Runc(str(tmp / "runc"))
    conmon = ConmonRunner(runc, str(tmp / "conmon"))
    conmon_ids: list[str] = []
    sandbox = None
    try:
        sandbox, cid = asyncio.run(_start_pod(tmp, runc, uid, cgroup_parent))
        ca = make_ca("test-cluster-ca")
        ca_pem = ca[0].public_bytes(serialization.Encoding.PEM)
        runtime = Runtime(str(tmp / "runc"))
        runtime.pods[("default", "web")] = PodRef(uid, "default", "web", sandbox.netns_path,
                                                  ("app",))
        runtime.containers[("default", "web", "app")] = ContainerRef(
            pod_uid=uid, namespace="default", pod_name="web", container_name="app",
            container_id=cid, running=True, log_path=None, previous_log_path=None, tty=False,
            stdin=False, stdin_once=False, attach_socket=None, ctl_path=None)
        yield Env(tmp, runtime, ca_pem, make_client(ca, "kube-apiserver-kubelet-client", tmp),
                  make_client(make_ca("other-ca"), "intruder", tmp), sandbox, cid, conmon,
                  _pod(uid), str(tmp / "rootfs"), cgroup_parent, conmon_ids,
                  make_client(ca, "system:node:node-2", tmp, "system:nodes"))
    finally:
        problems = asyncio.run(_cleanup(runc, sandbox, cgroup_parent, conmon, conmon_ids))
        left = asyncio.run(runc.list())
        shutil.rmtree(tmp, ignore_errors=True)
        assert not problems, problems
        assert not left, left
        assert not cgroups.existing(cgroup_parent)


# ---- clients -----------------------------------------------------------------------------

class Server:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.kubelet = KubeletServer(env.runtime, client_ca_pem=env.ca_pem,
                                     cert_dir=env.tmp / "pki", node_name="node-1",
                                     node_ip="127.0.0.1")
        self.port = 0

    async def __aenter__(self) -> "Server":
        self.port = await self.kubelet.start("127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.kubelet.stop()

    async def open(self, cert: tuple[Path, Path] | None = None, *, anonymous: bool = False
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        context = client_context(None if anonymous else cert or self.env.client)
        return await asyncio.open_connection("127.0.0.1", self.port, ssl=context)

    async def get(self, target: str, *, anonymous: bool = False,
                  cert: tuple[Path, Path] | None = None) -> tuple[int, bytes]:
        reader, writer = await self.open(cert, anonymous=anonymous)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: node-1\r\nConnection: close\r\n\r\n"
                     .encode())
        await writer.drain()
        raw = await reader.read()
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if b"transfer-encoding: chunked" in head.lower():
            body = _dechunk(body)
        return int(head.split(b" ")[1]), body

    async def websocket(self, target: str, protocols: list[str],
                        cert: tuple[Path, Path] | None = None) -> WebSocket:
        reader, writer = await self.open(cert)
        return await connect(reader, writer, host="node-1", target=target, protocols=protocols)

    async def spdy(self, target: str, protocol: str) -> tuple[SpdySession, asyncio.Task[None],
                                                              str]:
        reader, writer = await self.open()
        writer.write(f"POST {target} HTTP/1.1\r\nHost: node-1\r\nConnection: Upgrade\r\n"
                     f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        assert head.startswith("HTTP/1.1 101"), head
        chosen = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
                  if line.lower().startswith("x-stream-protocol-version:")]
        session = SpdySession(*stream_reader_writer(reader, writer), server=False)
        return session, asyncio.create_task(session.run()), chosen[0] if chosen else ""


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_text, _, rest = body.partition(b"\r\n")
        size = int(size_text, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


async def read_channels(ws: WebSocket, *, base64_text: bool = False) -> dict[int, bytes]:
    """Everything the server sends, by channel, until it closes the WebSocket."""
    out: dict[int, bytes] = {}
    while (message := await asyncio.wait_for(ws.recv(), 20)) is not None:
        if base64_text:
            assert message.opcode == Opcode.TEXT
            channel, data = message.data[0] - ord("0"), base64.b64decode(message.data[1:])
        else:
            assert message.opcode == Opcode.BINARY
            channel, data = message.data[0], message.data[1:]
        out[channel] = out.get(channel, b"") + data
    return out


async def read_all(stream: SpdyStream) -> bytes:
    out = b""
    while data := await asyncio.wait_for(stream.read(), 20):
        out += data
    return out


def exec_target(command: list[str], **flags: str) -> str:
    query = "&".join([f"command={c}" for c in command] + [f"{k}={v}" for k, v in flags.items()])
    return f"/exec/default/web/app?{query}"


def exit_status(code: int) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: error executing command "
                       f"[sh -c {'cat; echo oops >&2; exit 3' if code == 3 else ''}], "
                       f"exit code {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


# ---- exec --------------------------------------------------------------------------------

def test_exec_websocket_v5_stdin_half_close_and_exit_code(env: Env) -> None:
    async def main() -> dict[int, bytes]:
        async with Server(env) as server:
            ws = await server.websocket(
                exec_target(["sh", "-c", "cat;%20echo%20oops%20>%262;%20exit%203"],
                            stdin="1", stdout="1", stderr="1"),
                ["v5.channel.k8s.io", "v4.channel.k8s.io"])
            assert ws.protocol == "v5.channel.k8s.io"
            await ws.send(b"\x00hello ")
            await ws.send(b"\x00kubelet\n")
            await ws.send(b"\xff\x00")  # v5: stdin is done
            return await read_channels(ws)

    out = asyncio.run(main())
    assert out[1] == b"hello kubelet\n" and out[2] == b"oops\n"
    assert json.loads(out[3]) == exit_status(3)


@pytest.mark.parametrize("protocol", ["v4.base64.channel.k8s.io", "base64.channel.k8s.io"])
def test_exec_websocket_base64_success(env: Env, protocol: str) -> None:
    async def main() -> dict[int, bytes]:
        async with Server(env) as server:
            ws = await server.websocket(exec_target(["hostname"], stdout="1", stderr="1"),
                                        [protocol])
            return await read_channels(ws, base64_text=True)

    out = asyncio.run(main())
    assert out[1] == b"web\n"
    if protocol.startswith("v4."):
        assert json.loads(out[3]) == {"metadata": {}, "status": "Success"}
    else:
        assert out.get(3, b"") == b""  # v1: nothing on success


def test_exec_websocket_tty_resize(env: Env) -> None:
    async def main() -> dict[int, bytes]:
        async with Server(env) as server:
            ws = await server.websocket(
                exec_target(["sh", "-c", "read%20x;%20stty%20size;%20echo%20got:$x;%20exit%207"],
                            stdin="1", stdout="1", tty="1"), ["v4.channel.k8s.io"])
            await ws.send(b"\x04" + json.dumps({"Width": 100, "Height": 30}).encode())
            await asyncio.sleep(0.3)
            await ws.send(b"\x00abc\r")
            return await read_channels(ws)

    out = asyncio.run(main())
    text = out[1].decode()
    assert "abc" in text and "30 100" in text and "got:abc" in text, text
    assert 2 not in out or out[2] == b""  # a tty has no stderr
    assert json.loads(out[3])["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


def test_exec_spdy_v4(env: Env) -> None:
    async def main() -> tuple[str, bytes, bytes, bytes]:
        async with Server(env) as server:
            session, loop, protocol = await server.spdy(
                exec_target(["sh", "-c", "cat;%20echo%20oops%20>%262;%20exit%203"],
                            stdin="1", stdout="1", stderr="1"),
                "v4.channel.k8s.io, v3.channel.k8s.io")
            streams = {}
            for kind in ("error", "stdin", "stdout", "stderr"):
                streams[kind] = await session.open({"streamType": kind})
            for stream in streams.values():
                await stream.wait_reply()
            await streams["stdin"].write(b"over spdy\n")
            await streams["stdin"].close()
            out, err, status = await asyncio.gather(
                read_all(streams["stdout"]), read_all(streams["stderr"]),
                read_all(streams["error"]))
            await session.close()
            loop.cancel()
            return protocol, out, err, status

    protocol, out, err, status = asyncio.run(main())
    assert protocol == "v4.channel.k8s.io"
    assert (out, err) == (b"over spdy\n", b"oops\n")
    assert json.loads(status) == exit_status(3)


# ---- port-forward ------------------------------------------------------------------------

def test_port_forward_websocket_channels(env: Env) -> None:
    async def main() -> dict[int, bytes]:
        async with Server(env) as server:
            ws = await server.websocket("/portForward/default/web?port=8080",
                                        ["v4.channel.k8s.io"])
            await ws.send(b"\x00GET / HTTP/1.0\r\n\r\n")
            return await read_channels(ws)

    out = asyncio.run(main())
    port = struct.pack("<H", 8080)
    assert out[0].startswith(port + b"HTTP/1.") and out[0].endswith(b"pod-content\n")
    assert out[1] == port  # the error channel: the port, then nothing


async def _spdy_forward(session: SpdySession, port: int, request_id: str,
                        payload: bytes) -> tuple[bytes, bytes]:
    headers = {"port": str(port), "requestID": request_id}
    error = await session.open({**headers, "streamType": "error"})
    data = await session.open({**headers, "streamType": "data"})
    await error.wait_reply()
    await data.wait_reply()
    await data.write(payload)
    return await asyncio.gather(read_all(data), read_all(error))


def test_port_forward_spdy_two_connections_and_refused_port(env: Env) -> None:
    async def main() -> list[tuple[bytes, bytes]]:
        async with Server(env) as server:
            session, loop, protocol = await server.spdy("/portForward/default/web",
                                                        "portforward.k8s.io")
            assert protocol == "portforward.k8s.io"
            results = await asyncio.gather(
                _spdy_forward(session, 8080, "0", b"GET / HTTP/1.0\r\n\r\n"),
                _spdy_forward(session, 8080, "1", b"GET /index.html HTTP/1.0\r\n\r\n"),
                _spdy_forward(session, 9, "2", b"x"))
            await session.close()
            loop.cancel()
            return list(results)

    (data0, err0), (data1, err1), (data2, err2) = asyncio.run(main())
    assert data0.endswith(b"pod-content\n") and data1.endswith(b"pod-content\n")
    assert err0 == err1 == b"" and data2 == b""
    assert err2.decode().startswith("error forwarding port 9 to pod web, uid ")
    assert "connection refused" in err2.decode()


def test_port_forward_spdy_tunnelled_in_websocket(env: Env) -> None:
    async def main() -> tuple[bytes, bytes]:
        async with Server(env) as server:
            ws = await server.websocket("/portForward/default/web",
                                        ["SPDY/3.1+portforward.k8s.io"])
            assert ws.protocol == "SPDY/3.1+portforward.k8s.io"

            async def read() -> bytes:
                message = await ws.recv()
                return b"" if message is None else message.data

            session = SpdySession(read, ws.send, server=False)
            loop = asyncio.create_task(session.run())
            result = await _spdy_forward(session, 8080, "0", b"GET / HTTP/1.0\r\n\r\n")
            await session.close()
            loop.cancel()
            return result

    data, err = asyncio.run(main())
    assert data.startswith(b"HTTP/1.") and data.endswith(b"pod-content\n") and err == b""


# ---- logs, health, authentication ------------------------------------------------------

def _cri(offset: int, stream: str, text: str) -> bytes:
    return f"{format_timestamp(1_700_000_000_000_000_000 + offset * 10**9)} {stream} F " \
           f"{text}\n".encode()


def test_logs_tail_timestamps_and_follow(env: Env) -> None:
    log = env.tmp / "app.log"
    log.write_bytes(_cri(0, "stdout", "one") + _cri(1, "stderr", "two") +
                    _cri(2, "stdout", "three"))
    key = ("default", "web", "app")
    original = env.runtime.containers[key]
    env.runtime.containers[key] = replace(original, log_path=str(log))

    async def main() -> None:
        async with Server(env) as server:
            assert await server.get("/containerLogs/default/web/app") == \
                (200, b"one\ntwo\nthree\n")
            assert await server.get("/containerLogs/default/web/app?tailLines=1&timestamps=true"
                                    ) == (200, b"2023-11-14T22:13:22.000000000Z three\n")
            assert await server.get("/containerLogs/default/web/app?limitBytes=6") == \
                (200, b"one\ntw")
            status, body = await server.get("/containerLogs/default/web/nope")
            assert status == 404 and b'container "nope" not found' in body
            assert (await server.get("/containerLogs/default/web/app?tailLines=-1"))[0] == 422
            assert (await server.get("/containerLogs/default/web/app?previous=true"))[0] == 400
            follow = asyncio.create_task(
                server.get("/containerLogs/default/web/app?follow=true&tailLines=1"))
            await asyncio.sleep(0.5)
            with open(log, "ab") as f:
                f.write(_cri(3, "stdout", "four"))
            await asyncio.sleep(0.5)
            assert not follow.done()
            env.runtime.containers[key] = replace(original, log_path=str(log), running=False)
            assert await asyncio.wait_for(follow, 5) == (200, b"three\nfour\n")

    try:
        asyncio.run(main())
    finally:
        env.runtime.containers[key] = original


def test_healthz_stats_and_authentication(env: Env) -> None:
    async def main() -> None:
        async with Server(env) as server:
            assert await server.get("/healthz") == (200, b"ok")
            status, body = await server.get("/stats/summary")
            summary = json.loads(body)
            assert status == 200 and summary["node"]["nodeName"] == "node-1"
            assert summary["node"]["memory"]["workingSetBytes"] > 0
            status, body = await server.get("/metrics/resource")
            assert status == 200 and b"\nnode_memory_working_set_bytes " in body
            assert await server.get("/healthz", anonymous=True) == (401, b"Unauthorized\n")
            assert await server.get("/stats/summary", cert=env.forbidden) == (
                403, b"Forbidden (user=system:node:node-2, verb=get, resource=nodes, "
                     b"subresource=stats)")
            with pytest.raises(UpgradeRefused) as refused:
                await server.websocket("/exec/default/web/app?command=ls&stdout=1",
                                       ["v4.channel.k8s.io"], cert=env.forbidden)
            assert refused.value.status == 403
            assert (await server.get("/nothing/here"))[0] == 404
            with pytest.raises(UpgradeRefused) as refused:
                await server.websocket("/exec/default/gone/app?command=ls&stdout=1",
                                       ["v4.channel.k8s.io"])
            assert refused.value.status == 404
            with pytest.raises((ssl.SSLError, ConnectionError)):
                reader, writer = await server.open(env.stranger)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                if not await reader.read():
                    raise ConnectionResetError("closed by the server")

    asyncio.run(main())


# ---- attach and logs of containers under conmon -----------------------------------------

async def _wait_log(path: str, text: bytes) -> None:
    for _ in range(200):
        if os.path.exists(path) and text in Path(path).read_bytes():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


TALKER = ('echo ready; while read line; do echo "got $line"; echo "err $line" >&2; done; '
          'echo bye')


def test_attach_websocket_stdin_once_and_logs_follow(env: Env) -> None:
    async def main() -> tuple[dict[int, bytes], tuple[int, bytes], tuple[int, bytes]]:
        await env.conmon_container("talker", TALKER, stdin=True, stdin_once=True)
        await _wait_log(str(env.tmp / "logs" / "talker.log"), b"ready")
        async with Server(env) as server:
            follow = asyncio.create_task(
                server.get("/containerLogs/default/web/talker?follow=1&timestamps=1"))
            ws = await server.websocket(
                "/attach/default/web/talker?stdin=1&stdout=1&stderr=1", ["v5.channel.k8s.io"])
            await ws.send(b"\x00one\n")
            await asyncio.sleep(0.3)
            await ws.send(b"\x00two\n")
            await asyncio.sleep(0.3)
            await ws.send(b"\xff\x00")  # the client's stdin ends: stdinOnce closes the container's
            out = await read_channels(ws)
            followed = await asyncio.wait_for(follow, 10)  # ends as the container has exited
            return out, followed, await server.get("/containerLogs/default/web/talker")

    out, (follow_status, followed), (status, logs) = asyncio.run(main())
    assert out[1] == b"got one\ngot two\nbye\n" and out[2] == b"err one\nerr two\n"
    assert json.loads(out[3]) == {"metadata": {}, "status": "Success"}
    assert status == 200
    assert sorted(logs.splitlines()) == sorted(
        [b"ready", b"got one", b"err one", b"got two", b"err two", b"bye"])
    assert follow_status == 200
    stamped = followed.splitlines()
    assert [line.split(b" ", 1)[1] for line in stamped] == logs.splitlines()
    assert all(line[:30].endswith(b"Z") and line[19:20] == b"." for line in stamped)


def test_attach_spdy_tty_resize(env: Env) -> None:
    async def main() -> tuple[bytes, bytes]:
        await env.conmon_container("term", "echo ready; exec sh", tty=True, stdin=True)
        await _wait_log(str(env.tmp / "logs" / "term.log"), b"ready")
        async with Server(env) as server:
            session, loop, protocol = await server.spdy(
                "/attach/default/web/term?stdin=1&stdout=1&tty=1", "v4.channel.k8s.io")
            streams = {kind: await session.open({"streamType": kind})
                       for kind in ("error", "stdin", "stdout", "resize")}
            for stream in streams.values():
                await stream.wait_reply()
            await streams["resize"].write(json.dumps({"Width": 123, "Height": 45}).encode())
            await asyncio.sleep(0.3)
            await streams["stdin"].write(b"stty size; exit 5\r")
            out, status = await asyncio.gather(read_all(streams["stdout"]),
                                               read_all(streams["error"]))
            await session.close()
            loop.cancel()
            return out, status

    out, status = asyncio.run(main())
    assert b"45 123" in out, out
    assert json.loads(status) == {"metadata": {}, "status": "Success"}


def test_exec_in_stopped_container_is_refused(env: Env) -> None:
    async def main() -> None:
        await env.conmon_container("done", "exit 0")
        async with Server(env) as server:
            for _ in range(100):
                if env.conmon.exit_status(f"{env.pod['metadata']['uid']}-done") is not None:
                    break
                await asyncio.sleep(0.05)
            with pytest.raises(UpgradeRefused) as refused:
                await server.websocket("/exec/default/web/done?command=ls&stdout=1",
                                       ["v4.channel.k8s.io"])
            assert refused.value.status == 400 and b"is not running" in refused.value.body

    asyncio.run(main())


# ---- the real kubernetes Python client (websocket-client) as an independent peer ---------

def _python_client_config(env: Env) -> Any:
    from kubernetes.client import Configuration
    config = Configuration()
    config.verify_ssl = False
    config.cert_file, config.key_file = str(env.client[0]), str(env.client[1])
    return config


def test_kubernetes_python_client_exec_and_port_forward(env: Env) -> None:
    from kubernetes.stream.ws_client import PortForward, WSClient, create_websocket
    config = _python_client_config(env)

    def exec_v5(port: int) -> tuple[str | None, str, str, int]:
        url = (f"wss://127.0.0.1:{port}/exec/default/web/app?command=sh&command=-c"
               "&command=cat%3B%20echo%20oops%20%3E%262%3B%20exit%203"
               "&stdin=1&stdout=1&stderr=1")
        client = WSClient(config, url, headers=None, capture_all=True)
        client.write_stdin("from python\n")
        client.close_channel(0)  # v5 close signal for stdin
        client.run_forever(timeout=20)
        return (client.subprotocol, client.read_stdout(), client.read_stderr(),
                client.returncode)

    def forward(port: int) -> bytes:
        ws = create_websocket(config, f"wss://127.0.0.1:{port}/portForward/default/web"
                              "?port=8080", {"sec-websocket-protocol": "v4.channel.k8s.io"})
        pf = PortForward(ws, [8080])
        sock = pf.socket(8080)
        sock.setblocking(True)
        sock.settimeout(20)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        sock.close()
        return data

    async def main() -> tuple[tuple[str | None, str, str, int], bytes]:
        async with Server(env) as server:
            return (await asyncio.to_thread(exec_v5, server.port),
                    await asyncio.to_thread(forward, server.port))

    (protocol, out, err, code), page = asyncio.run(main())
    assert (protocol, out, err, code) == ("v5.channel.k8s.io", "from python\n", "oops\n", 3)
    assert page.startswith(b"HTTP/1.") and page.endswith(b"pod-content\n")


# ---- real kubectl through a pass-through "apiserver" -------------------------------------

class PassThroughApiserver:
    """Just enough apiserver for kubectl exec / port-forward: the pod object, and the
    subresources passed byte for byte to the kubelet after rewriting the request line
    (what the apiserver's kubelet proxy does, in miniature)."""

    def __init__(self, env: Env, kubelet_port: int) -> None:
        self.env, self.kubelet_port = env, kubelet_port
        self.upgrades: list[str] = []
        self.requests: list[str] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.server.close()

    def pod(self) -> bytes:
        meta = {"name": "web", "namespace": "default", "uid": self.env.pod["metadata"]["uid"]}
        containers: list[Obj] = [{"name": "app", "image": "busybox"}]
        for (_, _, name), ref in self.env.runtime.live.items():
            now = ref()
            containers.append({"name": name, "image": "busybox", "stdin": now.stdin,
                               "stdinOnce": now.stdin_once, "tty": now.tty})
        return json.dumps({"kind": "Pod", "apiVersion": "v1", "metadata": meta,
                           "spec": {"containers": containers},
                           "status": {"phase": "Running"}}).encode()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, _, rest = head.decode("latin-1").partition("\r\n")
                method, target, _ = line.split(" ")
                self.requests.append(f"{method} {target}")
                path, _, query = target.partition("?")
                documents = {
                    "/api/v1/namespaces/default/pods/web": self.pod(),
                    "/api": json.dumps({"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": []}).encode(),
                    "/apis": b'{"kind":"APIGroupList","apiVersion":"v1","groups":[]}',
                    "/api/v1": json.dumps({
                        "kind": "APIResourceList", "groupVersion": "v1", "resources": [{
                            "name": "pods", "singularName": "pod", "namespaced": True,
                            "kind": "Pod", "verbs": ["get", "list"], "shortNames": ["po"]}]
                    }).encode()}
                if path in documents:
                    body = documents[path]
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    await writer.drain()
                    continue
                sub = path.rsplit("/", 1)[-1]
                if path.startswith("/api/v1/namespaces/default/pods/web/") and \
                        sub in ("exec", "attach", "portforward"):
                    await self.pass_through(method, sub, query, rest, reader, writer)
                    return
                body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}'
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def pass_through(self, method: str, sub: str, query: str, headers: str,
                           reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from urllib.parse import parse_qsl, urlencode
        params = parse_qsl(query, keep_blank_values=True)
        container = dict(params).get("container", "app")
        kept = [(k, v) for k, v in params if k != "container"]
        target = (f"/portForward/default/web" if sub == "portforward"
                  else f"/{sub}/default/web/{container}") + f"?{urlencode(kept)}"
        upgrade = [h for h in headers.split("\r\n") if h.lower().startswith("upgrade:")]
        self.upgrades.append(f"{sub} {upgrade[0] if upgrade else ''}")
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", self.kubelet_port, ssl=client_context(self.env.client))
        up_writer.write(f"{method} {target} HTTP/1.1\r\n{headers}".encode("latin-1"))
        await up_writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def _kubectl(binary: Path, port: int, home: Path, *args: str, stdin: bytes = b""
                   ) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        str(binary), f"--server=http://127.0.0.1:{port}", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={"HOME": str(home), "PATH": os.environ["PATH"]})
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode or 0, out, err


def _kubectl_versions() -> list[str]:
    from tests.conftest import kubectl_binaries
    found = kubectl_binaries()
    return [v for v in ("1.20", "1.27", "1.32") if v in found]


@pytest.mark.parametrize("version", _kubectl_versions())
def test_real_kubectl_exec_and_port_forward(env: Env, version: str) -> None:
    from tests.conftest import kubectl_binaries
    kubectl = kubectl_binaries()[version]
    home = env.tmp / f"home-{version}"
    home.mkdir(exist_ok=True)

    async def main() -> tuple[tuple[int, bytes, bytes], bytes, list[str]]:
        async with Server(env) as server:
            api = PassThroughApiserver(env, server.port)
            port = await api.start()
            try:
                executed = await _kubectl(kubectl, port, home, "exec", "-i", "web", "-c", "app",
                                          "--", "sh", "-c", "cat; echo oops >&2; exit 3",
                                          stdin=b"through kubectl\n")
                forwarder = await asyncio.create_subprocess_exec(
                    str(kubectl), f"--server=http://127.0.0.1:{port}", "port-forward",
                    "pod/web", ":8080", stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env={"HOME": str(home), "PATH": os.environ["PATH"]})
                try:
                    assert forwarder.stdout is not None
                    line = await asyncio.wait_for(forwarder.stdout.readline(), 30)
                    if b"127.0.0.1:" not in line:
                        assert forwarder.stderr is not None
                        raise AssertionError((line + await forwarder.stderr.read(),
                                              api.requests))
                    local = int(line.split(b"127.0.0.1:")[1].split(b" ")[0])
                    reader, writer = await asyncio.open_connection("127.0.0.1", local)
                    writer.write(b"GET / HTTP/1.0\r\n\r\n")
                    page = await asyncio.wait_for(reader.read(), 30)
                    writer.close()
                finally:
                    forwarder.kill()
                    await forwarder.wait()
                return executed, page, api.upgrades
            finally:
                await api.stop()

    (code, out, err), page, upgrades = asyncio.run(main())
    assert (code, out) == (3, b"through kubectl\n"), err
    assert b"oops\n" in err and b"command terminated with exit code 3" in err
    assert page.startswith(b"HTTP/1.") and page.endswith(b"pod-content\n")
    # kubectl 1.30+ execs over WebSocket v5 and tunnels port-forward's SPDY in WebSocket
    transport = "websocket" if version == "1.32" else "SPDY/3.1"
    assert upgrades == [f"exec Upgrade: {transport}", f"portforward Upgrade: {transport}"]


def test_exec_killed_when_the_client_goes_away(env: Env) -> None:
    async def main() -> dict[int, bytes]:
        async with Server(env) as server:
            ws = await server.websocket(exec_target(["sleep", "1000"], stdout="1"),
                                        ["v4.channel.k8s.io"])
            assert await ws.recv() == Message(Opcode.BINARY, b"\x01")  # "established"
            await asyncio.sleep(0.5)
            await ws.close()  # the client leaves without waiting for the command
            await asyncio.sleep(1.0)
            check = await server.websocket(exec_target(["ps", "-o", "args"], stdout="1"),
                                           ["v4.channel.k8s.io"])
            return await read_channels(check)

    out = asyncio.run(main())
    assert b"sleep 3600" in out[1] and b"sleep 1000" not in out[1], out[1]


@pytest.mark.parametrize("version", [v for v in _kubectl_versions() if v in ("1.20", "1.32")])
def test_real_kubectl_attach(env: Env, version: str) -> None:
    from tests.conftest import kubectl_binaries
    kubectl = kubectl_binaries()[version]
    home = env.tmp / f"home-attach-{version}"
    home.mkdir(exist_ok=True)
    name = f"talker{version.replace('.', '')}"

    async def main() -> tuple[tuple[int, bytes, bytes], list[str]]:
        await env.conmon_container(name, TALKER, stdin=True, stdin_once=True)
        await _wait_log(str(env.tmp / "logs" / f"{name}.log"), b"ready")
        async with Server(env) as server:
            api = PassThroughApiserver(env, server.port)
            port = await api.start()
            try:
                attached = await _kubectl(kubectl, port, home, "attach", "-i", "web", "-c", name,
                                          stdin=b"first\nsecond\n")
                return attached, api.upgrades
            finally:
                await api.stop()

    (code, out, err), upgrades = asyncio.run(main())
    assert code == 0, err
    assert out == b"got first\ngot second\nbye\n" and b"err first\nerr second\n" in err
    transport = "websocket" if version == "1.32" else "SPDY/3.1"
    assert upgrades == [f"attach Upgrade: {transport}"]


@pytest.mark.parametrize("version", [v for v in _kubectl_versions() if v in ("1.20", "1.32")])
def test_real_kubectl_port_forward_large_transfer(env: Env, version: str) -> None:
    """8 MiB through each port-forward transport, byte for byte (SPDY windows, WebSocket
    framing, back-pressure)."""
    from tests.conftest import kubectl_binaries
    import hashlib
    import time as clock
    kubectl = kubectl_binaries()[version]
    home = env.tmp / f"home-big-{version}"
    home.mkdir(exist_ok=True)

    async def main() -> tuple[bytes, bytes, float]:
        async with Server(env) as server:
            made = await server.websocket(exec_target(
                ["sh", "-c", "dd%20if=/dev/urandom%20of=/tmp/www/big%20bs=1M%20count=8%20"
                 "2>/dev/null;%20sha256sum%20/tmp/www/big"], stdout="1"), ["v4.channel.k8s.io"])
            digest = (await read_channels(made))[1].split()[0]
            api = PassThroughApiserver(env, server.port)
            port = await api.start()
            forwarder = await asyncio.create_subprocess_exec(
                str(kubectl), f"--server=http://127.0.0.1:{port}", "port-forward", "pod/web",
                ":8080", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                env={"HOME": str(home), "PATH": os.environ["PATH"]})
            try:
                assert forwarder.stdout is not None
                line = await asyncio.wait_for(forwarder.stdout.readline(), 30)
                local = int(line.split(b"127.0.0.1:")[1].split(b" ")[0])
                started = clock.monotonic()
                reader, writer = await asyncio.open_connection("127.0.0.1", local)
                writer.write(b"GET /big HTTP/1.0\r\n\r\n")
                page = await asyncio.wait_for(reader.read(), 60)
                elapsed = clock.monotonic() - started
                writer.close()
            finally:
                forwarder.kill()
                await forwarder.wait()
                await api.stop()
            return digest, page, elapsed

    digest, page, elapsed = asyncio.run(main())
    body = page.partition(b"\r\n\r\n")[2]
    assert len(body) == 8 * 1024 * 1024
    assert hashlib.sha256(body).hexdigest().encode() == digest
    assert elapsed < 20, elapsed


def test_exec_missing_command(env: Env) -> None:
    async def main() -> dict[int, bytes]:
        async with Server(env) as server:
            ws = await server.websocket(exec_target(["no-such-command"], stdout="1",
                                                    stderr="1"), ["v4.channel.k8s.io"])
            return await read_channels(ws)

    out = asyncio.run(main())
    status = json.loads(out[3])
    assert (status["status"], status["reason"], status["code"]) == \
        ("Failure", "InternalError", 500)
    assert status["message"] == (
        "Internal error occurred: error executing command in container: OCI runtime exec "
        'failed: exec failed: unable to start container process: exec: "no-such-command": '
        "executable file not found in $PATH")


@pytest.mark.parametrize("version", [v for v in _kubectl_versions() if v in ("1.20", "1.32")])
def test_real_kubectl_exec_tty_carries_the_terminal_size(env: Env, version: str) -> None:
    """kubectl exec -it on a terminal of 33x111: the command sees that size (kubectl sends it
    on the resize stream) and its exit code comes back."""
    import fcntl
    import termios
    from tests.conftest import kubectl_binaries
    kubectl = kubectl_binaries()[version]
    home = env.tmp / f"home-tty-{version}"
    home.mkdir(exist_ok=True)

    async def main() -> tuple[int, bytes]:
        async with Server(env) as server:
            api = PassThroughApiserver(env, server.port)
            port = await api.start()
            master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
            try:
                proc = await asyncio.create_subprocess_exec(
                    str(kubectl), f"--server=http://127.0.0.1:{port}", "exec", "-it", "web",
                    "-c", "app", "--", "sh", "-c", "sleep 0.5; stty size; exit 4",
                    stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                    env={"HOME": str(home), "PATH": os.environ["PATH"], "TERM": "xterm"})
                os.close(slave)
                slave = -1
                output = b""
                loop = asyncio.get_running_loop()
                while True:
                    try:
                        chunk = await asyncio.wait_for(
                            loop.run_in_executor(None, os.read, master, 4096), 30)
                    except OSError:
                        break
                    if not chunk:
                        break
                    output += chunk
                return await asyncio.wait_for(proc.wait(), 30), output
            finally:
                os.close(master)
                if slave >= 0:
                    os.close(slave)
                await api.stop()

    code, output = asyncio.run(main())
    assert b"33 111" in output, output
    assert code == 4, output
