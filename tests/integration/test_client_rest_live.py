"""ApiClient against a real ``kubepy server``: CRUD, patch types, apply, subresources,
pagination, watch, and the mapping of every failure onto kubepy.errors."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from typing import Any, Awaitable, Callable

import pytest

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.rest import ApiClient, ApiUnreachable
from tests.conftest import ServerProcess, free_port

REG = Registry()
CM = REG.get("", "v1", "configmaps")
NS = REG.get("", "v1", "namespaces")
PODS = REG.get("", "v1", "pods")
DEPLOY = REG.get("apps", "v1", "deployments")
Obj = dict[str, Any]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


async def new_namespace(c: ApiClient) -> str:
    name = f"client-{uuid.uuid4().hex[:8]}"
    await c.create(NS, {"metadata": {"name": name}})
    return name


def cm(name: str, **data: str) -> Obj:
    return {"metadata": {"name": name, "labels": {"app": "t"}}, "data": data}


def test_crud_patch_apply_delete(kubepy_server: ServerProcess) -> None:
    async def go() -> None:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            created = await c.create(CM, cm("a", x="1"), ns)
            assert created["metadata"]["namespace"] == ns and created["metadata"]["uid"]
            got = await c.get(CM, "a", ns)
            assert got["data"] == {"x": "1"}
            got["data"]["y"] = "2"
            updated = await c.update(CM, got)
            assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
            merge = await c.patch(CM, "a", {"data": {"x": None, "z": "3"}}, namespace=ns)
            assert merge["data"] == {"y": "2", "z": "3"}
            jsonp = await c.patch(CM, "a", [{"op": "add", "path": "/data/j", "value": "4"}],
                                  namespace=ns, patch_type="json")
            assert jsonp["data"]["j"] == "4"
            smp = await c.patch(CM, "a", {"metadata": {"labels": {"s": "1"}}}, namespace=ns,
                                patch_type="strategic")
            assert smp["metadata"]["labels"] == {"app": "t", "s": "1"}
            applied = await c.apply(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "b", "namespace": ns},
                                         "data": {"k": "v"}}, field_manager="tester")
            assert [m["manager"] for m in applied["metadata"]["managedFields"]] == ["tester"]
            dry = await c.create(CM, cm("dry"), ns, dry_run=True)
            assert dry["metadata"]["name"] == "dry"
            with pytest.raises(errors.NotFound):
                await c.get(CM, "dry", ns)
            await c.delete(CM, "a", ns)
            with pytest.raises(errors.NotFound):
                await c.get(CM, "a", ns)
            await c.delete_collection(CM, ns, label_selector="app!=none")
            left = await c.list(CM, ns)
            assert left["items"] == []  # "app!=none" also matches objects without the label
    run(go())


def test_list_pages_selectors_and_all_namespaces(kubepy_server: ServerProcess) -> None:
    async def go() -> None:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            for i in range(5):
                obj = cm(f"c{i}")
                obj["metadata"]["labels"]["parity"] = "even" if i % 2 == 0 else "odd"
                await c.create(CM, obj, ns)
            names: list[str] = []
            cont = None
            pages = 0
            while True:
                page = await c.list(CM, ns, label_selector="app=t", limit=2, continue_=cont)
                pages += 1
                names += [i["metadata"]["name"] for i in page["items"]]
                cont = page["metadata"].get("continue")
                if not cont:
                    break
            assert (names, pages) == ([f"c{i}" for i in range(5)], 3)
            odd = await c.list(CM, ns, label_selector="parity=odd")
            assert [i["metadata"]["name"] for i in odd["items"]] == ["c1", "c3"]
            by_field = await c.list(CM, ns, field_selector="metadata.name=c4")
            assert [i["metadata"]["name"] for i in by_field["items"]] == ["c4"]
            everywhere = await c.list(CM, label_selector="app=t")
            assert {i["metadata"]["namespace"] for i in everywhere["items"]} >= {ns}
    run(go())


def test_status_and_binding_subresources(kubepy_server: ServerProcess) -> None:
    async def go() -> None:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            dep = await c.create(DEPLOY, {
                "metadata": {"name": "web"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
                ns)
            dep["status"] = {"observedGeneration": 1, "replicas": 1}
            dep["spec"]["replicas"] = 5  # ignored by the status subresource
            after = await c.update_status(DEPLOY, dep)
            assert (after["status"]["replicas"], after["spec"]["replicas"]) == (1, 1)
            await c.create(PODS, {"metadata": {"name": "p"},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, ns)
            await c.create_subresource(PODS, "p", "binding", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": ns},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}, ns)
            assert (await c.get(PODS, "p", ns))["spec"]["nodeName"] == "node-1"
            with pytest.raises(errors.Conflict):  # already bound
                await c.create_subresource(PODS, "p", "binding", {
                    "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                    "target": {"kind": "Node", "name": "node-2"}}, ns)
    run(go())


async def _stale_update(c: ApiClient, ns: str) -> None:
    old = await c.create(CM, cm("s"), ns)
    await c.patch(CM, "s", {"data": {"a": "b"}}, namespace=ns)
    await c.update(CM, old)


async def _apply_conflict(c: ApiClient, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ap"}, "data": {"k": "1"}}
    await c.apply(CM, body, field_manager="one", namespace=ns)
    await c.apply(CM, {**body, "data": {"k": "2"}}, field_manager="two", namespace=ns)


async def _create_twice(c: ApiClient, ns: str) -> None:
    await c.create(CM, cm("dup"), ns)
    await c.create(CM, cm("dup"), ns)


async def _failed_test_op(c: ApiClient, ns: str) -> None:
    await c.create(CM, cm("jp"), ns)
    await c.patch(CM, "jp", [{"op": "test", "path": "/data/nope", "value": "x"}], namespace=ns,
                  patch_type="json")


async def _precondition(c: ApiClient, ns: str) -> None:
    await c.create(CM, cm("pre"), ns)
    await c.delete(CM, "pre", ns, preconditions={"uid": "not-the-uid"})


ERROR_CASES: list[tuple[str, Callable[[ApiClient, str], Awaitable[Any]], type, str]] = [
    ("get missing", lambda c, ns: c.get(CM, "missing", ns), errors.NotFound,
     'configmaps "missing" not found'),
    ("create twice", _create_twice, errors.AlreadyExists, 'configmaps "dup" already exists'),
    ("invalid name", lambda c, ns: c.create(CM, cm("Not_Valid"), ns), errors.Invalid,
     'ConfigMap "Not_Valid" is invalid'),
    ("stale resourceVersion", _stale_update, errors.Conflict, "the object has been modified"),
    ("apply conflict", _apply_conflict, errors.Conflict, "conflict"),
    ("delete precondition", _precondition, errors.Conflict, "Precondition failed"),
    ("failed json patch test", _failed_test_op, errors.Invalid, "rejected our request"),
    ("bad selector", lambda c, ns: c.list(CM, ns, label_selector="a==="), errors.BadRequest,
     "unable to parse requirement"),
]


@pytest.mark.parametrize("call,cls,message", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors_map_to_the_hierarchy(kubepy_server: ServerProcess,
                                     call: Callable[[ApiClient, str], Awaitable[Any]],
                                     cls: type, message: str) -> None:
    async def go() -> errors.StatusError:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            with pytest.raises(errors.StatusError) as info:
                await call(c, ns)
            return info.value
    err = run(go())
    assert isinstance(err, cls), (type(err), err)
    assert message.lower() in str(err).lower()


def test_unauthenticated_and_unreachable(kubepy_server: ServerProcess) -> None:
    async def go() -> tuple[type, type]:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        async with ApiClient(kubepy_server.url, ctx, token="bogus") as c:
            with pytest.raises(errors.StatusError) as bad_token:
                await c.list(NS)
        async with ApiClient(f"https://127.0.0.1:{free_port()}", ctx) as c:
            with pytest.raises(ApiUnreachable) as down:
                await c.list(NS)
        return type(bad_token.value), type(down.value)
    assert run(go()) == (errors.Unauthorized, ApiUnreachable)


def test_watch_stream_and_gone(kubepy_server: ServerProcess) -> None:
    async def go() -> list[tuple[str, str]]:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            start = (await c.list(CM, ns))["metadata"]["resourceVersion"]
            seen: list[tuple[str, str]] = []

            async def consume() -> None:
                async with contextlib.aclosing(c.watch(CM, ns, resource_version=start,
                                                       timeout_seconds=10)) as events:
                    async for ev in events:
                        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
                        if ev["type"] == "DELETED":
                            return
            watcher = asyncio.ensure_future(consume())
            await c.create(CM, cm("w"), ns)
            await c.patch(CM, "w", {"data": {"a": "1"}}, namespace=ns)
            await c.delete(CM, "w", ns)
            await watcher
            return seen
    assert run(go()) == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


TOKEN_CASES = [
    ("admin token lists", "admin", None),
    ("plain user is forbidden", "alice", errors.Forbidden),
    ("unknown token is unauthorized", "nobody", errors.Unauthorized),
]


@pytest.mark.parametrize("who,error", [c[1:] for c in TOKEN_CASES], ids=[c[0] for c in TOKEN_CASES])
def test_bearer_tokens_with_the_cluster_ca(server: ServerProcess, who: str,
                                           error: type | None) -> None:
    from tests.integration.conftest import ADMIN_TOKEN, ALICE_TOKEN
    token = {"admin": ADMIN_TOKEN, "alice": ALICE_TOKEN, "nobody": "not-a-token"}[who]
    ctx = ssl.create_default_context(cafile=str(server.data_dir / "tls" / "ca.crt"))

    async def go() -> Any:
        async with ApiClient(server.url, ctx, token=token) as c:
            return await c.list(NS)
    if error is None:
        assert {i["metadata"]["name"] for i in run(go())["items"]} >= {"default", "kube-system"}
    else:
        with pytest.raises(error):
            run(go())


def test_derived_client_has_connections_of_its_own(kubepy_server: ServerProcess) -> None:
    """A watch holding the only pooled connection blocks the client's next request; a
    ``derived`` client (what leader election renews on) still gets through."""
    async def go() -> None:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig, connection_limit=1,
                                             user_agent="kubepy-test") as c:
            ns = await new_namespace(c)
            await c.create(CM, cm("held"), ns)
            stream = c.watch(CM, ns, timeout_seconds=20)
            first = await stream.__anext__()  # the watch now holds the only connection
            assert first["object"]["metadata"]["name"] == "held"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(c.get(CM, "held", ns), 1.0)
            own = c.derived(connection_limit=1)
            try:
                assert own.user_agent == "kubepy-test" and own.connection_limit == 1
                got = await asyncio.wait_for(own.get(CM, "held", ns), 5.0)
                assert got["metadata"]["name"] == "held"
            finally:
                await own.close()
                await stream.aclose()
    run(go())
