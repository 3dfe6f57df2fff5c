"""run_handler against real servers on 127.0.0.1: an aiohttp HTTP server (status codes,
redirects, header echo, slow and large answers), the same over TLS, a TCP listener, a gRPC
server with the standard health service, and a scripted ExecSync; then the lifecycle hook
semantics (run_post_start / run_pre_stop)."""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import grpc
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from kubepy.client.clock import FakeClock
from kubepy.kubelet.prober import ProbeResult, run_handler, run_post_start, run_pre_stop

S, F, U = ProbeResult.SUCCESS, ProbeResult.FAILURE, ProbeResult.UNKNOWN
POD = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"}}


async def never(argv: list[str], timeout: float | None) -> tuple[int, bytes, bytes]:
    raise AssertionError("no exec expected")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- an HTTP server with the answers the table needs ---------------------------------------

class Web:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.user_agents: list[str] = []
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.middlewares.append(self._count)
        answers: dict[str, Callable[[web.Request], web.Response]] = {
            "/ok": lambda r: web.Response(text="fine"),
            "/status/{code}": lambda r: web.Response(status=int(r.match_info["code"]), text="x"),
            "/local": lambda r: self._redirect("/ok"),
            "/away": lambda r: self._redirect(f"http://localhost:{self.port}/ok"),
            "/loop": lambda r: self._redirect("/loop"),
            "/nolocation": lambda r: web.Response(status=302, text="stay"),
            "/big": lambda r: web.Response(body=b"a" * 20000),
        }
        for path, answer in answers.items():
            app.router.add_get(path, self._async(answer))
        app.router.add_get("/echo", self._echo)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/trickle", self._trickle)
        app.router.add_get("/stall", self._stall)
        return app

    @staticmethod
    async def _trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(30):                   # 30 chunks of 1000 bytes, a pause between
            await resp.write(b"t" * 1000)
            await asyncio.sleep(0.005)
        await resp.write_eof()
        return resp

    @staticmethod
    async def _stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"partial")
        await asyncio.sleep(0.8)
        return resp

    @staticmethod
    def _async(answer: Callable[[web.Request], web.Response]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            return answer(request)
        return handle

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.user_agents.append(request.headers.get("User-Agent", ""))
        return await handler(request)

    @staticmethod
    def _redirect(location: str) -> web.Response:
        return web.Response(status=302, headers={"Location": location}, text="moved")

    @staticmethod
    async def _echo(request: web.Request) -> web.Response:
        headers = {k: request.headers.getall(k) for k in request.headers.keys()}
        return web.Response(text=json.dumps({"headers": headers, "query": request.query_string},
                                            sort_keys=True))

    @staticmethod
    async def _slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.8)
        return web.Response(text="late")


class serving:
    """async with serving(tls=...) as web: an HTTP(S) server on 127.0.0.1, any port."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.web = Web()
        self.tls = tls

    async def __aenter__(self) -> Web:
        self.runner = web.AppRunner(self.web.app(), handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self.web.port = self.runner.addresses[0][1]
        return self.web

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    d: Path = tmp_path_factory.mktemp("tls")
    (d / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "c.pem", d / "k.pem")
    return ctx


def http(path: str, port: Any = "PORT", **extra: Any) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port, **extra}}


HTTP_PROBES = [
    # (id, handler, container, result, message: exact text, {port} filled in)
    ("200 is success, body is the message", http("/ok"), {}, S, "fine"),
    ("204 without a body", http("/status/204"), {}, S, ""),
    ("399 is a success with a warning", http("/status/399"), {}, S,
     "Probe terminated redirects, Response body: x"),
    ("400 fails", http("/status/400"), {}, F, "HTTP probe failed with statuscode: 400"),
    ("500 fails", http("/status/500"), {}, F, "HTTP probe failed with statuscode: 500"),
    ("redirect on the same host is followed", http("/local"), {}, S, "fine"),
    ("redirect to another host is a success with a warning", http("/away"), {}, S,
     "Probe terminated redirects, Response body: moved"),
    ("3xx without Location", http("/nolocation"), {}, S,
     "Probe terminated redirects, Response body: stay"),
    ("redirect loop stops after 10", http("/loop"), {}, F,
     'Get "http://127.0.0.1:{port}/loop": stopped after 10 redirects'),
    ("named port", http("/ok", "web"), {"ports": [{"name": "web", "containerPort": "PORT"}]},
     S, "fine"),
    ("unknown port name errors", http("/ok", "metrics"), {"ports": [{"name": "web"}]}, U,
     'strconv.Atoi: parsing "metrics": invalid syntax'),
    ("port out of range errors", http("/ok", 70000), {}, U, "invalid port number: 70000"),
    ("port number as a string", http("/ok", "STRPORT"), {}, S, "fine"),
    ("connection refused", http("/healthz", "CLOSED"), {}, F,
     'Get "http://127.0.0.1:{closed}/healthz": dial tcp 127.0.0.1:{closed}: connect: '
     "connection refused"),
    ("timeout", http("/slow"), {}, F,
     'Get "http://127.0.0.1:{port}/slow": context deadline exceeded '
     "(Client.Timeout exceeded while awaiting headers)"),
    ("body read up to 10 KiB", http("/big"), {}, S, "a" * 10240),
    ("body in chunks read up to 10 KiB", http("/trickle"), {}, S, "t" * 10240),
    ("body that stalls is an error", http("/stall"), {}, U,
     "context deadline exceeded (Client.Timeout or context cancellation while reading body)"),
    ("https against plain http", http("/ok", scheme="HTTPS"), {}, F,
     'Get "https://127.0.0.1:{port}/ok": http: server gave HTTP response to HTTPS client'),
]


def _fill(value: Any, port: int, closed: int) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, port, closed) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, port, closed) for v in value]
    return {"PORT": port, "STRPORT": str(port), "CLOSED": closed}.get(value, value) \
        if isinstance(value, str) else value


@pytest.mark.parametrize("handler,container,result,message", [c[1:] for c in HTTP_PROBES],
                         ids=[c[0] for c in HTTP_PROBES])
def test_http_probe(handler: dict[str, Any], container: dict[str, Any], result: ProbeResult,
                    message: str) -> None:
    async def main() -> None:
        closed = free_port()
        async with serving() as w:
            got = await run_handler(_fill(handler, w.port, closed), pod=POD,
                                    container=_fill(container, w.port, closed),
                                    pod_ip="127.0.0.1", exec_sync=never, timeout=0.5)
            assert got == (result, message.format(port=w.port, closed=closed))
            if "loop" in handler["httpGet"]["path"]:
                assert w.hits["/loop"] == 10
    asyncio.run(main())


HEADERS = [
    ("kubelet defaults", [], {"User-Agent": ["kube-probe/1.32"], "Accept": ["*/*"],
                              "Host": ["127.0.0.1:{port}"]}),
    ("Host header honoured, names canonical, repeats kept",
     [{"name": "host", "value": "example.test"}, {"name": "x-custom", "value": "1"},
      {"name": "X-Custom", "value": "2"}],
     {"Host": ["example.test"], "X-Custom": ["1", "2"], "User-Agent": ["kube-probe/1.32"]}),
    ("own User-Agent and Accept", [{"name": "User-Agent", "value": "me"},
                                   {"name": "Accept", "value": "text/plain"}],
     {"User-Agent": ["me"], "Accept": ["text/plain"]}),
    ("empty Accept removes it", [{"name": "Accept", "value": ""}], {"Accept": None}),
    ("no compression asked for", [], {"Accept-Encoding": None}),
]


@pytest.mark.parametrize("headers,expected", [c[1:] for c in HEADERS], ids=[c[0] for c in HEADERS])
def test_http_probe_request_headers(headers: list[dict[str, str]],
                                    expected: dict[str, list[str] | None]) -> None:
    async def main() -> None:
        async with serving() as w:
            result, body = await run_handler(
                {"httpGet": {"path": "/echo?a=1&b=2", "port": w.port, "httpHeaders": headers}},
                pod=POD, container={}, pod_ip="127.0.0.1", exec_sync=never, timeout=1)
            assert result is S
            seen = json.loads(body)
            assert seen["query"] == "a=1&b=2"
            for name, values in expected.items():
                want = None if values is None else [v.format(port=w.port) for v in values]
                assert seen["headers"].get(name) == want, name
    asyncio.run(main())


def test_https_probe_does_not_verify(tls_context: ssl.SSLContext) -> None:
    async def main() -> None:
        async with serving(tls_context) as w:
            got = await run_handler({"httpGet": {"path": "/ok", "port": w.port, "scheme": "HTTPS",
                                                 "host": "127.0.0.1"}},
                                    pod=POD, container={}, pod_ip="10.255.0.9", exec_sync=never,
                                    timeout=1)
            assert got == (S, "fine")
    asyncio.run(main())


# -- tcpSocket -------------------------------------------------------------------------------

def test_tcp_probe() -> None:
    async def main() -> None:
        accepted: list[int] = []
        server = await asyncio.start_server(lambda r, w: (accepted.append(1), w.close()),
                                            "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        closed = free_port()
        cases = [
            ({"tcpSocket": {"port": port}}, {}, (S, "")),
            ({"tcpSocket": {"port": "db"}}, {"ports": [{"name": "db", "containerPort": port}]},
             (S, "")),
            ({"tcpSocket": {"port": closed}}, {},
             (F, f"dial tcp 127.0.0.1:{closed}: connect: connection refused")),
            ({"tcpSocket": {"port": "db"}}, {}, (U, 'strconv.Atoi: parsing "db": invalid syntax')),
        ]
        async with server:
            for handler, container, expected in cases:
                got = await run_handler(handler, pod=POD, container=container,
                                        pod_ip="127.0.0.1", exec_sync=never, timeout=1)
                assert got == expected, handler
            await asyncio.sleep(0.05)
        assert len(accepted) == 2
    asyncio.run(main())


# -- exec ----------------------------------------------------------------------------------

class Exec:
    def __init__(self, answer: tuple[int, bytes, bytes] | BaseException) -> None:
        self.answer = answer
        self.calls: list[tuple[list[str], float | None]] = []

    async def __call__(self, argv: list[str], timeout: float | None) -> tuple[int, bytes, bytes]:
        self.calls.append((argv, timeout))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


ENV = [{"name": "PORT", "value": "8080"}, {"name": "SECRET", "valueFrom": {"secretKeyRef": {}}}]
EXEC_PROBES = [
    ("exit 0", ["true"], (0, b"ok\n", b""), S, "ok\n", ["true"]),
    ("exit 1, stdout and stderr", ["false"], (1, b"out ", b"err"), F, "out err", ["false"]),
    ("output read up to 10 KiB", ["cat"], (0, b"x" * 20000, b"y"), S, "x" * 10240, ["cat"]),
    ("timeout is a failure", ["sh", "-c", "sleep 5"], TimeoutError(), F,
     'command "sh -c sleep 5" timed out', ["sh", "-c", "sleep 5"]),
    ("runtime error is unknown", ["x"], RuntimeError("container not running"), U,
     "container not running", ["x"]),
    ("static env expansion only", ["curl", "localhost:$(PORT)", "$(SECRET)", "$$(PORT)"],
     (0, b"", b""), S, "", ["curl", "localhost:8080", "$(SECRET)", "$(PORT)"]),
]


@pytest.mark.parametrize("command,answer,result,message,argv", [c[1:] for c in EXEC_PROBES],
                         ids=[c[0] for c in EXEC_PROBES])
def test_exec_probe(command: list[str], answer: Any, result: ProbeResult, message: str,
                    argv: list[str]) -> None:
    runner = Exec(answer)
    got = asyncio.run(run_handler({"exec": {"command": command}}, pod=POD,
                                  container={"name": "app", "env": ENV}, pod_ip="10.42.0.5",
                                  exec_sync=runner, timeout=3))
    assert got == (result, message)
    assert runner.calls == [(argv, 3)]


def test_missing_handler() -> None:
    got = asyncio.run(run_handler({"periodSeconds": 3}, pod=POD, container={"name": "app"},
                                  pod_ip="10.42.0.5", exec_sync=never, timeout=1))
    assert got == (U, "missing probe handler for web_default(uid-1):app")


# -- grpc ----------------------------------------------------------------------------------

class serving_grpc:
    def __init__(self, statuses: dict[str, Any] | None) -> None:
        self.statuses = statuses

    async def __aenter__(self) -> int:
        self.server = grpc.aio.server()
        if self.statuses is not None:
            servicer = health.aio.HealthServicer()
            for name, status in self.statuses.items():
                await servicer.set(name, status)
            health_pb2_grpc.add_HealthServicer_to_server(servicer, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return port

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(None)


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
GRPC_PROBES = [
    ("server serving", {"": SERVING}, None, (S, "service healthy")),
    ("named service serving", {"": NOT_SERVING, "db": SERVING}, "db", (S, "service healthy")),
    ("not serving", {"": SERVING, "db": NOT_SERVING}, "db",
     (F, 'service unhealthy (responded with "NOT_SERVING")')),
    ("unknown service", {"": SERVING}, "cache",
     (F, "error: health rpc probe failed: rpc error: code = NotFound desc = ")),
    ("no health service", None, None,
     (F, "error: this server does not implement the grpc health protocol "
         "(grpc.health.v1.Health): Method not found!")),
]


@pytest.mark.parametrize("statuses,service,expected", [c[1:] for c in GRPC_PROBES],
                         ids=[c[0] for c in GRPC_PROBES])
def test_grpc_probe(statuses: dict[str, Any] | None, service: str | None,
                    expected: tuple[ProbeResult, str]) -> None:
    async def main() -> None:
        async with serving_grpc(statuses) as port:
            action: dict[str, Any] = {"port": port}
            if service is not None:
                action["service"] = service
            got = await run_handler({"grpc": action}, pod=POD, container={}, pod_ip="127.0.0.1",
                                    exec_sync=never, timeout=2)
            assert got == expected
    asyncio.run(main())


def test_grpc_probe_nothing_listening() -> None:
    port = free_port()
    got = asyncio.run(run_handler({"grpc": {"port": port}}, pod=POD, container={},
                                  pod_ip="127.0.0.1", exec_sync=never, timeout=0.3))
    assert got == (F, f'timeout: failed to connect service "127.0.0.1:{port}" within 300ms: '
                      "context deadline exceeded")


# -- lifecycle hooks -------------------------------------------------------------------------

def hooked(which: str, handler: dict[str, Any]) -> dict[str, Any]:
    return {"name": "app", "lifecycle": {which: handler}}


EXEC_HOOK_FAILED = ('Exec lifecycle hook ([sh -c echo out; echo err >&2; exit 3]) for Container '
                    '"app" in Pod "web_default(uid-1)" failed - error: command \'sh -c echo out; '
                    "echo err >&2; exit 3' exited with 3: err\n, message: \"out\\nerr\\n\"")
HOOKS: list[tuple[str, dict[str, Any], Any, tuple[ProbeResult, str]]] = [
    ("exec exit 0", {"exec": {"command": ["true"]}}, (0, b"", b""), (S, "")),
    ("exec exit 3", {"exec": {"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}},
     (3, b"out\n", b"err\n"), (F, EXEC_HOOK_FAILED)),
    ("http 500 still completes the hook", http("/status/500"), None, (S, "")),
    ("http refused", http("/stop", "CLOSED"), None,
     (F, 'HTTP lifecycle hook (/stop) for Container "app" in Pod "web_default(uid-1)" failed - '
         'error: Get "http://127.0.0.1:{closed}/stop": dial tcp 127.0.0.1:{closed}: connect: '
         "connection refused")),
    ("https hook answered in http is retried over http", http("/ok", scheme="HTTPS"), None,
     (S, "")),
    ("tcpSocket hooks are not run", {"tcpSocket": {"port": 80}}, None,
     (F, "Cannot run handler: invalid handler: {'tcpSocket': {'port': 80}}")),
]


@pytest.mark.parametrize("which", ["postStart", "preStop"])
@pytest.mark.parametrize("handler,answer,expected", [c[1:] for c in HOOKS],
                         ids=[c[0] for c in HOOKS])
def test_hooks(which: str, handler: dict[str, Any], answer: Any,
               expected: tuple[ProbeResult, str]) -> None:
    run_hook = run_post_start if which == "postStart" else run_pre_stop

    async def main() -> None:
        closed = free_port()
        async with serving() as w:
            runner = Exec(answer) if answer is not None else never
            got = await run_hook(POD, hooked(which, _fill(handler, w.port, closed)),
                                 pod_ip="127.0.0.1", exec_sync=runner)
            assert got == (expected[0], expected[1].replace("{closed}", str(closed)))
            if "httpGet" in handler:
                assert sum(w.hits.values()) == (0 if "CLOSED" in str(handler) else 1)
    asyncio.run(main())


def test_hook_user_agent_and_no_hook() -> None:
    async def main() -> None:
        async with serving() as w:
            got = await run_post_start(POD, {"name": "app"}, pod_ip="127.0.0.1", exec_sync=never)
            assert got == (S, "") and w.hits == {}
            got = await run_handler({"httpGet": {"path": "/ok", "port": w.port}}, pod=POD,
                                    container={}, pod_ip="127.0.0.1", exec_sync=never,
                                    timeout=1, hook="PostStart")
            assert got == (S, "") and w.hits == {"/ok": 1}
            assert w.user_agents == ["kube-lifecycle/1.32"]
    asyncio.run(main())


def test_sleep_hook_in_virtual_time() -> None:
    async def main() -> None:
        clock = FakeClock()
        container = hooked("preStop", {"sleep": {"seconds": 5}})
        task = asyncio.ensure_future(run_pre_stop(POD, container, pod_ip="", exec_sync=never,
                                                  clock=clock))
        await clock.tick(4.9)
        assert not task.done()
        await clock.tick(0.1)
        assert task.done() and task.result() == (S, "")
        cut = asyncio.ensure_future(run_pre_stop(POD, container, pod_ip="", exec_sync=never,
                                                 timeout=2, clock=clock))
        await clock.tick(2)
        assert cut.done() and cut.result() == (
            U, "PreStop hook for Container app in Pod web_default(uid-1) not completed within 2s")
        assert clock.sleepers == 0
    asyncio.run(main())
