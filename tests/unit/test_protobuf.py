"""kubepy.api.protobuf: decoding Kubernetes protobuf request bodies.

The fixtures under data/protobuf/<kubectl minor>/ are real bodies recorded from kubectl
1.32 and 1.33 against a throwaway capture server; beside each, the command and (where kubectl
has one) the ``--dry-run=client -o json`` output of the same command, which the decoded body
must equal once Go's ``"creationTimestamp": null`` is dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from kubepy import errors
from kubepy.api.protobuf import TABLES, decode_message, decode_object, wire
from kubepy.api.protobuf.descriptors import messages_from_binary
from kubepy.api.protobuf.messages import merge, parse_table
from kubepy.api.protobuf.special import decode_time, go_duration
from kubepy.api.schema import schemas

DATA = Path(__file__).parent / "data" / "protobuf"
FIXTURES = sorted(DATA.glob("*/*.pb"))
KUBECTL_132 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")


def _target(case: dict[str, Any]) -> tuple[str, str, str | None]:
    """(group, version, expected kind) the apiserver would decode the body as."""
    parts = case["path"].strip("/").split("/")
    group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
    if case["path"].endswith("/token"):
        return "authentication.k8s.io", "v1", "TokenRequest"
    if case["method"] == "DELETE":
        return group, version, "DeleteOptions"
    return group, version, None


def _drop_null(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_null(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_null(v) for v in value]
    return value


# Bodies with no --dry-run counterpart: what the real apiserver's JSON of them is.
EXPECTED_WITHOUT_DRY_RUN = {
    "token": {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
        "spec": {
            "audiences": ["a", "b"], "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "u1"},
        },
        "status": {"token": ""},
    },
    "drain-delete": {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 30},
}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_recorded_kubectl_body_decodes_to_its_json(path: Path) -> None:
    case = json.loads(path.with_suffix(".json").read_text())
    group, version, kind = _target(case)
    decoded = decode_object(path.read_bytes(), group, version, kind)
    if "dry_run" in case:
        expected = _drop_null(case["dry_run"])
    else:
        expected = EXPECTED_WITHOUT_DRY_RUN[path.stem]
    assert decoded == expected


@pytest.mark.parametrize(
    ("fixture", "path", "value"),
    [
        ("deployment-zero-replicas", ["spec", "replicas"], 0),  # pointer: explicit zero kept
        ("priorityclass-zero", ["value"], 0),  # non-omitempty int32
        ("pdb-min-available", ["spec", "minAvailable"], 1),  # IntOrString int
        ("pdb-max-unavailable", ["spec", "maxUnavailable"], "50%"),  # IntOrString string
        ("quota", ["spec", "hard", "memory"], "1Gi"),  # Quantity
        ("configmap-binary", ["binaryData", "f"], "AAH/Ymlu"),  # bytes -> base64
        ("service-nodeport", ["spec", "ports", 0, "targetPort"], 8080),
        ("service-clusterip", ["spec", "ports", 1, "targetPort"], "https"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_special_values_in_recorded_bodies(fixture: str, path: list[Any], value: Any) -> None:
    body = (DATA / "1.32" / f"{fixture}.pb").read_bytes()
    case = json.loads((DATA / "1.32" / f"{fixture}.json").read_text())
    node: Any = decode_object(body, *_target(case))
    for step in path:
        node = node[step]
    assert node == value


def _envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    type_meta = wire.bytes_field(1, api_version.encode()) + wire.bytes_field(2, kind.encode())
    body = wire.bytes_field(1, type_meta) + wire.bytes_field(2, raw)
    if encoding:
        body += wire.bytes_field(3, encoding.encode())
    return b"k8s\x00" + body


NAME_FOO = wire.bytes_field(1, wire.bytes_field(1, b"foo"))  # metadata {name: foo}


@pytest.mark.parametrize(
    ("body", "group", "version", "kind", "error", "message"),
    [
        (b'{"kind":"Pod"}', "", "v1", None, errors.BadRequest, "prefix"),
        (b"k8s\x00\x0a\x05\x0a", "", "v1", None, errors.BadRequest, "past the end"),
        (b"k8s\x00\x10\xff\xff", "", "v1", None, errors.BadRequest, "varint"),
        (b"k8s\x00\x0b", "", "v1", None, errors.BadRequest, "wire type"),
        (_envelope("v1", "", NAME_FOO), "", "v1", None, errors.BadRequest, "Kind"),
        (_envelope("v1", "Pod", NAME_FOO), "", "v1", "Secret", errors.BadRequest,
         "does not match the expected kind"),
        (_envelope("apps/v1", "ConfigMap", NAME_FOO), "", "v1", None, errors.BadRequest,
         "(apps/v1) does not match the expected API version (v1)"),
        (_envelope("v1", "ConfigMap", NAME_FOO, "gzip"), "", "v1", None, errors.BadRequest,
         "contentEncoding"),
        (_envelope("example.com/v1", "Widget", NAME_FOO), "example.com", "v1", None,
         errors.UnsupportedMediaType, "no schema"),
        (_envelope("v1", "ConfigMap", wire.varint_field(1, 5)), "", "v1", None,
         errors.BadRequest, "metadata must be a message"),
        (_envelope("v1", "ConfigMap", wire.bytes_field(4, b"x")), "", "v1", None,
         errors.BadRequest, "immutable has the wrong wire type"),
    ],
    ids=[
        "json-body", "truncated-length", "overlong-varint", "group-wire-type", "no-kind",
        "kind-mismatch", "version-mismatch", "content-encoding", "custom-resource",
        "scalar-for-message", "bytes-for-bool",
    ],
)
def test_malformed_or_unsupported_body_is_rejected(
    body: bytes, group: str, version: str, kind: str | None, error: type, message: str
) -> None:
    with pytest.raises(error) as caught:
        decode_object(body, group, version, kind)
    assert message in caught.value.message


CONFIGMAP = "k8s.io.api.core.v1.ConfigMap"
POD_SPEC = "k8s.io.api.core.v1.PodSpec"
SELECTOR = "k8s.io.api.core.v1.ConfigMapKeySelector"


@pytest.mark.parametrize(
    ("message", "raw", "expected"),
    [
        # unknown field numbers are skipped, as the apiserver skips them
        (CONFIGMAP, NAME_FOO + wire.bytes_field(99, b"zz") + wire.varint_field(98, 1),
         {"metadata": {"name": "foo"}}),
        # a non-repeated message seen twice merges
        (CONFIGMAP, wire.bytes_field(1, wire.bytes_field(1, b"a"))
         + wire.bytes_field(1, wire.bytes_field(3, b"ns")),
         {"metadata": {"name": "a", "namespace": "ns"}}),
        # the zeros Go writes for non-pointer omitempty fields mean "unset"
        (POD_SPEC, wire.varint_field(11, 0) + wire.bytes_field(3, b"") + wire.varint_field(4, 0),
         {"terminationGracePeriodSeconds": 0}),
        # a pointer's zero is a value
        (CONFIGMAP, wire.varint_field(4, 0), {"immutable": False}),
        (POD_SPEC, wire.varint_field(11, 1), {"hostNetwork": True}),
        # map entry without a value is the zero value
        (CONFIGMAP, wire.bytes_field(2, wire.bytes_field(1, b"k")), {"data": {"k": ""}}),
        # Go's embedded LocalObjectReference is inlined in JSON
        (SELECTOR, wire.bytes_field(1, wire.bytes_field(1, b"cm")) + wire.bytes_field(2, b"key"),
         {"name": "cm", "key": "key"}),
        # repeated scalars, unpacked and packed
        ("k8s.io.api.core.v1.Capabilities", wire.bytes_field(1, b"NET_ADMIN"),
         {"add": ["NET_ADMIN"]}),
        ("k8s.io.api.core.v1.PodSecurityContext",
         wire.bytes_field(4, wire.varint(1) + wire.varint(300)) + wire.varint_field(4, 7),
         {"supplementalGroups": [1, 300, 7]}),
    ],
    ids=["unknown-fields", "message-merge", "zero-scalars", "pointer-zero", "true-bool",
         "map-no-value", "inline", "repeated-string", "packed-int64"],
)
def test_message_rules(message: str, raw: bytes, expected: dict[str, Any]) -> None:
    assert decode_message(message, raw) == expected


def _time(seconds: int, nanos: int = 0) -> bytes:
    return wire.varint_field(1, seconds) + (wire.varint_field(2, nanos) if nanos else b"")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", None),
        (_time(-62135596800), None),
        (_time(0), "1970-01-01T00:00:00Z"),
        (_time(1714557600, 999_000_000), "2024-05-01T10:00:00Z"),
    ],
    ids=["empty", "go-zero", "epoch", "drops-fraction"],
)
def test_time(raw: bytes, expected: str | None) -> None:
    assert decode_time(raw) == expected


def test_micro_time_and_negative_int_in_an_object() -> None:
    lease_spec = wire.bytes_field(4, _time(1714557600, 123_456_000)) + wire.varint_field(
        2, (1 << 64) - 5
    )
    decoded = decode_message("k8s.io.api.coordination.v1.LeaseSpec", lease_spec)
    assert decoded == {"renewTime": "2024-05-01T10:00:00.123456Z", "leaseDurationSeconds": -5}


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [(0, "0s"), (999, "999ns"), (1500, "1.5µs"), (20_000_000, "20ms"), (1_500_000_000, "1.5s"),
     (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"), (7200 * 10**9 + 5 * 10**8, "2h0m0.5s"),
     (-(60 * 10**9), "-1m0s")],
    ids=str,
)
def test_go_duration(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text


def test_table_text_format() -> None:
    table = parse_table(
        "k8s.io.api.x.v1",
        """
        Thing
          1 metadata meta.ObjectMeta
          2 replicas int32 ?
          3 items [Item]
          4 labels {string}
          5 ref LocalRef inline
        """.replace("\n        ", "\n"),
    )
    fields = table["k8s.io.api.x.v1.Thing"]
    assert fields[1].type == "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert fields[2].keep_zero and not fields[1].keep_zero
    assert fields[3].repeated and fields[3].type == "k8s.io.api.x.v1.Item"
    assert fields[4].is_map and fields[4].type == "string"
    assert fields[5].inline
    merged = merge(table, {"k8s.io.api.x.v1.Thing": {9: fields[1]}, "other.M": {}})
    assert set(merged["k8s.io.api.x.v1.Thing"]) == {1, 2, 3, 4, 5, 9} and "other.M" in merged


def _openapi_name(message: str) -> str:
    return "io.k8s." + message.removeprefix("k8s.io.")


@pytest.mark.parametrize("message", sorted(TABLES), ids=str)
def test_table_field_names_are_openapi_properties(message: str) -> None:
    definition = schemas().definitions.get(_openapi_name(message))
    if definition is None or "properties" not in definition:
        pytest.skip("no OpenAPI object definition (special or envelope type)")
    names = {f.name for f in TABLES[message].values() if not f.inline}
    assert names <= set(definition["properties"]), names - set(definition["properties"])


@pytest.mark.skipif(not os.access(KUBECTL_132, os.R_OK), reason="no kubectl 1.32 binary")
def test_tables_agree_with_descriptors_embedded_in_kubectl() -> None:
    descriptors = messages_from_binary(KUBECTL_132)
    renamed = {("k8s.io.api.authentication.v1.BoundObjectReference", 4): "uID",
               ("k8s.io.apimachinery.pkg.runtime.RawExtension", 1): "Raw",
               ("k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1", 1): "Raw"}
    problems = []
    for message, fields in TABLES.items():
        reference = descriptors.get(message)
        if reference is None:
            problems.append(f"{message}: not in kubectl")
            continue
        if set(fields) != set(reference):
            problems.append(f"{message}: numbers {sorted(fields)} != {sorted(reference)}")
            continue
        for number, field in fields.items():
            ref = reference[number]
            name = renamed.get((message, number), field.name)
            if (name, field.type, field.repeated, field.is_map) != (
                ref.name, ref.type, ref.repeated, ref.is_map
            ):
                problems.append(f"{message}.{number}: {field} != {ref}")
    assert problems == []


@pytest.mark.skipif(not os.access(KUBECTL_132, os.R_OK), reason="no kubectl 1.32 binary")
def test_descriptors_extend_the_tables_to_other_kinds() -> None:
    tables = merge(TABLES, messages_from_binary(KUBECTL_132))
    raw = NAME_FOO + wire.bytes_field(2, b"example.com/csi") + wire.bytes_field(
        3, wire.bytes_field(1, b"type") + wire.bytes_field(2, b"ssd")
    )
    body = _envelope("storage.k8s.io/v1", "StorageClass", raw)
    with pytest.raises(errors.UnsupportedMediaType):
        decode_object(body, "storage.k8s.io", "v1")
    assert decode_object(body, "storage.k8s.io", "v1", tables=tables) == {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "foo"},
        "provisioner": "example.com/csi", "parameters": {"type": "ssd"},
    }
    # the reviewed table still decides pointer zeros for the kinds it knows
    assert tables["k8s.io.api.apps.v1.DeploymentSpec"][1].keep_zero
