"""What a configMap, secret or downwardAPI volume (or projected source) holds. Pure.

Each function returns a *payload*: relative file path -> ``FileProjection`` (bytes and file
mode), as the kubelet's volume plugins build it (``MakePayload``, ``CollectData``):

- without ``items`` every key becomes a file named after it with ``defaultMode``;
- with ``items`` only the listed keys, at their ``path``, with their own ``mode`` or
  ``defaultMode``; a listed key that is missing fails the volume
  (``configmap references non-existent config key: k`` /
  ``references non-existent secret key: k``) unless the source is ``optional``;
- a configMap's ``binaryData`` and a secret's ``data`` are base64 on the wire;
- downwardAPI files hold the ``fieldRef`` / ``resourceFieldRef`` value (``fieldpath``).

A missing object is the caller's concern (it passes ``None`` for an optional one: no files).
Errors raise ``ProjectionError`` with the kubelet's message.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass
from typing import Any, Mapping

from kubepy.kubelet.volumes.fieldpath import (FieldPathError, extract_field_path,
                                              resource_value)

Obj = dict[str, Any]

DEFAULT_MODE = 0o644


class ProjectionError(ValueError):
    """The volume's content cannot be built from its sources."""


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


Payload = dict[str, FileProjection]


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ProjectionError(f"{what}: invalid base64 data") from e


def configmap_contents(cm: Obj | None) -> dict[str, bytes]:
    """``data`` (UTF-8) and ``binaryData`` (base64) of a ConfigMap as bytes by key."""
    if cm is None:
        return {}
    out = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        out.setdefault(k, _b64(v, f"configmap key {k}"))
    return out


def secret_contents(secret: Obj | None) -> dict[str, bytes]:
    """``data`` (base64) of a Secret as bytes by key (``stringData`` too, should a
    stored object still carry it)."""
    if secret is None:
        return {}
    out = {k: _b64(v, f"secret key {k}") for k, v in (secret.get("data") or {}).items()}
    for k, v in (secret.get("stringData") or {}).items():
        out[k] = v.encode()
    return out


def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def key_payload(contents: Mapping[str, bytes], items: list[Obj] | None, *,
                default_mode: int | None, optional: bool, missing_key: str) -> Payload:
    """The payload of keyed content (see the module docstring); *missing_key* is the
    message prefix for a listed key that is absent."""
    mode = _mode(default_mode, DEFAULT_MODE)
    if not items:
        return {k: FileProjection(v, mode) for k, v in contents.items()}
    payload: Payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in contents:
            if optional:
                continue
            raise ProjectionError(f"{missing_key}: {key}")
        payload[item.get("path") or key] = FileProjection(contents[key],
                                                          _mode(item.get("mode"), mode))
    return payload


def configmap_payload(source: Obj, cm: Obj | None) -> Payload:
    return key_payload(configmap_contents(cm), source.get("items"),
                       default_mode=source.get("defaultMode"),
                       optional=bool(source.get("optional")),
                       missing_key="configmap references non-existent config key")


def secret_payload(source: Obj, secret: Obj | None) -> Payload:
    return key_payload(secret_contents(secret), source.get("items"),
                       default_mode=source.get("defaultMode"),
                       optional=bool(source.get("optional")),
                       missing_key="references non-existent secret key")


def downward_payload(items: list[Obj] | None, pod: Obj, *, default_mode: int | None,
                     allocatable: Mapping[str, Any] | None = None) -> Payload:
    """``downwardAPI.CollectData``: every item's value; the errors of all items are
    reported together."""
    mode = _mode(default_mode, DEFAULT_MODE)
    payload: Payload = {}
    errors: list[str] = []
    for item in items or []:
        path = posixpath.normpath(item.get("path") or "")
        try:
            if item.get("fieldRef"):
                value = extract_field_path(pod, item["fieldRef"].get("fieldPath") or "")
            elif item.get("resourceFieldRef"):
                value = resource_value(item["resourceFieldRef"], pod, None, allocatable)
            else:
                value = ""
        except FieldPathError as e:
            errors.append(str(e))
            continue
        payload[path] = FileProjection(value.encode(), _mode(item.get("mode"), mode))
    if errors:
        raise ProjectionError(aggregate(errors))
    return payload


def aggregate(messages: list[str]) -> str:
    """apimachinery's error aggregate: one message alone, several as ``[a, b]``."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
