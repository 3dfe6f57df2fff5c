"""Validation of built-in kinds: the causes (field, reason, message) Kubernetes gives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubepy.api.defaults import apply_defaults
from kubepy.api.validation import validate_create, validate_update
from kubepy.api.validation.cron import parse_schedule, schedule_error
from kubepy.api.validation.names import is_dns1123_label, is_qualified_name
from kubepy.api.validation.pod import validate_resources
from kubepy.errors import invalid

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')")


def meta(name: str = "x", namespace: str | None = "default", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, **extra}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx", **extra}


def pod(containers: list[Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": meta(), "spec": {"containers": containers or [container()], **spec}}


def workload(kind: str, selector: Any = None, labels: Any = None, **spec: Any
             ) -> dict[str, Any]:
    tmpl = {"metadata": {"labels": {"app": "a"} if labels is None else labels},
            "spec": {"containers": [container()]}}
    sel = {"matchLabels": {"app": "a"}} if selector is None else selector
    return {"metadata": meta(), "spec": {"selector": sel, "template": tmpl, **spec}}


def job(**spec: Any) -> dict[str, Any]:
    tmpl = {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [container()], "restartPolicy": "Never"}}
    return {"metadata": meta(), "spec": {"selector": {"matchLabels": {"app": "a"}},
                                         "manualSelector": True, "template": tmpl, **spec}}


def cron(schedule: str = "*/5 * * * *", name: str = "x", **spec: Any) -> dict[str, Any]:
    tmpl = {"spec": {"containers": [container()], "restartPolicy": "OnFailure"}}
    return {"metadata": meta(name), "spec": {"schedule": schedule,
                                             "jobTemplate": {"spec": {"template": tmpl}},
                                             **spec}}


GROUPS = {"Deployment": "apps", "ReplicaSet": "apps", "StatefulSet": "apps",
          "DaemonSet": "apps", "Job": "batch", "CronJob": "batch"}


def causes_for(kind: str, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    group = GROUPS.get(kind, "")
    defaulted = apply_defaults(group, "v1", kind, obj)
    return [(c["field"], c["reason"], c["message"])
            for c in validate_create(group, "v1", kind, defaulted)]


VALID = [
    ("pod", "Pod", pod()),
    ("deployment", "Deployment", workload("Deployment")),
    ("replicaset", "ReplicaSet", workload("ReplicaSet")),
    ("statefulset", "StatefulSet", workload("StatefulSet")),
    ("daemonset", "DaemonSet", workload("DaemonSet")),
    ("job", "Job", job()),
    ("cronjob", "CronJob", cron()),
    ("cronjob-descriptor", "CronJob", cron("@hourly")),
    ("service", "Service", {"metadata": meta("web"), "spec": {"ports": [{"port": 80}]}}),
    ("service-headless", "Service", {"metadata": meta("web"), "spec": {"clusterIP": "None"}}),
    ("configmap", "ConfigMap", {"metadata": meta(), "data": {"a.b_C-1": "v"}}),
    ("secret", "Secret", {"metadata": meta(), "data": {"k": "dg=="}}),
    ("namespace", "Namespace", {"metadata": meta("team-a", None)}),
    ("generateName", "Pod", {"metadata": {"generateName": "web-", "namespace": "d"},
                             "spec": {"containers": [container()]}}),
    ("pvc", "PersistentVolumeClaim", {"metadata": meta(), "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
]


@pytest.mark.parametrize("kind,obj", [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_objects(kind: str, obj: dict[str, Any]) -> None:
    assert causes_for(kind, obj) == []


INVALID = [
    ("name-required", "Pod", {"metadata": {"namespace": "d"},
                              "spec": {"containers": [container()]}},
     ("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")),
    ("name-subdomain", "Pod", {**pod(), "metadata": meta("Bad_Name")},
     ("metadata.name", "FieldValueInvalid", f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}')),
    ("namespace-label", "Namespace", {"metadata": meta("a.b", None)},
     ("metadata.name", "FieldValueInvalid", 'Invalid value: "a.b": must not contain dots')),
    ("namespace-required", "ConfigMap", {"metadata": meta(namespace=None)},
     ("metadata.namespace", "FieldValueRequired", "Required value")),
    ("namespace-forbidden", "Namespace", {"metadata": meta("n", "default")},
     ("metadata.namespace", "FieldValueForbidden", "Forbidden: not allowed on this type")),
    ("service-dns1035", "Service", {"metadata": meta("1web"), "spec": {"ports": [{"port": 80}]}},
     ("metadata.name", "FieldValueInvalid", f'Invalid value: "1web": {DNS1035_MSG}')),
    ("label-value", "ConfigMap", {"metadata": meta(labels={"a": "-bad"})},
     ("metadata.labels", "FieldValueInvalid",
      "Invalid value: \"-bad\": a valid label must be an empty string or consist of "
      "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
      "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")),
    ("annotations-size", "ConfigMap", {"metadata": meta(annotations={"a": "x" * 262144})},
     ("metadata.annotations", "FieldValueTooLong",
      "Too long: may not be more than 262144 bytes")),
    ("ownerref-uid", "ConfigMap", {"metadata": meta(ownerReferences=[
        {"apiVersion": "v1", "kind": "Pod", "name": "p"}])},
     ("metadata.ownerReferences.uid", "FieldValueInvalid",
      'Invalid value: "": uid must not be empty')),
    ("finalizer-both", "ConfigMap", {"metadata": meta(finalizers=["orphan",
                                                                  "foregroundDeletion"])},
     ("metadata.finalizers", "FieldValueInvalid",
      'Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and '
      "foregroundDeletion cannot be both set")),
    ("containers-required", "Pod", {"metadata": meta(), "spec": {"containers": []}},
     ("spec.containers", "FieldValueRequired", "Required value")),
    ("container-name", "Pod", pod([container(name="Web")]),
     ("spec.containers[0].name", "FieldValueInvalid", f'Invalid value: "Web": {LABEL_MSG}')),
    ("container-duplicate", "Pod", pod([container(), container()]),
     ("spec.containers[1].name", "FieldValueDuplicate", 'Duplicate value: "c"')),
    ("image-required", "Pod", pod([{"name": "c"}]),
     ("spec.containers[0].image", "FieldValueRequired", "Required value")),
    ("container-port-range", "Pod", pod([container(ports=[{"containerPort": 70000}])]),
     ("spec.containers[0].ports[0].containerPort", "FieldValueInvalid",
      "Invalid value: 70000: must be between 1 and 65535, inclusive")),
    ("port-protocol", "Pod", pod([container(ports=[{"containerPort": 80,
                                                    "protocol": "HTTP"}])]),
     ("spec.containers[0].ports[0].protocol", "FieldValueNotSupported",
      'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"')),
    ("restart-policy", "Pod", pod(restartPolicy="Sometimes"),
     ("spec.restartPolicy", "FieldValueNotSupported",
      'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')),
    ("requests-over-limits", "Pod", pod([container(resources={
        "requests": {"cpu": "2"}, "limits": {"cpu": "1"}})]),
     ("spec.containers[0].resources.requests", "FieldValueInvalid",
      'Invalid value: "2": must be less than or equal to cpu limit of 1')),
    ("bad-quantity", "Pod", pod([container(resources={"requests": {"memory": "1GB"}})]),
     ("spec.containers[0].resources.requests[memory]", "FieldValueInvalid",
      "Invalid value: \"1GB\": quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")),
    ("mount-unknown-volume", "Pod", pod([container(volumeMounts=[
        {"name": "data", "mountPath": "/d"}])]),
     ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", 'Not found: "data"')),
    ("probe-handler", "Pod", pod([container(livenessProbe={"periodSeconds": 5})]),
     ("spec.containers[0].livenessProbe", "FieldValueRequired",
      "Required value: must specify a handler type")),
    ("toleration-operator", "Pod", pod(tolerations=[{"key": "k", "operator": "Maybe"}]),
     ("spec.tolerations[0].operator", "FieldValueNotSupported",
      'Unsupported value: "Maybe": supported values: "Equal", "Exists"')),
    ("selector-mismatch", "Deployment", workload("Deployment", labels={"app": "b"}),
     ("spec.template.metadata.labels", "FieldValueInvalid",
      'Invalid value: map[string]string{"app":"b"}: `selector` does not match template '
      "`labels`")),
    ("selector-required", "Deployment", {**workload("Deployment"), "spec": {
        "template": workload("Deployment")["spec"]["template"]}},
     ("spec.selector", "FieldValueRequired", "Required value")),
    ("selector-empty", "ReplicaSet", workload("ReplicaSet", selector={}),
     ("spec.selector", "FieldValueInvalid",
      "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
      "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
      "deployment")),
    ("replicas-negative", "Deployment", workload("Deployment", replicas=-1),
     ("spec.replicas", "FieldValueInvalid",
      "Invalid value: -1: must be greater than or equal to 0")),
    ("deployment-restart", "Deployment", {**workload("Deployment"), "spec": {
        **workload("Deployment")["spec"], "template": {
            "metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [container()], "restartPolicy": "Never"}}}},
     ("spec.template.spec.restartPolicy", "FieldValueNotSupported",
      'Unsupported value: "Never": supported values: "Always"')),
    ("rolling-zero", "Deployment", workload("Deployment", strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
     ("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
      "Invalid value: 0: may not be 0 when `maxSurge` is 0")),
    ("daemonset-strategy", "DaemonSet", workload("DaemonSet", updateStrategy={"type": "Fast"}),
     ("spec.updateStrategy.type", "FieldValueNotSupported",
      'Unsupported value: "Fast": supported values: "OnDelete", "RollingUpdate"')),
    ("statefulset-name-label", "StatefulSet", {**workload("StatefulSet"),
                                               "metadata": meta("db.v1")},
     ("metadata.name", "FieldValueInvalid", 'Invalid value: "db.v1": must not contain dots')),
    ("job-restart", "Job", {**job(), "spec": {**job()["spec"], "template": {
        "metadata": {"labels": {"app": "a"}}, "spec": {"containers": [container()]}}}},
     ("spec.template.spec.restartPolicy", "FieldValueNotSupported",
      'Unsupported value: "Always": supported values: "OnFailure", "Never"')),
    ("job-indexed-completions", "Job", job(completionMode="Indexed", parallelism=2),
     ("spec.completions", "FieldValueRequired",
      "Required value: when completion mode is Indexed")),
    ("cron-schedule", "CronJob", cron("* * *"),
     ("spec.schedule", "FieldValueInvalid",
      'Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]')),
    ("cron-range", "CronJob", cron("61 * * * *"),
     ("spec.schedule", "FieldValueInvalid",
      'Invalid value: "61 * * * *": end of range (61) above maximum (59): 61')),
    ("cron-name-length", "CronJob", cron(name="a" * 53),
     ("metadata.name", "FieldValueInvalid",
      f'Invalid value: "{"a" * 53}": must be no more than 52 characters')),
    ("cron-concurrency", "CronJob", cron(concurrencyPolicy="Sometimes"),
     ("spec.concurrencyPolicy", "FieldValueNotSupported",
      'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"')),
    ("service-ports", "Service", {"metadata": meta("web"), "spec": {"selector": {"a": "b"}}},
     ("spec.ports", "FieldValueRequired", "Required value")),
    ("service-type", "Service", {"metadata": meta("web"), "spec": {
        "type": "Public", "ports": [{"port": 80}]}},
     ("spec.type", "FieldValueNotSupported", 'Unsupported value: "Public": supported values: '
      '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')),
    ("service-port-range", "Service", {"metadata": meta("web"), "spec": {
        "ports": [{"port": 0, "targetPort": 80}]}},
     ("spec.ports[0].port", "FieldValueInvalid",
      "Invalid value: 0: must be between 1 and 65535, inclusive")),
    ("service-nodeport-range", "Service", {"metadata": meta("web"), "spec": {
        "type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}},
     ("spec.ports[0].nodePort", "FieldValueInvalid", "Invalid value: 80: provided port is not "
      "in the valid range. The range of valid ports is 30000-32767")),
    ("service-port-names", "Service", {"metadata": meta("web"), "spec": {
        "ports": [{"port": 80}, {"port": 443, "name": "https"}]}},
     ("spec.ports[0].name", "FieldValueRequired", "Required value")),
    ("configmap-key", "ConfigMap", {"metadata": meta(), "data": {"a b": "v"}},
     ("data[a b]", "FieldValueInvalid", f'Invalid value: "a b": {CONFIG_KEY_MSG}')),
    ("configmap-size", "ConfigMap", {"metadata": meta(), "data": {"a": "x" * (1024 * 1024 + 1)}},
     ("", "FieldValueTooLong", "Too long: may not be more than 1048576 bytes")),
    ("secret-key", "Secret", {"metadata": meta(), "data": {"..x": "dg=="}},
     ("data[..x]", "FieldValueInvalid", "Invalid value: \"..x\": must not start with '..'")),
    ("secret-tls", "Secret", {"metadata": meta(), "type": "kubernetes.io/tls",
                              "data": {"tls.crt": "dg=="}},
     ("data[tls.key]", "FieldValueRequired", "Required value")),
    ("pvc-access-modes", "PersistentVolumeClaim", {"metadata": meta(), "spec": {
        "resources": {"requests": {"storage": "1Gi"}}}},
     ("spec.accessModes", "FieldValueRequired",
      "Required value: at least 1 access mode is required")),
    ("pvc-storage", "PersistentVolumeClaim", {"metadata": meta(), "spec": {
        "accessModes": ["ReadWriteOnce"]}},
     ("spec.resources[storage]", "FieldValueRequired", "Required value")),
]


@pytest.mark.parametrize("kind,obj,expected", [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])
def test_invalid_objects(kind: str, obj: dict[str, Any], expected: tuple[str, str, str]
                         ) -> None:
    assert causes_for(kind, obj) == [expected]


def _created(group: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    out = apply_defaults(group, "v1", kind, obj)
    out["metadata"].update(uid="u-1", resourceVersion="1",
                           creationTimestamp="2024-01-01T00:00:00Z")
    return out


def _edit(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    target: Any = new
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return new


SERVICE = {"metadata": meta("web"), "spec": {"clusterIP": "10.0.0.9", "ports": [{"port": 80}]}}
PVC = {"metadata": meta(), "spec": {"accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "1Gi"}}},
       "status": {"phase": "Bound"}}

UPDATES = [
    # (id, group, kind, object, path edited, new value, expected causes)
    ("pod-image-ok", "", "Pod", pod(), "spec.containers.0.image", "nginx:2", []),
    ("pod-labels-ok", "", "Pod", pod(), "metadata.labels", {"a": "b"}, []),
    ("pod-deadline-ok", "", "Pod", pod(), "spec.activeDeadlineSeconds", 30, []),
    ("pod-ports-forbidden", "", "Pod", pod(), "spec.containers.0.ports",
     [{"containerPort": 81, "protocol": "TCP"}],
     [("spec", "FieldValueForbidden", "Forbidden: pod updates may not change fields other "
       "than `spec.containers[*].image`,`spec.initContainers[*].image`,"
       "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
       "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
       "previously negative)\n  containers[0].ports: null -> "
       '[{"containerPort": 81, "protocol": "TCP"}]')]),
    ("name-immutable", "", "ConfigMap", {"metadata": meta()}, "metadata.name", "y",
     [("metadata.name", "FieldValueInvalid", 'Invalid value: "y": field is immutable')]),
    ("uid-immutable", "", "ConfigMap", {"metadata": meta()}, "metadata.uid", "u-2",
     [("metadata.uid", "FieldValueInvalid", 'Invalid value: "u-2": field is immutable')]),
    ("deployment-selector", "apps", "Deployment", workload("Deployment"), "spec.selector",
     {"matchLabels": {"app": "a", "v": "2"}},
     [("spec.template.metadata.labels", "FieldValueInvalid",
       'Invalid value: map[string]string{"app":"a"}: `selector` does not match template '
       "`labels`"),
      ("spec.selector", "FieldValueInvalid",
       'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"a", "v":"2"}, '
       "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")]),
    ("deployment-replicas-ok", "apps", "Deployment", workload("Deployment"), "spec.replicas",
     5, []),
    ("statefulset-service", "apps", "StatefulSet", workload("StatefulSet"), "spec.serviceName",
     "other",
     [("spec", "FieldValueForbidden", "Forbidden: updates to statefulset spec for fields other "
       "than 'replicas', 'ordinals', 'template', 'updateStrategy', "
       "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]),
    ("job-template", "batch", "Job", job(), "spec.template.spec.containers.0.image", "busybox",
     [("spec.template", "FieldValueInvalid",
       "Invalid value: core.PodTemplateSpec{...}: field is immutable")]),
    ("service-clusterip", "", "Service", SERVICE, "spec.clusterIP", "10.0.0.10",
     [("spec.clusterIPs[0]", "FieldValueInvalid",
       'Invalid value: []string{"10.0.0.9"}: may not change once set')]),
    ("secret-immutable", "", "Secret", {"metadata": meta(), "immutable": True,
                                        "data": {"k": "dg=="}}, "data", {"k": "dw=="},
     [("data", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")]),
    ("pvc-resize-ok", "", "PersistentVolumeClaim", PVC, "spec.resources",
     {"requests": {"storage": "2Gi"}}, []),
    ("pvc-access-modes", "", "PersistentVolumeClaim", PVC, "spec.accessModes",
     ["ReadWriteMany"],
     [("spec", "FieldValueForbidden", "Forbidden: spec is immutable after creation except "
       "resources.requests and volumeAttributesClassName for bound claims")]),
]


@pytest.mark.parametrize("group,kind,obj,path,value,expected", [u[1:] for u in UPDATES],
                         ids=[u[0] for u in UPDATES])
def test_updates(group: str, kind: str, obj: dict[str, Any], path: str, value: Any,
                 expected: list[tuple[str, str, str]]) -> None:
    old = _created(group, kind, obj)
    new = _edit(old, path, value)
    if kind == "Service" and path == "spec.clusterIP":
        new["spec"]["clusterIPs"] = [value]
        expected = [(f, r, m.replace("10.0.0.9", value)) for f, r, m in expected]
    got = [(c["field"], c["reason"], c["message"])
           for c in validate_update(group, "v1", kind, new, old)]
    assert got == expected


def test_invalid_error_message_joins_causes() -> None:
    causes = validate_create("", "v1", "Pod", apply_defaults("", "v1", "Pod",
                                                             pod([{"name": "c"}])))
    err = invalid("Pod", "x", causes)
    assert err.message == 'Pod "x" is invalid: spec.containers[0].image: Required value'


@pytest.mark.parametrize("value,errors", [
    ("example.com/MyName", []),
    ("a/b/c", ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
               "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
               "'my.name',  or '123-abc', regex used for validation is "
               "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
               "prefix and '/' (e.g. 'example.com/MyName')"]),
    ("/name", ["prefix part must be non-empty"]),
    ("x" * 64, ["name part must be no more than 63 characters"]),
], ids=["prefixed", "two-slashes", "empty-prefix", "too-long"])
def test_qualified_name(value: str, errors: list[str]) -> None:
    assert is_qualified_name(value) == errors


def test_resources_message_uses_canonical_quantities() -> None:
    causes = validate_resources({"requests": {"cpu": "1500m"}, "limits": {"cpu": "1.0"}},
                                "spec.containers[0].resources")
    assert [c["message"] for c in causes] == [
        'Invalid value: "1500m": must be less than or equal to cpu limit of 1']


def test_dns1123_label_too_long() -> None:
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


@pytest.mark.parametrize("spec,error", [
    ("", "empty spec string"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("0 9 * jan-mar MON-FRI", None),
    ("@every 1h30m", None),
], ids=["empty", "descriptor", "not-int", "reversed", "zero-step", "dom-zero", "names",
        "every"])
def test_schedule_errors(spec: str, error: str | None) -> None:
    assert schedule_error(spec) == error


def test_schedule_values() -> None:
    s = parse_schedule("*/15 9-17 * * 1-5")
    assert s.minute == {0, 15, 30, 45} and s.hour == set(range(9, 18))
    assert s.dow == {1, 2, 3, 4, 5} and s.dom_star and not s.dow_star
