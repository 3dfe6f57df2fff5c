"""Reading a pod's volume and environment sources from the API server.

``ObjectSource`` wraps ``ApiClient.get`` for the kinds the kubelet reads (ConfigMaps,
Secrets, PersistentVolumeClaims, PersistentVolumes, Services) and words a missing object as
the kubelet's object managers do (``configmap "x" not found``, ``secret "x" not found``) by
raising ``SourceNotFound``; other API failures propagate as ``kubepy.errors`` /
``ApiUnreachable``. Without a client every read is a failure (``no kubeClient defined``).
"""

from __future__ import annotations

from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.rest import ApiClient

Obj = dict[str, Any]

_REGISTRY = Registry()


def _rt(group: str, version: str, plural: str) -> ResourceType:
    rt = _REGISTRY.get(group, version, plural)
    assert rt is not None, plural
    return rt


CONFIGMAPS = _rt("", "v1", "configmaps")
SECRETS = _rt("", "v1", "secrets")
SERVICES = _rt("", "v1", "services")
SERVICE_ACCOUNTS = _rt("", "v1", "serviceaccounts")
PVCS = _rt("", "v1", "persistentvolumeclaims")
PVS = _rt("", "v1", "persistentvolumes")

# the singular the kubelet's watch-based managers put in their NotFound messages
_SINGULAR = {CONFIGMAPS.plural: "configmap", SECRETS.plural: "secret"}


class SourceNotFound(Exception):
    """The object does not exist; the message is the kubelet's wording."""


class NoClient(Exception):
    """No API client: ``couldn't get configMap ns/x, no kubeClient defined``."""


class ObjectSource:
    def __init__(self, client: ApiClient | None) -> None:
        self.client = client

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> Obj:
        if self.client is None:
            what = {CONFIGMAPS.plural: "configMap"}.get(rt.plural, _SINGULAR.get(rt.plural,
                                                                                 rt.kind))
            raise NoClient(f"couldn't get {what} "
                           f"{namespace}/{name}, no kubeClient defined")
        try:
            return await self.client.get(rt, name, namespace)
        except errors.NotFound as e:
            singular = _SINGULAR.get(rt.plural)
            raise SourceNotFound(f'{singular} "{name}" not found' if singular
                                 else e.message) from e

    async def get_optional(self, rt: ResourceType, name: str, namespace: str, *,
                           optional: bool) -> Obj | None:
        """The object, or None when it is missing and *optional*."""
        try:
            return await self.get(rt, name, namespace)
        except SourceNotFound:
            if optional:
                return None
            raise

    async def list(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        if self.client is None:
            return []
        items: list[Obj] = []
        cont: str | None = None
        while True:
            page = await self.client.list(rt, namespace, limit=500, continue_=cont)
            items += page.get("items") or []
            cont = (page.get("metadata") or {}).get("continue") or None
            if not cont:
                return items
