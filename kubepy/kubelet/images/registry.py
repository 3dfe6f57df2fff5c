"""A client of the distribution API v2 (pulls only), over aiohttp.

``RegistryClient.get_manifest`` asks for every manifest and index type the kubelet reads and
returns the raw bytes (their sha256 is the manifest digest, checked against a pinned digest);
``fetch_blob`` streams a blob into any writer and verifies its digest. A 401 answers with a
challenge: Basic is retried with the registry's credentials, Bearer fetches a token from the
challenge's realm (with the credentials, if any) for the challenge's service and scope; tokens
are cached per registry and scope. Loopback and configured insecure registries use plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Awaitable, Callable, Iterable, Protocol

import aiohttp

from kubepy.kubelet.images import manifest as mf
from kubepy.kubelet.images.auth import Credentials, parse_www_authenticate, pull_scope, registry_scheme
from kubepy.kubelet.images.reference import Reference, api_endpoint

Progress = Callable[[int], Awaitable[None] | None]


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class RegistryError(Exception):
    """A failed registry request. ``status`` is the HTTP status (0 for connection errors)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Writer(Protocol):
    def write(self, data: bytes) -> Any: ...


class RegistryClient:
    def __init__(self, session: aiohttp.ClientSession, *, credentials: Credentials | None = None,
                 insecure_registries: Iterable[str] = ()) -> None:
        self.session = session
        self.credentials = credentials or {}
        self.insecure = list(insecure_registries)
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic: set[str] = set()

    def base_url(self, registry: str) -> str:
        return f"{registry_scheme(registry, self.insecure)}://{api_endpoint(registry)}/v2"

    def _auth_header(self, registry: str, scope: str) -> dict[str, str]:
        token = self._tokens.get((registry, scope))
        if token:
            return {"Authorization": f"Bearer {token}"}
        if registry in self._basic and registry in self.credentials:
            return {"Authorization": basic_authorization(*self.credentials[registry])}
        return {}

    async def _authenticate(self, registry: str, scope: str, challenge: str) -> None:
        scheme, params = parse_www_authenticate(challenge)
        creds = self.credentials.get(registry)
        if scheme == "basic":
            if creds is None or registry in self._basic:
                raise RegistryError(f"{registry}: authentication required", status=401)
            self._basic.add(registry)
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"{registry}: unsupported authentication challenge {challenge!r}", status=401)
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Authorization": basic_authorization(*creds)} if creds else {}
        try:
            async with self.session.get(params["realm"], params=query, headers=headers) as resp:
                if resp.status != 200:
                    raise RegistryError(f"{registry}: token request failed: {resp.status}", status=resp.status)
                body = await resp.json(content_type=None)
        except aiohttp.ClientError as e:
            raise RegistryError(f"{registry}: token request failed: {e}") from e
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{registry}: token response without a token", status=401)
        self._tokens[(registry, scope)] = token

    async def _request(self, ref: Reference, path: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        """GET with auth; the caller releases the response. Raises RegistryError on failure."""
        scope = pull_scope(ref.repository)
        url = f"{self.base_url(ref.registry)}/{ref.repository}/{path}"
        for attempt in range(3):
            try:
                resp = await self.session.get(url, headers={**headers, **self._auth_header(ref.registry, scope)})
            except aiohttp.ClientError as e:
                raise RegistryError(f"{url}: {e}") from e
            if resp.status == 401 and attempt < 2 and "WWW-Authenticate" in resp.headers:
                challenge = resp.headers["WWW-Authenticate"]
                resp.release()
                self._tokens.pop((ref.registry, scope), None)
                await self._authenticate(ref.registry, scope, challenge)
                continue
            if resp.status != 200:
                text = (await resp.text())[:300]
                resp.release()
                raise RegistryError(f"GET {url}: {resp.status} {text}", status=resp.status)
            return resp
        raise RegistryError(f"GET {url}: unauthorized", status=401)

    async def get_manifest(self, ref: Reference, reference: str | None = None) -> tuple[bytes, str, str]:
        """(body, media type, digest) of the manifest or index ``reference`` (default: ref's tag or digest)."""
        reference = reference or ref.reference
        resp = await self._request(ref, f"manifests/{reference}", {"Accept": mf.ACCEPT})
        try:
            body = await resp.read()
        finally:
            resp.release()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest digest mismatch: asked {reference}, got {digest}")
        return body, resp.headers.get("Content-Type", ""), digest

    async def fetch_blob(self, ref: Reference, digest: str, writer: Writer, *, progress: Progress | None = None) -> int:
        """Stream blob ``digest`` into ``writer``; raises RegistryError when its sha256 differs."""
        resp = await self._request(ref, f"blobs/{digest}", {})
        hasher = hashlib.sha256()
        size = 0
        try:
            async for chunk in resp.content.iter_chunked(1 << 18):
                hasher.update(chunk)
                writer.write(chunk)
                size += len(chunk)
                if progress is not None:
                    result = progress(len(chunk))
                    if result is not None:
                        await result
        except aiohttp.ClientError as e:
            raise RegistryError(f"blob {digest}: {e}") from e
        finally:
            resp.release()
        if "sha256:" + hasher.hexdigest() != digest:
            raise RegistryError(f"blob digest mismatch: expected {digest}, got sha256:{hasher.hexdigest()}")
        return size
