"""Pod ownership for workload controllers: what the ReplicaSet, ReplicationController,
Deployment, StatefulSet, DaemonSet, Job and CronJob controllers share, after
kube-controller-manager's ``controller_utils.go``, ``ControllerRefManager`` and the pod
helpers of ``k8s.io/kubernetes/pkg/api/v1/pod``. This is the one home of these helpers.

Pure decisions (plain dicts in, plain data out, never mutated):

* times: ``parse_time`` (RFC 3339 -> aware datetime, None when absent or malformed),
  ``format_time`` (metav1.Time's wire form);
* pod state: ``pod_phase`` (Pending when unset), ``pod_condition``, ``is_terminating``
  (deletionTimestamp set), ``is_pod_active`` (not Succeeded/Failed, not being deleted),
  ``is_pod_ready``, ``is_pod_running_and_ready``, ``is_pod_available(pod,
  min_ready_seconds, now)`` (Ready for strictly longer than minReadySeconds, as
  IsPodAvailable), ``seconds_until_available`` (when to look again), ``creation_key`` (sort
  by creationTimestamp, then name);
* owner references: ``controller_of``, ``controller_ref`` (controller: true,
  blockOwnerDeletion: true), ``owner_key`` (the queue key of an object's controller of a
  kind), ``CONTROLLER_UID_INDEX`` (the informer index name the controllers register with
  ``kubepy.client.store.controller_owner_uid_index``), ``claim_decision`` (adopt / release /
  keep / ignore one candidate, by selector and controller ownerReference), the
  strategic-merge patches that adopt and release (``adoption_patch``, ``release_patch``);
* ``pod_from_template``: the pod a controller creates (``generateName: <owner>-``);
* ``rank_pods_for_deletion``: Kubernetes' ``ActivePodsWithRanks`` order — unassigned <
  assigned; Pending < Unknown < Running; not ready < ready; lower
  ``controller.kubernetes.io/pod-deletion-cost`` first; more co-located related pods first;
  ready for less time first (logarithmic buckets, ties broken by uid); more container
  restarts first; newer first (logarithmic buckets, ties by uid);
* ``slow_start_batch_sizes``: 1, 2, 4, ... as ``slowStartBatch`` creates pods.

Bookkeeping: ``ControllerExpectations`` (client-go's UID-tracking expectations with a 5 min
TTL, on an injected clock) so a controller never acts twice on a lagging cache: set them
(``expect_creations`` / ``expect_deletions``, as the ReplicaSet controller does) or add to
them (``raise_expectations``, for controllers that create and delete in one sync), lower them
when a write fails (``lower_expectations``), observe them from informer events.

The I/O edge is ``PodControl`` (upstream's RealPodControl): create/delete pods and patch
owner references through the API, recording SuccessfulCreate / FailedCreate /
SuccessfulDelete / FailedDelete Events on the owner with upstream's messages.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence, TypeVar

from kubepy import errors
from kubepy.api.labels import LabelSelector

Obj = dict[str, Any]

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
CONTROLLER_UID_INDEX = "controller-uid"  # index by the controller ownerReference's uid
EXPECTATIONS_TIMEOUT = 300.0  # client-go ExpectationsTimeout
SLOW_START_INITIAL_BATCH_SIZE = 1
BURST_REPLICAS = 500  # the ReplicaSet controller's burstReplicas

_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# ---------------------------------------------------------------------------- time

def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp as the API writes it (None or "" -> None)."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def format_time(dt: datetime) -> str:
    """metav1.Time's wire form: RFC 3339, seconds, UTC."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- pod state

def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """The object is being deleted (metadata.deletionTimestamp is set)."""
    return bool(_meta(obj).get("deletionTimestamp"))


def pod_phase(pod: Mapping[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not _meta(pod).get("deletionTimestamp")


def pod_condition(pod: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    conditions: list[Obj] = (pod.get("status") or {}).get("conditions") or []
    for cond in conditions:
        if cond.get("type") == type_:
            return cond
    return None


def pod_ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return pod_condition(pod, "Ready")


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = pod_ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_pod_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return pod_phase(pod) == "Running" and is_pod_ready(pod)


def _ready_for(pod: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds since the Ready condition last turned True (None without a time)."""
    since = parse_time((pod_ready_condition(pod) or {}).get("lastTransitionTime"))
    return None if since is None else now.timestamp() - since.timestamp()


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and (minReadySeconds == 0 or Ready since strictly longer than
    minReadySeconds: lastTransitionTime + minReadySeconds < now)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    ready_for = _ready_for(pod, now)
    return ready_for is not None and ready_for > min_ready_seconds


AVAILABILITY_RECHECK = 0.001  # availability needs *more* than minReadySeconds of readiness


def seconds_until_available(pod: Mapping[str, Any], min_ready_seconds: int,
                            now: datetime) -> float | None:
    """For a Ready pod that is not available yet: seconds from ``now`` after which
    ``is_pod_available`` holds (the controller requeues then). None when the pod is not
    Ready, has no transition time, or is available already."""
    if not min_ready_seconds or not is_pod_ready(pod):
        return None
    ready_for = _ready_for(pod, now)
    if ready_for is None or ready_for > min_ready_seconds:
        return None
    return min_ready_seconds - ready_for + AVAILABILITY_RECHECK


def creation_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key: oldest creationTimestamp first, then name."""
    meta = _meta(obj)
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = _meta(pod)
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


# ---------------------------------------------------------------------------- ownership

def controller_of(obj: Mapping[str, Any]) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    refs: list[Obj] = _meta(obj).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == _meta(owner).get("uid")


def controller_ref(owner: Mapping[str, Any], *, api_version: str, kind: str) -> Obj:
    """metav1.NewControllerRef: the ownerReference a controller puts on what it makes."""
    meta = _meta(owner)
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def owner_key(obj: Mapping[str, Any], kind: str) -> str | None:
    """``namespace/name`` (or ``name``) of the object's controller when it is a ``kind``:
    the work-queue key an event on an owned object enqueues."""
    ref = controller_of(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    ns = _meta(obj).get("namespace")
    return f"{ns}/{ref['name']}" if ns else ref["name"]


class Claim(Enum):
    KEEP = "keep"        # ours and matching
    ADOPT = "adopt"      # an orphan we should own
    RELEASE = "release"  # ours, but no longer matching
    IGNORE = "ignore"    # someone else's, or not for us


def claim_decision(owner: Mapping[str, Any], selector: LabelSelector,
                   candidate: Mapping[str, Any]) -> Claim:
    """ControllerRefManager.ClaimObject for one candidate, without the I/O."""
    owner_meta = _meta(owner)
    owner_deleting = bool(owner_meta.get("deletionTimestamp"))
    labels = _meta(candidate).get("labels") or {}
    ref = controller_of(candidate)
    if ref is not None:
        if ref.get("uid") != owner_meta.get("uid"):
            return Claim.IGNORE
        if selector.matches(labels):
            return Claim.KEEP
        return Claim.IGNORE if owner_deleting else Claim.RELEASE
    if owner_deleting or not selector.matches(labels):
        return Claim.IGNORE
    if _meta(candidate).get("deletionTimestamp"):
        return Claim.IGNORE
    return Claim.ADOPT


def adoption_patch(owner_ref: Mapping[str, Any], candidate_uid: str) -> Obj:
    """The strategic-merge patch that makes ``owner_ref`` the controller (uid guards it)."""
    return {"metadata": {"ownerReferences": [dict(owner_ref)], "uid": candidate_uid}}


def release_patch(owner_uid: str, candidate_uid: str) -> Obj:
    """The strategic-merge patch that drops the owner's reference."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
                         "uid": candidate_uid}}


# ---------------------------------------------------------------------------- templates

def pod_from_template(template: Mapping[str, Any], owner: Mapping[str, Any],
                      owner_ref: Mapping[str, Any] | None) -> Obj:
    """GetPodFromTemplate: labels, annotations, finalizers and spec of the template,
    ``generateName: <owner name>-``, in the owner's namespace, with the controller ref."""
    tmeta = template.get("metadata") or {}
    owner_meta = _meta(owner)
    meta: Obj = {"generateName": f"{owner_meta['name']}-",
                 "namespace": owner_meta.get("namespace")}
    for key in ("labels", "annotations"):
        if tmeta.get(key):
            meta[key] = dict(tmeta[key])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    if owner_ref is not None:
        meta["ownerReferences"] = [dict(owner_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


# ---------------------------------------------------------------------------- ranking

def _deletion_cost(pod: Mapping[str, Any]) -> int:
    raw = (_meta(pod).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        value = int(str(raw), 10)
    except (TypeError, ValueError):
        return 0
    return value if -(2 ** 31) <= value < 2 ** 31 else 0


def _max_container_restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((s.get("restartCount", 0) for s in statuses), default=0)


def _log_rank(t: datetime, now: datetime) -> int:
    nanos = int((now - t).total_seconds() * 1e9)
    return int(math.log2(nanos)) if nanos > 0 else -1


def _after_or_zero(t1: datetime | None, t2: datetime | None) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _time_less(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str,
               now: datetime | None) -> bool:
    if now is None or t1 is None or t2 is None:
        return _after_or_zero(t1, t2)
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    return uid1 < uid2 if diff == 0 else diff < 0


def _ready_time(pod: Mapping[str, Any]) -> datetime | None:
    if not is_pod_ready(pod):
        return None
    return parse_time((pod_ready_condition(pod) or {}).get("lastTransitionTime"))


def deletion_less(a: Mapping[str, Any], b: Mapping[str, Any], rank_a: int, rank_b: int,
                  now: datetime | None) -> bool:
    """True when ``a`` should be deleted before ``b`` (ActivePodsWithRanks.Less)."""
    node_a = (a.get("spec") or {}).get("nodeName") or ""
    node_b = (b.get("spec") or {}).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase", ""), 0)
    phase_b = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    ready_a, ready_b = is_pod_ready(a), is_pod_ready(b)
    if ready_a != ready_b:
        return not ready_a
    cost_a, cost_b = _deletion_cost(a), _deletion_cost(b)
    if cost_a != cost_b:
        return cost_a < cost_b
    if rank_a != rank_b:
        return rank_a > rank_b
    uid_a, uid_b = _meta(a).get("uid", ""), _meta(b).get("uid", "")
    if ready_a and ready_b:
        t_a, t_b = _ready_time(a), _ready_time(b)
        if t_a != t_b:
            return _time_less(t_a, t_b, uid_a, uid_b, now)
    restarts_a, restarts_b = _max_container_restarts(a), _max_container_restarts(b)
    if restarts_a != restarts_b:
        return restarts_a > restarts_b
    c_a = parse_time(_meta(a).get("creationTimestamp"))
    c_b = parse_time(_meta(b).get("creationTimestamp"))
    if c_a != c_b:
        return _time_less(c_a, c_b, uid_a, uid_b, now)
    return False


Pod = TypeVar("Pod", bound=Mapping[str, Any])  # a pod as the caller holds it, handed back as is


def rank_pods_for_deletion(pods: Iterable[Pod],
                           related_pods: Iterable[Mapping[str, Any]],
                           now: datetime | None) -> list[Pod]:
    """``pods`` in the order they should be deleted. A pod's rank is the number of active
    ``related_pods`` (pods of the same owner's family) on its node."""
    on_node: dict[str, int] = {}
    for pod in related_pods:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0))
              for pod in pods]

    def compare(x: tuple[Pod, int], y: tuple[Pod, int]) -> int:
        if deletion_less(x[0], y[0], x[1], y[1], now):
            return -1
        if deletion_less(y[0], x[0], y[1], x[1], now):
            return 1
        return 0
    return [pod for pod, _ in sorted(ranked, key=functools.cmp_to_key(compare))]


def pods_to_delete(pods: Sequence[Pod], related_pods: Iterable[Mapping[str, Any]],
                   count: int, now: datetime | None) -> list[Pod]:
    """getPodsToDelete: the first ``count`` pods by deletion rank."""
    if count >= len(pods):
        return list(pods)
    return rank_pods_for_deletion(pods, related_pods, now)[:count]


# ---------------------------------------------------------------------------- slow start

def slow_start_batch_sizes(count: int, initial: int = SLOW_START_INITIAL_BATCH_SIZE) -> list[int]:
    """The batch sizes slowStartBatch uses for ``count`` calls: initial, doubling."""
    sizes: list[int] = []
    remaining, batch = count, min(count, initial)
    while batch > 0:
        sizes.append(batch)
        remaining -= batch
        batch = min(2 * batch, remaining)
    return sizes


async def slow_start_batch(count: int, fn: Callable[[], Awaitable[Any]],
                           initial: int = SLOW_START_INITIAL_BATCH_SIZE
                           ) -> tuple[int, BaseException | None]:
    """Call ``fn`` ``count`` times in growing concurrent batches; stop after the first
    batch with a failure. Returns (successes, first error)."""
    successes = 0
    for size in slow_start_batch_sizes(count, initial):
        results = await asyncio.gather(*(fn() for _ in range(size)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        successes += size - len(failures)
        if failures:
            return successes, failures[0]
    return successes, None


# ---------------------------------------------------------------------------- expectations

@dataclass
class _Expectation:
    add: int
    timestamp: float
    deleting: set[str] = field(default_factory=set)

    def fulfilled(self) -> bool:
        return self.add <= 0 and not self.deleting


class ControllerExpectations:
    """How many creations, and which deletions (by an opaque pod key the caller chooses and
    uses consistently), each controller key still waits to see in its cache.
    ``satisfied(key)`` is True when nothing is awaited, nothing was recorded, or the record
    is older than the TTL (a watch event was lost)."""

    def __init__(self, monotonic: Callable[[], float],
                 ttl: float = EXPECTATIONS_TIMEOUT) -> None:
        self._monotonic = monotonic
        self.ttl = ttl
        self._by_key: dict[str, _Expectation] = {}

    def _expired(self, exp: _Expectation) -> bool:
        return self._monotonic() - exp.timestamp > self.ttl

    def satisfied(self, key: str) -> bool:
        exp = self._by_key.get(key)
        return exp is None or exp.fulfilled() or self._expired(exp)

    def expect_creations(self, key: str, count: int) -> None:
        """Replace the record: ``count`` creations awaited."""
        self._by_key[key] = _Expectation(count, self._monotonic())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """Replace the record: the deletion of each of ``pod_keys`` awaited."""
        self._by_key[key] = _Expectation(0, self._monotonic(), set(pod_keys))

    def raise_expectations(self, key: str, *, adds: int = 0,
                           deletes: Iterable[str] = ()) -> None:
        """Await ``adds`` more creations and the deletion of ``deletes`` on top of what is
        awaited (an expired record starts afresh); the TTL restarts."""
        exp = self._by_key.get(key)
        if exp is None or self._expired(exp):
            exp = self._by_key[key] = _Expectation(0, self._monotonic())
        exp.add += adds
        exp.deleting |= set(deletes)
        exp.timestamp = self._monotonic()

    def lower_expectations(self, key: str, *, adds: int = 0,
                           deletes: Iterable[str] = ()) -> None:
        """A write failed: stop awaiting what it would have caused."""
        exp = self._by_key.get(key)
        if exp is not None:
            exp.add = max(0, exp.add - adds)
            exp.deleting -= set(deletes)

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, adds=1)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        self.lower_expectations(key, deletes=(pod_key,))

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int] | None:
        """(creations, deletions) still awaited, None without a record."""
        exp = self._by_key.get(key)
        return None if exp is None else (exp.add, len(exp.deleting))


# ---------------------------------------------------------------------------- I/O edge

def is_namespace_terminating(err: BaseException) -> bool:
    if not isinstance(err, errors.StatusError):
        return False
    if any(c.get("reason") == "NamespaceTerminating" for c in err.causes):
        return True
    return "because it is being terminated" in err.message


class PodControl:
    """Pod writes on behalf of an owner, with the owner's Events (RealPodControl)."""

    def __init__(self, client: Any, recorder: Any, pods_rt: Any) -> None:
        self.client = client
        self.recorder = recorder
        self.pods_rt = pods_rt

    async def create_pod(self, template: Mapping[str, Any], owner: Obj,
                         owner_ref: Mapping[str, Any]) -> Obj:
        pod = pod_from_template(template, owner, owner_ref)
        if not (pod["metadata"].get("labels")):
            raise errors.Invalid("unable to create pods, no labels")
        try:
            created: Obj = await self.client.create(self.pods_rt, pod, pod["metadata"]["namespace"])
        except errors.StatusError as e:
            if not isinstance(e, errors.Timeout):
                self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulCreate",
                            f"Created pod: {created['metadata']['name']}")
        return created

    async def delete_pod(self, namespace: str, name: str, owner: Obj) -> None:
        try:
            await self.client.delete(self.pods_rt, name, namespace)
        except errors.NotFound:
            raise
        except errors.StatusError as e:
            self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    async def patch_owner(self, rt: Any, obj: Mapping[str, Any], patch: Obj) -> Obj:
        meta = _meta(obj)
        patched: Obj = await self.client.patch(rt, meta["name"], patch,
                                               namespace=meta.get("namespace"),
                                               patch_type="strategic")
        return patched


async def claim(control: PodControl, rt: Any, owner: Obj, owner_ref: Mapping[str, Any],
                selector: LabelSelector, candidates: Iterable[Obj],
                can_adopt: Callable[[], Awaitable[bool]]) -> list[Obj]:
    """ControllerRefManager.Claim*: the candidates ``owner`` controls after adopting
    matching orphans and releasing its own that stopped matching. ``can_adopt`` (checked
    once, lazily) re-reads the owner from the API so a deleted owner adopts nothing."""
    claimed: list[Obj] = []
    adopt_ok: bool | None = None
    owner_uid = _meta(owner)["uid"]
    for obj in candidates:
        decision = claim_decision(owner, selector, obj)
        if decision is Claim.KEEP:
            claimed.append(obj)
        elif decision is Claim.ADOPT:
            if adopt_ok is None:
                adopt_ok = await can_adopt()
            if not adopt_ok:
                continue
            try:
                claimed.append(await control.patch_owner(
                    rt, obj, adoption_patch(owner_ref, _meta(obj)["uid"])))
            except (errors.NotFound, errors.Conflict, errors.Invalid):
                continue  # gone or changed: the next sync sees it again
        elif decision is Claim.RELEASE:
            try:
                await control.patch_owner(rt, obj, release_patch(owner_uid, _meta(obj)["uid"]))
            except (errors.NotFound, errors.Conflict, errors.Invalid):
                pass
    return claimed
