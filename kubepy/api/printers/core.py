"""Rows of the core (``v1``) kinds other than Pod and Event.

Namespaces, nodes, services, endpoints, config maps, secrets, service accounts, pod
templates, replication controllers, resource quotas and component statuses, with the
columns and cell formats of the 1.32 kube-apiserver (``RESTARTS`` and friends live in
``pods``; volumes in ``storage``).
"""

from __future__ import annotations

from datetime import datetime

from .common import CONTAINERS_DOC, IMAGES_DOC, Cell, Column, Doc, Obj, Printer, age, \
    age_column, as_int, container_cells, containers_columns, dig, format_labels, meta, name, \
    name_column
from .quantity import quantity_or_zero

# --- Namespace ----------------------------------------------------------------------------

NAMESPACE = (name_column(), Column("Status", "string", "The status of the namespace"),
             age_column())


def namespace_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), str(dig(obj, "status", "phase") or "Active"), age(obj, now)]


# --- Node ---------------------------------------------------------------------------------

NODE = (
    name_column(),
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    age_column(),
    Column("Version", "string", Doc("core.v1.NodeSystemInfo", "kubeletVersion")),
    Column("Internal-IP", "string", Doc("core.v1.NodeStatus", "addresses"), priority=1),
    Column("External-IP", "string", Doc("core.v1.NodeStatus", "addresses"), priority=1),
    Column("OS-Image", "string", Doc("core.v1.NodeSystemInfo", "osImage"), priority=1),
    Column("Kernel-Version", "string", Doc("core.v1.NodeSystemInfo", "kernelVersion"), priority=1),
    Column("Container-Runtime", "string", Doc("core.v1.NodeSystemInfo", "containerRuntimeVersion"),
           priority=1),
)

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def node_roles(node: Obj) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role`` values."""
    roles: set[str] = set()
    for key, value in (meta(node).get("labels") or {}).items():
        if key.startswith(NODE_ROLE_PREFIX):
            if role := key[len(NODE_ROLE_PREFIX):]:
                roles.add(role)
        elif key == NODE_ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def _node_status(node: Obj) -> str:
    status: list[str] = []
    ready = None
    for condition in dig(node, "status", "conditions") or []:
        if condition.get("type") == "Ready":
            ready = condition  # the last one wins, as with Go's map by type
    if ready is not None:
        status.append("Ready" if ready.get("status") == "True" else "NotReady")
    else:
        status.append("Unknown")
    if dig(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_address(node: Obj, address_type: str) -> str:
    for address in dig(node, "status", "addresses") or []:
        if address.get("type") == address_type:
            return str(address.get("address", ""))
    return "<none>"


def node_cells(obj: Obj, now: datetime) -> list[Cell]:
    info: Obj = dig(obj, "status", "nodeInfo") or {}
    return [
        name(obj), _node_status(obj), ",".join(node_roles(obj)) or "<none>", age(obj, now),
        str(info.get("kubeletVersion") or ""),
        _node_address(obj, "InternalIP"), _node_address(obj, "ExternalIP"),
        str(info.get("osImage") or "<unknown>"), str(info.get("kernelVersion") or "<unknown>"),
        str(info.get("containerRuntimeVersion") or "<unknown>"),
    ]


# --- Service ------------------------------------------------------------------------------

SERVICE = (
    name_column(),
    Column("Type", "string", Doc("core.v1.ServiceSpec", "type")),
    Column("Cluster-IP", "string", Doc("core.v1.ServiceSpec", "clusterIP")),
    Column("External-IP", "string", Doc("core.v1.ServiceSpec", "externalIPs")),
    Column("Port(s)", "string", Doc("core.v1.ServiceSpec", "ports")),
    age_column(),
    Column("Selector", "string", Doc("core.v1.ServiceSpec", "selector"), priority=1),
)


def load_balancer_addresses(load_balancer: Obj | None) -> str:
    """Sorted, de-duplicated ingress IPs (or hostnames), comma-joined; never clipped
    (the apiserver always prints wide)."""
    found: set[str] = set()
    for ingress in (load_balancer or {}).get("ingress") or []:
        if ingress.get("ip"):
            found.add(str(ingress["ip"]))
        elif ingress.get("hostname"):
            found.add(str(ingress["hostname"]))
    return ",".join(sorted(found))


def service_external_ip(svc: Obj) -> str:
    spec: Obj = svc.get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    external_ips = [str(ip) for ip in spec.get("externalIPs") or []]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or "<none>"
    if svc_type == "LoadBalancer":
        lb = load_balancer_addresses(dig(svc, "status", "loadBalancer"))
        if external_ips:
            return ",".join(([*lb.split(",")] if lb else []) + external_ips)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def service_ports(ports: list[Obj] | None) -> str:
    pieces = []
    for port in ports or []:
        protocol = port.get("protocol") or "TCP"
        node_port = as_int(port.get("nodePort"))
        if node_port > 0:
            pieces.append(f"{as_int(port.get('port'))}:{node_port}/{protocol}")
        else:
            pieces.append(f"{as_int(port.get('port'))}/{protocol}")
    return ",".join(pieces) or "<none>"


def service_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [
        name(obj), str(spec.get("type") or "ClusterIP"),
        str(cluster_ips[0]) if cluster_ips else "<none>",
        service_external_ip(obj), service_ports(spec.get("ports")), age(obj, now),
        format_labels(spec.get("selector")),
    ]


# --- Endpoints ----------------------------------------------------------------------------

ENDPOINTS = (name_column(), Column("Endpoints", "string", Doc("core.v1.Endpoints", "subsets")),
             age_column())


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(endpoints: Obj, limit: int = 3) -> str:
    """Ready addresses as ``ip:port`` (bare IPs for port-less subsets), first three."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count, more = 0, False
    for subset in subsets:
        addresses = [str(a.get("ip", "")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        for port in ports or [None]:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(ip if port is None else join_host_port(ip, as_int(port.get("port"))))
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def endpoints_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), format_endpoints(obj), age(obj, now)]


# --- ConfigMap, Secret, ServiceAccount ----------------------------------------------------

CONFIG_MAP = (name_column(), Column("Data", "string", Doc("core.v1.ConfigMap", "data")),
              age_column())
SECRET = (name_column(), Column("Type", "string", Doc("core.v1.Secret", "type")),
          Column("Data", "string", Doc("core.v1.Secret", "data")), age_column())
SERVICE_ACCOUNT = (name_column(),
                   Column("Secrets", "string", Doc("core.v1.ServiceAccount", "secrets")),
                   age_column())


def config_map_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
            age(obj, now)]


def secret_cells(obj: Obj, now: datetime) -> list[Cell]:
    # stringData is merged into data on write; count the union for unmerged objects.
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    return [name(obj), str(obj.get("type") or "Opaque"), len(keys), age(obj, now)]


def service_account_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), len(obj.get("secrets") or []), age(obj, now)]


# --- PodTemplate, ReplicationController ---------------------------------------------------

POD_TEMPLATE = (
    name_column(),
    Column("Containers", "string", CONTAINERS_DOC),
    Column("Images", "string", IMAGES_DOC),
    Column("Pod Labels", "string", "The labels for the pod template."),
)


def pod_template_cells(obj: Obj, now: datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "template", "spec"))
    return [name(obj), names, images, format_labels(dig(obj, "template", "metadata", "labels"))]


REPLICATION_CONTROLLER = (
    name_column(),
    Column("Desired", "integer", Doc("core.v1.ReplicationControllerSpec", "replicas")),
    Column("Current", "integer", Doc("core.v1.ReplicationControllerStatus", "replicas")),
    Column("Ready", "integer", Doc("core.v1.ReplicationControllerStatus", "readyReplicas")),
    age_column(),
    *containers_columns(),
    Column("Selector", "string", Doc("core.v1.ReplicationControllerSpec", "selector"), priority=1),
)


def replication_controller_cells(obj: Obj, now: datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec"))
    return [
        name(obj), as_int(dig(obj, "spec", "replicas"), 1), as_int(dig(obj, "status", "replicas")),
        as_int(dig(obj, "status", "readyReplicas")), age(obj, now),
        names, images, format_labels(dig(obj, "spec", "selector")),
    ]


# --- ResourceQuota, ComponentStatus -------------------------------------------------------

RESOURCE_QUOTA = (  # 1.32 order: AGE before REQUEST and LIMIT (moved last in 1.33)
    name_column(),
    age_column(),
    Column("Request", "string",
           "Request represents a minimum amount of cpu/memory that a container may consume."),
    Column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container "
           "may use independent of contention on the node."),
)


def resource_quota_cells(obj: Obj, now: datetime) -> list[Cell]:
    hard: Obj = dig(obj, "status", "hard") or {}
    used: Obj = dig(obj, "status", "used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        column = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        column.append(f"{resource}: {quantity_or_zero(used.get(resource))}/"
                      f"{quantity_or_zero(hard[resource])}")
    return [name(obj), age(obj, now), ", ".join(requests), ", ".join(limits)]


COMPONENT_STATUS = (
    name_column(),
    Column("Status", "string", "Status of the component conditions"),
    Column("Message", "string", "Message of the component conditions"),
    Column("Error", "string", "Error of the component conditions"),
)


def component_status_cells(obj: Obj, now: datetime) -> list[Cell]:
    status, message, error = "Unknown", "", ""
    for condition in obj.get("conditions") or []:
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message, error = str(condition.get("message") or ""), str(condition.get("error") or "")
            break
    return [name(obj), status, message, error]


PRINTERS = {
    ("", "Namespace"): Printer(NAMESPACE, namespace_cells),
    ("", "Node"): Printer(NODE, node_cells),
    ("", "Service"): Printer(SERVICE, service_cells),
    ("", "Endpoints"): Printer(ENDPOINTS, endpoints_cells),
    ("", "ConfigMap"): Printer(CONFIG_MAP, config_map_cells),
    ("", "Secret"): Printer(SECRET, secret_cells),
    ("", "ServiceAccount"): Printer(SERVICE_ACCOUNT, service_account_cells),
    ("", "PodTemplate"): Printer(POD_TEMPLATE, pod_template_cells),
    ("", "ReplicationController"): Printer(REPLICATION_CONTROLLER, replication_controller_cells),
    ("", "ResourceQuota"): Printer(RESOURCE_QUOTA, resource_quota_cells),
    ("", "ComponentStatus"): Printer(COMPONENT_STATUS, component_status_cells),
}
