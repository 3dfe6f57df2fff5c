"""NodeResourcesFit (Filter + the LeastAllocated Score) and NodeResourcesBalancedAllocation.

Filter: the node must have room for one more pod (``Too many pods``) and, for each
resource the pod requests (cpu, memory, ephemeral-storage, extended resources such as
``nvidia.com/gpu``), ``request <= allocatable - requested`` (``Insufficient <name>``).
Every shortfall is a reason of its own, so ``kubectl describe`` can say "2 Insufficient
cpu, 2 Insufficient memory".

LeastAllocated (weights cpu 1, memory 1): per resource ``(allocatable - requested) * 100 /
allocatable`` with the non-zero requests (100m / 200Mi for containers that request
nothing), averaged. BalancedAllocation: ``(1 - |f_cpu - f_mem| / 2) * 100`` where ``f`` is
the requested fraction (actual requests, capped at 1); skipped for best-effort pods.
"""

from __future__ import annotations

from kubepy.scheduler.framework import (SKIP, CycleState, Rejected, Snapshot, Status,
                                        unschedulable)
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesFit"
BALANCED_NAME = "NodeResourcesBalancedAllocation"
TOO_MANY_PODS = "Too many pods"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> list[str]:
    """The reasons the pod does not fit (empty: it fits)."""
    reasons: list[str] = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append(TOO_MANY_PODS)
    r = pod.requests
    if r.cpu == 0 and r.memory == 0 and r.ephemeral == 0 and not r.scalar:
        return reasons
    have = node.allocatable
    used = node.requested
    if r.cpu > 0 and r.cpu > have.cpu - used.cpu:
        reasons.append("Insufficient cpu")
    if r.memory > 0 and r.memory > have.memory - used.memory:
        reasons.append("Insufficient memory")
    if r.ephemeral > 0 and r.ephemeral > have.ephemeral - used.ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name, q in r.scalar.items():
        if q and q > have.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


class NodeResourcesFit:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        reasons = insufficient_resources(pod, node)
        return unschedulable(*reasons) if reasons else None

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Rejected]:
        r = pod.requests
        if r.ephemeral or r.scalar:
            ok = [n for n in nodes if not insufficient_resources(pod, n)]
        elif r.cpu and r.memory:
            cpu, mem = r.cpu, r.memory
            ok = [n for n in nodes
                  if n.free_pods > 0 and cpu <= n.free_cpu and mem <= n.free_memory]
        else:
            cpu, mem = r.cpu, r.memory
            ok = [n for n in nodes if n.free_pods > 0
                  and (cpu == 0 or cpu <= n.free_cpu) and (mem == 0 or mem <= n.free_memory)]
        if len(ok) == len(nodes):
            return nodes, []
        passed = set(map(id, ok))
        return ok, [(n, unschedulable(*insufficient_resources(pod, n)))
                    for n in nodes if id(n) not in passed]

    # -- LeastAllocated score
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return least_allocated(node.non_zero_cpu + pod.non_zero_cpu, node.alloc_cpu,
                               node.non_zero_memory + pod.non_zero_memory, node.alloc_memory)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        pc, pm = pod.non_zero_cpu, pod.non_zero_memory
        key = memo_key(("LeastAllocated", pc, pm))
        out: list[int] = []
        append = out.append
        for n in nodes:
            memo = n.memo
            v = memo.get(key)
            if v is None:
                ac, am = n.alloc_cpu, n.alloc_memory
                qc, qm = n.non_zero_cpu + pc, n.non_zero_memory + pm
                if ac > 0 and am > 0:
                    v = ((((ac - qc) * 100 // ac) if qc <= ac else 0) +
                         (((am - qm) * 100 // am) if qm <= am else 0)) // 2
                else:
                    v = least_allocated(qc, ac, qm, am)
                memo[key] = v
            append(v)
        return out


_MEMO_KEYS: dict[tuple[object, ...], object] = {}


def memo_key(shape: tuple[object, ...]) -> object:
    """An identity-hashed stand-in for ``shape`` (cheap as a dict key in NodeInfo.memo)."""
    key = _MEMO_KEYS.get(shape)
    if key is None:
        if len(_MEMO_KEYS) > 10000:
            _MEMO_KEYS.clear()
        key = _MEMO_KEYS[shape] = object()
    return key


def _least(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * 100 // capacity


def least_allocated(cpu: int, cpu_cap: int, mem: int, mem_cap: int) -> int:
    total = weight = 0
    for req, cap in ((cpu, cpu_cap), (mem, mem_cap)):
        if cap == 0:
            continue
        total += _least(req, cap)
        weight += 1
    return total // weight if weight else 0


def balanced(cpu: int, cpu_cap: int, mem: int, mem_cap: int) -> int:
    fractions = [min(1.0, req / cap) for req, cap in ((cpu, cpu_cap), (mem, mem_cap)) if cap]
    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
    return int((1 - std) * 100)


class BalancedAllocation:
    name = BALANCED_NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        if pod.requests.cpu == 0 and pod.requests.memory == 0:
            return SKIP  # best-effort pods would all pile onto one node otherwise
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return balanced(node.requested.cpu + pod.requests.cpu, node.alloc_cpu,
                        node.requested.memory + pod.requests.memory, node.alloc_memory)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        pc, pm = pod.requests.cpu, pod.requests.memory
        key = memo_key(("BalancedAllocation", pc, pm))
        out: list[int] = []
        append = out.append
        for n in nodes:
            memo = n.memo
            v = memo.get(key)
            if v is None:
                ac, am = n.alloc_cpu, n.alloc_memory
                if ac > 0 and am > 0:
                    fc = (n.requested.cpu + pc) / ac
                    fm = (n.requested.memory + pm) / am
                    v = int((1 - abs(((fc if fc < 1.0 else 1.0) - (fm if fm < 1.0 else 1.0)) / 2))
                            * 100)
                else:
                    v = self.score(state, pod, n)
                memo[key] = v
            append(v)
        return out
