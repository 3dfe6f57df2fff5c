"""Object semantics on top of the store: create, read, update, patch and delete.

This is the generic registry store of the apiserver (``genericregistry.Store``): it gives
every object uid, creationTimestamp, generation and resourceVersion, honours
resourceVersion and uid preconditions, runs defaulting, validation and admission, keeps
status and spec apart for status subresources, implements graceful deletion and
finalizers, and turns store errors into API errors. Reads come from the watch cache.

Callers pass plain dicts; cached objects are never mutated (everything is copied first).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar, cast

import orjson

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.apiserver import strategy
from kubepy.apiserver.watchcache import CacheHub, decode
from kubepy.storage.interface import (KeyExistsError, KeyNotFoundError, RevisionMismatchError,
                                      Store)

Obj = dict[str, Any]
# A mutating admission step: (rt, new object, old object or None, operation) -> None
# (mutates new); a validating one also gets the write options and the subresource.
Admission = Callable[[ResourceType, Obj, "Obj | None", str], Awaitable[None]]
Validation = Callable[[ResourceType, Obj, "Obj | None", str, "WriteOptions", str],
                      Awaitable[None]]

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
# generateName suffixes need no cryptographic randomness (the apiserver's utilrand.String
# is math/rand); a seeded PRNG spares a getrandom() call per character
_NAME_RANDOM = random.Random(secrets.randbits(64))
os.register_at_fork(after_in_child=lambda: _NAME_RANDOM.seed(secrets.randbits(64)))
_MAX_RETRIES = 10
_GENERATE_NAME_TRIES = 8


# (second, its RFC 3339 text): formatting the wall clock costs ~2 us; writes within one
# second share the string
_stamp: tuple[int, str] = (-1, "")


def now_rfc3339(clock: Callable[[], datetime.datetime] | None = None) -> str:
    """The current UTC time to the second (``2024-01-02T03:04:05Z``), or ``clock()``'s."""
    global _stamp
    if clock:
        return clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    second = int(time.time())
    if second != _stamp[0]:
        _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _stamp[1]


_T = TypeVar("_T")


def clone(obj: _T) -> _T:
    """A deep copy of a JSON-compatible value (several times faster than copy.deepcopy)."""
    return cast(_T, orjson.loads(orjson.dumps(obj)))  # a JSON round trip keeps the type


def encode_for_store(obj: Obj) -> bytes:
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def conflict(rt: ResourceType, name: str, reason: str = "the object has been modified; please "
             "apply your changes to the latest version and try again") -> errors.Conflict:
    return errors.Conflict(f'Operation cannot be fulfilled on {rt.qualified} "{name}": {reason}',
                           name=name, group=rt.group, kind=rt.plural)


def not_found(rt: ResourceType, name: str) -> errors.NotFound:
    return errors.NotFound(f'{rt.qualified} "{name}" not found', name=name, group=rt.group,
                           kind=rt.plural)


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    user: str = ""
    # False for server-side apply, which computes managedFields itself
    manage_fields: bool = True


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # Orphan, Background, Foreground
    preconditions: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


class Objects:
    """Generic object operations for every stored resource type."""

    def __init__(self, store: Store, hub: CacheHub, *,
                 mutators: list[Admission] | None = None,
                 validators: list[Validation] | None = None,
                 clock: Callable[[], datetime.datetime] | None = None):
        self.store = store
        self.hub = hub
        self.mutators = mutators or []
        self.validators = validators or []
        self.clock = clock
        # hooks the apiserver wires: defaulting, validation, managed fields
        self.defaulter: Callable[[ResourceType, Obj], None] = lambda rt, obj: None
        self.create_validator: Callable[[ResourceType, Obj], list[dict[str, str]]] = (
            lambda rt, obj: [])
        self.update_validator: Callable[[ResourceType, Obj, Obj], list[dict[str, str]]] = (
            lambda rt, new, old: [])
        # (rt, old, new, opts, subresource) -> new with metadata.managedFields updated
        self.field_manager: Callable[[ResourceType, Obj | None, Obj, WriteOptions, str],
                                     Obj] | None = None

    # ---------------------------------------------------------------- reads

    def cached(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self.hub.cache_for(rt.key_prefix).objects.get(rt.key(namespace, name))

    async def get(self, rt: ResourceType, namespace: str | None, name: str, *,
                  fresh: bool = True) -> Obj:
        if fresh:
            await self.hub.wait_fresh()
        obj = self.cached(rt, namespace, name)
        if obj is None:
            raise not_found(rt, name)
        return obj

    # --------------------------------------------------------------- create

    async def create(self, rt: ResourceType, namespace: str | None, body: Obj,
                     opts: WriteOptions) -> Obj:
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.BadRequest("metadata must be an object")
        self._check_type_meta(rt, obj)
        await self._set_namespace(rt, obj, namespace)
        if not meta.get("name"):
            generate = meta.get("generateName")
            if generate:
                meta["name"] = generate + "".join(_NAME_RANDOM.choices(_NAME_CHARS, k=5))
            else:
                raise errors.invalid(rt.kind, "", [errors.field_cause(
                    "metadata.name", "Required value: name or generateName is required",
                    "FieldValueRequired")], rt.group)
        for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(f, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(self.clock)
        if strategy.tracks_generation(rt):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        strategy.prepare_for_create(rt, obj)
        self.defaulter(rt, obj)
        meta = obj["metadata"]  # the defaulter may have replaced the metadata dict
        for mutate in self.mutators:
            await mutate(rt, obj, None, "CREATE")
        if opts.manage_fields and self.field_manager is not None:
            obj = self.field_manager(rt, None, obj, opts, "")
            meta = obj["metadata"]
        causes = self.create_validator(rt, obj)
        if causes:
            raise errors.invalid(rt.kind, meta["name"], causes, rt.group)
        for validate in self.validators:
            await validate(rt, obj, None, "CREATE", opts, "")
        if opts.dry_run:
            return obj
        generated = bool(meta.get("generateName")) and \
            meta["name"].startswith(meta["generateName"]) and \
            len(meta["name"]) == len(meta["generateName"]) + 5
        for attempt in range(_GENERATE_NAME_TRIES if generated else 1):
            if attempt:  # a generated name collided: draw another (RetryGenerateName)
                meta["name"] = meta["generateName"] + "".join(
                    secrets.choice(_NAME_CHARS) for _ in range(5))
            key = rt.key(namespace if rt.namespaced else None, meta["name"])
            try:
                kv = await self.store.create(key, encode_for_store(obj))
                break
            except KeyExistsError:
                continue
        else:
            raise errors.AlreadyExists(f'{rt.qualified} "{meta["name"]}" already exists',
                                       name=meta["name"], group=rt.group, kind=rt.plural)
        meta["resourceVersion"] = str(kv.mod_revision)
        return obj

    def _check_type_meta(self, rt: ResourceType, obj: Obj) -> None:
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise errors.BadRequest(
                f'the body of the request was in an unknown format - kind "{kind}" '
                f'does not match the expected kind "{rt.kind}" of {rt.qualified}')
        if api_version and api_version != rt.api_version:
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})")
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind

    async def _set_namespace(self, rt: ResourceType, obj: Obj, namespace: str | None) -> None:
        meta = obj["metadata"]
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        body_ns = meta.get("namespace")
        if body_ns and namespace and body_ns != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the "
                                    "namespace sent on the request")
        meta["namespace"] = namespace or body_ns
        ns = self.hub.cache_for("/registry/namespaces/").objects.get(
            f"/registry/namespaces/{meta['namespace']}")
        if ns is None:
            await self.hub.wait_fresh()
            ns = self.hub.cache_for("/registry/namespaces/").objects.get(
                f"/registry/namespaces/{meta['namespace']}")
        if ns is None:
            raise errors.NotFound(f'namespaces "{meta["namespace"]}" not found',
                                  name=meta["namespace"], kind="namespaces")
        if (ns.get("metadata") or {}).get("deletionTimestamp") or \
                (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.Forbidden(
                f'{rt.plural} "{meta.get("name") or meta.get("generateName", "")}" is forbidden: '
                f'unable to create new content in namespace {meta["namespace"]} because it is '
                f"being terminated", name=meta.get("name"), group=rt.group, kind=rt.plural)

    # --------------------------------------------------------------- update

    async def guaranteed_update(self, rt: ResourceType, namespace: str | None, name: str,
                                mutate: Callable[[Obj], Obj | Awaitable[Obj]],
                                opts: WriteOptions, *, subresource: str = "",
                                create_missing: Callable[[], Awaitable[Obj]] | None = None) -> Obj:
        """Read the current object, let ``mutate`` build the new one, write it with CAS.

        Retries on a CAS failure (another writer won) by re-reading; ``mutate`` raises
        Conflict itself when the caller's own precondition fails.
        """
        key = rt.key(namespace if rt.namespaced else None, name)
        for _ in range(_MAX_RETRIES):
            current = await self._current(key)
            if current is None:
                if create_missing is not None:
                    return await create_missing()
                raise not_found(rt, name)
            new = mutate(current)
            if asyncio.iscoroutine(new):
                new = await new
            assert isinstance(new, dict)
            result = await self._write_update(rt, key, new, current, opts, subresource)
            if result is not None:
                return result
        raise conflict(rt, name)

    async def _current(self, key: str) -> Obj | None:
        await self.hub.wait_fresh()
        prefix = key[: key.index("/", len("/registry/")) + 1]
        cache = self.hub._owner(key) or self.hub.cache_for(prefix)
        return cache.objects.get(key)

    async def _write_update(self, rt: ResourceType, key: str, new: Obj, old: Obj,
                            opts: WriteOptions, subresource: str) -> Obj | None:
        """One CAS attempt. Returns None when the store moved on (retry)."""
        self._check_type_meta(rt, new)
        old_meta = old["metadata"]
        meta = new.setdefault("metadata", {})
        strategy.prepare_for_update(rt, new, old, subresource)
        meta = new["metadata"]
        # fields the client cannot change through an update
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta["name"] = old_meta["name"]
        if rt.namespaced:
            meta["namespace"] = old_meta.get("namespace")
        else:
            meta.pop("namespace", None)
        if strategy.tracks_generation(rt) and strategy.spec_changed(new, old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if subresource == "":
            self.defaulter(rt, new)
            meta = new["metadata"]  # the defaulter may have replaced the metadata dict
        for mutate in self.mutators:
            await mutate(rt, new, old, "UPDATE")
        if opts.manage_fields and self.field_manager is not None:
            new = self.field_manager(rt, old, new, opts, subresource)
            meta = new["metadata"]
        # a binding only sets spec.nodeName, which pod update validation would refuse
        causes = self.update_validator(rt, new, old) if subresource != "binding" else []
        if causes:
            raise errors.invalid(rt.kind, old_meta["name"], causes, rt.group)
        for validate in self.validators:
            await validate(rt, new, old, "UPDATE", opts, subresource)
        old_rv = int(old_meta["resourceVersion"])
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if _same(new, old):
            return old  # no-op writes do not touch the store (resourceVersion unchanged)
        if opts.dry_run:
            return new
        try:
            if meta.get("deletionTimestamp") and not meta.get("finalizers") and \
                    not _graceful_pending(rt, new) and not strategy.spec_finalizers(rt, new):
                await self.store.delete(key, expected_revision=old_rv)
                return new
            kv = await self.store.update(key, encode_for_store(new), expected_revision=old_rv)
        except RevisionMismatchError:
            await self.hub.wait_for(old_rv + 1)
            return None
        except KeyNotFoundError:
            raise not_found(rt, old_meta["name"])
        meta["resourceVersion"] = str(kv.mod_revision)
        return new

    # --------------------------------------------------------------- delete

    async def delete(self, rt: ResourceType, namespace: str | None, name: str,
                     options: DeleteOptions) -> tuple[Obj, bool]:
        """Delete or start deleting. Returns (object, deleted_now)."""
        key = rt.key(namespace if rt.namespaced else None, name)
        for _ in range(_MAX_RETRIES):
            current = await self._current(key)
            if current is None:
                raise not_found(rt, name)
            meta = current["metadata"]
            pre = options.preconditions
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise conflict(rt, name, f"Precondition failed: UID in precondition: "
                                         f"{pre['uid']}, UID in object meta: {meta.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                raise conflict(rt, name, "Precondition failed: ResourceVersion in precondition: "
                               f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                               f"{meta.get('resourceVersion')}")
            new = clone(current)
            nmeta = new["metadata"]
            finalizers = list(nmeta.get("finalizers") or [])
            policy = options.propagation_policy
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            grace = self._grace_period(rt, current, options)
            if finalizers or grace > 0 or strategy.spec_finalizers(rt, current):
                changed = False
                if strategy.spec_finalizers(rt, current) and \
                        (new.get("status") or {}).get("phase") != "Terminating":
                    new.setdefault("status", {})["phase"] = "Terminating"
                    changed = True
                if finalizers != list(nmeta.get("finalizers") or []):
                    nmeta["finalizers"] = finalizers
                    changed = True
                if not nmeta.get("deletionTimestamp"):
                    when = (self.clock() if self.clock else
                            datetime.datetime.now(datetime.timezone.utc))
                    when += datetime.timedelta(seconds=grace)
                    nmeta["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
                    nmeta["deletionGracePeriodSeconds"] = grace
                    if "generation" in nmeta:
                        nmeta["generation"] = int(nmeta["generation"]) + 1
                    changed = True
                elif grace < int(nmeta.get("deletionGracePeriodSeconds") or 0):
                    when = (self.clock() if self.clock else
                            datetime.datetime.now(datetime.timezone.utc))
                    nmeta["deletionTimestamp"] = (when + datetime.timedelta(seconds=grace)
                                                  ).strftime("%Y-%m-%dT%H:%M:%SZ")
                    nmeta["deletionGracePeriodSeconds"] = grace
                    changed = True
                if not changed:
                    return current, False
                if options.dry_run:
                    return new, False
                try:
                    kv = await self.store.update(key, encode_for_store(new),
                                                 expected_revision=int(meta["resourceVersion"]))
                except RevisionMismatchError:
                    await self.hub.wait_for(int(meta["resourceVersion"]) + 1)
                    continue
                nmeta["resourceVersion"] = str(kv.mod_revision)
                return new, False
            if options.dry_run:
                return current, True
            try:
                kv = await self.store.delete(key, expected_revision=int(meta["resourceVersion"]))
            except RevisionMismatchError:
                await self.hub.wait_for(int(meta["resourceVersion"]) + 1)
                continue
            except KeyNotFoundError:
                raise not_found(rt, name)
            gone = decode(kv)
            return gone, True
        raise conflict(rt, name)

    def _grace_period(self, rt: ResourceType, obj: Obj, options: DeleteOptions) -> int:
        """Pods bound to a node get a graceful deletion; everything else goes at once."""
        if (rt.group, rt.kind) != ("", "Pod"):
            return 0
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        grace: int | None
        if options.grace_period_seconds is not None:
            grace = options.grace_period_seconds
        else:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace is None:
            grace = 30
        return max(0, int(grace))


def _graceful_pending(rt: ResourceType, obj: Obj) -> bool:
    """A pod whose graceful deletion the kubelet still has to finish."""
    meta = obj.get("metadata") or {}
    return (rt.group, rt.kind) == ("", "Pod") and int(meta.get("deletionGracePeriodSeconds") or 0) > 0


def _same(new: Obj, old: Obj) -> bool:
    """Equal apart from managedFields timestamps (which a no-op write must not bump)."""
    if new == old:
        return True
    nm, om = new.get("metadata", {}), old.get("metadata", {})
    if "managedFields" in nm or "managedFields" in om:
        def strip(o: Obj) -> Obj:
            m = dict(o.get("metadata", {}))
            m["managedFields"] = [{k: v for k, v in e.items() if k != "time"}
                                  for e in m.get("managedFields") or []]
            return {**o, "metadata": m}
        return strip(new) == strip(old)
    return False
