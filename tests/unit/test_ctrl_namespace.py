"""Namespace controller decisions (kubepy.controllers.namespace.deletion) and the discovery
helpers it uses (kubepy.controllers.discovery), as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.api.registry import Registry, ResourceType
from kubepy.controllers import discovery
from kubepy.controllers.namespace import deletion

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
T0 = "2026-03-01T11:00:00Z"
REG = Registry()
PODS = REG.get("", "v1", "pods")
CMS = REG.get("", "v1", "configmaps")
DEPLOYS = REG.get("apps", "v1", "deployments")
WIDGETS = ResourceType("x.io", "v1", "widgets", "Widget", True, custom=True)


def pod(phase: str | None = None, grace: int | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"spec": {}, "status": {}}
    if grace is not None:
        p["spec"]["terminationGracePeriodSeconds"] = grace
    if phase:
        p["status"]["phase"] = phase
    return p


@pytest.mark.parametrize("pods,expected", [
    ([], 0),
    ([pod("Running", 30)], 30),
    ([pod("Running", 30), pod("Pending", 90)], 90),
    ([pod("Succeeded", 600), pod("Failed", 500), pod("Running", 5)], 5),
    ([pod("Running")], 0),
], ids=["none", "one", "largest", "terminal-ignored", "no-grace-field"])
def test_pods_grace_estimate(pods: list[dict[str, Any]], expected: int) -> None:
    assert deletion.pods_grace_estimate(pods) == expected


@pytest.mark.parametrize("estimate,deleted_at,now,expected", [
    (30, "2026-03-01T12:00:00Z", NOW + timedelta(seconds=10), 30),
    (30, "2026-03-01T12:00:00Z", NOW + timedelta(seconds=30), 0),
    (30, "2026-03-01T12:00:00Z", NOW + timedelta(seconds=31), 0),
    (30, None, NOW, 30),
    (0, "2026-03-01T12:00:00Z", NOW, 0),
], ids=["within", "exactly-elapsed", "elapsed", "no-timestamp", "zero"])
def test_remaining_estimate(estimate: int, deleted_at: str | None, now: datetime,
                            expected: int) -> None:
    assert deletion.remaining_estimate(estimate, deleted_at, now) == expected


def item(*finalizers: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "finalizers": list(finalizers)}}


@pytest.mark.parametrize("rt,items,estimate,expected", [
    (CMS, [], 0, deletion.ContentOutcome()),
    (CMS, [], 30, deletion.ContentOutcome()),
    (PODS, [item(), item()], 30, deletion.ContentOutcome(30, 2, {})),
    (CMS, [item("a/b"), item("a/b", "c"), item()], 0,
     deletion.ContentOutcome(15, 3, {"a/b": 2, "c": 1})),
    (CMS, [item()], 0, deletion.ContentOutcome(
        0, 1, {}, "unexpected items still remain in namespace: ns1 for gvr: /v1, "
                  "Resource=configmaps")),
    (DEPLOYS, [item()], 0, deletion.ContentOutcome(
        0, 1, {}, "unexpected items still remain in namespace: ns1 for gvr: apps/v1, "
                  "Resource=deployments")),
], ids=["empty", "empty-with-estimate", "graceful-pods", "finalizers-default-estimate",
        "unexpected-core", "unexpected-group"])
def test_content_outcome(rt: ResourceType, items: list[dict[str, Any]], estimate: int,
                         expected: deletion.ContentOutcome) -> None:
    assert deletion.content_outcome(rt, "ns1", items, estimate) == expected


def conds(cs: list[dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in cs}


@pytest.mark.parametrize("kwargs,expected", [
    ({}, {}),
    ({"discovery_error": "unable to retrieve the complete list of server APIs: x.io/v1: boom",
      "discovery_failed_groups": 1},
     {deletion.DISCOVERY_FAILURE: ("True", "DiscoveryFailed",
                                   "Discovery failed for some groups, 1 failing: unable to "
                                   "retrieve the complete list of server APIs: x.io/v1: boom")}),
    ({"remaining": {PODS: 2, WIDGETS: 1, CMS: 0}},
     {deletion.CONTENT_REMAINING: ("True", "SomeResourcesRemain",
                                   "Some resources are remaining: pods. has 2 resource "
                                   "instances, widgets.x.io has 1 resource instances")}),
    ({"finalizers": {"b/f": 1, "a/f": 3}},
     {deletion.FINALIZERS_REMAINING: ("True", "SomeFinalizerRemain",
                                      "Some finalizers are remaining: a/f in 3 resource "
                                      "instances, b/f in 1 resource instances")}),
    ({"content_errors": ["z failed", "a failed"]},
     {deletion.CONTENT_FAILURE: ("True", "ContentDeletionFailed",
                                 "Failed to delete all resource types, 2 remaining: "
                                 "a failed, z failed")}),
], ids=["all-well", "discovery", "remaining-sorted", "finalizers-sorted", "content-errors"])
def test_deletion_conditions(kwargs: dict[str, Any],
                             expected: dict[str, tuple[str, str, str]]) -> None:
    assert conds(deletion.deletion_conditions(now=NOW, **kwargs)) == expected


OK = {t: ("False", deletion.OK_REASONS[t], deletion.OK_MESSAGES[t])
      for t in deletion.CONDITION_TYPES}


def cond(type_: str, status: str, reason: str, message: str, when: str = T0) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": when}


REMAINING = cond(deletion.CONTENT_REMAINING, "True", "SomeResourcesRemain", "m1")


@pytest.mark.parametrize("old,failing,expected,changed,moved", [
    ([], [], OK, True, set(deletion.CONDITION_TYPES)),
    ([cond(t, *OK[t]) for t in deletion.CONDITION_TYPES], [], OK, False, set()),
    ([cond(t, *OK[t]) for t in deletion.CONDITION_TYPES], [REMAINING],
     {**OK, deletion.CONTENT_REMAINING: ("True", "SomeResourcesRemain", "m1")}, True,
     {deletion.CONTENT_REMAINING}),
    ([cond(t, *OK[t]) if t != deletion.CONTENT_REMAINING else REMAINING
      for t in deletion.CONDITION_TYPES],
     [cond(deletion.CONTENT_REMAINING, "True", "SomeResourcesRemain", "m2")],
     {**OK, deletion.CONTENT_REMAINING: ("True", "SomeResourcesRemain", "m2")}, True, set()),
    ([cond("Custom", "True", "R", "kept")], [], {**OK, "Custom": ("True", "R", "kept")}, True,
     set(deletion.CONDITION_TYPES)),
], ids=["first-pass", "unchanged", "flips-true", "message-only-keeps-time", "foreign-kept"])
def test_merge_conditions(old: list[dict[str, Any]], failing: list[dict[str, Any]],
                          expected: dict[str, tuple[str, str, str]], changed: bool,
                          moved: set[str]) -> None:
    merged, did_change = deletion.merge_conditions(old, failing, NOW)
    assert conds(merged) == expected
    assert did_change is changed
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {c["type"] for c in merged if c["lastTransitionTime"] == now} == moved
    if not old:
        assert [c["type"] for c in merged] == list(deletion.CONDITION_TYPES)


@pytest.mark.parametrize("finalizers,expected", [
    (["kubernetes"], []),
    (["kubernetes", "z.io/x", "a.io/y", "a.io/y"], ["a.io/y", "z.io/x"]),
    ([], []),
], ids=["only-ours", "others-sorted-unique", "none"])
def test_finalizers_after(finalizers: list[str], expected: list[str]) -> None:
    assert deletion.finalizers_after(finalizers) == expected


@pytest.mark.parametrize("estimate,expected", [(0, 1.0), (15, 8.0), (30, 16.0)],
                         ids=["zero", "finalizers", "pods"])
def test_requeue_after(estimate: int, expected: float) -> None:
    assert deletion.requeue_after(estimate) == expected


# ---------------------------------------------------------------------------- discovery

CORE_LIST = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["create", "delete", "list"]},
    {"name": "pods/status", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    {"name": "namespaces", "namespaced": False, "kind": "Namespace",
     "verbs": ["create", "delete", "get", "list", "watch"]},
]}
CUSTOM_LIST = {"kind": "APIResourceList", "groupVersion": "x.io/v1", "resources": [
    {"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget",
     "verbs": ["delete", "deletecollection", "get", "list", "watch"]},
]}


def test_parse_resource_list_uses_registry_for_builtins_and_builds_custom_types() -> None:
    core = discovery.parse_resource_list(CORE_LIST)
    assert [rt.plural for rt in core] == ["pods", "namespaces"]
    assert core[0].kind == "Pod" and core[0].verbs == ("create", "delete", "list")
    (widgets,) = discovery.parse_resource_list(CUSTOM_LIST)
    assert (widgets.group, widgets.version, widgets.plural, widgets.kind, widgets.namespaced,
            widgets.custom) == ("x.io", "v1", "widgets", "Widget", True, True)
    assert "deletecollection" in widgets.verbs


def test_preferred_group_versions_and_filters() -> None:
    groups = {"groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "autoscaling", "versions": [{"groupVersion": "autoscaling/v2"},
                                             {"groupVersion": "autoscaling/v1"}],
         "preferredVersion": {"groupVersion": "autoscaling/v2"}},
        {"name": "nopref", "versions": [{"groupVersion": "nopref/v1beta1"}]},
    ]}
    assert discovery.preferred_group_versions(groups) == ["apps/v1", "autoscaling/v2",
                                                         "nopref/v1beta1"]
    found = discovery.parse_resource_list(CORE_LIST) + discovery.parse_resource_list(CUSTOM_LIST)
    assert [rt.plural for rt in discovery.with_verbs(found, "delete", namespaced=True)] == \
        ["pods", "widgets"]
    assert [rt.plural for rt in discovery.with_verbs(found, "list", "watch", "delete")] == \
        ["namespaces", "widgets"]
    index = discovery.kind_index(found)
    assert index[("x.io", "Widget")].plural == "widgets"
    assert index[("", "Namespace")].plural == "namespaces"


def test_discovery_error_message() -> None:
    result = discovery.DiscoveryResult(failed={"b.io/v1": "boom", "a.io/v1": "down"})
    assert result.error_message() == ("unable to retrieve the complete list of server APIs: "
                                      "a.io/v1: down, b.io/v1: boom")
    assert discovery.DiscoveryResult().error_message() == ""
