"""``ValidatePodUpdate``: what may change in a running pod's spec.

Kubernetes lets an update touch only container images, a lowered or newly set
activeDeadlineSeconds, added tolerations (and tolerationSeconds of existing ones), a
negative terminationGracePeriodSeconds raised to 1, and removed scheduling gates. Any
other spec change is one ``spec: Forbidden`` cause carrying the upstream sentence and a
short list of the changed paths (Kubernetes appends a go-cmp diff there).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping

from kubepy.api.validation import field as f
from kubepy.api.validation.names import inclusive_range_error

Cause = f.Cause
MAX_INT32 = 2**31 - 1

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)")


def _changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, (dict, Mapping)) and isinstance(new, (dict, Mapping)):
        out: list[str] = []
        for k in sorted(set(old) | set(new)):
            out += _changed_paths(old.get(k), new.get(k), f.child(path, k))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            out += _changed_paths(a, b, f.index(path, i))
        return out
    if old == new:
        return []
    return [f"  {path}: {json.dumps(old, sort_keys=True)} -> {json.dumps(new, sort_keys=True)}"]


def _only_added_tolerations(new: list[Any], old: list[Any], path: str) -> list[Cause]:
    for old_t in old:
        if not any({**old_t, "tolerationSeconds": t.get("tolerationSeconds")} ==
                   {**t, "tolerationSeconds": t.get("tolerationSeconds")} for t in new):
            return [f.forbidden(path, "existing toleration can not be modified except its "
                                      "tolerationSeconds")]
    return []


def validate_pod_spec_update(new: Mapping[str, Any], old: Mapping[str, Any],
                             path: str = "spec") -> list[Cause]:
    causes: list[Cause] = []
    deadline, old_deadline = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if deadline is not None:
        if not isinstance(deadline, int) or not 0 <= deadline <= MAX_INT32:
            return [f.invalid(f.child(path, "activeDeadlineSeconds"), deadline,
                              inclusive_range_error(0, MAX_INT32))]
        if old_deadline is not None and old_deadline < deadline:
            return [f.invalid(f.child(path, "activeDeadlineSeconds"), deadline,
                              "must be less than or equal to previous value")]
    elif old_deadline is not None:
        causes.append(f.invalid(f.child(path, "activeDeadlineSeconds"), None,
                                "must not update from a positive integer to nil value"))
    causes += _only_added_tolerations(new.get("tolerations") or [], old.get("tolerations") or [],
                                      f.child(path, "tolerations"))

    # Blank out what may change, then the rest must be equal.
    mutable_new, mutable_old = copy.deepcopy(dict(new)), copy.deepcopy(dict(old))
    for kind in ("containers", "initContainers"):
        olds = mutable_old.get(kind) or []
        news = mutable_new.get(kind) or []
        if len(olds) == len(news):
            for n, o in zip(news, olds):
                if isinstance(n, dict) and isinstance(o, dict):
                    n["image"] = o.get("image")
    mutable_new["activeDeadlineSeconds"] = mutable_old.get("activeDeadlineSeconds")
    mutable_new["tolerations"] = mutable_old.get("tolerations")
    grace_old = old.get("terminationGracePeriodSeconds")
    if isinstance(grace_old, int) and grace_old < 0 and \
            new.get("terminationGracePeriodSeconds") == 1:
        mutable_new["terminationGracePeriodSeconds"] = grace_old
    old_gates = mutable_old.get("schedulingGates") or []
    new_gates = mutable_new.get("schedulingGates") or []
    if all(g in old_gates for g in new_gates):  # gates may only be removed
        mutable_new["schedulingGates"] = mutable_old.get("schedulingGates")
    for spec in (mutable_new, mutable_old):
        for k in [k for k, v in spec.items() if v is None]:
            del spec[k]
    if mutable_new != mutable_old:
        diff = "\n".join(_changed_paths(mutable_old, mutable_new))
        causes.append(f.forbidden(path, POD_UPDATE_FORBIDDEN + "\n" + diff))
    return causes
