"""Image references, normalised the way Docker (and so the kubelet) does.

``busybox`` means ``docker.io/library/busybox:latest``; ``user/app`` means
``docker.io/user/app:latest``; the first path component is a registry host only if it holds a
``.`` or ``:`` or is ``localhost``. A reference has a tag, a digest (``@sha256:<64 hex>``) or
both; when it has neither, the tag ``latest`` is implied. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRIES = {"index.docker.io", "registry-1.docker.io"}
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:.]+\])(?::[0-9]+)?$")


class InvalidReference(ValueError):
    """The text is not a valid image reference (the kubelet reports InvalidImageName)."""


@dataclass(frozen=True)
class Reference:
    """A normalised reference: ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository`` — the familiar name's fully qualified form."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> "Reference":
        return Reference(self.registry, self.repository, None, digest)

    def familiar(self) -> str:
        """The short form Docker prints: ``busybox:1``, ``user/app@sha256:...``."""
        name = self.name
        if self.registry == DEFAULT_REGISTRY:
            name = self.repository.removeprefix("library/")
        if self.tag is not None:
            name += f":{self.tag}"
        if self.digest is not None:
            name += f"@{self.digest}"
        return name


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


def is_sha256_digest(text: str) -> bool:
    return bool(_SHA256.match(text))


def parse_reference(text: str) -> Reference:
    """Parse and normalise ``text``; raises InvalidReference.

    A bare tag is added (``latest``) only when the reference has no digest.
    """
    if not text or text != text.strip():
        raise InvalidReference(f"invalid reference format: {text!r}")
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not is_digest(digest):
            raise InvalidReference(f"invalid reference format: bad digest in {text!r}")
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReference(f"invalid reference format: bad tag in {text!r}")
    registry, _, path = rest.partition("/")
    if not path or not ("." in registry or ":" in registry or registry == "localhost"):
        registry, path = DEFAULT_REGISTRY, rest
    if registry in LEGACY_REGISTRIES:
        registry = DEFAULT_REGISTRY
    if not _HOST.match(registry):
        raise InvalidReference(f"invalid reference format: bad registry in {text!r}")
    if path != path.lower():
        raise InvalidReference(f"invalid reference format: repository name must be lowercase: {text!r}")
    components = path.split("/")
    if not all(_COMPONENT.match(c) for c in components) or len(path) > 255:
        raise InvalidReference(f"invalid reference format: {text!r}")
    if registry == DEFAULT_REGISTRY and len(components) == 1:
        path = f"library/{path}"
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry, path, tag, digest)


def normalize(text: str) -> str:
    """The fully qualified string form of ``text`` (``busybox`` -> ``docker.io/library/busybox:latest``)."""
    return str(parse_reference(text))


def registry_host(registry: str) -> str:
    """The host name (without port or brackets) of a registry."""
    if registry.startswith("["):
        return registry[1:registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def api_endpoint(registry: str) -> str:
    """The host:port that serves the distribution API of ``registry`` (Docker Hub's differs)."""
    return "registry-1.docker.io" if registry == DEFAULT_REGISTRY else registry
