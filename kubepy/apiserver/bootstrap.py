"""Objects every cluster starts with, created on each start when missing.

Namespaces default, kube-system, kube-public, kube-node-lease; the ``kubernetes`` Service
in default (ClusterIP = first address of the service CIDR) with Endpoints and an
EndpointSlice pointing at the apiserver; the bootstrap RBAC roles (cluster-admin bound to
system:masters, admin/edit/view, system:discovery, system:basic-user,
system:public-info-viewer). Existing objects are left as they are.

``ensure_cluster_dns`` adds the cluster DNS Service kube-system/kube-dns (CoreDNS's labels
and ports, clusterIP = ``--cluster-dns``, no selector: ``kubepy dns`` keeps its Endpoints
and EndpointSlice pointing at itself); ``kubepy server`` calls it unless coredns is
disabled.
"""

from __future__ import annotations

from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.apiserver.objects import Objects, WriteOptions

Obj = dict[str, Any]
_OPTS = WriteOptions(field_manager="kube-apiserver")
_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def _role(name: str, rules: list[Obj], aggregate_to: list[str] | None = None, *,
          aggregates: str = "") -> Obj:
    labels = dict(_BOOTSTRAP_LABELS)
    for target in aggregate_to or []:
        labels[f"rbac.authorization.k8s.io/aggregate-to-{target}"] = "true"
    role: Obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": name, "labels": labels, "annotations": {
                     "rbac.authorization.kubernetes.io/autoupdate": "true"}},
                 "rules": rules}
    if aggregates:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {
            f"rbac.authorization.k8s.io/aggregate-to-{aggregates}": "true"}}]}
    return role


def _binding(name: str, role: str, subjects: list[Obj]) -> Obj:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(_BOOTSTRAP_LABELS),
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": role},
            "subjects": subjects}


_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
# What view may read; edit and admin may also write these.
_WORKLOADS = [
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "endpoints",
                                      "persistentvolumeclaims", "replicationcontrollers",
                                      "replicationcontrollers/scale", "serviceaccounts"]},
    {"apiGroups": ["apps"], "resources": ["daemonsets", "deployments", "deployments/scale",
                                          "replicasets", "replicasets/scale", "statefulsets",
                                          "statefulsets/scale"]},
    {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"]},
]


# Beyond view: secrets and the pod/service access subresources (edit and admin only).
_SENSITIVE = [
    {"apiGroups": [""], "resources": ["secrets", "pods/attach", "pods/exec",
                                      "pods/portforward", "pods/proxy", "services/proxy"]},
]


def _with_verbs(rules: list[Obj], verbs: list[str]) -> list[Obj]:
    return [{**r, "verbs": verbs} for r in rules]


def bootstrap_rbac() -> list[Obj]:
    # As upstream: the rules live in system:aggregate-to-{view,edit,admin}; view, edit and
    # admin aggregate them by label (view into edit into admin). The authorizer evaluates
    # aggregationRule itself; the rules written here are what aggregation yields.
    to_view = _with_verbs(_WORKLOADS, _READ) + [
        {"apiGroups": [""], "resources": ["events", "limitranges", "namespaces",
                                          "resourcequotas", "pods/log", "pods/status"],
         "verbs": _READ}]
    to_edit = _with_verbs(_WORKLOADS + _SENSITIVE, _WRITE) + [
        {"apiGroups": [""], "resources": ["secrets", "pods/attach", "pods/exec",
                                          "pods/portforward", "pods/proxy",
                                          "services/proxy"], "verbs": _READ}]
    to_admin = [{"apiGroups": ["rbac.authorization.k8s.io"],
                 "resources": ["roles", "rolebindings"], "verbs": _READ + _WRITE},
                {"apiGroups": ["authorization.k8s.io"],
                 "resources": ["localsubjectaccessreviews"], "verbs": ["create"]}]
    view = to_view
    edit = to_edit + view
    admin = to_admin + edit
    review = {"apiGroups": ["authorization.k8s.io"],
              "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
              "verbs": ["create"]}
    whoami = {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
              "verbs": ["create"]}
    return [
        _role("cluster-admin", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                {"nonResourceURLs": ["*"], "verbs": ["*"]}]),
        _binding("cluster-admin", "cluster-admin",
                 [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:masters"}]),
        _role("admin", admin, aggregates="admin"),
        _role("edit", edit, ["admin"], aggregates="edit"),
        _role("view", view, ["edit"], aggregates="view"),
        _role("system:aggregate-to-admin", to_admin, ["admin"]),
        _role("system:aggregate-to-edit", to_edit, ["edit"]),
        _role("system:aggregate-to-view", to_view, ["view"]),
        _role("system:discovery", [{"nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
            "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        _binding("system:discovery", "system:discovery",
                 [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:authenticated"}]),
        _role("system:basic-user", [review, whoami]),
        _binding("system:basic-user", "system:basic-user",
                 [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:authenticated"}]),
        _role("system:public-info-viewer", [{"nonResourceURLs": [
            "/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:authenticated"},
                  {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:unauthenticated"}]),
    ]


async def _ensure(objects: Objects, registry: Registry, obj: Obj) -> None:
    group, _, version = obj["apiVersion"].rpartition("/")
    rt = registry.by_kind(group, version, obj["kind"])
    assert rt is not None, obj["kind"]
    ns = obj["metadata"].get("namespace")
    if objects.cached(rt, ns, obj["metadata"]["name"]) is not None:
        return
    try:
        await objects.create(rt, ns, obj, _OPTS)
    except errors.AlreadyExists:
        pass


async def bootstrap(objects: Objects, registry: Registry, *, first_service_ip: str,
                    apiserver_ip: str, apiserver_port: int) -> None:
    await objects.hub.wait_fresh()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        await _ensure(objects, registry, {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": ns, "labels": {
                                              "kubernetes.io/metadata.name": ns}}})
    await _ensure(objects, registry, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": first_service_ip,
                 "clusterIPs": [first_service_ip], "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": apiserver_port}]}})
    await _ensure(objects, registry, {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": apiserver_ip}],
                     "ports": [{"name": "https", "port": apiserver_port, "protocol": "TCP"}]}]})
    await _ensure(objects, registry, {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes",
                                "endpointslice.kubernetes.io/managed-by":
                                    "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [apiserver_ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": apiserver_port, "protocol": "TCP"}]})
    for obj in bootstrap_rbac() + local_api_services(registry):
        await _ensure(objects, registry, obj)


def local_api_services(registry: Registry) -> list[Obj]:
    """One APIService per served group/version, "Local" as the kube-aggregator lists them."""
    from kubepy.api.registry import GROUP_ORDER

    out = []
    for group, versions in registry.groups().items():
        rank = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
        for i, version in enumerate(versions):
            out.append({
                "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": f"{version}.{group}",
                             "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
                "spec": {"group": group, "version": version,
                         "groupPriorityMinimum": 18000 if not group else 17800 - 100 * rank,
                         "versionPriority": 15 - i}})
    return out


KUBE_DNS_NAME = "kube-dns"
KUBE_DNS_NAMESPACE = "kube-system"


def kube_dns_service(cluster_dns: str) -> Obj:
    """kube-system/kube-dns as CoreDNS's manifests (and k3s's) define it, minus the
    selector: the DNS server is not a pod here, so its endpoints are written by hand."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": KUBE_DNS_NAME, "namespace": KUBE_DNS_NAMESPACE,
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": "9153",
                                     "prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_dns, "clusterIPs": [cluster_dns],
                 "sessionAffinity": "None",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP",
                            "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP",
                            "targetPort": 9153}]}}


async def ensure_cluster_dns(objects: Objects, registry: Registry, *, cluster_dns: str) -> None:
    """Create kube-system/kube-dns when missing (an existing one is left as it is)."""
    await objects.hub.wait_fresh()
    await _ensure(objects, registry, kube_dns_service(cluster_dns))
