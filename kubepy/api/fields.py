"""Field selectors: the ``?fieldSelector=`` syntax and the fields each kind exposes.

``parse_field_selector`` follows apimachinery's ``fields/selector.go``: terms split on
unescaped commas and sorted, each term split at its first ``!=``, ``==`` or ``=``, the
value unescaped (``\\\\``, ``\\,``, ``\\=``). No whitespace is trimmed. A field absent from
an object's field set reads as ``""``, so ``spec.nodeName=`` selects unscheduled pods.

``field_values`` computes an object's selectable field set (the registry's
``GetAttrs``/``ToSelectableFields``) and ``validate_field_selector`` rejects labels the
apiserver's field-label conversion does not accept, with that conversion's own message.
The two tables differ where Kubernetes' do: e.g. ReplicaSet computes ``status.replicas``
but apps/v1 registers no conversion for it, so the apiserver rejects it (kubernetes
issue 135136); pods accept ``status.podIPs`` but never set it. Custom resources use
``selectable_fields`` (the CRD version's ``selectableFields`` JSON paths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from kubepy.api.labels import go_quote
from kubepy.errors import BadRequest

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "escape_value",
    "field_values",
    "parse_field_selector",
    "supported_fields",
    "validate_field_selector",
]


def escape_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise BadRequest(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Go prints the rune with %v: its code point.
            raise BadRequest(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise BadRequest("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negated: bool = False  # "!=" rather than "=" / "=="

    def matches(self, field_values: Mapping[str, str]) -> bool:
        return (field_values.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, field_values: Mapping[str, str]) -> bool:
        return all(r.matches(field_values) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal (e.g. spec.nodeName for a kubelet's watch)."""
        for r in self.requirements:
            if r.field == field and not r.negated:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_terms(text: str) -> list[str]:
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def parse_field_selector(text: str) -> FieldSelector:
    """fields.ParseSelector; BadRequest with apimachinery's message on malformed input."""
    if not text:
        return FieldSelector()
    requirements = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        for i in range(len(term)):
            op = next((o for o in ("!=", "==", "=") if term.startswith(o, i)), None)
            if op:
                lhs, rhs = term[:i], term[i + len(op):]
                break
        else:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        requirements.append(FieldRequirement(lhs, _unescape_value(rhs), op == "!="))
    return FieldSelector(tuple(requirements))


# --------------------------------------------------------------------------------------
# Per-kind field sets and accepted field labels
# --------------------------------------------------------------------------------------

FieldsOf = Callable[[Mapping[str, Any]], dict[str, str]]


def _get(obj: Mapping[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _text(obj: Mapping[str, Any], path: str) -> str:
    value = _get(obj, path)
    return "" if value is None else _go_sprint(value)


def _go_sprint(value: Any) -> str:
    """fmt.Sprint of a JSON scalar: bools as true/false, whole numbers without '.0'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _count(obj: Mapping[str, Any], path: str) -> str:
    value = _get(obj, path)
    return str(int(value)) if isinstance(value, (int, float)) else "0"


def _pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    pod_ips = _get(pod, "status.podIPs") or []
    first_ip = pod_ips[0].get("ip", "") if pod_ips and isinstance(pod_ips[0], Mapping) else ""
    return {
        "spec.nodeName": _text(pod, "spec.nodeName"),
        "spec.restartPolicy": _text(pod, "spec.restartPolicy"),
        "spec.schedulerName": _text(pod, "spec.schedulerName"),
        "spec.serviceAccountName": _text(pod, "spec.serviceAccountName"),
        "spec.hostNetwork": "true" if _get(pod, "spec.hostNetwork") is True else "false",
        "status.phase": _text(pod, "status.phase"),
        "status.podIP": first_ip or _text(pod, "status.podIP"),
        "status.nominatedNodeName": _text(pod, "status.nominatedNodeName"),
    }


def _core_event_fields(event: Mapping[str, Any]) -> dict[str, str]:
    involved = {k: _text(event, "involvedObject." + k) for k in _INVOLVED}
    source = _text(event, "source.component") or _text(event, "reportingComponent")
    return {**{"involvedObject." + k: v for k, v in involved.items()},
            "reason": _text(event, "reason"),
            "reportingComponent": _text(event, "reportingComponent"),
            "source": source,
            "type": _text(event, "type")}


def _events_v1_fields(event: Mapping[str, Any]) -> dict[str, str]:
    """events.k8s.io Events are stored as core Events and expose the core field names."""
    source = _text(event, "deprecatedSource.component") or _text(event, "reportingController")
    return {**{"involvedObject." + k: _text(event, "regarding." + k) for k in _INVOLVED},
            "reason": _text(event, "reason"),
            "reportingComponent": _text(event, "reportingController"),
            "source": source,
            "type": _text(event, "type")}


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_EVENT_LABELS = tuple("involvedObject." + k for k in _INVOLVED) + (
    "reason", "reportingComponent", "source", "type", "metadata.namespace", "metadata.name")


@dataclass(frozen=True)
class _KindFields:
    """One kind's selectable fields: what GetAttrs computes, what conversion accepts."""

    namespaced: bool
    compute: FieldsOf | None = None  # kind-specific fields (metadata ones are added)
    accepted: tuple[str, ...] | None = None  # None: the default metadata.name/namespace
    message: str = "field label not supported: {label}"


_NAME_ONLY = ("metadata.name",)
_NS = ("metadata.name", "metadata.namespace")

# Keyed by (group, kind). Kinds missing here use the default conversion.
_KINDS: dict[tuple[str, str], _KindFields] = {
    ("", "Pod"): _KindFields(True, _pod_fields, _NS + (
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs",
        "status.nominatedNodeName")),
    ("", "Node"): _KindFields(False, lambda o: {"spec.unschedulable": _go_sprint(
        _get(o, "spec.unschedulable") is True)}, _NAME_ONLY + ("spec.unschedulable",)),
    ("", "ReplicationController"): _KindFields(True, lambda o: {
        "status.replicas": _count(o, "status.replicas")}, _NS + ("status.replicas",)),
    ("", "Event"): _KindFields(True, _core_event_fields, _EVENT_LABELS),
    ("events.k8s.io", "Event"): _KindFields(True, _events_v1_fields, _EVENT_LABELS),
    ("", "Namespace"): _KindFields(False, lambda o: {"status.phase": _text(o, "status.phase")},
                                   ("status.phase", "metadata.name")),
    ("", "Secret"): _KindFields(True, lambda o: {"type": _text(o, "type")}, ("type",) + _NS),
    ("", "Service"): _KindFields(True, lambda o: {
        "spec.clusterIP": _text(o, "spec.clusterIP"), "spec.type": _text(o, "spec.type")},
        _NS + ("spec.clusterIP", "spec.type")),
    # Computed by the registry, but apps/v1 registers no conversion: default message.
    ("apps", "ReplicaSet"): _KindFields(True, lambda o: {
        "status.replicas": _count(o, "status.replicas")}),
    ("batch", "Job"): _KindFields(True, lambda o: {
        "status.successful": _count(o, "status.succeeded")}, _NS + ("status.successful",),
        "field label {quoted} not supported for Job"),
    ("certificates.k8s.io", "CertificateSigningRequest"): _KindFields(False, lambda o: {
        "spec.signerName": _text(o, "spec.signerName")}, _NAME_ONLY + ("spec.signerName",)),
    ("certificates.k8s.io", "ClusterTrustBundle"): _KindFields(False, lambda o: {
        "spec.signerName": _text(o, "spec.signerName")}, _NAME_ONLY + ("spec.signerName",)),
    ("resource.k8s.io", "ResourceSlice"): _KindFields(False, lambda o: {
        "spec.nodeName": _text(o, "spec.nodeName"), "spec.driver": _text(o, "spec.driver")},
        _NAME_ONLY + ("spec.nodeName", "spec.driver"),
        "field label not supported for resource.k8s.io/{version}, Kind=ResourceSlice: {label}"),
}


def _custom_fields(obj: Mapping[str, Any], selectable_fields: Sequence[str]) -> dict[str, str]:
    """CRD selectableFields: JSON paths like ``.spec.color``, named without the dot."""
    return {path.lstrip("."): _text(obj, path.lstrip(".")) for path in selectable_fields}


def field_values(group: str, kind: str, obj: Mapping[str, Any], *,
                 namespaced: bool | None = None,
                 selectable_fields: Sequence[str] | None = None) -> dict[str, str]:
    """The field set the apiserver matches field selectors against for ``obj``.

    ``metadata.name`` always, ``metadata.namespace`` for namespaced kinds, plus the
    kind's own fields. ``namespaced`` is needed only for kinds outside the table (custom
    resources); ``selectable_fields`` lists a custom resource's selectable JSON paths.
    """
    spec = _KINDS.get((group, kind))
    meta = obj.get("metadata") or {}
    values = {"metadata.name": str(meta.get("name") or "")}
    is_namespaced = spec.namespaced if spec and namespaced is None else namespaced is not False
    if is_namespaced:
        values["metadata.namespace"] = str(meta.get("namespace") or "")
    if selectable_fields:
        values.update(_custom_fields(obj, selectable_fields))
    elif spec and spec.compute:
        values.update(spec.compute(obj))
    return values


def supported_fields(group: str, kind: str, *, namespaced: bool = True,
                     selectable_fields: Sequence[str] | None = None) -> tuple[str, ...]:
    """The field labels a field selector on this kind may name."""
    if selectable_fields is not None:
        base = _NS if namespaced else _NAME_ONLY
        return base + tuple(p.lstrip(".") for p in selectable_fields)
    spec = _KINDS.get((group, kind))
    return spec.accepted if spec and spec.accepted is not None else _NS


def validate_field_selector(group: str, kind: str, selector: FieldSelector, *,
                            namespaced: bool = True,
                            selectable_fields: Sequence[str] | None = None,
                            version: str = "v1beta1") -> FieldSelector:
    """The apiserver's field-label conversion: reject what the kind does not support.

    Raises BadRequest with the conversion's own message; returns the selector with
    legacy labels renamed (a pod's ``spec.host`` is ``spec.nodeName``). Pass
    ``selectable_fields`` (possibly empty) for a custom resource: the CRD handler
    accepts metadata.namespace only for namespaced resources. ``version`` only shapes
    the ResourceSlice message, which names the group/version.
    """
    allowed = supported_fields(group, kind, namespaced=namespaced,
                               selectable_fields=selectable_fields)
    spec = None if selectable_fields is not None else _KINDS.get((group, kind))
    converted = []
    for requirement in selector.requirements:
        label = requirement.field
        if (group, kind) == ("", "Pod") and label == "spec.host":
            requirement = FieldRequirement("spec.nodeName", requirement.value,
                                           requirement.negated)
        elif label in allowed:
            pass
        elif selectable_fields is not None:
            raise BadRequest(f"field label not supported: {label}")
        elif spec is None or spec.accepted is None:
            raise BadRequest(f"{go_quote(label)} is not a known field selector: "
                             'only "metadata.name", "metadata.namespace"')
        else:
            raise BadRequest(spec.message.format(label=label, quoted=go_quote(label),
                                                 version=version))
        converted.append(requirement)
    return FieldSelector(tuple(converted))
