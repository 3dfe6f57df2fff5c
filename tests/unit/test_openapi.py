"""OpenAPI v2/v3 documents built from the registry and the Kubernetes schema definitions."""

from __future__ import annotations

import hashlib
from typing import Any, Iterator

import orjson
import pytest
import yaml

from kubepy.api.openapi import OpenAPIDocuments, protobuf_v2
from kubepy.api.openapi.definitions import convert, convert_definition
from kubepy.api.registry import Registry, ResourceType

CRONTAB = ResourceType("stable.example.com", "v1", "crontabs", "CronTab", True, "crontab",
                       subresources=())
CRONTAB_SCHEMA = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {
        "cronSpec": {"type": "string", "description": "the schedule"},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "port": {"x-kubernetes-int-or-string": True,
                 "anyOf": [{"type": "integer"}, {"type": "string"}]}}}},
}
DEPLOYMENT_GVK = {"group": "apps", "kind": "Deployment", "version": "v1"}


@pytest.fixture(scope="module")
def docs() -> OpenAPIDocuments:
    return OpenAPIDocuments(Registry())


@pytest.fixture(scope="module")
def crd_docs() -> OpenAPIDocuments:
    registry = Registry()
    registry.add(CRONTAB)
    registry.add(ResourceType("stable.example.com", "v1", "widgets", "Widget", False))
    return OpenAPIDocuments(registry, {"stable.example.com/v1/CronTab": CRONTAB_SCHEMA})


def v3(docs: OpenAPIDocuments, name: str) -> dict[str, Any]:
    found = docs.v3_document(name)
    assert found is not None, name
    return orjson.loads(found[0])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# -- index and documents -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api", "apis", "version", "api/v1", "apis/apps/v1",
                                  "apis/apps", "apis/batch/v1", "apis/autoscaling/v1",
                                  "apis/autoscaling/v2", "apis/rbac.authorization.k8s.io/v1"])
def test_index_urls_carry_the_document_hash(docs, name):
    index = orjson.loads(docs.v3_index())["paths"]
    body, etag = docs.v3_document(name)
    assert etag == hashlib.sha512(body).hexdigest().upper()
    assert index[name] == {"serverRelativeURL": f"/openapi/v3/{name}?hash={etag}"}


@pytest.mark.parametrize("name", ["apis/nope/v1", "api/v2", "apis/apps/v9", "", "apis/nope",
                                  "apis//v1", "openapi"])
def test_unknown_documents_are_none(docs, name):
    assert docs.v3_document(name) is None


def test_documents_are_cached_and_stable(docs):
    body, etag = docs.v3_document("apis/apps/v1")
    again = docs.v3_document("/apis/apps/v1/")
    assert again[0] is body and again[1] == etag
    assert docs.v2_json() == docs.v2_json()
    assert docs.v2_protobuf()[1] == docs.v2_json()[1]


def test_registry_changes_rebuild_only_what_they_touch():
    registry = Registry()
    documents = OpenAPIDocuments(registry)
    apps, index, v2 = (documents.v3_document("apis/apps/v1"), documents.v3_index(),
                       documents.v2_json())
    registry.add(CRONTAB)
    assert documents.v3_document("apis/apps/v1") == apps
    assert documents.v3_index() != index
    assert b"stable.example.com/v1" in documents.v3_index()
    assert documents.v2_json()[1] != v2[1]


@pytest.mark.parametrize("doc,path,methods", [
    ("apis/apps/v1", "/apis/apps/v1/", {"get"}),
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments",
     {"get", "post", "delete", "parameters"}),
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
     {"get", "put", "patch", "delete", "parameters"}),
    ("apis/apps/v1", "/apis/apps/v1/deployments", {"get", "parameters"}),
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
     {"get", "put", "patch", "parameters"}),
    ("apis/apps/v1", "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}",
     {"get", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{name}", {"get", "put", "patch", "delete", "parameters"}),
    ("api/v1", "/api/v1/namespaces", {"get", "post", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{name}/finalize", {"put", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{namespace}/pods/{name}/exec", {"get", "post", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{namespace}/pods/{name}/log", {"get", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}",
     {"get", "put", "post", "delete", "options", "head", "patch", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", {"post", "parameters"}),
    ("api/v1", "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
     {"post", "parameters"}),
    ("api/v1", "/api/v1/componentstatuses", {"get", "parameters"}),
    ("apis/authorization.k8s.io/v1", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
     {"post", "parameters"}),
    ("apis/apps", "/apis/apps/", {"get"}),
    ("version", "/version/", {"get"}),
], ids=lambda x: x if isinstance(x, str) and x.startswith("/") else None)
def test_paths_and_methods(docs, doc, path, methods):
    assert set(v3(docs, doc)["paths"][path]) == methods


@pytest.mark.parametrize("doc,path,method,operation_id,action,gvk", [
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch",
     "patchAppsV1NamespacedDeployment", "patch", DEPLOYMENT_GVK),
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments", "delete",
     "deleteAppsV1CollectionNamespacedDeployment", "deletecollection", DEPLOYMENT_GVK),
    ("apis/apps/v1", "/apis/apps/v1/deployments", "get",
     "listAppsV1DeploymentForAllNamespaces", "list", DEPLOYMENT_GVK),
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "put",
     "replaceAppsV1NamespacedDeploymentScale", "put",
     {"group": "autoscaling", "kind": "Scale", "version": "v1"}),
    ("apis/apps/v1", "/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get",
     "watchAppsV1NamespacedDeploymentList", "watchlist", DEPLOYMENT_GVK),
    ("api/v1", "/api/v1/namespaces/{namespace}/pods/{name}/exec", "post",
     "connectCoreV1PostNamespacedPodExec", "connect",
     {"group": "", "kind": "PodExecOptions", "version": "v1"}),
    ("api/v1", "/api/v1/nodes/{name}", "get", "readCoreV1Node", "get",
     {"group": "", "kind": "Node", "version": "v1"}),
    ("apis/rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
     "post", "createRbacAuthorizationV1ClusterRole", "post",
     {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "version": "v1"}),
])
def test_operation_ids_actions_and_gvks(docs, doc, path, method, operation_id, action, gvk):
    op = v3(docs, doc)["paths"][path][method]
    assert (op["operationId"], op["x-kubernetes-action"],
            op["x-kubernetes-group-version-kind"]) == (operation_id, action, gvk)


STRATEGIC = "application/strategic-merge-patch+json"


@pytest.mark.parametrize("doc,path,strategic", [
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", True),
    ("apis/apps/v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", True),
    ("api/v1", "/api/v1/namespaces/{namespace}/configmaps/{name}", True),
    ("api/v1", "/api/v1/nodes/{name}", True),
    ("apis/stable.example.com/v1",
     "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}", False),
    ("apis/stable.example.com/v1", "/apis/stable.example.com/v1/widgets/{name}", False),
])
def test_patch_media_types(crd_docs, doc, path, strategic):
    content = v3(crd_docs, doc)["paths"][path]["patch"]["requestBody"]["content"]
    expected = {"application/json-patch+json", "application/merge-patch+json",
                "application/apply-patch+yaml"} | ({STRATEGIC} if strategic else set())
    assert set(content) == expected


def _supports_field_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool:
    """What kubectl 1.32's query-param verifier looks for."""
    for item in doc["paths"].values():
        op = item.get("patch")
        if op and op.get("x-kubernetes-group-version-kind") == gvk:
            return any(p["name"] == "fieldValidation" and p["in"] == "query"
                       for p in op.get("parameters", []))
    raise AssertionError(f"no PATCH operation for {gvk}")


@pytest.mark.parametrize("doc,group,version,kind", [
    ("api/v1", "", "v1", "ConfigMap"), ("api/v1", "", "v1", "Namespace"),
    ("api/v1", "", "v1", "Pod"), ("apis/apps/v1", "apps", "v1", "Deployment"),
    ("apis/batch/v1", "batch", "v1", "CronJob"),
    ("apis/stable.example.com/v1", "stable.example.com", "v1", "CronTab"),
])
def test_patch_declares_field_validation(crd_docs, doc, group, version, kind):
    gvk = {"group": group, "kind": kind, "version": version}
    assert _supports_field_validation(v3(crd_docs, doc), gvk)


@pytest.mark.parametrize("doc", ["api/v1", "apis/apps/v1", "apis/batch/v1",
                                 "apis/apiextensions.k8s.io/v1", "apis/stable.example.com/v1",
                                 "api", "version"])
def test_v3_refs_resolve_and_types_are_single(crd_docs, doc):
    document = v3(crd_docs, doc)
    schemas = document["components"]["schemas"]
    for node in walk(document):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas
        node_type = node.get("type")  # a dict when node is a properties map
        assert not isinstance(node_type, list) and node_type != "null"


def test_v2_refs_resolve_and_kinds_present(crd_docs):
    document = orjson.loads(crd_docs.v2_json()[0])
    definitions = document["definitions"]
    assert document["swagger"] == "2.0"
    for node in walk(document):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/definitions/") and ref[len("#/definitions/"):] in definitions
            assert "type" not in node
        assert not isinstance(node.get("type"), list)
    kinds = {g["kind"] for d in definitions.values()
             for g in d.get("x-kubernetes-group-version-kind", [])}
    assert {"Deployment", "Pod", "CronTab", "CronTabList", "Widget", "Scale"} <= kinds
    patch = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert STRATEGIC in patch["consumes"]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    assert patch["parameters"][0] == {"name": "body", "in": "body", "required": True,
                                      "schema": {"$ref": "#/definitions/"
                                                 "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}


# -- schema conversion ---------------------------------------------------------------------


@pytest.mark.parametrize("flavour,raw,expected", [
    ("v3", {"type": ["string", "null"], "format": "int32"}, {"type": "string", "format": "int32"}),
    ("v2", {"type": ["array", "null"], "items": {"type": ["integer", "null"]}},
     {"type": "array", "items": {"type": "integer"}}),
    ("v3", {"$ref": "#/$defs/a.B"}, {"$ref": "#/components/schemas/a.B"}),
    ("v2", {"$ref": "#/$defs/a.B"}, {"$ref": "#/definitions/a.B"}),
    ("v3", {"$ref": "#/$defs/a.B", "description": "d", "x-kubernetes-patch-strategy": "merge"},
     {"allOf": [{"$ref": "#/components/schemas/a.B"}], "description": "d",
      "x-kubernetes-patch-strategy": "merge"}),
    ("v2", {"$ref": "#/$defs/a.B", "description": "d"},
     {"$ref": "#/definitions/a.B", "description": "d"}),
    ("v3", {"type": ["object", "null"], "properties": {
        "apiVersion": {"type": ["string", "null"], "enum": ["v1"]},
        "oneOf": {"type": ["array", "null"], "items": {"$ref": "#/$defs/a.B"}}}},
     {"type": "object", "properties": {
         "apiVersion": {"type": "string"},
         "oneOf": {"type": "array", "items": {"$ref": "#/components/schemas/a.B"}}}}),
    ("v2", {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]}},
     {"type": "object", "additionalProperties": {"type": "string"}}),
], ids=["nullable", "array-items", "ref-v3", "ref-v2", "ref-siblings-v3", "ref-siblings-v2",
        "enum-dropped-props-named-like-keywords", "map"])
def test_convert(flavour, raw, expected):
    assert convert(raw, flavour) == expected


@pytest.mark.parametrize("name,flavour,expected", [
    ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "v2",
     {"type": "string", "format": "int-or-string"}),
    ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "v3",
     {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}),
    ("io.k8s.apimachinery.pkg.api.resource.Quantity", "v2", {"type": "string"}),
    ("io.k8s.apimachinery.pkg.api.resource.Quantity", "v3",
     {"oneOf": [{"type": "string"}, {"type": "number"}]}),
])
def test_special_definitions(name, flavour, expected):
    raw = {"oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]}
    out = convert_definition(name, raw, flavour)
    assert {k: v for k, v in out.items() if k != "description"} == expected
    assert out["description"]


def test_custom_resource_schemas(crd_docs):
    v3_defs = v3(crd_docs, "apis/stable.example.com/v1")["components"]["schemas"]
    crontab = v3_defs["com.example.stable.v1.CronTab"]
    assert crontab["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]
    assert set(crontab["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert crontab["properties"]["spec"]["properties"]["port"]["x-kubernetes-int-or-string"]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in v3_defs
    v2_defs = orjson.loads(crd_docs.v2_json()[0])["definitions"]
    spec = v2_defs["com.example.stable.v1.CronTab"]["properties"]["spec"]["properties"]
    assert spec["port"] == {} and spec["extra"] == {}  # arbitrary for kubectl 1.20
    assert spec["cronSpec"] == {"type": "string", "description": "the schedule"}
    widget = v2_defs["com.example.stable.v1.Widget"]
    assert "properties" not in widget and widget["type"] == "object"


# -- protobuf ------------------------------------------------------------------------------


def _field(data: bytes, number: int) -> bytes:
    return protobuf_v2.decode_message(data)[number][0]


def test_protobuf_document_round_trips(crd_docs):
    pb, _ = crd_docs.v2_protobuf()
    doc = protobuf_v2.decode_message(pb)
    assert doc[1] == [b"2.0"]
    assert _field(doc[2][0], 1) == b"Kubernetes"
    definitions = protobuf_v2.named_entries(doc[9][0], 1)
    swagger = orjson.loads(crd_docs.v2_json()[0])
    assert set(definitions) == set(swagger["definitions"])

    spec = protobuf_v2.decode_message(definitions["io.k8s.api.apps.v1.DeploymentSpec"])
    assert _field(spec[22][0], 1) == b"object"  # TypeItem.value
    assert set(spec[19]) == {b"selector", b"template"}  # required
    props = protobuf_v2.named_entries(spec[25][0], 1)
    replicas = protobuf_v2.decode_message(props["replicas"])
    assert (replicas[2], _field(replicas[22][0], 1)) == ([b"int32"], b"integer")
    strategy = protobuf_v2.decode_message(props["strategy"])
    assert strategy[1] == [b"#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"]
    extensions = {k: yaml.safe_load(_field(v, 2))
                  for k, v in protobuf_v2.named_entries(props["strategy"], 31).items()}
    assert extensions == {"x-kubernetes-patch-strategy": "retainKeys"}

    deployment = definitions["io.k8s.api.apps.v1.Deployment"]
    gvk = protobuf_v2.named_entries(deployment, 31)["x-kubernetes-group-version-kind"]
    assert yaml.safe_load(_field(gvk, 2)) == [DEPLOYMENT_GVK]

    ios = protobuf_v2.decode_message(definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"])
    assert ios[2] == [b"int-or-string"]


def test_protobuf_paths_and_parameters(docs):
    doc = protobuf_v2.decode_message(docs.v2_protobuf()[0])
    paths = protobuf_v2.named_entries(doc[8][0], 2)
    item = protobuf_v2.decode_message(
        paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"])
    patch = protobuf_v2.decode_message(item[8][0])  # PathItem.patch
    assert patch[5] == [b"patchAppsV1NamespacedDeployment"]
    assert STRATEGIC.encode() in patch[7]  # consumes
    names = []
    for raw in patch[8]:  # ParametersItem -> Parameter
        parameter = protobuf_v2.decode_message(_field(raw, 1))
        if 1 in parameter:  # body
            names.append(_field(parameter[1][0], 2))
        else:
            query = protobuf_v2.decode_message(_field(parameter[2][0], 3))
            assert query[2] == [b"query"]
            names.append(query[4][0])
    assert names == [b"body", b"dryRun", b"fieldManager", b"fieldValidation", b"force"]
    responses = protobuf_v2.named_entries(patch[9][0], 1)
    assert set(responses) == {"200", "201", "401"}


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1])
def test_varint_round_trip(value):
    encoded = protobuf_v2._varint(value)
    decoded, end = protobuf_v2._read_varint(encoded, 0)
    assert end == len(encoded)
    assert decoded == value & (2**64 - 1)
