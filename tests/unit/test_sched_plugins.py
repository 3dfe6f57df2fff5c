"""Filter and Score plugins of the default profile, one table per plugin: the reason a
node is rejected (exact kube-scheduler texts) and the scores a node gets."""

from __future__ import annotations

from typing import Any

import pytest
from schedtest import cluster, framework, node, pod

from kubepy.scheduler.framework import CycleState, default_normalize
from kubepy.scheduler.nodeinfo import PodInfo, pod_requests
from kubepy.scheduler.plugins import VolumeListers

Obj = dict[str, Any]
GPU = "nvidia.com/gpu"


def rejection(p: Obj, nodes: list[Obj], pods: list[Obj] = (), *,  # type: ignore[assignment]
              listers: VolumeListers | None = None, on: str | None = None) -> str | None:
    """Why the default profile rejects ``p`` on node ``on`` (default: the first node)."""
    c = cluster(nodes, pods)
    fw = framework(c, listers)
    state = CycleState()
    pi = PodInfo(p)
    s = fw.run_pre_filter(state, pi, c)
    if s is not None:
        return "prefilter: " + s.message
    s = fw.run_filter(state, pi, c.get(on or nodes[0]["metadata"]["name"]))  # type: ignore[arg-type]
    if s is None:
        return None
    # the batch path must agree with the per-node path
    passed, bad = fw.filter_nodes(state, pi, [c.get(on or nodes[0]["metadata"]["name"])])  # type: ignore[list-item]
    assert not passed and bad[0][1].reasons == s.reasons
    return s.message


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> Obj:
    return {"key": key, "value": value, "effect": effect}


def affinity(required: list[Obj] | None = None, preferred: list[Obj] | None = None) -> Obj:
    na: Obj = {}
    if required is not None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": required}
    if preferred is not None:
        na["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"nodeAffinity": na}


def expr(key: str, op: str, *values: str) -> Obj:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


UNTOLERATED = "node(s) had untolerated taint {dedicated: gpu}"
NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
PORTS = "node(s) didn't have free ports for the requested pod ports"

FILTER_CASES = [
    # NodeUnschedulable
    ("cordoned", pod("p"), [node("n", unschedulable=True)], [], "node(s) were unschedulable"),
    ("cordoned-tolerated", pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                                  "operator": "Exists", "effect": "NoSchedule"}]),
     [node("n", unschedulable=True)], [], None),
    # NodeName
    ("node-name-other", pod("p", node_name="other"), [node("n")], [],
     "node(s) didn't match the requested node name"),
    # TaintToleration
    ("taint-untolerated", pod("p"), [node("n", taints=[taint("dedicated", "gpu")])], [],
     UNTOLERATED),
    ("taint-noexecute", pod("p"), [node("n", taints=[taint("dedicated", "gpu", "NoExecute")])],
     [], UNTOLERATED),
    ("taint-prefer-only", pod("p"),
     [node("n", taints=[taint("dedicated", "gpu", "PreferNoSchedule")])], [], None),
    ("toleration-equal", pod("p", tolerations=[{"key": "dedicated", "value": "gpu",
                                                "effect": "NoSchedule"}]),
     [node("n", taints=[taint("dedicated", "gpu")])], [], None),
    ("toleration-wrong-value", pod("p", tolerations=[{"key": "dedicated", "value": "cpu"}]),
     [node("n", taints=[taint("dedicated", "gpu")])], [], UNTOLERATED),
    ("toleration-exists-any-key", pod("p", tolerations=[{"operator": "Exists"}]),
     [node("n", taints=[taint("dedicated", "gpu"), taint("x", "", "NoExecute")])], [], None),
    ("toleration-wrong-effect", pod("p", tolerations=[{"key": "dedicated", "operator": "Exists",
                                                       "effect": "NoExecute"}]),
     [node("n", taints=[taint("dedicated", "gpu")])], [], UNTOLERATED),
    ("first-untolerated-named", pod("p", tolerations=[{"key": "a", "operator": "Exists"}]),
     [node("n", taints=[taint("a", "1"), taint("node-role.kubernetes.io/control-plane")])], [],
     "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
    # NodeAffinity
    ("selector-miss", pod("p", nodeSelector={"disk": "ssd"}), [node("n")], [], NODE_AFFINITY),
    ("selector-hit", pod("p", nodeSelector={"disk": "ssd"}),
     [node("n", labels={"disk": "ssd"})], [], None),
    ("affinity-in", pod("p", affinity=affinity([{"matchExpressions": [
        expr("zone", "In", "a", "b")]}])), [node("n", labels={"zone": "b"})], [], None),
    ("affinity-notin", pod("p", affinity=affinity([{"matchExpressions": [
        expr("zone", "NotIn", "b")]}])), [node("n", labels={"zone": "b"})], [], NODE_AFFINITY),
    ("affinity-gt", pod("p", affinity=affinity([{"matchExpressions": [
        expr("cores", "Gt", "8")]}])), [node("n", labels={"cores": "16"})], [], None),
    ("affinity-lt-fails", pod("p", affinity=affinity([{"matchExpressions": [
        expr("cores", "Lt", "8")]}])), [node("n", labels={"cores": "16"})], [], NODE_AFFINITY),
    ("affinity-doesnotexist", pod("p", affinity=affinity([{"matchExpressions": [
        expr("spot", "DoesNotExist")]}])), [node("n", labels={"spot": "1"})], [], NODE_AFFINITY),
    ("affinity-terms-ored", pod("p", affinity=affinity([
        {"matchExpressions": [expr("zone", "In", "x")]},
        {"matchExpressions": [expr("spot", "Exists")]}])),
     [node("n", labels={"spot": "1"})], [], None),
    ("affinity-match-fields", pod("p", affinity=affinity([{"matchFields": [
        expr("metadata.name", "In", "other")]}])), [node("n")], [], NODE_AFFINITY),
    ("affinity-empty-term", pod("p", affinity=affinity([{}])), [node("n")], [], NODE_AFFINITY),
    # NodePorts
    ("port-conflict", pod("p", ports=[{"containerPort": 80, "hostPort": 8080}]), [node("n")],
     [pod("q", node_name="n", ports=[{"containerPort": 80, "hostPort": 8080}])], PORTS),
    ("port-other-protocol", pod("p", ports=[{"containerPort": 80, "hostPort": 8080,
                                             "protocol": "UDP"}]), [node("n")],
     [pod("q", node_name="n", ports=[{"containerPort": 80, "hostPort": 8080}])], None),
    ("port-distinct-ips", pod("p", ports=[{"containerPort": 80, "hostPort": 8080,
                                           "hostIP": "10.0.0.1"}]), [node("n")],
     [pod("q", node_name="n", ports=[{"containerPort": 80, "hostPort": 8080,
                                      "hostIP": "10.0.0.2"}])], None),
    ("port-wildcard-vs-ip", pod("p", ports=[{"containerPort": 80, "hostPort": 8080,
                                             "hostIP": "10.0.0.1"}]), [node("n")],
     [pod("q", node_name="n", ports=[{"containerPort": 80, "hostPort": 8080}])], PORTS),
    # NodeResourcesFit
    ("fits", pod("p", "1", "1Gi"), [node("n")], [pod("q", "3", node_name="n")], None),
    ("cpu", pod("p", "1500m"), [node("n")], [pod("q", "3", node_name="n")], "Insufficient cpu"),
    ("cpu-and-memory", pod("p", "2", "20Gi"), [node("n")],
     [pod("q", "3", "16Gi", node_name="n")], "Insufficient cpu, Insufficient memory"),
    ("too-many-pods", pod("p"), [node("n", pods="1")], [pod("q", node_name="n")],
     "Too many pods"),
    ("gpu", pod("p", extra_requests={GPU: "2"}), [node("n", extra={GPU: "1"})], [],
     "Insufficient nvidia.com/gpu"),
    ("gpu-fits", pod("p", extra_requests={GPU: "1"}), [node("n", extra={GPU: "1"})], [], None),
    ("ephemeral", pod("p", extra_requests={"ephemeral-storage": "20Gi"}),
     [node("n", extra={"ephemeral-storage": "10Gi"})], [], "Insufficient ephemeral-storage"),
    ("init-container-max", pod("p", "1", initContainers=[{
        "name": "i", "image": "x", "resources": {"requests": {"cpu": "3"}}}]), [node("n")],
     [pod("q", "1500m", node_name="n")], "Insufficient cpu"),
    ("overhead", pod("p", "2", overhead={"cpu": "1"}), [node("n")],
     [pod("q", "1500m", node_name="n")], "Insufficient cpu"),
    ("best-effort-ignores-requests", pod("p"), [node("n", cpu="1")],
     [pod("q", "1", node_name="n")], None),
]


@pytest.mark.parametrize("p,nodes,pods,want", [c[1:] for c in FILTER_CASES],
                         ids=[c[0] for c in FILTER_CASES])
def test_filter(p: Obj, nodes: list[Obj], pods: list[Obj], want: str | None) -> None:
    assert rejection(p, nodes, pods) == want


def claim(name: str, *, volume: str = "", sc: str = "", modes: tuple[str, ...] = ("ReadWriteOnce",)) -> Obj:
    spec: Obj = {"accessModes": list(modes)}
    if volume:
        spec["volumeName"] = volume
    if sc:
        spec["storageClassName"] = sc
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def with_claim(name: str, claim_name: str, **kw: Any) -> Obj:
    return pod(name, volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": claim_name}}],
               **kw)


PV_ZONE_A = {"metadata": {"name": "pv-a"}, "spec": {"nodeAffinity": {"required": {
    "nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", "a")]}]}}}}

VOLUME_CASES = [
    ("claim-missing", with_claim("p", "data"), {}, [],
     'prefilter: persistentvolumeclaim "data" not found'),
    ("unbound-immediate", with_claim("p", "data"), {"data": claim("data")}, [],
     "prefilter: pod has unbound immediate PersistentVolumeClaims"),
    ("unbound-wait-for-first-consumer", with_claim("p", "data"),
     {"data": claim("data", sc="local")}, [], None),
    ("pv-node-affinity-conflict", with_claim("p", "data"),
     {"data": claim("data", volume="pv-a")}, [], "node(s) had volume node affinity conflict"),
    ("rwop-in-use", with_claim("p", "data"),
     {"data": claim("data", volume="pv-any", modes=("ReadWriteOncePod",))},
     [with_claim("q", "data", node_name="n")],
     "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
     "access mode"),
    ("rwo-shared-ok", with_claim("p", "data"), {"data": claim("data", volume="pv-any")},
     [with_claim("q", "data", node_name="n")], None),
]


@pytest.mark.parametrize("p,claims,pods,want", [c[1:] for c in VOLUME_CASES],
                         ids=[c[0] for c in VOLUME_CASES])
def test_volume_filters(p: Obj, claims: dict[str, Obj], pods: list[Obj], want: str | None) -> None:
    c = cluster([node("n", labels={"zone": "b"})], pods)
    listers = VolumeListers(
        pvc=lambda ns, name: claims.get(name),
        pv=lambda name: PV_ZONE_A if name == "pv-a" else {"metadata": {"name": name}, "spec": {}},
        storage_class=lambda name: {"volumeBindingMode": "WaitForFirstConsumer"}
        if name == "local" else None,
        pvc_users=c.pvc_users)
    assert rejection(p, [node("n", labels={"zone": "b"})], pods, listers=listers) == want


def zone_node(name: str, zone: str) -> Obj:
    return node(name, labels={"topology.kubernetes.io/zone": zone})


def pod_affinity(kind: str, required: bool, labels: dict[str, str], key: str,
                 weight: int = 10) -> Obj:
    term = {"labelSelector": {"matchLabels": labels}, "topologyKey": key}
    if required:
        return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "podAffinityTerm": term}]}}


ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
NODES_AB = [zone_node("a1", "a"), zone_node("b1", "b")]

AFFINITY_CASES = [
    ("affinity-satisfied-in-zone", pod("p", affinity=pod_affinity(
        "podAffinity", True, {"app": "db"}, ZONE)), [pod("db", labels={"app": "db"},
                                                         node_name="a1")], "a1", None),
    ("affinity-other-zone", pod("p", affinity=pod_affinity(
        "podAffinity", True, {"app": "db"}, ZONE)), [pod("db", labels={"app": "db"},
                                                         node_name="a1")], "b1",
     "node(s) didn't match pod affinity rules"),
    ("affinity-first-of-group", pod("p", labels={"app": "db"}, affinity=pod_affinity(
        "podAffinity", True, {"app": "db"}, ZONE)), [], "b1", None),
    ("affinity-nobody-not-self", pod("p", affinity=pod_affinity(
        "podAffinity", True, {"app": "db"}, ZONE)), [], "b1",
     "node(s) didn't match pod affinity rules"),
    ("affinity-missing-key", pod("p", labels={"app": "db"}, affinity=pod_affinity(
        "podAffinity", True, {"app": "db"}, "rack")), [], "b1",
     "node(s) didn't match pod affinity rules"),
    ("anti-affinity-same-host", pod("p", affinity=pod_affinity(
        "podAntiAffinity", True, {"app": "web"}, HOST)), [pod("w", labels={"app": "web"},
                                                              node_name="a1")], "a1",
     "node(s) didn't match pod anti-affinity rules"),
    ("anti-affinity-other-host", pod("p", affinity=pod_affinity(
        "podAntiAffinity", True, {"app": "web"}, HOST)), [pod("w", labels={"app": "web"},
                                                              node_name="a1")], "b1", None),
    ("anti-affinity-other-namespace", pod("p", affinity=pod_affinity(
        "podAntiAffinity", True, {"app": "web"}, HOST)),
     [pod("w", labels={"app": "web"}, node_name="a1", namespace="other")], "a1", None),
    ("existing-anti-affinity", pod("p", labels={"app": "web"}),
     [pod("w", node_name="a1", affinity=pod_affinity("podAntiAffinity", True,
                                                       {"app": "web"}, ZONE))], "a1",
     "node(s) didn't satisfy existing pods anti-affinity rules"),
    ("existing-anti-affinity-other-zone", pod("p", labels={"app": "web"}),
     [pod("w", node_name="a1", affinity=pod_affinity("podAntiAffinity", True,
                                                       {"app": "web"}, ZONE))], "b1", None),
]


@pytest.mark.parametrize("p,pods,on,want", [c[1:] for c in AFFINITY_CASES],
                         ids=[c[0] for c in AFFINITY_CASES])
def test_inter_pod_affinity_filter(p: Obj, pods: list[Obj], on: str, want: str | None) -> None:
    assert rejection(p, NODES_AB, pods, on=on) == want


def spread(max_skew: int, key: str = ZONE, when: str = "DoNotSchedule", **kw: Any) -> list[Obj]:
    return [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": "web"}}, **kw}]


WEB = {"app": "web"}
SPREAD_CASES = [
    ("skew-ok", pod("p", labels=WEB, topologySpreadConstraints=spread(1)),
     [pod("w1", labels=WEB, node_name="a1")], "b1", None),
    ("skew-exceeded", pod("p", labels=WEB, topologySpreadConstraints=spread(1)),
     [pod("w1", labels=WEB, node_name="a1")], "a1",
     "node(s) didn't match pod topology spread constraints"),
    ("skew-2-allows", pod("p", labels=WEB, topologySpreadConstraints=spread(2)),
     [pod("w1", labels=WEB, node_name="a1")], "a1", None),
    ("missing-key", pod("p", labels=WEB, topologySpreadConstraints=spread(1, "rack")),
     [], "a1", "node(s) didn't match pod topology spread constraints (missing required label)"),
    ("min-domains", pod("p", labels=WEB, topologySpreadConstraints=spread(1, minDomains=3)),
     [pod("w1", labels=WEB, node_name="a1")], "b1", None),
    ("min-domains-blocks", pod("p", labels=WEB, topologySpreadConstraints=spread(
        1, minDomains=3)), [pod("w1", labels=WEB, node_name="b1")], "b1",
     "node(s) didn't match pod topology spread constraints"),
    ("other-labels-not-counted", pod("p", labels=WEB, topologySpreadConstraints=spread(1)),
     [pod("x", labels={"app": "db"}, node_name="a1")], "a1", None),
    ("schedule-anyway-no-filter", pod("p", labels=WEB, topologySpreadConstraints=spread(
        1, when="ScheduleAnyway")), [pod("w1", labels=WEB, node_name="a1"),
                                     pod("w2", labels=WEB, node_name="a1")], "a1", None),
]


@pytest.mark.parametrize("p,pods,on,want", [c[1:] for c in SPREAD_CASES],
                         ids=[c[0] for c in SPREAD_CASES])
def test_pod_topology_spread_filter(p: Obj, pods: list[Obj], on: str, want: str | None) -> None:
    assert rejection(p, NODES_AB, pods, on=on) == want


# ---------------------------------------------------------------------- scores

def scores(p: Obj, nodes: list[Obj], pods: list[Obj] = ()) -> dict[str, dict[str, int]]:  # type: ignore[assignment]
    """Normalised, unweighted scores per plugin and node."""
    c = cluster(nodes, pods)
    fw = framework(c)
    state = CycleState()
    pi = PodInfo(p)
    assert fw.run_pre_filter(state, pi, c) is None
    infos = [c.get(n["metadata"]["name"]) for n in nodes]
    assert fw.run_pre_score(state, pi, infos, c) is None  # type: ignore[arg-type]
    out = fw.plugin_scores(state, pi, infos)  # type: ignore[arg-type]
    per_node = [{n["metadata"]["name"]: s[i] for i, n in enumerate(nodes)} for s in out.values()]
    return dict(zip(out, per_node))


MB = 1024 * 1024
SCORE_CASES = [
    ("least-allocated-empty", pod("p", "1", "8Gi"), [node("n")], [],
     "NodeResourcesFit", {"n": 75}),
    ("least-allocated-defaults", pod("p"), [node("n", cpu="1", memory="1Gi")], [],
     "NodeResourcesFit", {"n": 85}),  # 100m of 1000m -> 90, 200Mi of 1Gi -> 80
    ("least-allocated-prefers-empty", pod("p", "1", "1Gi"), [node("a"), node("b")],
     [pod("q", "2", "16Gi", node_name="a")], "NodeResourcesFit", {"a": 35, "b": 85}),  # (25+46)//2, (75+96)//2
    ("balanced", pod("p", "1", "16Gi"), [node("n")], [], "NodeResourcesBalancedAllocation",
     {"n": 87}),  # fractions .25 and .5 -> 1 - .125
    ("taint-prefer-no-schedule", pod("p"), [
        node("a"), node("b", taints=[taint("x", "", "PreferNoSchedule")]),
        node("c", taints=[taint("x", "", "PreferNoSchedule"), taint("y", "", "PreferNoSchedule")])],
     [], "TaintToleration", {"a": 100, "b": 50, "c": 0}),
    ("taint-prefer-tolerated", pod("p", tolerations=[{"key": "x", "operator": "Exists"}]), [
        node("a"), node("b", taints=[taint("x", "", "PreferNoSchedule")])], [],
     "TaintToleration", {"a": 100, "b": 100}),
    ("node-affinity-preferred", pod("p", affinity=affinity(preferred=[
        {"weight": 30, "preference": {"matchExpressions": [expr("disk", "In", "ssd")]}},
        {"weight": 10, "preference": {"matchExpressions": [expr("zone", "In", "a")]}}])),
     [node("a", labels={"disk": "ssd", "zone": "a"}), node("b", labels={"disk": "ssd"}),
      node("c")], [], "NodeAffinity", {"a": 100, "b": 75, "c": 0}),
    ("image-locality", pod("p", image="nginx"), [
        node("a", images=[{"names": ["docker.io/library/nginx:latest", "nginx:latest"],
                           "sizeBytes": 500 * MB}]), node("b")], [],
     "ImageLocality", {"a": 23, "b": 0}),
    ("pod-affinity-preferred", pod("p", affinity=pod_affinity(
        "podAffinity", False, {"app": "db"}, ZONE, 5)), NODES_AB,
     [pod("db", labels={"app": "db"}, node_name="b1")], "InterPodAffinity", {"a1": 0, "b1": 100}),
    ("pod-anti-affinity-preferred", pod("p", affinity=pod_affinity(
        "podAntiAffinity", False, {"app": "db"}, ZONE, 5)), NODES_AB,
     [pod("db", labels={"app": "db"}, node_name="b1")], "InterPodAffinity", {"a1": 100, "b1": 0}),
    ("spread-schedule-anyway", pod("p", labels=WEB, topologySpreadConstraints=spread(
        1, when="ScheduleAnyway")), NODES_AB, [pod("w", labels=WEB, node_name="a1")],
     "PodTopologySpread", {"a1": 0, "b1": 100}),
]


@pytest.mark.parametrize("p,nodes,pods,plugin,want", [c[1:] for c in SCORE_CASES],
                         ids=[c[0] for c in SCORE_CASES])
def test_scores(p: Obj, nodes: list[Obj], pods: list[Obj], plugin: str,
                want: dict[str, int]) -> None:
    assert scores(p, nodes, pods)[plugin] == want


def test_batch_and_per_node_scores_agree() -> None:
    nodes = [node(f"n{i}", cpu=str(2 + i), memory=f"{8 * (i + 1)}Gi") for i in range(6)]
    pods = [pod(f"q{i}", f"{300 * i}m", f"{i}Gi", node_name=f"n{i}") for i in range(6)]
    c = cluster(nodes, pods)
    fw = framework(c)
    pi = PodInfo(pod("p", "250m", "700Mi"))
    infos = c.node_infos()
    for plugin in fw.scores:
        if hasattr(plugin, "score_nodes"):
            state = CycleState()
            getattr(plugin, "pre_score", lambda *a: None)(state, pi, infos, c)
            batch = plugin.score_nodes(state, pi, infos)
            single = [plugin.score(state, pi, n) for n in infos]
            assert (batch if isinstance(batch, list) else [batch] * len(infos)) == single, plugin.name


NORMALIZE_CASES = [
    ("scale-to-max", [0, 5, 10], False, [0, 50, 100]),
    ("all-zero", [0, 0], False, [0, 0]),
    ("reverse", [0, 1, 2], True, [100, 50, 0]),
    ("reverse-all-zero", [0, 0], True, [100, 100]),
]


@pytest.mark.parametrize("raw,reverse,want", [c[1:] for c in NORMALIZE_CASES],
                         ids=[c[0] for c in NORMALIZE_CASES])
def test_default_normalize(raw: list[int], reverse: bool, want: list[int]) -> None:
    assert default_normalize(raw, reverse=reverse) == want


REQUEST_CASES = [
    ("containers-sum", {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                                       {"resources": {"requests": {"cpu": "500m"}}}]},
     (1500, 1024**3)),
    ("init-max", {"initContainers": [{"resources": {"requests": {"cpu": "2"}}}],
                  "containers": [{"resources": {"requests": {"cpu": "1"}}}]}, (2000, 0)),
    ("sidecar-adds", {"initContainers": [{"restartPolicy": "Always",
                                          "resources": {"requests": {"cpu": "1"}}}],
                      "containers": [{"resources": {"requests": {"cpu": "1"}}}]}, (2000, 0)),
    ("overhead", {"containers": [{"resources": {"requests": {"cpu": "1"}}}],
                  "overhead": {"cpu": "250m", "memory": "64Mi"}}, (1250, 64 * MB)),
]


@pytest.mark.parametrize("spec,want", [c[1:] for c in REQUEST_CASES],
                         ids=[c[0] for c in REQUEST_CASES])
def test_pod_requests(spec: Obj, want: tuple[int, int]) -> None:
    r = pod_requests(spec)
    assert (r.cpu, r.memory) == want


# ---------------------------------------------------------------------- topology spread scores

def _web_selector(pi: PodInfo) -> Any:
    from kubepy.api.labels import selector_from_label_selector
    return selector_from_label_selector({"matchLabels": WEB}) if pi.labels == WEB else None


def zoned(name: str, zone: str | None) -> Obj:
    return node(name, labels={"kubernetes.io/hostname": name,
                              **({ZONE: zone} if zone else {})})


def web(name: str, on: str, **kw: Any) -> Obj:
    return pod(name, labels=WEB, node_name=on, **kw)


def terminating(p: Obj) -> Obj:
    p["metadata"]["deletionTimestamp"] = "2026-11-23T10:00:00Z"
    return p


TWO_ZONES = [zoned("a", "z1"), zoned("b", "z1"), zoned("c", "z2")]
SPREAD_SCORE_CASES = [
    # default spreading (hostname maxSkew 3, zone maxSkew 5) of a ReplicaSet's pod:
    # a = 2*ln5+2 + 2*ln4+4 = 12, b = 2 + 2*ln4+4 = 9, c = ln5+2 + ln4+4 = 9
    ("default-hostname-and-zone", pod("p", labels=WEB), TWO_ZONES,
     [web("w1", "a"), web("w2", "a"), web("w3", "c")], {"a": 75, "b": 100, "c": 100}),
    ("default-no-zones", pod("p", labels=WEB), [zoned("a", None), zoned("b", None)],
     [web("w1", "a")], {"a": 66, "b": 100}),  # a = ln4+2 = 3.39 -> 3, b = 2: 100*(5-3)//3
    ("default-terminating-not-counted", pod("p", labels=WEB), [zoned("a", None), zoned("b", None)],
     [web("w1", "a"), terminating(web("w2", "b"))], {"a": 66, "b": 100}),
    ("default-no-owner-skips", pod("p", labels={"app": "other"}), TWO_ZONES,
     [web("w1", "a")], None),
    # explicit ScheduleAnyway constraints: a node without the key is ignored (score 0)
    ("anyway-missing-key-ignored", pod("p", labels=WEB, topologySpreadConstraints=spread(
        1, when="ScheduleAnyway")), TWO_ZONES + [zoned("d", None)],
     [web("w1", "a")], {"a": 0, "b": 0, "c": 100, "d": 0}),
    # two constraints on one key with different selectors count apart (a = b = ln4 -> 1,
    # c = 2*ln4 -> 3; counted together, as kubepy did before, c would get 50)
    ("two-constraints-same-key", pod("p", labels=WEB, topologySpreadConstraints=[
        {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": WEB}},
        {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {"app": "db"}}}]), TWO_ZONES,
     [web("w1", "a"), pod("d1", labels={"app": "db"}, node_name="c"),
      pod("d2", labels={"app": "db"}, node_name="c")], {"a": 100, "b": 100, "c": 33}),
]


@pytest.mark.parametrize("p,nodes,pods,want", [c[1:] for c in SPREAD_SCORE_CASES],
                         ids=[c[0] for c in SPREAD_SCORE_CASES])
def test_pod_topology_spread_scores(p: Obj, nodes: list[Obj], pods: list[Obj],
                                    want: dict[str, int] | None) -> None:
    from kubepy.scheduler.framework import Framework
    from kubepy.scheduler.plugins import DEFAULT_WEIGHTS, default_plugins
    c = cluster(nodes, pods)
    fw = Framework(default_plugins(volume_listers=VolumeListers(pvc_users=c.pvc_users),
                                   default_selector=_web_selector), DEFAULT_WEIGHTS)
    plugin = fw.plugin("PodTopologySpread")
    pi = PodInfo(p)
    infos = [c.get(n["metadata"]["name"]) for n in nodes]
    state = CycleState()
    status = plugin.pre_score(state, pi, infos, c)
    if want is None:
        assert status is not None and status.code.name == "SKIP"
        return
    assert status is None
    single = [plugin.score(state, pi, n) for n in infos]
    assert plugin.score_nodes(state, pi, infos) == single  # the batch path agrees
    got = plugin.normalize_scores(state, pi, infos, single)
    assert dict(zip((n["metadata"]["name"] for n in nodes), got)) == want
