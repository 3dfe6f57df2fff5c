"""LIST: selection, pagination and resourceVersion semantics.

- ``resourceVersion`` unset: a consistent read (the cache waits for the store's revision);
  ``"0"``: any cached state; ``N`` with ``resourceVersionMatch=NotOlderThan`` (or no limit):
  the cache once it reached N; ``N`` with ``Exact`` (or with a limit, the legacy meaning):
  the store at revision N.
- ``limit``/``continue``: the first page comes from the cache; a continue token pins the
  list's revision and the last key, and later pages are read from the store at that
  revision (410 Expired once compacted), so the pages form one consistent snapshot.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import orjson

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.apiserver.watchcache import CacheHub, decode
from kubepy.storage.interface import CompactedError, Store

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You "
    "can start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list.")


@dataclass
class ListResult:
    items: list[Obj]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


def encode_continue(revision: int, last_key: str, prefix: str) -> str:
    token = {"v": "meta.k8s.io/v1", "rv": revision, "start": last_key[len(prefix):] + "\x00"}
    return base64.urlsafe_b64encode(orjson.dumps(token)).decode().rstrip("=")


def decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        rv = int(data["rv"])
        start = str(data["start"])
    except Exception:
        raise errors.BadRequest("continue key is not valid: incorrect encoded start "
                                "resourceVersion (version meta.k8s.io/v1)")
    if data.get("v") != "meta.k8s.io/v1" or rv <= 0 or ".." in start:
        raise errors.BadRequest("continue key is not valid: incorrect encoded start "
                                "resourceVersion (version meta.k8s.io/v1)")
    # the token holds the last key + "\x00": resume strictly after that key
    return rv, prefix + start.rstrip("\x00")


def parse_rv(value: str | None, name: str = "resourceVersion") -> int | None:
    if not value:
        return None
    try:
        rv = int(value)
    except ValueError:
        raise errors.BadRequest(f'invalid {name} "{value}"') from None
    if rv < 0:
        raise errors.BadRequest(f'invalid {name} "{value}"')
    return rv


async def list_objects(hub: CacheHub, store: Store, rt: ResourceType, namespace: str | None,
                       predicate: Predicate | None, *, limit: int = 0, continue_token: str = "",
                       resource_version: str | None = None, rv_match: str = "",
                       counts_remaining: bool = True) -> ListResult:
    prefix = rt.namespace_prefix(namespace)
    rv = parse_rv(resource_version)
    if rv_match and rv_match not in ("Exact", "NotOlderThan"):
        raise errors.BadRequest(f'resourceVersionMatch: Unsupported value: "{rv_match}": '
                                'supported values: "Exact", "NotOlderThan"')
    if rv_match and rv is None:
        raise errors.BadRequest("resourceVersionMatch is forbidden unless resourceVersion "
                                "is provided")
    if continue_token:
        if rv not in (None, 0):
            raise errors.BadRequest("specifying resource version is not allowed when using "
                                    "continue")
        token_rv, start_after = decode_continue(continue_token, prefix)
        return await _from_store(store, rt, prefix, predicate, limit, token_rv, start_after,
                                 expired_message=_EXPIRED_CONTINUE)
    exact = rv_match == "Exact" or (rv not in (None, 0) and limit > 0 and not rv_match)
    if exact and rv:
        if rv > hub.revision:
            await hub.wait_for(rv)
        return await _from_store(store, rt, prefix, predicate, limit, rv, "")
    if rv is None:
        await hub.wait_fresh()
    elif rv > 0:
        try:
            await hub.wait_for(rv)
        except TimeoutError:
            raise errors.Timeout(f"Too large resource version: {rv}, current: {hub.revision}",
                                 retry_after=1)
    cache = hub.cache_for(rt.key_prefix)
    list_rv = hub.revision
    keys = cache.keys_under(prefix)
    objects = cache.objects
    items: list[Obj] = []
    last_key = ""
    more = False
    for key in keys:
        obj = objects[key]
        if predicate is not None and not predicate(obj):
            continue
        if limit and len(items) == limit:
            more = True
            break
        items.append(obj)
        last_key = key
    if not more:
        return ListResult(items, list_rv)
    remaining = None
    if counts_remaining and predicate is None:
        remaining = sum(1 for _ in cache.keys_under(prefix, last_key))
    return ListResult(items, list_rv, encode_continue(list_rv, last_key, prefix), remaining)


async def _from_store(store: Store, rt: ResourceType, prefix: str, predicate: Predicate | None,
                      limit: int, revision: int, start_after: str, *,
                      expired_message: str | None = None) -> ListResult:
    items: list[Obj] = []
    chunk = max(limit, 500) if limit else 0
    cursor = start_after
    try:
        while True:
            result = await store.range(prefix, start_after=cursor, limit=chunk + 1 if chunk else 0,
                                       revision=revision)
            page = result.kvs[:chunk] if chunk else result.kvs
            for kv in page:
                obj = decode(kv)
                if predicate is not None and not predicate(obj):
                    cursor = kv.key
                    continue
                if limit and len(items) == limit:
                    last = items[-1]["__key__"]
                    token = encode_continue(revision, last, prefix)
                    remaining = None
                    if predicate is None:
                        rest = await store.range(prefix, start_after=last, revision=revision)
                        remaining = len(rest.kvs)
                    return ListResult(_strip(items), revision, token, remaining)
                obj["__key__"] = kv.key
                items.append(obj)
                cursor = kv.key
            if not (chunk and len(result.kvs) > chunk):
                return ListResult(_strip(items), revision)
    except CompactedError as e:
        if expired_message:
            raise errors.Gone(expired_message)
        raise errors.Gone(f"The resourceVersion for the provided list is too old. "
                          f"(requested {e.requested}, oldest {e.compacted})")


def _strip(items: Iterable[Obj]) -> list[Obj]:
    out = []
    for obj in items:
        obj.pop("__key__", None)
        out.append(obj)
    return out
