"""What configMap, secret and downwardAPI volumes hold (payload tables), the downward
API's value formatting, and the token refresh rule."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.kubelet.volumes.fieldpath import (FieldPathError, extract_field_path, format_map,
                                              go_quote)
from kubepy.kubelet.volumes.projection import (FileProjection, ProjectionError,
                                               configmap_payload, downward_payload,
                                               secret_payload)
from kubepy.kubelet.volumes.tokens import Token, requires_refresh, token_request

Obj = dict[str, Any]


def b64(s: bytes) -> str:
    return base64.b64encode(s).decode()


CM: Obj = {"data": {"a": "1", "b.conf": "x=y\n"}, "binaryData": {"bin": b64(b"\x00\xff")}}
SECRET: Obj = {"data": {"user": b64(b"admin"), "pass": b64(b"s3cr\x00t")}}


@pytest.mark.parametrize("source,cm,expected", [
    pytest.param({}, CM, {"a": FileProjection(b"1", 0o644), "b.conf": FileProjection(b"x=y\n", 0o644),
                          "bin": FileProjection(b"\x00\xff", 0o644)}, id="all-keys"),
    pytest.param({"defaultMode": 0o400}, {"data": {"a": "1"}},
                 {"a": FileProjection(b"1", 0o400)}, id="default-mode"),
    pytest.param({"defaultMode": 0o400, "items": [{"key": "a", "path": "dir/one"},
                                                   {"key": "bin", "path": "b", "mode": 0o600}]},
                 CM, {"dir/one": FileProjection(b"1", 0o400), "b": FileProjection(b"\x00\xff", 0o600)},
                 id="items-paths-modes"),
    pytest.param({"optional": True, "items": [{"key": "zz", "path": "z"}, {"key": "a", "path": "a"}]},
                 CM, {"a": FileProjection(b"1", 0o644)}, id="optional-missing-key-skipped"),
    pytest.param({"optional": True}, None, {}, id="optional-missing-object-empty"),
])
def test_configmap_payload(source: Obj, cm: Obj | None, expected: dict[str, FileProjection]) -> None:
    assert configmap_payload(source, cm) == expected


@pytest.mark.parametrize("source,secret,expected", [
    pytest.param({}, SECRET, {"user": FileProjection(b"admin", 0o644),
                              "pass": FileProjection(b"s3cr\x00t", 0o644)}, id="all-keys-decoded"),
    pytest.param({"items": [{"key": "pass", "path": "p/w", "mode": 0o400}]}, SECRET,
                 {"p/w": FileProjection(b"s3cr\x00t", 0o400)}, id="items"),
    pytest.param({}, {"data": {}, "stringData": {"x": "y"}}, {"x": FileProjection(b"y", 0o644)},
                 id="string-data"),
])
def test_secret_payload(source: Obj, secret: Obj, expected: dict[str, FileProjection]) -> None:
    assert secret_payload(source, secret) == expected


@pytest.mark.parametrize("kind,source,obj,message", [
    ("configMap", {"items": [{"key": "nope", "path": "n"}]}, CM,
     "configmap references non-existent config key: nope"),
    ("secret", {"items": [{"key": "nope", "path": "n"}]}, SECRET,
     "references non-existent secret key: nope"),
    ("secret", {}, {"data": {"k": "not base64!"}}, "secret key k: invalid base64 data"),
])
def test_payload_errors(kind: str, source: Obj, obj: Obj, message: str) -> None:
    build = configmap_payload if kind == "configMap" else secret_payload
    with pytest.raises(ProjectionError) as e:
        build(source, obj)
    assert str(e.value) == message


POD: Obj = {"metadata": {"name": "p", "namespace": "ns", "uid": "u",
                         "labels": {"b": "2", "a": "x y"}, "annotations": {}},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"memory": "32Mi"}}}],
                     "initContainers": [{"name": "init", "resources": {"limits": {"cpu": "2"}}}]}}


@pytest.mark.parametrize("items,mode,expected", [
    pytest.param([{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                  {"path": "./name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o600},
                  {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}],
                 None, {"labels": FileProjection(b'a="x y"\nb="2"', 0o644),
                        "name": FileProjection(b"p", 0o600),
                        "annotations": FileProjection(b"", 0o644)}, id="fields"),
    pytest.param([{"path": "mem", "resourceFieldRef": {"containerName": "c",
                                                       "resource": "requests.memory",
                                                       "divisor": "1Mi"}},
                  {"path": "cpu", "resourceFieldRef": {"containerName": "init",
                                                       "resource": "limits.cpu", "divisor": "1m"}}],
                 0o444, {"mem": FileProjection(b"32", 0o444), "cpu": FileProjection(b"2000", 0o444)},
                 id="resources"),
])
def test_downward_payload(items: list[Obj], mode: int | None,
                          expected: dict[str, FileProjection]) -> None:
    assert downward_payload(items, POD, default_mode=mode) == expected


def test_downward_payload_aggregates_errors() -> None:
    with pytest.raises(ProjectionError) as e:
        downward_payload([{"path": "a", "fieldRef": {"fieldPath": "spec.nodeName"}},
                          {"path": "b", "resourceFieldRef": {"containerName": "x",
                                                             "resource": "limits.cpu"}}],
                         POD, default_mode=None)
    assert str(e.value) == "[unsupported fieldPath: spec.nodeName, container x not found]"


@pytest.mark.parametrize("text,quoted", [
    ("plain", '"plain"'), ('q"b\\s', '"q\\"b\\\\s"'), ("tab\tnl\n", '"tab\\tnl\\n"'),
    ("\x01\x7f", '"\\x01\\x7f"'), ("héllo ✓", '"héllo ✓"'), ("\u200b", '"\\u200b"'),
    ("\U000e0001", '"\\U000e0001"')])
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize("m,text", [({}, ""), (None, ""), ({"z": "1", "a": ""}, 'a=""\nz="1"')])
def test_format_map(m: dict[str, str] | None, text: str) -> None:
    assert format_map(m) == text


def test_extract_field_path_unsupported() -> None:
    with pytest.raises(FieldPathError, match="unsupported fieldPath: status.podIP"):
        extract_field_path(POD, "status.podIP")


NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("expires_in,lifetime,refresh", [
    pytest.param(3600, 3600, False, id="fresh"),
    pytest.param(721, 3600, False, id="just-before-80-percent"),
    pytest.param(719, 3600, True, id="past-80-percent"),
    pytest.param(-5, 3600, True, id="expired"),
    pytest.param(86400 * 2 - 86401, 86400 * 2, True, id="older-than-24h"),
    pytest.param(86400 * 2 - 86000, 86400 * 2, False, id="long-lived-younger-than-24h"),
])
def test_requires_refresh(expires_in: int, lifetime: int, refresh: bool) -> None:
    token = Token("t", NOW + timedelta(seconds=expires_in), lifetime)
    assert requires_refresh(token, NOW) is refresh


def test_token_request_body() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"serviceAccountName": "robot"}}
    body = token_request(pod, {"audience": "vault", "expirationSeconds": 7200, "path": "t"})
    assert body["metadata"] == {"name": "robot", "namespace": "ns"}
    assert body["spec"] == {"audiences": ["vault"], "expirationSeconds": 7200,
                            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p",
                                               "uid": "u1"}}
    assert "audiences" not in token_request(pod, {"path": "t"})["spec"]
    assert token_request(pod, {"path": "t"})["spec"]["expirationSeconds"] == 3600
