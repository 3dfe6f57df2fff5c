"""Rows of the smaller API groups: RBAC bindings, PodDisruptionBudget, PriorityClass,
Lease, RuntimeClass, admission webhooks and policies, CertificateSigningRequest and the
API priority-and-fairness kinds.

Roles and ClusterRoles have no printer upstream: they get the default NAME / CREATED AT
table (see ``__init__``). FlowSchema lists are ordered by matching precedence, then name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .common import Cell, Column, Doc, Obj, Printer, age, age_column, as_int, dig, \
    human_duration, int_or_string, name, name_column


# --- RBAC ---------------------------------------------------------------------------------

def _binding_columns(what: str) -> tuple[Column, ...]:
    return (
        name_column(),
        Column("Role", "string", Doc(f"rbac.v1.{what[0].upper()}{what[1:]}", "roleRef")),
        age_column(),
        Column("Users", "string", f"Users in the {what}", priority=1),
        Column("Groups", "string", f"Groups in the {what}", priority=1),
        Column("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
    )


def binding_cells(obj: Obj, now: datetime) -> list[Cell]:
    ref: Obj = obj.get("roleRef") or {}
    users, groups, service_accounts = [], [], []
    for subject in obj.get("subjects") or []:
        kind, subject_name = subject.get("kind"), str(subject.get("name") or "")
        if kind == "ServiceAccount":
            service_accounts.append(f"{subject.get('namespace') or ''}/{subject_name}")
        elif kind == "User":
            users.append(subject_name)
        elif kind == "Group":
            groups.append(subject_name)
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(service_accounts)]


# --- policy, scheduling, coordination, node -----------------------------------------------

POD_DISRUPTION_BUDGET = (
    name_column(),
    Column("Min Available", "string", "The minimum number of pods that must be available."),
    Column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", "integer",
           "Calculated number of pods that may be disrupted at this time."),
    age_column(),
)


def pod_disruption_budget_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [name(obj), "N/A" if min_available is None else int_or_string(min_available),
            "N/A" if max_unavailable is None else int_or_string(max_unavailable),
            as_int(dig(obj, "status", "disruptionsAllowed")), age(obj, now)]


PRIORITY_CLASS = (
    name_column(),
    Column("Value", "integer", Doc("scheduling.v1.PriorityClass", "value")),
    Column("Global-Default", "boolean", Doc("scheduling.v1.PriorityClass", "globalDefault")),
    age_column(),
    Column("PreemptionPolicy", "string", Doc("scheduling.v1.PriorityClass", "preemptionPolicy"),
           priority=1),
)


def priority_class_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), as_int(obj.get("value")), bool(obj.get("globalDefault")), age(obj, now),
            str(obj.get("preemptionPolicy") or "")]


LEASE = (name_column(),
         Column("Holder", "string", Doc("coordination.v1.LeaseSpec", "holderIdentity")),
         age_column())


def lease_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), str(dig(obj, "spec", "holderIdentity") or ""), age(obj, now)]


RUNTIME_CLASS = (name_column(), Column("Handler", "string", Doc("node.v1.RuntimeClass", "handler")),
                 age_column())


def runtime_class_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), str(obj.get("handler") or ""), age(obj, now)]


# --- admission ----------------------------------------------------------------------------

WEBHOOK_CONFIGURATION = (
    name_column(),
    Column("Webhooks", "integer",
           "Webhooks indicates the number of webhooks registered in this configuration"),
    age_column(),
)


def webhook_configuration_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), len(obj.get("webhooks") or []), age(obj, now)]


VALIDATING_ADMISSION_POLICY = (
    name_column(),
    Column("Validations", "integer", "Validations indicates the number of validation rules "
           "defined in this configuration"),
    Column("ParamKind", "string",
           "ParamKind specifies the kind of resources used to parameterize this policy"),
    age_column(),
)


def validating_admission_policy_cells(obj: Obj, now: datetime) -> list[Cell]:
    param_kind = dig(obj, "spec", "paramKind")
    text = "<unset>" if param_kind is None else \
        f"{param_kind.get('apiVersion', '')}/{param_kind.get('kind', '')}"
    return [name(obj), len(dig(obj, "spec", "validations") or []), text, age(obj, now)]


POLICY_BINDING = (
    name_column(),
    Column("PolicyName", "string",
           "PolicyName indicates the policy definition which the policy binding binded to"),
    Column("ParamRef", "string",
           "ParamRef indicates the param resource which sets the configration param"),
    age_column(),
)


def _go_label_selector(selector: Obj) -> str:
    """The generated Go ``LabelSelector.String()`` (a struct dump) upstream prints here."""
    labels = selector.get("matchLabels") or {}
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(str(v) for v in e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or [])
    pairs = "".join(f"{k}: {labels[k]}," for k in sorted(labels))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def policy_binding_cells(obj: Obj, now: datetime) -> list[Cell]:
    ref = dig(obj, "spec", "paramRef")
    text = "<unset>"
    if ref is not None:
        if ref.get("name"):
            text = f"{ref.get('namespace') or '*'}/{ref['name']}"
        elif ref.get("selector") is not None:
            text = _go_label_selector(ref["selector"])
    return [name(obj), str(dig(obj, "spec", "policyName") or ""), text, age(obj, now)]


# --- certificates ---------------------------------------------------------------------------

CERTIFICATE_SIGNING_REQUEST = (
    name_column(),
    age_column(),
    Column("SignerName", "string", Doc("certificates.v1.CertificateSigningRequestSpec", "signerName")),
    Column("Requestor", "string", Doc("certificates.v1.CertificateSigningRequestSpec", "request")),
    Column("RequestedDuration", "string",
           Doc("certificates.v1.CertificateSigningRequestSpec", "expirationSeconds")),
    Column("Condition", "string", Doc("certificates.v1.CertificateSigningRequestStatus", "conditions")),
)


def csr_condition(csr: Obj) -> str:
    types = {c.get("type") for c in dig(csr, "status", "conditions") or []}
    text = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        text += ",Failed"
    if dig(csr, "status", "certificate"):
        text += ",Issued"
    return text


def csr_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    seconds = spec.get("expirationSeconds")
    duration = "<none>" if seconds is None else human_duration(timedelta(seconds=as_int(seconds)))
    return [name(obj), age(obj, now), str(spec.get("signerName") or "<none>"),
            str(spec.get("username") or ""), duration, csr_condition(obj)]


# --- flow control -----------------------------------------------------------------------------

FLOW_SCHEMA = (
    name_column(),
    Column("PriorityLevel", "string",
           Doc("flowcontrol.v1.PriorityLevelConfigurationReference", "name")),
    Column("MatchingPrecedence", "string", Doc("flowcontrol.v1.FlowSchemaSpec", "matchingPrecedence")),
    Column("DistinguisherMethod", "string",
           Doc("flowcontrol.v1.FlowSchemaSpec", "distinguisherMethod")),
    age_column(),
    Column("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
)


def flow_schema_order(obj: Obj) -> tuple[int, str]:
    return as_int(dig(obj, "spec", "matchingPrecedence")), name(obj)


def flow_schema_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    method = spec.get("distinguisherMethod")
    missing = "?"
    for condition in dig(obj, "status", "conditions") or []:
        if condition.get("type") == "Dangling":
            missing = str(condition.get("status") or "")
            break
    return [name(obj), str(dig(spec, "priorityLevelConfiguration", "name") or ""),
            as_int(spec.get("matchingPrecedence")),
            "<none>" if method is None else str(method.get("type") or ""), age(obj, now), missing]


PRIORITY_LEVEL = (
    name_column(),
    Column("Type", "string", Doc("flowcontrol.v1.PriorityLevelConfigurationSpec", "type")),
    Column("NominalConcurrencyShares", "string",
           Doc("flowcontrol.v1.LimitedPriorityLevelConfiguration", "nominalConcurrencyShares")),
    Column("Queues", "string", Doc("flowcontrol.v1.QueuingConfiguration", "queues")),
    Column("HandSize", "string", Doc("flowcontrol.v1.QueuingConfiguration", "handSize")),
    Column("QueueLengthLimit", "string", Doc("flowcontrol.v1.QueuingConfiguration", "queueLengthLimit")),
    age_column(),
)


def priority_level_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    shares: Cell = "<none>"
    queues: Cell = "<none>"
    hand_size: Cell = "<none>"
    length: Cell = "<none>"
    limited = spec.get("limited")
    if limited is not None:
        shares = as_int(limited.get("nominalConcurrencyShares"), 30)
        queuing = dig(limited, "limitResponse", "queuing")
        if queuing is not None:
            queues = as_int(queuing.get("queues"))
            hand_size = as_int(queuing.get("handSize"))
            length = as_int(queuing.get("queueLengthLimit"))
    return [name(obj), str(spec.get("type") or ""), shares, queues, hand_size, length, age(obj, now)]


PRINTERS = {
    ("rbac.authorization.k8s.io", "RoleBinding"): Printer(_binding_columns("roleBinding"),
                                                          binding_cells),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Printer(
        _binding_columns("clusterRoleBinding"), binding_cells),
    ("policy", "PodDisruptionBudget"): Printer(POD_DISRUPTION_BUDGET, pod_disruption_budget_cells),
    ("scheduling.k8s.io", "PriorityClass"): Printer(PRIORITY_CLASS, priority_class_cells),
    ("coordination.k8s.io", "Lease"): Printer(LEASE, lease_cells),
    ("node.k8s.io", "RuntimeClass"): Printer(RUNTIME_CLASS, runtime_class_cells),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): Printer(
        WEBHOOK_CONFIGURATION, webhook_configuration_cells),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): Printer(
        WEBHOOK_CONFIGURATION, webhook_configuration_cells),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): Printer(
        VALIDATING_ADMISSION_POLICY, validating_admission_policy_cells),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): Printer(
        POLICY_BINDING, policy_binding_cells),
    ("certificates.k8s.io", "CertificateSigningRequest"): Printer(CERTIFICATE_SIGNING_REQUEST,
                                                                  csr_cells),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): Printer(FLOW_SCHEMA, flow_schema_cells),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): Printer(PRIORITY_LEVEL,
                                                                            priority_level_cells),
}

# Kinds whose list tables are re-ordered upstream (key function over the objects).
LIST_ORDER = {("flowcontrol.apiserver.k8s.io", "FlowSchema"): flow_schema_order}
