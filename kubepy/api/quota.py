"""ResourceQuota: what an object costs, which quotas it counts against, and the admission
decision (the quota evaluators of ``pkg/quota/v1`` and ``CheckRequest`` of the
ResourceQuota admission plugin), as pure functions over plain dicts.

Quota resource names and who charges them (the evaluators):

* pods: ``pods``, ``count/pods``, ``cpu``/``requests.cpu``, ``memory``/``requests.memory``,
  ``ephemeral-storage``/``requests.ephemeral-storage``, ``limits.cpu``, ``limits.memory``,
  ``limits.ephemeral-storage``, ``hugepages-*``/``requests.hugepages-*`` and
  ``requests.<extended resource>``. A pod in phase Succeeded/Failed, or whose deletion
  grace period has run out, is charged only ``count/pods``. Requests and limits are the
  pod's effective ones (containers summed, init containers and sidecars as the kubelet
  reserves them, plus ``spec.overhead``).
* services: ``services``, ``count/services``, ``services.nodeports`` (ports of a NodePort
  or LoadBalancer service), ``services.loadbalancers``.
* persistentvolumeclaims: ``persistentvolumeclaims``, ``count/persistentvolumeclaims``,
  ``requests.storage`` (the larger of spec request and status.allocatedResources, rounded
  up to whole bytes), and ``<class>.storageclass.storage.k8s.io/<either of those>``.
* configmaps, secrets, replicationcontrollers, resourcequotas: ``count/<r>`` and the
  legacy bare name; every other resource: ``count/<resource>[.<group>]``.

Scopes (``spec.scopes`` and ``spec.scopeSelector``) apply to pods only (Terminating,
NotTerminating, BestEffort, NotBestEffort, PriorityClass, CrossNamespacePodAffinity); a
scoped quota never matches other objects.

Quantities keep Go's formatting rules: a sum takes the format of its first non-zero
operand (``0 + 1Gi`` is ``1Gi``, ``500m + 1`` is ``1500m``).

``admit`` is what the apiserver calls on CREATE (``old_obj`` None) and UPDATE of a
namespaced object with that namespace's quotas; it returns the quotas whose
``status.used`` it raised (deep copies, to be written back with compare-and-swap), or
raises ``errors.Forbidden`` with Kubernetes' message.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, Decimal
from typing import Any, Iterable, Mapping

from kubepy import errors
from kubepy.api.defaults.pod import qos_class
from kubepy.api.quantity import Quantity, QuantityFormat, parse

Obj = dict[str, Any]
ResourceList = dict[str, Quantity]
GroupResource = tuple[str, str]  # (group, plural resource)

PODS: GroupResource = ("", "pods")
SERVICES: GroupResource = ("", "services")
PVCS: GroupResource = ("", "persistentvolumeclaims")

STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
REQUESTS_PREFIX = "requests."
HUGEPAGES_PREFIX = "hugepages-"

# GroupResources the admission plugin never charges (virtual resources and events).
IGNORED_RESOURCES: frozenset[GroupResource] = frozenset({
    ("", "bindings"), ("", "componentstatuses"), ("", "events"), ("events.k8s.io", "events"),
    ("authentication.k8s.io", "tokenreviews"), ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
})

# Object counts that also answer to a bare legacy name.
LEGACY_COUNT_ALIASES: dict[GroupResource, str] = {
    ("", "configmaps"): "configmaps", ("", "secrets"): "secrets",
    ("", "replicationcontrollers"): "replicationcontrollers",
    ("", "resourcequotas"): "resourcequotas",
}

POD_RESOURCES = frozenset({
    "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
    "pods",
})
SERVICE_RESOURCES = frozenset({"count/services", "services", "services.loadbalancers",
                               "services.nodeports"})
PVC_RESOURCES = frozenset({"count/persistentvolumeclaims", "persistentvolumeclaims",
                           "requests.storage"})
# If a quota tracks one of these, every container must state it (a historical mistake
# that Kubernetes keeps for compatibility).
POD_VALIDATION_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory",
                                "limits.cpu", "limits.memory"})

ZERO = Quantity(Decimal(0), QuantityFormat.DECIMAL_SI)
ONE = Quantity(Decimal(1), QuantityFormat.DECIMAL_SI)


# ----------------------------------------------------------------------------- quantities

def q_add(a: Quantity, b: Quantity) -> Quantity:
    """a + b with Go's format rule: a zero left operand takes the right one's format."""
    return Quantity(a.value + b.value, b.format if a.value == 0 else a.format)


def q_sub(a: Quantity, b: Quantity) -> Quantity:
    return Quantity(a.value - b.value, b.format if a.value == 0 else a.format)


def to_resource_list(raw: Mapping[str, Any] | None) -> ResourceList:
    """Parse a ResourceList of quantity strings (malformed entries are skipped)."""
    out: ResourceList = {}
    for name, value in (raw or {}).items():
        try:
            out[name] = value if isinstance(value, Quantity) else parse(value)
        except (ValueError, TypeError):
            continue
    return out


def to_strings(rl: ResourceList) -> dict[str, str]:
    return {name: str(q) for name, q in rl.items()}


def add_lists(a: ResourceList, b: ResourceList) -> ResourceList:
    """quota.Add: every key of either, summed where both have it."""
    out = dict(a)
    for name, q in b.items():
        out[name] = q_add(out[name], q) if name in out else q
    return out


def max_into(target: ResourceList, other: ResourceList) -> None:
    for name, q in other.items():
        if name not in target or q.value > target[name].value:
            target[name] = q


def mask(rl: ResourceList, names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {k: v for k, v in rl.items() if k in keep}


def subtract_non_negative(a: ResourceList, b: ResourceList) -> ResourceList:
    """quota.SubtractWithNonNegativeResult: a - b per key, never below zero."""
    out: ResourceList = {}
    for name, q in a.items():
        diff = q_sub(q, b[name]) if name in b else q
        out[name] = diff if diff.value > 0 else ZERO
    for name in b:
        out.setdefault(name, ZERO)
    return out


def remove_zeros(rl: ResourceList) -> ResourceList:
    return {k: v for k, v in rl.items() if v.value != 0}


def pretty(rl: ResourceList) -> str:
    """``name=value`` pairs sorted by name, comma separated (the admission messages)."""
    return ",".join(f"{k}={rl[k]}" for k in sorted(rl))


def lists_equal(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """quota.Equals: same keys and equal values (compared as quantities)."""
    qa, qb = to_resource_list(a), to_resource_list(b)
    return qa.keys() == qb.keys() and all(qa[k].value == qb[k].value for k in qa)


# -------------------------------------------------------------------- pod requests/limits

def _container_list(c: Obj, key: str) -> ResourceList:
    return to_resource_list(((c.get("resources") or {}).get(key)))


def _aggregate(spec: Obj, key: str) -> ResourceList:
    total: ResourceList = {}
    for c in spec.get("containers") or []:
        total = add_lists(total, _container_list(c, key))
    sidecars: ResourceList = {}
    init_max: ResourceList = {}
    for c in spec.get("initContainers") or []:
        own = _container_list(c, key)
        if c.get("restartPolicy") == "Always":  # a sidecar runs beside the containers
            total = add_lists(total, own)
            sidecars = add_lists(sidecars, own)
            running = sidecars
        else:
            running = add_lists(own, sidecars)
        max_into(init_max, running)
    max_into(total, init_max)
    return total


def pod_requests(pod: Obj, *, overhead: bool = True) -> ResourceList:
    """resourcehelper.PodRequests over the spec (overhead included unless told not to)."""
    spec = pod.get("spec") or {}
    total = _aggregate(spec, "requests")
    if overhead:
        total = add_lists(total, to_resource_list(spec.get("overhead")))
    return total


def pod_limits(pod: Obj, *, overhead: bool = True) -> ResourceList:
    """resourcehelper.PodLimits: overhead is added only to resources that have a limit."""
    spec = pod.get("spec") or {}
    total = _aggregate(spec, "limits")
    if overhead:
        for name, q in to_resource_list(spec.get("overhead")).items():
            if name in total:
                total[name] = q_add(total[name], q)
    return total


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource(name: str) -> bool:
    return not _is_native(name) and not name.startswith(REQUESTS_PREFIX)


def compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """podComputeUsageHelper: quota names charged by one set of requests and limits."""
    out: ResourceList = {"pods": ONE}
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            out[res] = requests[res]
            out[REQUESTS_PREFIX + res] = requests[res]
        if res in limits:
            out["limits." + res] = limits[res]
    for name, q in requests.items():
        if name.startswith(HUGEPAGES_PREFIX):
            out[name] = q
            out[REQUESTS_PREFIX + name] = q
        if is_extended_resource(name):
            out[REQUESTS_PREFIX + name] = q
    return out


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def pod_counts_compute(pod: Obj, now: datetime | None) -> bool:
    """QuotaV1Pod: not terminal, and not stuck terminating past its grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    deleted = _timestamp(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    if deleted is not None and grace is not None and now is not None:
        if now.astimezone(timezone.utc) > deleted + timedelta(seconds=int(grace)):
            return False
    return True


# -------------------------------------------------------------------------------- usage

def object_count_name(group: str, resource: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def parse_object_count_name(name: str) -> GroupResource | None:
    """``count/deployments.apps`` -> ("apps", "deployments"); None for other names."""
    if not name.startswith("count/") or len(name) <= len("count/"):
        return None
    resource, _, group = name[len("count/"):].partition(".")
    return group, resource


def pod_usage(pod: Obj, now: datetime | None = None) -> ResourceList:
    out: ResourceList = {"count/pods": ONE}
    if not pod_counts_compute(pod, now):
        return out
    return add_lists(out, compute_usage(pod_requests(pod), pod_limits(pod)))


def service_usage(svc: Obj) -> ResourceList:
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    out: ResourceList = {"count/services": ONE, "services": ONE,
                         "services.loadbalancers": ZERO, "services.nodeports": ZERO}
    kind = spec.get("type")
    if kind == "NodePort":
        out["services.nodeports"] = Quantity(Decimal(len(ports)))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            out["services.nodeports"] = Quantity(Decimal(sum(1 for p in ports
                                                             if p.get("nodePort"))))
        else:
            out["services.nodeports"] = Quantity(Decimal(len(ports)))
        out["services.loadbalancers"] = ONE
    return out


def claim_class(pvc: Obj) -> str:
    """The claim's StorageClass name (the beta annotation wins over the field)."""
    ann: dict[str, str] = (pvc.get("metadata") or {}).get("annotations") or {}
    if "volume.beta.kubernetes.io/storage-class" in ann:
        return ann["volume.beta.kubernetes.io/storage-class"]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


def _whole_bytes(q: Quantity) -> Quantity:
    whole = q.value.to_integral_value(rounding=ROUND_CEILING)
    return q if whole == q.value else Quantity(Decimal(whole), q.format)


def pvc_usage(pvc: Obj) -> ResourceList:
    out: ResourceList = {"persistentvolumeclaims": ONE, "count/persistentvolumeclaims": ONE}
    cls = claim_class(pvc)
    if cls:
        out[cls + STORAGE_CLASS_SUFFIX + "persistentvolumeclaims"] = ONE
    requested = to_resource_list(
        ((pvc.get("spec") or {}).get("resources") or {}).get("requests")).get("storage")
    storage = _whole_bytes(requested) if requested is not None else None
    allocated = to_resource_list(
        (pvc.get("status") or {}).get("allocatedResources")).get("storage")
    if storage is not None and allocated is not None and allocated.value > storage.value:
        storage = _whole_bytes(allocated)
    if storage is not None:
        out["requests.storage"] = storage
        if cls:
            out[cls + STORAGE_CLASS_SUFFIX + "requests.storage"] = storage
    return out


def usage(obj: Obj, group: str, resource: str, now: datetime | None = None) -> ResourceList:
    """Everything ``obj`` (of group/resource) charges, by quota resource name."""
    gr = (group, resource)
    if gr == PODS:
        return pod_usage(obj, now)
    if gr == SERVICES:
        return service_usage(obj)
    if gr == PVCS:
        return pvc_usage(obj)
    out: ResourceList = {object_count_name(group, resource): ONE}
    if gr in LEGACY_COUNT_ALIASES:
        out[LEGACY_COUNT_ALIASES[gr]] = ONE
    return out


def matching_resources(group: str, resource: str, names: Iterable[str]) -> list[str]:
    """The names among ``names`` that the evaluator of group/resource charges."""
    gr = (group, resource)
    out = []
    for name in names:
        if gr == PODS:
            ok = name in POD_RESOURCES or name.startswith(HUGEPAGES_PREFIX) or \
                name.startswith(REQUESTS_PREFIX + HUGEPAGES_PREFIX) or \
                (not _is_native(name) and name.startswith(REQUESTS_PREFIX))
        elif gr == SERVICES:
            ok = name in SERVICE_RESOURCES
        elif gr == PVCS:
            ok = name in PVC_RESOURCES or any(
                name.endswith(STORAGE_CLASS_SUFFIX + r) for r in
                ("persistentvolumeclaims", "requests.storage"))
        else:
            ok = name == object_count_name(group, resource) or \
                name == LEGACY_COUNT_ALIASES.get(gr)
        if ok:
            out.append(name)
    return out


_NAMED: dict[str, GroupResource] = {
    **{n: PODS for n in POD_RESOURCES}, **{n: SERVICES for n in SERVICE_RESOURCES},
    **{n: PVCS for n in PVC_RESOURCES}, **{v: k for k, v in LEGACY_COUNT_ALIASES.items()},
}


def tracked_resources(names: Iterable[str]) -> set[GroupResource]:
    """The group/resources whose objects a quota with these hard names must count."""
    out: set[GroupResource] = set()
    for name in names:
        if name in _NAMED:
            out.add(_NAMED[name])
        elif (gr := parse_object_count_name(name)) is not None:
            out.add(gr)
        elif name.startswith(HUGEPAGES_PREFIX) or name.startswith(REQUESTS_PREFIX):
            if matching_resources(*PODS, [name]):
                out.add(PODS)
        elif any(name.endswith(STORAGE_CLASS_SUFFIX + r)
                 for r in ("persistentvolumeclaims", "requests.storage")):
            out.add(PVCS)
    return out


# ------------------------------------------------------------------------------- scopes

def scope_selectors(quota: Obj) -> list[Obj]:
    """spec.scopes (as Exists requirements) followed by spec.scopeSelector's expressions."""
    spec = quota.get("spec") or {}
    out: list[Obj] = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    out += list(((spec.get("scopeSelector") or {}).get("matchExpressions")) or [])
    return out


def _uses_cross_namespace_affinity(pod: Obj) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        terms = affinity.get(kind) or {}
        required = terms.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        preferred = [w.get("podAffinityTerm") or {} for w in
                     terms.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None
               for t in required + preferred):
            return True
    return False


def _priority_class_matches(pod: Obj, req: Obj) -> bool:
    name = (pod.get("spec") or {}).get("priorityClassName") or ""
    op, values = req.get("operator"), req.get("values") or []
    if op == "Exists":
        return bool(name)
    if op == "DoesNotExist":
        return not name
    if op == "In":
        return bool(name) and name in values
    if op == "NotIn":
        return not name or name not in values
    return False


def pod_matches_scope(req: Obj, pod: Obj) -> bool:
    scope = req.get("scopeName")
    spec = pod.get("spec") or {}
    if scope in ("Terminating", "NotTerminating"):
        deadline = spec.get("activeDeadlineSeconds")
        terminating = isinstance(deadline, int) and deadline >= 0
        return terminating if scope == "Terminating" else not terminating
    if scope in ("BestEffort", "NotBestEffort"):
        best_effort = qos_class(pod) == "BestEffort"
        return best_effort if scope == "BestEffort" else not best_effort
    if scope == "PriorityClass":
        return _priority_class_matches(pod, req)
    if scope == "CrossNamespacePodAffinity":
        return _uses_cross_namespace_affinity(pod)
    return False


def matches_scopes(quota: Obj, obj: Obj, group: str, resource: str) -> bool:
    """True when every scope of the quota selects ``obj`` (no scopes select everything);
    only pods can satisfy a scope."""
    for req in scope_selectors(quota):
        if (group, resource) != PODS or not pod_matches_scope(req, obj):
            return False
    return True


def quota_matches(quota: Obj, obj: Obj, group: str, resource: str) -> bool:
    """generic.Matches: the quota limits something this object charges, and its scopes
    select the object."""
    hard = ((quota.get("status") or {}).get("hard")) or {}
    return bool(matching_resources(group, resource, hard)) and \
        matches_scopes(quota, obj, group, resource)


# -------------------------------------------------------------------- controller usage

def calculate_usage(quota: Obj, objects: Mapping[GroupResource, Iterable[Obj]],
                    now: datetime | None = None) -> ResourceList:
    """Usage of every hard resource some evaluator tracks, from the namespace's objects
    (``objects`` maps group/resource to the objects of the quota's namespace; a missing
    entry counts as none). Tracked resources start at zero."""
    hard_names = list(((quota.get("spec") or {}).get("hard")) or {})
    used: ResourceList = {}
    for gr in tracked_resources(hard_names):
        names = matching_resources(*gr, hard_names)
        if not names:
            continue
        total: ResourceList = {n: ZERO for n in names}
        for obj in objects.get(gr, ()):
            if matches_scopes(quota, obj, *gr):
                total = add_lists(total, mask(usage(obj, *gr, now), names))
        used.update(total)
    return used


def quota_status(quota: Obj, objects: Mapping[GroupResource, Iterable[Obj]],
                 now: datetime | None = None) -> Obj:
    """The status the ResourceQuota controller writes: hard mirrors spec.hard; used is the
    previous used overwritten by the fresh count, limited to the hard names."""
    hard = dict(((quota.get("spec") or {}).get("hard")) or {})
    previous = to_resource_list(((quota.get("status") or {}).get("used")))
    used = {**previous, **calculate_usage(quota, objects, now)}
    return {"hard": hard, "used": to_strings(mask(used, hard))}


def status_needs_update(quota: Obj, status: Obj) -> bool:
    current = quota.get("status") or {}
    spec_hard = ((quota.get("spec") or {}).get("hard")) or {}
    if current.get("hard") is None or current.get("used") is None:
        return True
    return not lists_equal(current.get("hard"), spec_hard) or \
        not lists_equal(current.get("used"), status["used"])


# ---------------------------------------------------------------------------- admission

def handles(group: str, resource: str, operation: str, subresource: str = "",
            new_obj: Obj | None = None, old_obj: Obj | None = None) -> bool:
    """Whether admission of this request can change quota usage (evaluator.Handles)."""
    gr = (group, resource)
    if gr in IGNORED_RESOURCES:
        return False
    if gr == PODS:
        return (subresource == "" and operation == "CREATE") or \
            (subresource == "resize" and operation == "UPDATE")
    if gr == SERVICES:
        return operation in ("CREATE", "UPDATE")
    if gr == PVCS:
        if subresource == "":
            return operation in ("CREATE", "UPDATE")
        if subresource == "status" and new_obj is not None and old_obj is not None:
            def allocated(o: Obj) -> Any:
                return ((o.get("status") or {}).get("allocatedResources") or {}).get("storage")
            return bool(allocated(new_obj) != allocated(old_obj))
        return False
    return subresource == "" and operation == "CREATE"


def pod_constraints(required: Iterable[str], pod: Obj) -> str | None:
    """The ``must specify ...`` message when a quota on cpu/memory meets a container that
    does not state them, else None."""
    required_set = set(required) & POD_VALIDATION_SET
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        have = compute_usage(_container_list(c, "requests"), _container_list(c, "limits"))
        for name in required_set - set(have):
            missing.setdefault(name, set()).add(c.get("name", ""))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def forbidden(obj: Obj | None, group: str, resource: str, message: str) -> errors.Forbidden:
    """admission.NewForbidden: ``<resource>[.<group>] "<name>" is forbidden: <message>``;
    the name is the object's, else its generateName, else ``Unknown``."""
    meta = (obj or {}).get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "Unknown"
    qualified = f"{resource}.{group}" if group else resource
    return errors.Forbidden(f'{qualified} "{name}" is forbidden: {message}',
                            name=name, group=group, kind=resource)


@dataclass
class _Quota:
    obj: Obj
    hard: ResourceList
    used: ResourceList


def admit(quotas: list[Obj], new_obj: Obj, old_obj: Obj | None, *, group: str,
          resource: str, subresource: str = "", now: datetime | None = None) -> list[Obj]:
    """Charge ``new_obj`` against the namespace's ``quotas``.

    ``old_obj`` is None on CREATE and the stored object on UPDATE (then only the increase
    is charged). Returns deep copies of the quotas whose ``status.used`` grew, for the
    caller to write (``resourcequotas/status``, with their resourceVersion as
    precondition; on a conflict re-read the quotas and call again). Returns [] when
    nothing is charged. Raises ``errors.Forbidden`` when a quota would be exceeded, when a
    matching quota has no usage yet for a resource this object charges, or when a
    cpu/memory quota meets a container that does not state its requests or limits.
    """
    operation = "CREATE" if old_obj is None else "UPDATE"
    if not handles(group, resource, operation, subresource, new_obj, old_obj):
        return []
    interesting: list[_Quota] = []
    for quota in quotas:
        if not quota_matches(quota, new_obj, group, resource):
            continue
        status = quota.get("status") or {}
        hard = to_resource_list(status.get("hard"))
        restricted = matching_resources(group, resource, hard)
        if (group, resource) == PODS:
            problem = pod_constraints(restricted, new_obj)
            if problem:
                raise forbidden(new_obj, group, resource,
                                f"failed quota: {_name(quota)}: {problem}")
        used_raw = status.get("used") or {}
        if any(name not in used_raw for name in restricted):
            raise forbidden(new_obj, group, resource,
                            f"status unknown for quota: {_name(quota)}, resources: "
                            f"{','.join(sorted(restricted))}")
        interesting.append(_Quota(quota, hard, to_resource_list(used_raw)))

    input_usage = usage(new_obj, group, resource, now)
    negative = sorted(k for k, v in input_usage.items() if v.value < 0)
    if negative:
        raise forbidden(new_obj, group, resource,
                        f"quota usage is negative for resource(s): {','.join(negative)}")
    deltas = [input_usage] * len(interesting)
    if old_obj is not None and (old_obj.get("metadata") or {}).get("resourceVersion"):
        delta = subtract_non_negative(input_usage, usage(old_obj, group, resource, now))
        deltas = [delta if quota_matches(q.obj, old_obj, group, resource) else input_usage
                  for q in interesting]

    changed: list[Obj] = []
    for q, delta in zip(interesting, deltas):
        delta = remove_zeros(delta)
        if not delta:
            continue
        requested = mask(delta, q.hard)
        new_used = add_lists(q.used, requested)
        if subresource != "status":
            exceeded = sorted(name for name in requested
                              if new_used[name].value > q.hard[name].value)
            if exceeded:
                raise forbidden(new_obj, group, resource, (
                    f"exceeded quota: {_name(q.obj)}, "
                    f"requested: {pretty(mask(requested, exceeded))}, "
                    f"used: {pretty(mask(q.used, exceeded))}, "
                    f"limited: {pretty(mask(q.hard, exceeded))}"))
        if lists_equal(to_strings(new_used), to_strings(q.used)):
            continue
        out = copy.deepcopy(q.obj)
        out.setdefault("status", {})["used"] = to_strings(new_used)
        changed.append(out)
    return changed


def _name(quota: Obj) -> str:
    name: str = (quota.get("metadata") or {}).get("name", "")
    return name
