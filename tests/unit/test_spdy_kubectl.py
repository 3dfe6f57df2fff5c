"""SPDY/3.1 against a real Go peer: kubectl exec and port-forward talk to a SpdySession.

A minimal HTTP/1.1 endpoint plays the apiserver (discovery, one Pod, the upgrade to
SPDY/3.1 with X-Stream-Protocol-Version negotiation); behind the 101 a server SpdySession
answers kubectl's moby/spdystream client: exec echoes stdin to stdout (1 MiB each way, which
spdystream sends without flow control), port-forward echoes the data stream.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kubepy.streaming.spdy import SpdySession, SpdyStream, negotiate_protocol, stream_reader_writer
from kubepy.streaming.spdy_handshake import (HEADER_PROTOCOL_VERSION, is_spdy_upgrade,
                                             split_protocols, upgrade_response_headers)


def kubectl_binaries() -> dict[str, Path]:
    """kubectl generations on this machine (as tests/conftest.py finds them): {"1.27": path}."""
    found: dict[str, Path] = {}
    old = Path(__file__).resolve().parents[2] / ".tools" / "kubectl-1.20" / "usr" / "bin" / "kubectl"
    if old.exists():
        found["1.20"] = old
    on_path = shutil.which("kubectl")
    dirs = {Path(os.path.realpath(on_path)).parent} if on_path else set()
    for d in dirs | {Path("/usr/lib/google-cloud-sdk/bin")}:
        for p in d.glob("kubectl.1.*") if d.is_dir() else ():
            found.setdefault(p.name[len("kubectl."):], p)
    if on_path:
        found.setdefault("path", Path(on_path))
    return found


KUBECTLS = kubectl_binaries()
EXEC_PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"phase": "Running"}}
DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": ["get", "list"], "shortNames": ["po"]}]},
    "/api/v1/namespaces/default/pods/p": POD,
}
# Force SPDY in the kubectl generations that prefer WebSocket.
SPDY_ENV = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
WEBSOCKET_ENV = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "true"}

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   # RFC 6455

SpdyApp = Callable[[SpdySession, str], Awaitable[None]]


def run(coro: Awaitable[Any], timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def fake_apiserver(app: SpdyApp, tmp_path: Path,
                         upgrades: list[str] | None = None) -> AsyncIterator[Path]:
    """Serve discovery and the Pod; upgrade exec/portforward to SPDY and run ``app``.

    ``upgrades`` records each upgrade's transport ("spdy" or "websocket").
    """
    upgrades = upgrades if upgrades is not None else []
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
                headers: dict[str, list[str]] = {}
                for line in head[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers.setdefault(name.strip().lower(), []).append(value.strip())
                await reader.readexactly(int(headers.get("content-length", ["0"])[0]))
                path = head[0].split()[1].split("?")[0]
                if path.endswith("/portforward") and "websocket" in headers.get("upgrade", [""])[0].lower():
                    await websocket_tunnel(headers, reader, writer)
                    return
                if path.endswith(("/exec", "/portforward")):
                    await upgrade(path, headers, reader, writer)
                    return
                body = json.dumps(DISCOVERY.get(path, {"kind": "Status", "code": 404})).encode()
                status = "200 OK" if path in DISCOVERY else "404 Not Found"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def upgrade(path: str, headers: dict[str, list[str]], reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        upgrades.append("spdy")
        assert is_spdy_upgrade(headers["connection"][0], headers["upgrade"][0])
        supported = EXEC_PROTOCOLS if path.endswith("/exec") else ["portforward.k8s.io"]
        protocol = negotiate_protocol(headers.get(HEADER_PROTOCOL_VERSION.lower(), []), supported)
        assert protocol is not None
        lines = "".join(f"{k}: {v}\r\n" for k, v in upgrade_response_headers(protocol))
        writer.write(f"HTTP/1.1 101 Switching Protocols\r\n{lines}\r\n".encode())
        await writer.drain()
        session = SpdySession(*stream_reader_writer(reader, writer), server=True)
        frame_loop = asyncio.ensure_future(session.run())
        await app(session, protocol)
        await frame_loop

    async def websocket_tunnel(headers: dict[str, list[str]], reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        """kubectl >= 1.31 port-forward: SPDY/3.1 frames inside WebSocket binary messages."""
        upgrades.append("websocket")
        assert TUNNEL_PROTOCOL in split_protocols(headers["sec-websocket-protocol"])
        key = headers["sec-websocket-key"][0].encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                      f"Sec-WebSocket-Protocol: {TUNNEL_PROTOCOL}\r\n\r\n").encode())
        await writer.drain()
        read, write = websocket_read_write(reader, writer)
        session = SpdySession(read, write, server=True)
        frame_loop = asyncio.ensure_future(session.run())
        await forward_echo(session, "portforward.k8s.io")
        await frame_loop

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}]}))
    try:
        yield kubeconfig
    finally:
        server.close()
        for task in tasks:
            task.cancel()


def websocket_read_write(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> tuple[Callable[[], Awaitable[bytes]], Callable[[bytes], Awaitable[None]]]:
    """A minimal RFC 6455 server side: binary message payloads in, binary messages out."""

    async def read() -> bytes:
        while True:
            b0, b1 = await reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await reader.readexactly(8))[0]
            mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(await reader.readexactly(n)))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                return b""
            if opcode == 0x9:
                await send(0xA, payload)
            elif opcode in (0x0, 0x2) and payload:
                return payload

    async def send(opcode: int, data: bytes) -> None:
        n = len(data)
        head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else
                                         b"\x7e" + struct.pack(">H", n) if n < 65536 else
                                         b"\x7f" + struct.pack(">Q", n))
        writer.write(head + data)
        await writer.drain()

    async def write(data: bytes) -> None:
        await send(0x2, data)

    return read, write


async def read_all(stream: SpdyStream) -> bytes:
    out = bytearray()
    while chunk := await stream.read():
        out += chunk
    return bytes(out)


async def exec_cat(session: SpdySession, protocol: str) -> None:
    """The kubelet's side of `exec -i -- cat`: stdin back on stdout, a line on stderr."""
    assert protocol == "v4.channel.k8s.io"
    streams: dict[str, SpdyStream] = {}
    while len(streams) < 4:
        stream = await session.accept()
        assert stream is not None
        await stream.reply()
        streams[stream.headers["streamtype"]] = stream
    data = await read_all(streams["stdin"])
    await streams["stdout"].write(data)
    await streams["stdout"].close()
    await streams["stderr"].write(b"to stderr\n")
    await streams["stderr"].close()
    await streams["error"].write(json.dumps({"metadata": {}, "status": "Success"}).encode())
    await streams["error"].close()


EXEC_VERSIONS = [v for v in ("1.20", "1.27", "1.29", "path") if v in KUBECTLS]


@pytest.mark.parametrize("version", EXEC_VERSIONS)
def test_kubectl_exec_over_spdy(version: str, tmp_path: Path) -> None:
    async def main() -> None:
        async with fake_apiserver(exec_cat, tmp_path) as kubeconfig:
            payload = os.urandom(512 * 1024).hex().encode()      # 1 MiB of text
            proc = await asyncio.create_subprocess_exec(
                str(KUBECTLS[version]), "--kubeconfig", str(kubeconfig), "exec", "-i", "p",
                "--", "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env={**os.environ, **SPDY_ENV})
            try:
                out, err = await asyncio.wait_for(proc.communicate(payload), 40)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert proc.returncode == 0, err.decode()
            assert out == payload
            assert err.decode().endswith("to stderr\n")
    if not EXEC_VERSIONS:
        pytest.skip("no kubectl")
    run(main())


async def forward_echo(session: SpdySession, protocol: str) -> None:
    """The kubelet's side of port-forward: error+data stream pairs, the data echoed back."""
    assert protocol == "portforward.k8s.io"
    pending: list[asyncio.Future[None]] = []

    async def echo(data: SpdyStream, error: SpdyStream) -> None:
        assert data.headers["port"] == "8080" and error.headers["port"] == "8080"
        assert data.headers["requestid"] == error.headers["requestid"]
        while chunk := await data.read():
            await data.write(chunk)
        await data.close()
        await error.close()

    errors: dict[str, SpdyStream] = {}
    while (stream := await session.accept()) is not None:
        await stream.reply()
        if stream.headers["streamtype"] == "error":
            errors[stream.headers["requestid"]] = stream
        else:
            pending.append(asyncio.ensure_future(
                echo(stream, errors.pop(stream.headers["requestid"]))))


FORWARD_CASES = [(v, "spdy") for v in ("1.20", "1.27", "path") if v in KUBECTLS] + [
    (v, "websocket") for v in ("1.31", "path") if v in KUBECTLS]


@pytest.mark.parametrize("version,transport", FORWARD_CASES)
def test_kubectl_port_forward_over_spdy(version: str, transport: str, tmp_path: Path) -> None:
    upgrades: list[str] = []

    async def main() -> None:
        async with fake_apiserver(forward_echo, tmp_path, upgrades) as kubeconfig:
            proc = await asyncio.create_subprocess_exec(
                str(KUBECTLS[version]), "--kubeconfig", str(kubeconfig), "port-forward", "p",
                ":8080", "--address", "127.0.0.1", stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **(SPDY_ENV if transport == "spdy" else WEBSOCKET_ENV)})
            try:
                assert proc.stdout is not None
                line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
                assert line.startswith("Forwarding from 127.0.0.1:"), line
                local_port = int(line.split("127.0.0.1:")[1].split()[0])
                for size in (256 * 1024, 10):            # two connections: request ids 0 and 1
                    reader, writer = await asyncio.open_connection("127.0.0.1", local_port)
                    payload = os.urandom(size)
                    writer.write(payload)
                    await writer.drain()
                    writer.write_eof()
                    echoed = await asyncio.wait_for(reader.read(-1), 20)
                    writer.close()
                    assert echoed == payload
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(proc.wait(), 5)
                    except asyncio.TimeoutError:
                        proc.kill()
                        await proc.wait()
    if not FORWARD_CASES:
        pytest.skip("no kubectl")
    run(main())
    assert set(upgrades) == {transport}


async def exec_until_pinged(session: SpdySession, protocol: str) -> None:
    """Hold the exec open until the client's keep-alive PING (client-go: every 5 s) came."""
    streams: dict[str, SpdyStream] = {}
    while len(streams) < 3:
        stream = await session.accept()
        assert stream is not None
        await stream.reply()
        streams[stream.headers["streamtype"]] = stream
    while session.peer_pings == 0:
        await asyncio.sleep(0.1)
    await streams["stdout"].write(b"pinged\n")
    for name in ("stdout", "stderr"):
        await streams[name].close()
    await streams["error"].write(json.dumps({"metadata": {}, "status": "Success"}).encode())
    await streams["error"].close()


@pytest.mark.skipif("1.27" not in KUBECTLS, reason="no kubectl 1.27")
def test_kubectl_pings_are_echoed(tmp_path: Path) -> None:
    async def main() -> None:
        async with fake_apiserver(exec_until_pinged, tmp_path) as kubeconfig:
            proc = await asyncio.create_subprocess_exec(
                str(KUBECTLS["1.27"]), "--kubeconfig", str(kubeconfig), "exec", "p", "--", "true",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 20)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert (proc.returncode, out) == (0, b"pinged\n"), err.decode()
    run(main())
