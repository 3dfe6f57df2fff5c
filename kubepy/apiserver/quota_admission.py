"""ResourceQuota and LimitRange admission: the apiserver side of kubepy.api.quota/limitrange.

``LimitRanges.admit`` (mutating, pods and claims) applies a namespace's LimitRange defaults
and refuses what breaks its bounds (403). ``Quotas.admit`` (validating, last) charges a
namespaced create or update against the namespace's ResourceQuotas and writes the grown
``status.used`` with compare-and-swap on each quota's resourceVersion before the object is
stored (upstream's order); on a conflict it re-reads the quotas and tries again, three
times. A write that fails afterwards leaves the charge until the ResourceQuota controller
recounts, as in Kubernetes.
"""

from __future__ import annotations

import datetime
from typing import Any

from kubepy import errors
from kubepy.api import limitrange, quota
from kubepy.api.registry import ResourceType
from kubepy.apiserver.objects import WriteOptions, encode_for_store
from kubepy.apiserver.watchcache import CacheHub
from kubepy.storage.interface import RevisionMismatchError, Store

Obj = dict[str, Any]
_QUOTAS = "/registry/resourcequotas/"
_LIMIT_RANGES = "/registry/limitranges/"


def _in_namespace(hub: CacheHub, prefix: str, namespace: str) -> list[Obj]:
    scope = f"{prefix}{namespace}/"
    return [o for k, o in hub.cache_for(prefix).objects.items() if k.startswith(scope)]


class LimitRanges:
    def __init__(self, hub: CacheHub):
        self.hub = hub

    async def admit(self, rt: ResourceType, obj: Obj, old: Obj | None, operation: str) -> None:
        if rt.group or rt.plural not in ("pods", "persistentvolumeclaims"):
            return
        ranges = _in_namespace(self.hub, _LIMIT_RANGES, obj["metadata"].get("namespace", ""))
        if not ranges:
            return
        result = limitrange.admit_limit_ranges(obj, old, ranges, resource=rt.plural)
        if result is not obj:
            obj.clear()
            obj.update(result)


class Quotas:
    def __init__(self, hub: CacheHub, store: Store):
        self.hub = hub
        self.store = store

    async def admit(self, rt: ResourceType, obj: Obj, old: Obj | None, operation: str,
                    opts: WriteOptions, subresource: str = "") -> None:
        if not rt.namespaced:
            return
        namespace = obj["metadata"].get("namespace", "")
        for _ in range(3):
            quotas = _in_namespace(self.hub, _QUOTAS, namespace)
            if not quotas:
                return
            changed = quota.admit(quotas, obj, old, group=rt.group, resource=rt.plural,
                                  subresource=subresource,
                                  now=datetime.datetime.now(datetime.timezone.utc))
            if not changed or opts.dry_run:
                return
            try:
                for q in changed:
                    meta = q["metadata"]
                    key = f"{_QUOTAS}{meta['namespace']}/{meta['name']}"
                    await self.store.update(key, encode_for_store(q),
                                            expected_revision=int(meta["resourceVersion"]))
                return
            except RevisionMismatchError:
                await self.hub.wait_fresh()
        raise errors.Conflict("Operation cannot be fulfilled on resourcequotas: the quotas "
                              "changed while this request was admitted; please try again")
