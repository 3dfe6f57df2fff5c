"""Registry credentials and transport choices, as pure functions.

- ``credentials_from_docker_config``: the ``{"auths": {...}}`` JSON of a
  ``kubernetes.io/dockerconfigjson`` secret (or the bare map of a legacy ``.dockercfg``) ->
  registry -> (username, password). Keys may be URLs (``https://index.docker.io/v1/``) and
  entries hold ``auth`` (base64 user:password) or ``username``/``password``; the first
  secret that names a registry wins, as the kubelet's keyring does.
- ``parse_www_authenticate``: a 401's challenge -> scheme and parameters (realm, service, scope).
- ``registry_scheme``: ``http`` for loopback registries (localhost, 127.0.0.0/8, ::1) and
  registries named insecure, otherwise ``https``.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Any, Iterable

from kubepy.kubelet.images.reference import DEFAULT_REGISTRY, LEGACY_REGISTRIES, registry_host

Credentials = dict[str, tuple[str, str]]


def registry_key(server: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://reg:5000/x`` -> ``reg:5000``."""
    key = re.sub(r"^[a-z]+://", "", server.strip()).split("/", 1)[0].lower()
    return DEFAULT_REGISTRY if key in LEGACY_REGISTRIES or key == DEFAULT_REGISTRY else key


def credentials_from_docker_config(*documents: dict[str, Any]) -> Credentials:
    """Registry -> (username, password) from docker config JSONs, earlier documents first."""
    found: Credentials = {}
    for document in documents:
        auths = document.get("auths", document)
        if not isinstance(auths, dict):
            continue
        for server, entry in auths.items():
            if not isinstance(entry, dict):
                continue
            username, password = entry.get("username") or "", entry.get("password") or ""
            if entry.get("auth"):
                try:
                    decoded = base64.b64decode(entry["auth"]).decode()
                except (ValueError, UnicodeDecodeError):
                    continue
                username, _, password = decoded.partition(":")
            if username or password:
                found.setdefault(registry_key(server), (username, password))
    return found


def parse_www_authenticate(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`` ->
    ("bearer", {"realm": ..., "service": ..., "scope": ...}); the scheme is lower-cased."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return scheme.lower(), params


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registry_scheme(registry: str, insecure_registries: Iterable[str] = ()) -> str:
    """``http`` or ``https`` for the distribution API of ``registry`` (``host[:port]``)."""
    insecure = {registry_key(r) for r in insecure_registries}
    if registry.lower() in insecure or registry_host(registry).lower() in insecure:
        return "http"
    return "http" if is_loopback(registry_host(registry)) else "https"


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"
