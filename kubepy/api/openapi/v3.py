"""OpenAPI v3 documents: one per group-version, plus the ``/openapi/v3`` index.

``document`` renders the neutral path model (``paths.PathItem``) and the schemas reachable
from it as an ``openapi: 3.0.0`` document shaped like the kube-apiserver's: request bodies
under ``requestBody.content`` (PATCH lists its patch media types; kubectl 1.32 picks
strategic merge patch only when ``application/strategic-merge-patch+json`` is there),
responses under ``content`` per media type, ``x-kubernetes-action`` and
``x-kubernetes-group-version-kind`` on operations, schemas in ``components.schemas``.

``encode`` gives the canonical bytes (sorted keys) and the ETag, which is also the ``hash``
query value of ``serverRelativeURL`` in the index: uppercase hex SHA-512 of those bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import orjson

from kubepy.api.openapi.definitions import REF_PREFIX, closure
from kubepy.api.openapi.parameters import Param
from kubepy.api.openapi.paths import (RESPONSE_TEXT, STRING, Operation, PathItem,
                                      finish_operation)

OPENAPI_VERSION = "3.0.0"
PREFIX = REF_PREFIX["v3"]
SECURITY_SCHEMES = {"BearerToken": {"description": "Bearer Token authentication",
                                    "in": "header", "name": "authorization",
                                    "type": "apiKey"}}


def etag(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()


def encode(doc: Any) -> tuple[bytes, str]:
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return body, etag(body)


def parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": param.name, "in": param.location,
                           "description": param.description,
                           "schema": {"type": param.type, "uniqueItems": True}}
    if param.required:
        out["required"] = True
    return out


def _schema(definition: str) -> dict[str, Any]:
    if definition == STRING:
        return {"type": "string"}
    return {"$ref": PREFIX + definition}


def operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"tags": [op.tag], "description": op.description,
                           "operationId": op.operation_id}
    if op.params:
        out["parameters"] = [parameter(x) for x in op.params]
    if op.body is not None:
        body: dict[str, Any] = {"content": {t: {"schema": _schema(op.body)}
                                            for t in op.consumes}}
        if op.method != "delete":
            body["required"] = True
        out["requestBody"] = body
    responses: dict[str, Any] = {}
    for code, definition in op.responses.items():
        response: dict[str, Any] = {"description": RESPONSE_TEXT.get(code, "OK")}
        if definition is not None:
            response["content"] = {t: {"schema": _schema(definition)} for t in op.produces}
        responses[code] = response
    finish_operation(out, op, responses)
    return out


def path_item(item: PathItem) -> dict[str, Any]:
    out: dict[str, Any] = {op.method: operation(op) for op in item.operations}
    if item.params:
        out["parameters"] = [parameter(x) for x in item.params]
    return out


def used_definitions(items: list[PathItem]) -> set[str]:
    names: set[str] = set()
    for item in items:
        for op in item.operations:
            if op.body is not None and op.body != STRING:
                names.add(op.body)
            names.update(d for d in op.responses.values() if d is not None and d != STRING)
    return names


def document(items: list[PathItem], definitions: Mapping[str, dict[str, Any]],
             *, title: str = "Kubernetes", version: str = "unversioned") -> dict[str, Any]:
    """The v3 document for ``items`` with every schema they reach."""
    names = closure(used_definitions(items), definitions, "v3")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "paths": {item.path: path_item(item) for item in items},
        "components": {"schemas": {n: definitions[n] for n in names},
                       "securitySchemes": SECURITY_SCHEMES},
    }


def server_relative_url(name: str, hash_: str) -> str:
    return f"/openapi/v3/{name}?hash={hash_}"


def index(etags: Mapping[str, str]) -> bytes:
    """``/openapi/v3``: document name (``api/v1``, ``apis/apps/v1``, ...) -> URL with hash."""
    paths = {name: {"serverRelativeURL": server_relative_url(name, tag)}
             for name, tag in etags.items()}
    return orjson.dumps({"paths": paths}, option=orjson.OPT_SORT_KEYS)
