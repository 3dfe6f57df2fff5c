"""kubectl with a CustomResourceDefinition: discovery of the new kind, apply (client-side
apply uses JSON merge patch for custom kinds), server-side apply, additionalPrinterColumns,
schema validation and explain — for every generation.

One CRD is installed per session through the raw API; a real apiserver marks it
Established within a second or so.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.compat.harness import ApiError, Kubectl, RawApi, parse_table, table

GROUP = "compat.kubepy.io"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                  "shortNames": ["wg"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {
                    "type": "object",
                    "description": "Desired widget.",
                    "properties": {
                        "size": {"type": "integer", "minimum": 1,
                                 "description": "How many parts the widget has."},
                        "color": {"type": "string"}}}}}},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
        }]}}


@pytest.fixture(scope="session")
def widget_crd(api: RawApi) -> dict[str, Any]:
    """Install the CRD once; return its last seen conditions (tests assert Established)."""
    try:
        api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    except ApiError as e:
        if e.status != 409:
            raise
    deadline = time.monotonic() + 5
    conditions: dict[str, Any] = {}
    while time.monotonic() < deadline:
        crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}")
        conditions = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
        if conditions.get("Established") == "True":
            break
        time.sleep(0.1)
    return conditions


def established(widget_crd: dict[str, Any]) -> None:
    assert widget_crd.get("Established") == "True", \
        f"CRD widgets.{GROUP} not Established within 5s; conditions: {widget_crd}"


WIDGET = """\
apiVersion: compat.kubepy.io/v1
kind: Widget
metadata:
  name: w1
spec:
  size: {size}
  color: {color}
"""


def test_crd_discovery(kubectl: Kubectl, widget_crd: dict[str, Any]) -> None:
    established(widget_crd)
    header, rows = parse_table(kubectl.ok("api-resources", f"--api-group={GROUP}"))
    assert rows == [["widgets", "wg", f"{GROUP}/v1", "true", "Widget"]]
    assert f"{GROUP}/v1" in kubectl.ok("api-versions").split()


def test_crd_apply_get_and_printer_columns(kubectl: Kubectl, api: RawApi,
                                           widget_crd: dict[str, Any]) -> None:
    established(widget_crd)
    f = kubectl.write("w.yaml", WIDGET.format(size=3, color="red"))
    assert kubectl.ok("apply", "-f", str(f)).strip() == f"widget.{GROUP}/w1 created"
    assert kubectl.ok("apply", "-f", str(f)).strip() == f"widget.{GROUP}/w1 unchanged"
    f.write_text(WIDGET.format(size=5, color="blue"))
    assert kubectl.ok("apply", "-f", str(f)).strip() == f"widget.{GROUP}/w1 configured"
    obj = api.get(f"/apis/{GROUP}/v1/namespaces/{kubectl.ns}/widgets/w1")
    assert obj["spec"] == {"size": 5, "color": "blue"}
    assert obj["metadata"]["generation"] == 2
    header, rows = table(kubectl.ok("get", "wg"))
    assert header == ["NAME", "SIZE", "COLOR", "AGE"]
    assert rows == [["w1", "5", "blue", "<age>"]]
    assert kubectl.ok("get", f"widgets.{GROUP}", "-o", "name") == f"widget.{GROUP}/w1\n"
    assert kubectl.ok("delete", "widget", "w1").strip() == f'widget.{GROUP} "w1" deleted'


def test_crd_schema_validation_and_unknown_fields(kubectl: Kubectl,
                                                  widget_crd: dict[str, Any]) -> None:
    established(widget_crd)
    f = kubectl.write("bad.yaml", WIDGET.format(size=0, color="red"))
    res = kubectl("apply", "-f", str(f))
    assert res.rc == 1
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or " \
           "equal to 1" in res.stderr, res.stderr
    f.write_text(WIDGET.format(size="many", color="red"))
    res = kubectl("apply", "-f", str(f))
    assert res.rc == 1
    if kubectl.version == "1.20":
        # 1.20 validates on the client against /openapi/v2, which publishes CRD schemas
        assert 'ValidationError(Widget.spec.size): invalid type for ' in res.stderr, res.stderr
    else:
        assert 'spec.size: Invalid value: "string": spec.size in body must be of type ' \
               'integer: "string"' in res.stderr, res.stderr


def test_crd_server_side_apply(kubectl: Kubectl, api: RawApi,
                               widget_crd: dict[str, Any]) -> None:
    established(widget_crd)
    f = kubectl.write("w.yaml", WIDGET.format(size=2, color="green"))
    assert kubectl.ok("apply", "--server-side", "-f", str(f)).strip() == \
        f"widget.{GROUP}/w1 serverside-applied"
    obj = api.get(f"/apis/{GROUP}/v1/namespaces/{kubectl.ns}/widgets/w1")
    (entry,) = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl", "Apply")
    assert entry["fieldsV1"] == {"f:spec": {"f:color": {}, "f:size": {}}}
    kubectl.ok("patch", "widget", "w1", "--type", "merge", "-p", '{"spec":{"size":9}}')
    assert api.get(f"/apis/{GROUP}/v1/namespaces/{kubectl.ns}/widgets/w1")["spec"]["size"] == 9


def test_crd_explain(kubectl: Kubectl, widget_crd: dict[str, Any]) -> None:
    established(widget_crd)
    out = kubectl.ok("explain", "widget.spec.size", namespaced=False)
    assert "How many parts the widget has." in " ".join(out.split()), out
