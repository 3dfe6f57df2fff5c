"""DaemonSet decisions (kubepy.controllers.daemonset.logic) as tables: node eligibility,
the pod shape, create/delete plans, rolling updates and status."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from kubepy.controllers.daemonset import logic

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]


def ds(*, selector: dict[str, str] | None = None, affinity: Obj | None = None,
       tolerations: list[Obj] | None = None, host_network: bool = False,
       surge: Any = None, unavailable: Any = None, strategy: str = "RollingUpdate") -> Obj:
    pod_spec: Obj = {"containers": [{"name": "c", "image": "agent"}]}
    if selector:
        pod_spec["nodeSelector"] = selector
    if affinity:
        pod_spec["affinity"] = {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": affinity}}
    if tolerations:
        pod_spec["tolerations"] = tolerations
    if host_network:
        pod_spec["hostNetwork"] = True
    rolling: Obj = {}
    if surge is not None:
        rolling["maxSurge"] = surge
    if unavailable is not None:
        rolling["maxUnavailable"] = unavailable
    return {"metadata": {"name": "agent", "namespace": "kube-system", "uid": "d1",
                         "generation": 2},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": {"type": strategy, "rollingUpdate": rolling},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": pod_spec}}}


def node(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "spec": {"taints": taints or []}}


def taint(key: str, effect: str, value: str = "") -> Obj:
    return {"key": key, "value": value, "effect": effect}


def pod(name: str, node_name: str, *, hash_: str = "h2", state: str = "ready",
        bound: bool = True, created: str = "2026-01-01T10:00:00Z") -> Obj:
    spec: Obj = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                "values": [node_name]}]}]}}}}
    if bound:
        spec["nodeName"] = node_name
    meta: Obj = {"name": name, "creationTimestamp": created,
                 "labels": {"app": "agent", "controller-revision-hash": hash_}}
    if state == "terminating":
        meta["deletionTimestamp"] = "2026-01-01T11:00:00Z"
    phase = {"ready": "Running", "unready": "Running", "failed": "Failed", "pending": "Pending",
             "terminating": "Running"}[state]
    ready = "True" if state in ("ready", "terminating") else "False"
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": ready, "lastTransitionTime": "2026-01-01T10:00:00Z"}]}}


SHOULD_RUN = [
    ("plain", ds(), node("n1"), (True, True)),
    ("selector-match", ds(selector={"disk": "ssd"}), node("n1", {"disk": "ssd"}), (True, True)),
    ("selector-miss", ds(selector={"disk": "ssd"}), node("n1"), (False, False)),
    ("affinity-in", ds(affinity={"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}),
     node("n1", {"zone": "b"}), (True, True)),
    ("affinity-notin", ds(affinity={"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}),
     node("n1", {"zone": "a"}), (False, False)),
    ("affinity-terms-ored", ds(affinity={"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "x", "operator": "Exists"}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}),
     node("n1"), (True, True)),
    ("affinity-gt", ds(affinity={"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "cores", "operator": "Gt", "values": ["4"]}]}]}),
     node("n1", {"cores": "8"}), (True, True)),
    ("noschedule-untolerated", ds(), node("n1", taints=[taint("dedicated", "NoSchedule")]),
     (False, True)),
    ("noexecute-untolerated", ds(), node("n1", taints=[taint("dedicated", "NoExecute")]),
     (False, False)),
    ("prefer-noschedule-ignored", ds(), node("n1", taints=[taint("x", "PreferNoSchedule")]),
     (True, True)),
    ("tolerated-equal", ds(tolerations=[{"key": "dedicated", "value": "gpu",
                                        "effect": "NoSchedule"}]),
     node("n1", taints=[taint("dedicated", "NoSchedule", "gpu")]), (True, True)),
    ("tolerated-wrong-value", ds(tolerations=[{"key": "dedicated", "value": "gpu"}]),
     node("n1", taints=[taint("dedicated", "NoSchedule", "cpu")]), (False, True)),
    ("control-plane-tainted", ds(),
     node("cp", taints=[taint("node-role.kubernetes.io/control-plane", "NoSchedule")]),
     (False, True)),
    ("auto-not-ready", ds(), node("n1", taints=[taint("node.kubernetes.io/not-ready",
                                                      "NoExecute")]), (True, True)),
    ("auto-unreachable", ds(), node("n1", taints=[taint("node.kubernetes.io/unreachable",
                                                        "NoExecute")]), (True, True)),
    ("auto-unschedulable", ds(), node("n1", taints=[taint("node.kubernetes.io/unschedulable",
                                                          "NoSchedule")]), (True, True)),
    ("auto-pressure", ds(), node("n1", taints=[taint("node.kubernetes.io/disk-pressure",
                                                     "NoSchedule"),
                                               taint("node.kubernetes.io/memory-pressure",
                                                     "NoSchedule"),
                                               taint("node.kubernetes.io/pid-pressure",
                                                     "NoSchedule")]), (True, True)),
    ("network-unavailable-needs-host-network", ds(),
     node("n1", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
     (False, True)),
    ("network-unavailable-host-network", ds(host_network=True),
     node("n1", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
     (True, True)),
    ("exists-all", ds(tolerations=[{"operator": "Exists"}]),
     node("n1", taints=[taint("a", "NoExecute"), taint("b", "NoSchedule")]), (True, True)),
]


@pytest.mark.parametrize("set_, node_, expect", [c[1:] for c in SHOULD_RUN],
                         ids=[c[0] for c in SHOULD_RUN])
def test_node_should_run(set_: Obj, node_: Obj, expect: tuple[bool, bool]) -> None:
    assert logic.node_should_run(set_, node_) == expect


def test_new_pod_pinned_with_tolerations() -> None:
    d = ds(affinity={"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "Exists"}]}]}, tolerations=[{"key": "x", "operator": "Exists"}])
    p = logic.new_pod(d, d["spec"]["template"], "n7", "h2")
    assert p["metadata"]["generateName"] == "agent-"
    assert p["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "h2",
                                       "pod-template-generation": "2"}
    assert p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] \
        == {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Exists"}],
                                   "matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": ["n7"]}]}]}
    keys = [(t.get("key"), t.get("effect")) for t in p["spec"]["tolerations"]]
    assert keys == [("x", None), ("node.kubernetes.io/not-ready", "NoExecute"),
                    ("node.kubernetes.io/unreachable", "NoExecute"),
                    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                    ("node.kubernetes.io/unschedulable", "NoSchedule")]
    assert "tolerationSeconds" not in p["spec"]["tolerations"][1]
    assert logic.target_node(p) == "n7"
    assert "affinity" not in d["spec"]["template"]["spec"] or \
        "matchFields" not in str(d["spec"]["template"]["spec"]["affinity"])


NODES3 = [node("n1"), node("n2"), node("n3")]
PLAN_CASES = [
    ("creates-on-every-node", ds(), NODES3, [], ["n1", "n2", "n3"], []),
    ("creates-on-missing", ds(), NODES3, [pod("a", "n1"), pod("b", "n2", bound=False)],
     ["n3"], []),
    ("node-left", ds(), NODES3[:1], [pod("a", "n1"), pod("b", "n2")], [], ["b"]),
    ("duplicates-keep-oldest", ds(), NODES3[:1],
     [pod("a", "n1", created="2026-01-01T10:00:01Z"), pod("b", "n1")], [], ["a"]),
    ("failed-deleted-then-recreated-later", ds(), NODES3[:1], [pod("a", "n1", state="failed")],
     [], ["a"]),
    ("terminating-replaced", ds(), NODES3[:1], [pod("a", "n1", state="terminating")],
     ["n1"], []),
    ("noexecute-evicts", ds(), [node("n1", taints=[taint("x", "NoExecute")])],
     [pod("a", "n1")], [], ["a"]),
    ("noschedule-keeps-running", ds(), [node("n1", taints=[taint("x", "NoSchedule")])],
     [pod("a", "n1")], [], []),
    ("selector-no-longer-matches", ds(selector={"role": "edge"}), NODES3[:1], [pod("a", "n1")],
     [], ["a"]),
    ("rolling-one-at-a-time", ds(), NODES3,
     [pod("a", "n1", hash_="h1"), pod("b", "n2", hash_="h1"), pod("c", "n3", hash_="h1")],
     [], ["a"]),
    ("rolling-waits-for-unavailable-new", ds(), NODES3,
     [pod("a", "n1", state="unready"), pod("b", "n2", hash_="h1"), pod("c", "n3", hash_="h1")],
     [], []),
    ("rolling-max-unavailable-2", ds(unavailable=2), NODES3,
     [pod("a", "n1", hash_="h1"), pod("b", "n2", hash_="h1"), pod("c", "n3", hash_="h1")],
     [], ["a", "b"]),
    ("rolling-percent-rounds-up", ds(unavailable="50%"), NODES3,
     [pod("a", "n1", hash_="h1"), pod("b", "n2", hash_="h1"), pod("c", "n3", hash_="h1")],
     [], ["a", "b"]),
    ("rolling-unavailable-old-replaced-free", ds(), NODES3,
     [pod("a", "n1", state="unready"), pod("b", "n2", hash_="h1", state="unready"),
      pod("c", "n3", hash_="h1")], [], ["b"]),
    ("surge-creates-beside-old", ds(surge=1, unavailable=0), NODES3,
     [pod("a", "n1", hash_="h1"), pod("b", "n2", hash_="h1"), pod("c", "n3", hash_="h1")],
     ["n1"], []),
    ("surge-deletes-old-when-new-available", ds(surge=1, unavailable=0), NODES3[:2],
     [pod("a", "n1", hash_="h1"), pod("a2", "n1"), pod("b", "n2", hash_="h1")], ["n2"], ["a"]),
    ("surge-waits", ds(surge=1, unavailable=0), NODES3[:2],
     [pod("a", "n1", hash_="h1"), pod("a2", "n1", state="unready"), pod("b", "n2", hash_="h1")],
     [], []),
    ("ondelete-keeps-old", ds(strategy="OnDelete"), NODES3[:1], [pod("a", "n1", hash_="h1")],
     [], []),
]


@pytest.mark.parametrize("set_, nodes, pods, creates, deletes", [c[1:] for c in PLAN_CASES],
                         ids=[c[0] for c in PLAN_CASES])
def test_plan(set_: Obj, nodes: list[Obj], pods: list[Obj], creates: list[str],
              deletes: list[str]) -> None:
    got = logic.plan(set_, nodes, pods, "h2", NOW)
    assert got.create == creates
    assert got.delete == deletes


def test_plan_reports_failed_pods() -> None:
    got = logic.plan(ds(), NODES3[:1], [pod("a", "n1", state="failed")], "h2", NOW)
    assert got.failed == [("a", "n1")]


def test_status() -> None:
    nodes = NODES3 + [node("cp", taints=[taint("node-role.kubernetes.io/control-plane",
                                               "NoSchedule")])]
    pods = [pod("a", "n1"), pod("b", "n2", hash_="h1", state="unready"), pod("c", "cp")]
    status = logic.compute_status(ds(), nodes, pods, "h2", NOW, None)
    assert status == {"observedGeneration": 2, "desiredNumberScheduled": 3,
                      "currentNumberScheduled": 2, "numberMisscheduled": 1, "numberReady": 1,
                      "numberAvailable": 1, "updatedNumberScheduled": 1,
                      "numberUnavailable": 2}
