"""Integration harness: the HTTP API contract of a real ``kubepy server`` over real HTTPS.

Contract:

* ``server`` (session scope) is one control plane started with ``--token-auth-file`` holding
  the tokens in ``TOKENS`` (an admin in ``system:masters`` and two plain users), so the
  authentication tests share it with everything else. Tests isolate themselves with their
  own namespace (``ns``).
* ``api`` is an ``Api`` with the admin client certificate; ``anonymous`` has none;
  ``token_api(token)`` authenticates with a bearer token. ``Api.request`` never raises on an
  HTTP error code: tests assert codes and Status bodies themselves.
* ``Watch`` reads a watch stream on a thread and hands out decoded events with a timeout,
  so a server that stops sending fails the test instead of hanging it.
* ``compact(server)`` compacts the server's SQLite store from this process (the store is
  documented as shareable between processes), the way ``etcdctl compact`` would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import re
import socket
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tests.conftest import ServerProcess, start_server  # noqa: E402

Obj = dict[str, Any]

ADMIN_TOKEN = "admin-token-0123456789"
ALICE_TOKEN = "alice-token-0123456789"
BOB_TOKEN = "bob-token-0123456789"
TOKENS = (f'{ADMIN_TOKEN},token-admin,uid-admin,"system:masters"\n'
          f'{ALICE_TOKEN},alice,uid-alice,"devs,testers"\n'
          f"{BOB_TOKEN},bob,uid-bob\n")

STATUS_KEYS = {"kind", "apiVersion", "metadata", "status", "message", "reason", "code"}


class Api:
    """requests over HTTPS against one server, with one identity."""

    def __init__(self, server: ServerProcess, *, cert: bool = True, token: str | None = None):
        tls = server.data_dir / "tls"
        self.url = server.url
        self.session = requests.Session()
        # REQUESTS_CA_BUNDLE and proxies from the environment must not apply to this server
        self.session.trust_env = False
        self.session.verify = str(tls / "ca.crt")
        if cert:
            self.session.cert = (str(tls / "admin.crt"), str(tls / "admin.key"))
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, *, body: Any = None, data: bytes | str | None = None,
                content_type: str | None = None, headers: dict[str, str] | None = None,
                params: dict[str, Any] | None = None, stream: bool = False,
                timeout: float = 15, allow_redirects: bool = True) -> requests.Response:
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body)
            hdrs.setdefault("Content-Type", content_type or "application/json")
        elif content_type:
            hdrs["Content-Type"] = content_type
        return self.session.request(method, self.url + path, data=data, headers=hdrs,
                                    params=params, stream=stream, timeout=timeout,
                                    allow_redirects=allow_redirects)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, body=body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path: str, body: Any = None, *,
              content_type: str = "application/merge-patch+json", **kw: Any) -> requests.Response:
        return self.request("PATCH", path, body=body, content_type=content_type, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, body=body, **kw)

    def ok(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201),
           **kw: Any) -> Obj:
        """The decoded body of a request that must answer ``expect``."""
        r = self.request(method, path, **kw)
        codes = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in codes, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r.json()

    def create(self, path: str, obj: Obj, **kw: Any) -> Obj:
        return self.ok("POST", path, 201, body=obj, **kw)

    def read(self, path: str, **kw: Any) -> Obj:
        return self.ok("GET", path, 200, **kw)

    def make(self, path: str, obj: Obj, **kw: Any) -> Obj:
        """Create, then read back: the stored object with its resourceVersion (tests of the
        create response itself use ``create``)."""
        name = self.create(path, obj, **kw)["metadata"]["name"]
        return self.read(f"{path}/{name}")


def assert_status(r: requests.Response, code: int, reason: str,
                  message: str | None = None) -> Obj:
    """``r`` is a Kubernetes Status body with this code and reason (and exact message)."""
    assert r.status_code == code, f"expected {code}, got {r.status_code}: {r.text[:1000]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    status = r.json()
    assert status.get("kind") == "Status" and status.get("apiVersion") == "v1", status
    assert status.get("status") == "Failure", status
    assert status.get("code") == code and status.get("reason") == reason, status
    if message is not None:
        assert status.get("message") == message, status
    return status


def configmap(name: str, data: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": data if data is not None else {"k": "v"}}


def deployment(name: str, replicas: int = 1, labels: dict[str, str] | None = None) -> Obj:
    sel = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels or sel},
            "spec": {"replicas": replicas, "selector": {"matchLabels": sel},
                     "template": {"metadata": {"labels": sel},
                                  "spec": {"containers": [{"name": "c",
                                                           "image": "nginx:1.27"}]}}}}


def pod(name: str, labels: dict[str, str] | None = None, node: str | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


# ------------------------------------------------------------------------------ watch


class Watch:
    """One watch stream read on a thread; ``next()`` returns the next decoded event."""

    def __init__(self, api: Api, path: str, params: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 30):
        self.response = api.request("GET", path, params={"watch": "true", **(params or {})},
                                    headers=headers, stream=True, timeout=timeout)
        self.events: queue.Queue[Obj | None] = queue.Queue()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.response.status_code == 200:
            self._thread.start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(chunk_size=None):
                if line.strip():
                    self.events.put(json.loads(line))
        except Exception:  # the stream was closed under us, or it broke: the test decides
            pass
        finally:
            self.ended.set()
            self.events.put(None)

    def next(self, timeout: float = 5) -> Obj:
        try:
            ev = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no watch event within {timeout}s") from None
        assert ev is not None, "the watch stream ended"
        return ev

    def take(self, n: int, timeout: float = 5) -> list[Obj]:
        return [self.next(timeout) for _ in range(n)]

    def quiet(self, seconds: float) -> list[Obj]:
        """Events that arrive within ``seconds`` (expected: none)."""
        got = []
        try:
            while True:
                ev = self.events.get(timeout=seconds)
                if ev is None:
                    break
                got.append(ev)
        except queue.Empty:
            pass
        return got

    def close(self) -> None:
        # shut the socket down first: the reader thread holds the buffered reader's lock
        # inside a blocking read, so a plain close() would wait for the read timeout
        conn = getattr(self.response.raw, "connection", None) or getattr(
            self.response.raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.ended.wait(5)
        self.response.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------------------ store


def compact(server: ServerProcess, revision: int | None = None) -> int:
    """Compact the server's store to ``revision`` (default: its current revision)."""
    from kubepy.storage import open_store

    async def run() -> int:
        store = open_store(f"sqlite://{server.data_dir / 'db' / 'state.db'}")
        try:
            target = revision or await store.current_revision()  # type: ignore[attr-defined]
            await store.compact(target)  # type: ignore[attr-defined]
            return target
        finally:
            await store.close()

    return asyncio.run(run())


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("kubepy-api")
    tokens = root / "tokens.csv"
    tokens.write_text(TOKENS)
    # the API server alone: controllers writing status would race these tests' PUTs
    proc = start_server(root / "data", extra=["--token-auth-file", str(tokens),
                                              "--disable-controller-manager",
                                              "--disable-scheduler"])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> Api:
    return Api(server)


@pytest.fixture(scope="session")
def anonymous(server: ServerProcess) -> Api:
    return Api(server, cert=False)


@pytest.fixture(scope="session")
def token_api(server: ServerProcess) -> Any:
    def make(token: str) -> Api:
        return Api(server, cert=False, token=token)
    return make


_counter = itertools.count()


@pytest.fixture
def ns(api: Api, request: pytest.FixtureRequest) -> str:
    """A namespace of this test's own."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{base}-{next(_counter)}-{uuid.uuid4().hex[:4]}"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": name}})
    return name
