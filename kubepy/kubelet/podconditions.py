"""Pod conditions as the kubelet writes them, shared by the real agent and the simulated
nodes. Pure.

``condition`` keeps ``lastTransitionTime`` while the status stays the same (a new time only
when it flips); ``readiness_gates_message`` is the kubelet's reason text for a pod whose
readiness gates are not all True (None when they are).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def condition(old: dict[str, Obj], type_: str, ok: bool, now: str, reason: str | None = None,
              message: str | None = None) -> Obj:
    """The condition *type_* with status True/False, keeping the transition time of the
    same-status condition in *old* (type -> condition)."""
    value = "True" if ok else "False"
    previous = old.get(type_)
    transition = (previous.get("lastTransitionTime") if previous and
                  previous.get("status") == value else None) or now
    cond: Obj = {"type": type_, "status": value, "lastProbeTime": None,
                 "lastTransitionTime": transition}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def readiness_gates_message(pod: Obj, conditions: dict[str, Obj]) -> str | None:
    """Why the pod's readiness gates keep it unready, or None when every gate is True."""
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        ctype = gate.get("conditionType", "")
        cond = conditions.get(ctype)
        if cond is None:
            return f'corresponding condition of pod readiness gate "{ctype}" does not exist.'
        if cond.get("status") != "True":
            return (f'the status of pod readiness gate "{ctype}" is not "True", but '
                    f'{cond.get("status")}')
    return None
