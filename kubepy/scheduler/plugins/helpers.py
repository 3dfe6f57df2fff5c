"""Matching rules shared by several plugins: node selectors (``nodeSelector`` maps,
NodeSelector terms with In/NotIn/Exists/DoesNotExist/Gt/Lt expressions and ``metadata.name``
fields). Tolerations against taints are ``kubepy.api.taints``.
"""

from __future__ import annotations

import re
from typing import Any

Obj = dict[str, Any]

_INT64 = re.compile(r"^[+-]?[0-9]+$")


def _int(text: str) -> int | None:
    return int(text) if _INT64.match(text) else None


def requirement_matches(expr: Obj, labels: dict[str, str]) -> bool:
    """A NodeSelectorRequirement against a label set."""
    key, op = expr.get("key") or "", expr.get("operator") or ""
    values = expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        if key not in labels or len(values) != 1:
            return False
        have, want = _int(labels[key]), _int(str(values[0]))
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: Obj, node_name: str, labels: dict[str, str]) -> bool:
    """A NodeSelectorTerm: all expressions and fields must match; an empty term matches
    nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    for e in exprs:
        if not requirement_matches(e, labels):
            return False
    for f in fields:
        if f.get("key") != "metadata.name":
            return False
        if not requirement_matches(f, {"metadata.name": node_name}):
            return False
    return True


def node_selector_matches(selector: Obj | None, node_name: str, labels: dict[str, str]) -> bool:
    """A NodeSelector (ORed terms). None selects every node."""
    if selector is None:
        return True
    return any(term_matches(t, node_name, labels)
               for t in selector.get("nodeSelectorTerms") or [])


def required_node_affinity(spec: Obj) -> tuple[dict[str, str], Obj | None]:
    """The pod's ``nodeSelector`` map and required NodeSelector (either may be empty)."""
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return (spec.get("nodeSelector") or {},
            node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))


def pod_matches_node_affinity(spec: Obj, node_name: str, labels: dict[str, str]) -> bool:
    """nodeSelector and required node affinity both hold for the node."""
    selector, required = required_node_affinity(spec)
    for k, v in selector.items():
        if labels.get(k) != v:
            return False
    return node_selector_matches(required, node_name, labels)
