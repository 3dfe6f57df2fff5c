"""Field selectors: parsing, escapes, matching, per-kind field sets and accepted labels."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.api.fields import (
    escape_value,
    field_values,
    parse_field_selector,
    supported_fields,
    validate_field_selector,
)
from kubepy.errors import BadRequest


@pytest.mark.parametrize(
    "text, canonical, terms",
    [
        ("", "", []),
        ("a=b", "a=b", [("a", "b", False)]),
        ("a==b", "a=b", [("a", "b", False)]),
        ("a!=b", "a!=b", [("a", "b", True)]),
        ("b=2,a=1", "a=1,b=2", [("a", "1", False), ("b", "2", False)]),
        ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\", [("a", "x,y=z\\", False)]),
        ("spec.nodeName=", "spec.nodeName=", [("spec.nodeName", "", False)]),
        (",,a=1,", "a=1", [("a", "1", False)]),
        ("a = b", "a = b", [("a ", " b", False)]),
        ("a=!b", "a=!b", [("a", "!b", False)]),
    ],
    ids=["empty", "eq", "double-eq", "neq", "sorted", "escapes", "empty-value",
         "empty-terms", "no-trimming", "first-operator-wins"],
)
def test_parse(text: str, canonical: str, terms: list[tuple[str, str, bool]]) -> None:
    selector = parse_field_selector(text)
    assert str(selector) == canonical
    assert [(r.field, r.value, r.negated) for r in selector.requirements] == terms
    assert selector.empty is (not terms)


@pytest.mark.parametrize(
    "text, message",
    [
        ("x", "invalid selector: 'x'; can't understand 'x'"),
        ("a=1,x", "invalid selector: 'a=1,x'; can't understand 'x'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
    ids=["no-operator", "second-term-no-operator", "unescaped-equals", "bad-escape",
         "trailing-backslash"],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_field_selector(text)
    assert err.value.message == message


@pytest.mark.parametrize(
    "text, fields, expected",
    [
        ("", {}, True),
        ("status.phase=Running", {"status.phase": "Running"}, True),
        ("status.phase=Running", {"status.phase": "Pending"}, False),
        ("status.phase!=Running", {"status.phase": "Pending"}, True),
        ("spec.nodeName=", {"spec.nodeName": ""}, True),
        ("spec.nodeName=", {}, True),
        ("spec.nodeName!=", {"spec.nodeName": "n1"}, True),
        ("a=1,b=2", {"a": "1", "b": "3"}, False),
        ("a=x\\,y", {"a": "x,y"}, True),
    ],
    ids=["empty", "eq", "eq-other", "neq", "eq-empty", "missing-is-empty", "neq-empty",
         "and", "escaped-comma"],
)
def test_matches(text: str, fields: dict[str, str], expected: bool) -> None:
    assert parse_field_selector(text).matches(fields) is expected


def test_escape_round_trip() -> None:
    value = "a,b=c\\d"
    selector = parse_field_selector("metadata.name=" + escape_value(value))
    assert selector.requires_exact_match("metadata.name") == value
    assert parse_field_selector("metadata.name!=x").requires_exact_match("metadata.name") is None


POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "10.0.0.9",
               "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}], "nominatedNodeName": "n2"},
}


@pytest.mark.parametrize(
    "group, kind, obj, expected",
    [
        ("", "Pod", POD, {
            "metadata.name": "web-1", "metadata.namespace": "prod", "spec.nodeName": "n1",
            "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
            "spec.serviceAccountName": "default", "spec.hostNetwork": "true",
            "status.phase": "Running", "status.podIP": "10.0.0.9",
            "status.nominatedNodeName": "n2"}),
        ("", "Pod", {"metadata": {"name": "p", "namespace": "d"}}, {
            "metadata.name": "p", "metadata.namespace": "d", "spec.nodeName": "",
            "spec.restartPolicy": "", "spec.schedulerName": "", "spec.serviceAccountName": "",
            "spec.hostNetwork": "false", "status.phase": "", "status.podIP": "",
            "status.nominatedNodeName": ""}),
        ("", "Node", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
         {"metadata.name": "n1", "spec.unschedulable": "true"}),
        ("", "Node", {"metadata": {"name": "n1"}},
         {"metadata.name": "n1", "spec.unschedulable": "false"}),
        ("", "Namespace", {"metadata": {"name": "d"}, "status": {"phase": "Active"}},
         {"metadata.name": "d", "status.phase": "Active"}),
        ("", "Secret", {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"},
         {"metadata.name": "s", "metadata.namespace": "d", "type": "Opaque"}),
        ("", "ReplicationController", {"metadata": {"name": "r", "namespace": "d"},
                                       "status": {"replicas": 3}},
         {"metadata.name": "r", "metadata.namespace": "d", "status.replicas": "3"}),
        ("apps", "ReplicaSet", {"metadata": {"name": "r", "namespace": "d"}},
         {"metadata.name": "r", "metadata.namespace": "d", "status.replicas": "0"}),
        ("batch", "Job", {"metadata": {"name": "j", "namespace": "d"},
                          "status": {"succeeded": 2}},
         {"metadata.name": "j", "metadata.namespace": "d", "status.successful": "2"}),
        ("", "Service", {"metadata": {"name": "s", "namespace": "d"},
                         "spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP"}},
         {"metadata.name": "s", "metadata.namespace": "d", "spec.clusterIP": "10.96.0.1",
          "spec.type": "ClusterIP"}),
        ("certificates.k8s.io", "CertificateSigningRequest",
         {"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kubelet-serving"}},
         {"metadata.name": "c", "spec.signerName": "kubernetes.io/kubelet-serving"}),
        ("apps", "Deployment", {"metadata": {"name": "d", "namespace": "x"}},
         {"metadata.name": "d", "metadata.namespace": "x"}),
        ("", "Event", {
            "metadata": {"name": "e", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "namespace": "d", "name": "p", "uid": "u1",
                               "apiVersion": "v1", "resourceVersion": "7",
                               "fieldPath": "spec.containers{c}"},
            "reason": "Scheduled", "reportingComponent": "", "source": {"component": "sched"},
            "type": "Normal"},
         {"metadata.name": "e", "metadata.namespace": "d", "involvedObject.kind": "Pod",
          "involvedObject.namespace": "d", "involvedObject.name": "p",
          "involvedObject.uid": "u1", "involvedObject.apiVersion": "v1",
          "involvedObject.resourceVersion": "7", "involvedObject.fieldPath": "spec.containers{c}",
          "reason": "Scheduled", "reportingComponent": "", "source": "sched",
          "type": "Normal"}),
        ("events.k8s.io", "Event", {
            "metadata": {"name": "e", "namespace": "d"},
            "regarding": {"kind": "Pod", "name": "p"}, "reason": "Pulled",
            "reportingController": "kubelet", "type": "Normal"},
         {"metadata.name": "e", "metadata.namespace": "d", "involvedObject.kind": "Pod",
          "involvedObject.namespace": "", "involvedObject.name": "p",
          "involvedObject.uid": "", "involvedObject.apiVersion": "",
          "involvedObject.resourceVersion": "", "involvedObject.fieldPath": "",
          "reason": "Pulled", "reportingComponent": "kubelet", "source": "kubelet",
          "type": "Normal"}),
    ],
    ids=["pod", "pod-defaults", "node", "node-default", "namespace", "secret", "rc",
         "replicaset", "job", "service", "csr", "deployment-metadata-only", "core-event",
         "events-v1-event"],
)
def test_field_values(group: str, kind: str, obj: dict[str, Any],
                      expected: dict[str, str]) -> None:
    assert field_values(group, kind, obj) == expected


@pytest.mark.parametrize(
    "namespaced, selectable, obj, expected",
    [
        (True, [".spec.color", ".spec.size", ".spec.ready"],
         {"metadata": {"name": "a", "namespace": "d"},
          "spec": {"color": "red", "size": 3, "ready": False}},
         {"metadata.name": "a", "metadata.namespace": "d", "spec.color": "red",
          "spec.size": "3", "spec.ready": "false"}),
        (False, [".spec.color"], {"metadata": {"name": "a"}},
         {"metadata.name": "a", "spec.color": ""}),
    ],
    ids=["namespaced-cr", "cluster-cr-missing-field"],
)
def test_custom_resource_field_values(namespaced: bool, selectable: list[str],
                                      obj: dict[str, Any], expected: dict[str, str]) -> None:
    got = field_values("example.com", "Widget", obj, namespaced=namespaced,
                       selectable_fields=selectable)
    assert got == expected


@pytest.mark.parametrize(
    "group, kind, text, converted",
    [
        ("", "Pod", "spec.nodeName=n1,status.phase!=Failed", "spec.nodeName=n1,status.phase!=Failed"),
        ("", "Pod", "status.podIPs=10.0.0.1", "status.podIPs=10.0.0.1"),
        ("", "Pod", "spec.host=n1", "spec.nodeName=n1"),
        ("", "Event", "involvedObject.name=p,reason=Killing", "involvedObject.name=p,reason=Killing"),
        ("events.k8s.io", "Event", "involvedObject.kind=Pod", "involvedObject.kind=Pod"),
        ("", "Secret", "type=kubernetes.io/tls", "type=kubernetes.io/tls"),
        ("", "Node", "spec.unschedulable=false", "spec.unschedulable=false"),
        ("batch", "Job", "status.successful=1", "status.successful=1"),
        ("apps", "Deployment", "metadata.namespace=x", "metadata.namespace=x"),
        ("", "ConfigMap", "metadata.name=c", "metadata.name=c"),
    ],
    ids=["pod-fields", "pod-podIPs-accepted", "pod-legacy-spec-host", "event", "events-v1",
         "secret-type", "node-unschedulable", "job-successful", "default-namespace",
         "default-name"],
)
def test_validate_accepts(group: str, kind: str, text: str, converted: str) -> None:
    result = validate_field_selector(group, kind, parse_field_selector(text))
    assert str(result) == converted


@pytest.mark.parametrize(
    "group, kind, text, kwargs, message",
    [
        ("", "Pod", "spec.containers=x", {}, "field label not supported: spec.containers"),
        ("", "Node", "metadata.namespace=x", {}, "field label not supported: metadata.namespace"),
        ("", "Namespace", "metadata.namespace=x", {},
         "field label not supported: metadata.namespace"),
        ("apps", "Deployment", "spec.replicas=1", {},
         '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("apps", "ReplicaSet", "status.replicas=0", {},
         '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("networking.k8s.io", "Ingress", "foo.bar=baz", {},
         '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("batch", "Job", "status.succeeded=1", {},
         'field label "status.succeeded" not supported for Job'),
        ("resource.k8s.io", "ResourceSlice", "spec.pool=x", {},
         "field label not supported for resource.k8s.io/v1beta1, Kind=ResourceSlice: spec.pool"),
        ("example.com", "Widget", "spec.size=1", {"selectable_fields": [".spec.color"]},
         "field label not supported: spec.size"),
        ("example.com", "Widget", "metadata.namespace=d",
         {"selectable_fields": [], "namespaced": False},
         "field label not supported: metadata.namespace"),
    ],
    ids=["pod-unknown", "node-namespace", "namespace-namespace", "deployment-default",
         "replicaset-status-replicas", "ingress-doc-example", "job-unknown",
         "resourceslice-unknown", "cr-unselectable", "cluster-cr-namespace"],
)
def test_validate_rejects(group: str, kind: str, text: str, kwargs: dict[str, Any],
                          message: str) -> None:
    with pytest.raises(BadRequest) as err:
        validate_field_selector(group, kind, parse_field_selector(text), **kwargs)
    assert err.value.message == message
    assert err.value.code == 400


def test_custom_resource_accepts_selectable_fields() -> None:
    selector = parse_field_selector("spec.color=red,metadata.namespace=d")
    validate_field_selector("example.com", "Widget", selector, selectable_fields=[".spec.color"])
    assert "spec.color" in supported_fields("example.com", "Widget",
                                            selectable_fields=[".spec.color"])
