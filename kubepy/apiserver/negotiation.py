"""Content negotiation: decode request bodies, and read what form the client wants back.

Bodies: JSON, YAML and Kubernetes protobuf (``application/vnd.kubernetes.protobuf``);
patch bodies by patch type. Responses are always JSON (every client accepts it), shaped
as a Table or PartialObjectMetadata when the Accept header asks for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kubepy import errors

MAX_BODY_BYTES = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH_YAML = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH_YAML)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def body_type(request: Any) -> str | None:
    """The request's Content-Type header as sent (None when absent: JSON, as the apiserver
    takes it; aiohttp's ``content_type`` would say application/octet-stream)."""
    content_type: str | None = request.headers.get("Content-Type")
    return content_type


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_size(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise errors.RequestEntityTooLarge(
            f"Request entity too large: limit is {MAX_BODY_BYTES}")


def decode_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(f"couldn't get version/kind; json parse error: {e}")


def decode_yaml(body: bytes) -> Any:
    try:
        docs = list(yaml.load_all(body, Loader=_Loader))
    except yaml.YAMLError as e:
        raise errors.BadRequest(f"error converting YAML to JSON: {e}".replace("\n", " "))
    if len(docs) != 1:
        raise errors.BadRequest("error converting YAML to JSON: expected exactly one document")
    return _yaml_to_json_types(docs[0])


def _yaml_to_json_types(value: Any) -> Any:
    """YAML may carry timestamps, dates and non-string keys; JSON may not."""
    import datetime

    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _yaml_to_json_types(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_to_json_types(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat().replace("+00:00", "Z")
    return value


def decode_object(body: bytes, content_type: str | None, *, group: str, version: str,
                  kind: str) -> dict[str, Any]:
    """A create/update body as a dict, whatever its encoding."""
    check_size(body)
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*"):
        obj = decode_json(body)
    elif mt in (YAML, "application/x-yaml", "text/yaml"):
        obj = decode_yaml(body)
    elif mt == PROTOBUF:
        from kubepy.api.protobuf import decode_object as decode_protobuf

        obj = decode_protobuf(body, group, version, kind)
    else:
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON}, {YAML}, {PROTOBUF}")
    if not isinstance(obj, dict):
        raise errors.BadRequest(
            f"couldn't get version/kind; json parse error: expected an object, got "
            f"{type(obj).__name__}")
    return obj


def decode_patch(body: bytes, content_type: str | None) -> tuple[str, Any]:
    check_size(body)
    mt = media_type(content_type)
    if mt not in PATCH_TYPES:
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCH_TYPES)}")
    if mt == APPLY_PATCH_YAML:
        doc = decode_yaml(body)
        if not isinstance(doc, dict):
            raise errors.BadRequest("error decoding YAML: the apply configuration must be "
                                    "an object")
        return mt, doc
    doc = decode_json(body)
    if mt == JSON_PATCH and not isinstance(doc, list):
        raise errors.BadRequest("the server rejected our request due to an error in our "
                                "request: json patch must be an array of operations")
    if mt != JSON_PATCH and not isinstance(doc, dict):
        raise errors.BadRequest("the server rejected our request due to an error in our "
                                "request: the patch must be a JSON object")
    return mt, doc


@dataclass(frozen=True, slots=True)
class OutputForm:
    """What the Accept header asks for: a plain object, a Table, or partial metadata."""

    as_: str = ""  # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    version: str = "v1"


def output_form(accept: str | None) -> OutputForm:
    """First acceptable alternative wins, as apiserver negotiation does."""
    if not accept or "as=" not in accept:
        return OutputForm()
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        params = dict(p.split("=", 1) for p in pieces[1:] if "=" in p)
        if pieces[0] not in (JSON, "*/*", PROTOBUF, "application/*"):
            continue
        as_ = params.get("as", "")
        if not as_:
            return OutputForm()
        if params.get("g") == "meta.k8s.io" and as_ in (
                "Table", "PartialObjectMetadata", "PartialObjectMetadataList") and \
                params.get("v") in ("v1", "v1beta1"):
            return OutputForm(as_, params["v"])
    return OutputForm()
