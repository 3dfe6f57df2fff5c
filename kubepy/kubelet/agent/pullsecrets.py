"""Registry credentials from a pod's ``spec.imagePullSecrets``, as the kubelet's keyring
gives them (``credentialprovider/secrets.MakeDockerKeyring``).

- ``secret_credentials``: a Secret of type ``kubernetes.io/dockerconfigjson`` (key
  ``.dockerconfigjson``, ``{"auths": {...}}``) or ``kubernetes.io/dockercfg`` (key
  ``.dockercfg``, the bare map) -> registry -> (username, password); other types, a missing
  or empty key or JSON that does not parse give nothing.
- ``credentials_for``: the credentials to try for one image, in the order of the pod's
  secrets, duplicates once. The kubelet tries each in turn (the first pull that succeeds
  wins, else the errors together); with none it pulls anonymously.
- ``read_pull_secrets``: the I/O: each named Secret read through the API client; the names
  that could not be read are returned too (the kubelet's FailedToRetrieveImagePullSecret
  warning, after which it still pulls).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

import aiohttp

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.rest import ApiClient
from kubepy.kubelet.images.auth import Credentials, credentials_from_docker_config, \
    registry_key
from kubepy.kubelet.images.reference import InvalidReference, parse_reference

log = logging.getLogger("kubepy.kubelet.agent")

Obj = dict[str, Any]
SECRETS: ResourceType = Registry().get("", "v1", "secrets")  # type: ignore[assignment]
DOCKER_CONFIG_JSON_TYPE = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
DOCKERCFG_TYPE = "kubernetes.io/dockercfg"
DOCKERCFG_KEY = ".dockercfg"
_KEYS = {DOCKER_CONFIG_JSON_TYPE: DOCKER_CONFIG_JSON_KEY, DOCKERCFG_TYPE: DOCKERCFG_KEY}


def secret_credentials(secret: Obj) -> Credentials:
    """Registry -> (username, password) of one pull secret (see the module docstring)."""
    key = _KEYS.get(secret.get("type") or "")
    encoded = (secret.get("data") or {}).get(key or "") if key else None
    if not encoded:
        return {}
    try:
        document = json.loads(base64.b64decode(encoded))
    except (binascii.Error, ValueError) as e:
        log.warning("pull secret %s: %s does not parse: %s",
                    (secret.get("metadata") or {}).get("name"), key, e)
        return {}
    if not isinstance(document, dict):
        return {}
    return credentials_from_docker_config(document)


def credentials_for(image: str, keyrings: list[Credentials]) -> list[tuple[str, str]]:
    """The (username, password) pairs for *image*'s registry, in the secrets' order."""
    try:
        registry = registry_key(parse_reference(image).registry)
    except InvalidReference:
        return []
    found: list[tuple[str, str]] = []
    for keyring in keyrings:
        creds = keyring.get(registry)
        if creds is not None and creds not in found:
            found.append(creds)
    return found


def missing_secrets_message(names: list[str]) -> str:
    """The kubelet's FailedToRetrieveImagePullSecret event message."""
    return (f"Unable to retrieve some image pull secrets ({', '.join(names)}); attempting to "
            f"pull the image may not succeed.")


async def read_pull_secrets(client: ApiClient | None,
                            pod: Obj) -> tuple[list[Credentials], list[str]]:
    """(the credentials of each readable pull secret, in order; the names not readable)."""
    refs = (pod.get("spec") or {}).get("imagePullSecrets") or []
    namespace = pod["metadata"].get("namespace", "default")
    keyrings: list[Credentials] = []
    missing: list[str] = []
    for ref in refs:
        name = (ref or {}).get("name") or ""
        if not name:
            continue
        if client is None:
            missing.append(name)
            continue
        try:
            secret = await client.get(SECRETS, name, namespace)
        except (errors.StatusError, aiohttp.ClientError, OSError) as e:
            log.info("pod %s/%s: pull secret %s: %r", namespace, pod["metadata"].get("name"),
                     name, e)
            missing.append(name)
            continue
        keyrings.append(secret_credentials(secret))
    return keyrings, missing


__all__ = ["credentials_for", "missing_secrets_message", "read_pull_secrets",
           "secret_credentials"]
