"""Taints and tolerations: whether a pod's tolerations tolerate a node's taints, as the
scheduler, the DaemonSet controller and the node lifecycle (taint eviction) controller all
decide it. The one home of this rule (``v1.Toleration.ToleratesTaint`` and the
``TolerationsTolerateTaint`` / ``FindMatchingUntoleratedTaint`` helpers of Kubernetes).

Pure functions over plain API dicts (``{"key", "operator", "value", "effect",
"tolerationSeconds"}`` tolerations, ``{"key", "value", "effect", "timeAdded"}`` taints); an
absent field counts as "".

* ``tolerates(toleration, taint)``: an empty toleration effect matches every effect, an
  empty key matches every key (only meaningful with ``Exists``); operator ``Exists``
  ignores the value, ``Equal`` (or empty) needs equal values; any other operator
  tolerates nothing;
* ``tolerations_tolerate_taint(tolerations, taint)``: one of them does;
* ``first_untolerated_taint(taints, tolerations, effects=None)``: the first taint (among
  those whose effect is in ``effects``, when given) no toleration tolerates, or None.
"""

from __future__ import annotations

from typing import Any, Collection, Iterable, Mapping

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"
EXISTS = "Exists"
EQUAL = "Equal"

Toleration = Mapping[str, Any]
Taint = Mapping[str, Any]


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Whether one toleration tolerates one taint."""
    effect = toleration.get("effect") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    key = toleration.get("key") or ""
    if key and key != (taint.get("key") or ""):
        return False
    operator = toleration.get("operator") or EQUAL
    if operator == EXISTS:
        return True
    if operator == EQUAL:
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerations_tolerate_taint(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    """Whether any of ``tolerations`` tolerates ``taint``."""
    return any(tolerates(t, taint) for t in tolerations)


def first_untolerated_taint(taints: Iterable[Taint], tolerations: Iterable[Toleration],
                            effects: Collection[str] | None = None) -> Taint | None:
    """The first of ``taints`` (only those with an effect in ``effects``, when given) that
    none of ``tolerations`` tolerates; None when all are tolerated."""
    if not isinstance(tolerations, (list, tuple)):
        tolerations = list(tolerations)  # read once per taint
    for taint in taints:
        if effects is not None and taint.get("effect") not in effects:
            continue
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


__all__ = ["EQUAL", "EXISTS", "NO_EXECUTE", "NO_SCHEDULE", "PREFER_NO_SCHEDULE",
           "first_untolerated_taint", "tolerates", "tolerations_tolerate_taint"]
