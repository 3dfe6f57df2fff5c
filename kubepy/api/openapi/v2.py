"""The swagger 2.0 document (``/openapi/v2``): every path the server serves, one document.

Operations carry ``consumes``/``produces`` media type lists, the request body as an
``in: body`` parameter, response schemas directly under each response code, and the
``x-kubernetes-action`` / ``x-kubernetes-group-version-kind`` extensions; ``definitions``
holds every schema the paths reach, referenced as ``#/definitions/<name>``. kubectl 1.20
reads this document (as protobuf, see ``protobuf_v2``) for ``explain`` and client-side
validation, finding kinds by the definitions' ``x-kubernetes-group-version-kind``.
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.api.openapi.definitions import REF_PREFIX, closure
from kubepy.api.openapi.parameters import Param
from kubepy.api.openapi.paths import (RESPONSE_TEXT, STRING, Operation, PathItem,
                                      finish_operation)
from kubepy.api.openapi.v3 import used_definitions

PREFIX = REF_PREFIX["v2"]
SECURITY_DEFINITIONS = {"BearerToken": {"description": "Bearer Token authentication",
                                        "type": "apiKey", "name": "authorization",
                                        "in": "header"}}


def parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"uniqueItems": True, "type": param.type,
                           "description": param.description, "name": param.name,
                           "in": param.location}
    if param.required:
        out["required"] = True
    return out


def _schema(definition: str) -> dict[str, Any]:
    if definition == STRING:
        return {"type": "string"}
    return {"$ref": PREFIX + definition}


def operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"description": op.description,
                           "consumes": list(op.consumes or ("*/*",)),
                           "produces": list(op.produces), "schemes": ["https"],
                           "tags": [op.tag], "operationId": op.operation_id}
    params: list[dict[str, Any]] = []
    if op.body is not None:
        body: dict[str, Any] = {"name": "body", "in": "body", "schema": _schema(op.body)}
        if op.method != "delete":
            body["required"] = True
        params.append(body)
    params.extend(parameter(x) for x in op.params)
    if params:
        out["parameters"] = params
    responses: dict[str, Any] = {}
    for code, definition in op.responses.items():
        response: dict[str, Any] = {"description": RESPONSE_TEXT.get(code, "OK")}
        if definition is not None:
            response["schema"] = _schema(definition)
        responses[code] = response
    finish_operation(out, op, responses)
    return out


def path_item(item: PathItem) -> dict[str, Any]:
    out: dict[str, Any] = {op.method: operation(op) for op in item.operations}
    if item.params:
        out["parameters"] = [parameter(x) for x in item.params]
    return out


def document(items: list[PathItem], definitions: Mapping[str, dict[str, Any]],
             *, version: str) -> dict[str, Any]:
    """The swagger document for ``items`` with every definition they reach."""
    names = closure(used_definitions(items), definitions, "v2")
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {item.path: path_item(item) for item in items},
        "definitions": {n: definitions[n] for n in names},
        "securityDefinitions": SECURITY_DEFINITIONS,
        "security": [{"BearerToken": []}],
    }
