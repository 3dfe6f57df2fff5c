"""Service-account tokens for projected volumes (the kubelet's token manager).

A token is requested with the TokenRequest API (``serviceaccounts/<sa>/token``) for the
pod's service account, with the source's ``audience`` and ``expirationSeconds`` (default
3600) and the pod as ``boundObjectRef``, and cached per (namespace, service account,
audience, expiration, pod uid). ``requires_refresh`` is the kubelet's rule: a cached token
is renewed once 80% of its lifetime has passed, or when it is older than 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from kubepy.client.clock import Clock
from kubepy.kubelet.volumes.sources import SERVICE_ACCOUNTS, ObjectSource

Obj = dict[str, Any]

DEFAULT_EXPIRATION = 3600
MAX_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Token:
    token: str
    expires: datetime
    expiration_seconds: int


def requires_refresh(token: Token, now: datetime) -> bool:
    """True once 80% of the token's lifetime has passed (or 24 hours since issue)."""
    issued = token.expires - timedelta(seconds=token.expiration_seconds)
    if now > issued + MAX_TTL:
        return True
    return now > token.expires - timedelta(seconds=token.expiration_seconds * 20 // 100)


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def token_request(pod: Obj, source: Obj) -> Obj:
    """The TokenRequest body for a ``serviceAccountToken`` projection of *pod*."""
    meta = pod["metadata"]
    spec: Obj = {"expirationSeconds": int(source.get("expirationSeconds")
                                          or DEFAULT_EXPIRATION),
                 "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                    "name": meta["name"], "uid": meta.get("uid", "")}}
    if source.get("audience"):
        spec["audiences"] = [source["audience"]]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": service_account(pod), "namespace": meta.get("namespace")},
            "spec": spec}


def service_account(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


class TokenManager:
    def __init__(self, source: ObjectSource, clock: Clock) -> None:
        self.source = source
        self.clock = clock
        self._cache: dict[tuple[str, str, str, int, str], Token] = {}

    async def get_token(self, pod: Obj, source: Obj) -> str:
        """The token for *source*, from the cache unless it needs refreshing."""
        body = token_request(pod, source)
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), service_account(pod), source.get("audience") or "",
               body["spec"]["expirationSeconds"], meta.get("uid", ""))
        cached = self._cache.get(key)
        if cached is not None and not requires_refresh(cached, self.clock.now()):
            return cached.token
        client = self.source.client
        if client is None:
            raise RuntimeError("cannot request a service account token: no kubeClient "
                               "defined")
        answer = await client.create_subresource(SERVICE_ACCOUNTS, service_account(pod),
                                                 "token", body, meta.get("namespace"))
        status = answer.get("status") or {}
        token = Token(status.get("token", ""), parse_time(status["expirationTimestamp"]),
                      int((answer.get("spec") or {}).get("expirationSeconds")
                          or body["spec"]["expirationSeconds"]))
        self._cache[key] = token
        return token.token

    def forget_pod(self, pod_uid: str) -> None:
        for key in [k for k in self._cache if k[4] == pod_uid]:
            del self._cache[key]
