"""The resource registry: every built-in API resource kubepy serves.

A ``ResourceType`` names one REST resource (group, version, plural) and carries what
discovery, the REST handlers and the storage layer need: kind, scope, short names,
categories, verbs and subresources. The table below is the single source of that data;
discovery documents, OpenAPI paths and storage keys are all derived from it.

Custom resources (from CRDs) are added at run time through ``Registry.add``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    name: str  # "status", "scale", "binding", ...
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # set when the subresource's kind lives in another group
    version: str | None = None


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    # Stored at /registry/<storage_resource>/...; defaults to the plural, with the
    # kube-apiserver's exceptions (nodes are "minions", services "services/specs", ...).
    storage_resource: str = ""
    # Served but not stored (review APIs: create-only, answered on the spot).
    virtual: bool = False
    # Custom resources (from a CRD): ``schema`` is a SchemaNode over its openAPIV3Schema,
    # ``printer_columns`` its additionalPrinterColumns, ``scale_paths`` its scale
    # subresource paths (specReplicasPath, statusReplicasPath, labelSelectorPath).
    custom: bool = False
    schema: Any = field(default=None, compare=False, hash=False)
    printer_columns: tuple[Any, ...] = field(default=(), compare=False, hash=False)
    scale_paths: Any = field(default=None, compare=False, hash=False)
    stored_version: str = ""  # custom resources: the CRD's storage version

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """``pods``, ``deployments.apps``: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key_prefix(self) -> str:
        """The store prefix of every object of this resource (ends in '/')."""
        return f"/registry/{self.storage_resource or self.plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def namespace_prefix(self, namespace: str | None) -> str:
        """Prefix that ranges over one namespace (or everything when namespace is None)."""
        if self.namespaced and namespace:
            return f"{self.key_prefix}{namespace}/"
        return self.key_prefix

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, ("get", "patch", "update"))


_SCALE = Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1")


def _rt(group: str, version: str, plural: str, kind: str, namespaced: bool = True, *,
        short: Iterable[str] = (), cats: Iterable[str] = (), status: bool = False,
        subs: Iterable[Subresource] = (), verbs: tuple[str, ...] = ALL_VERBS,
        storage: str = "", virtual: bool = False) -> ResourceType:
    subresources = list(subs)
    if status:
        subresources.insert(0, _status(kind))
    if group in ("apiextensions.k8s.io", "apiregistration.k8s.io") and not storage:
        storage = f"{group}/{plural}"  # the apiserver's own keys for these two groups
    return ResourceType(group, version, plural, kind, namespaced, kind.lower(),
                        tuple(short), tuple(cats), verbs, tuple(subresources), storage, virtual)


_POD_SUBS = (
    Subresource("attach", "PodAttachOptions", ("create", "get")),
    Subresource("binding", "Binding", ("create",)),
    Subresource("ephemeralcontainers", "Pod", ("get", "patch", "update")),
    Subresource("eviction", "Eviction", ("create",), "policy", "v1"),
    Subresource("exec", "PodExecOptions", ("create", "get")),
    Subresource("log", "Pod", ("get",)),
    Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
    Subresource("proxy", "PodProxyOptions",
                ("create", "delete", "get", "patch", "update")),
)

_CREATE_ONLY = ("create",)

BUILTIN: tuple[ResourceType, ...] = (
    # core/v1
    _rt("", "v1", "bindings", "Binding", verbs=_CREATE_ONLY, virtual=True),
    _rt("", "v1", "componentstatuses", "ComponentStatus", False, short=["cs"],
        verbs=("get", "list"), virtual=True),
    _rt("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    _rt("", "v1", "endpoints", "Endpoints", short=["ep"]),
    _rt("", "v1", "events", "Event", short=["ev"]),
    _rt("", "v1", "limitranges", "LimitRange", short=["limits"]),
    _rt("", "v1", "namespaces", "Namespace", False, short=["ns"], status=True,
        subs=[Subresource("finalize", "Namespace", ("update",))], verbs=NO_COLLECTION_DELETE),
    _rt("", "v1", "nodes", "Node", False, short=["no"], status=True, storage="minions",
        subs=[Subresource("proxy", "NodeProxyOptions",
                          ("create", "delete", "get", "patch", "update"))]),
    _rt("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status=True),
    _rt("", "v1", "persistentvolumes", "PersistentVolume", False, short=["pv"], status=True),
    _rt("", "v1", "pods", "Pod", short=["po"], cats=["all"], status=True, subs=_POD_SUBS),
    _rt("", "v1", "podtemplates", "PodTemplate"),
    _rt("", "v1", "replicationcontrollers", "ReplicationController", short=["rc"], cats=["all"],
        status=True, subs=[_SCALE], storage="controllers"),
    _rt("", "v1", "resourcequotas", "ResourceQuota", short=["quota"], status=True),
    _rt("", "v1", "secrets", "Secret"),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"],
        subs=[Subresource("token", "TokenRequest", ("create",), "authentication.k8s.io", "v1")]),
    _rt("", "v1", "services", "Service", short=["svc"], cats=["all"], status=True,
        subs=[Subresource("proxy", "ServiceProxyOptions",
                          ("create", "delete", "get", "patch", "update"))],
        verbs=NO_COLLECTION_DELETE, storage="services/specs"),
    # apps/v1
    _rt("apps", "v1", "controllerrevisions", "ControllerRevision"),
    _rt("apps", "v1", "daemonsets", "DaemonSet", short=["ds"], cats=["all"], status=True),
    _rt("apps", "v1", "deployments", "Deployment", short=["deploy"], cats=["all"], status=True,
        subs=[_SCALE]),
    _rt("apps", "v1", "replicasets", "ReplicaSet", short=["rs"], cats=["all"], status=True,
        subs=[_SCALE]),
    _rt("apps", "v1", "statefulsets", "StatefulSet", short=["sts"], cats=["all"], status=True,
        subs=[_SCALE]),
    # batch/v1
    _rt("batch", "v1", "cronjobs", "CronJob", short=["cj"], cats=["all"], status=True),
    _rt("batch", "v1", "jobs", "Job", cats=["all"], status=True),
    # autoscaling
    _rt("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
        short=["hpa"], cats=["all"], status=True),
    _rt("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
        short=["hpa"], cats=["all"], status=True),
    # discovery.k8s.io/v1
    _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    # coordination.k8s.io/v1
    _rt("coordination.k8s.io", "v1", "leases", "Lease"),
    # rbac.authorization.k8s.io/v1
    _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    # storage.k8s.io/v1
    _rt("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short=["sc"]),
    # networking.k8s.io/v1
    _rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", short=["ing"], status=True,
        storage="ingress"),
    _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=["netpol"]),
    # policy/v1
    _rt("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"],
        status=True),
    # scheduling.k8s.io/v1
    _rt("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short=["pc"]),
    # events.k8s.io/v1: the same objects as core events, seen through another version.
    _rt("events.k8s.io", "v1", "events", "Event", short=["ev"], storage="events"),
    # apiextensions.k8s.io/v1
    _rt("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
        False, short=["crd", "crds"], cats=["api-extensions"], status=True),
    # admissionregistration.k8s.io/v1 (stored; webhooks and policies are not called yet)
    _rt("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration", False, cats=["api-extensions"]),
    _rt("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy", False, cats=["api-extensions"], status=True),
    _rt("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding", False, cats=["api-extensions"]),
    _rt("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration", False, cats=["api-extensions"]),
    # certificates.k8s.io/v1
    _rt("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
        False, short=["csr"], status=True,
        subs=[Subresource("approval", "CertificateSigningRequest", ("get", "patch", "update"))]),
    # flowcontrol.apiserver.k8s.io/v1 (stored; requests are not throttled by them)
    _rt("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", False, status=True),
    _rt("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations",
        "PriorityLevelConfiguration", False, status=True),
    # node.k8s.io/v1
    _rt("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    # storage.k8s.io/v1 (beyond storageclasses)
    _rt("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    _rt("storage.k8s.io", "v1", "csinodes", "CSINode", False),
    _rt("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity"),
    _rt("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False, status=True),
    # apiregistration.k8s.io/v1 (stored and listed; aggregation is not proxied yet)
    _rt("apiregistration.k8s.io", "v1", "apiservices", "APIService", False,
        cats=["api-extensions"], status=True),
    # review APIs (answered on the spot, never stored)
    _rt("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False,
        verbs=_CREATE_ONLY, virtual=True),
    _rt("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False,
        verbs=_CREATE_ONLY, virtual=True),
    _rt("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
        False, verbs=_CREATE_ONLY, virtual=True),
    _rt("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
        False, verbs=_CREATE_ONLY, virtual=True),
    _rt("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False,
        verbs=_CREATE_ONLY, virtual=True),
    _rt("authorization.k8s.io", "v1", "localsubjectaccessreviews",
        "LocalSubjectAccessReview", True, verbs=_CREATE_ONLY, virtual=True),
)

# Preferred version per group, in the order /apis lists groups (as the kube-apiserver does).
GROUP_ORDER: tuple[str, ...] = (
    "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
    "policy", "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
    "discovery.k8s.io", "flowcontrol.apiserver.k8s.io",
)


@dataclass
class Registry:
    """Lookup of resource types by group/version/plural, kind, short name."""

    types: list[ResourceType] = field(default_factory=lambda: list(BUILTIN))

    def add(self, rt: ResourceType) -> None:
        self.remove(rt.group, rt.version, rt.plural)
        self.types.append(rt)

    def remove(self, group: str, version: str, plural: str) -> None:
        self.types = [t for t in self.types
                      if not (t.group == group and t.version == version and t.plural == plural)]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.types)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        for t in self.types:
            if t.plural == plural and t.group == group and t.version == version:
                return t
        return None

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        for t in self.types:
            if t.kind == kind and t.group == group and t.version == version:
                return t
        return None

    def groups(self) -> dict[str, list[str]]:
        """Group name -> versions served, preferred first."""
        out: dict[str, list[str]] = {}
        for t in self.types:
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        for versions in out.values():
            versions.sort(key=_version_priority)
        return out

    def group_version_resources(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)
