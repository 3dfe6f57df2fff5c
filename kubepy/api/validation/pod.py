"""PodSpec validation: ``ValidatePodSpec`` and its parts in pkg/apis/core/validation.

Covers what users trip over: containers (names, images, ports, env, resources, probes),
init containers, volumes and mounts, restart and DNS policies, tolerations and node
selectors. Input is a defaulted v1 PodSpec dict; each bad field yields one cause whose
path starts at ``path`` (``spec`` for a Pod, ``spec.template.spec`` for workloads).
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.api.validation import field as f
from kubepy.api.quantity import QuantityError, canonical_quantity, parse_quantity
from kubepy.api.validation.meta import validate_label_name, validate_labels
from kubepy.api.validation.names import (
    inclusive_range_error, is_dns1123_label, is_dns1123_subdomain, is_valid_label_value,
    is_valid_port_name, is_valid_port_num,
)

Cause = f.Cause

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")  # sets.List order (sorted)
PROTOCOLS = ("SCTP", "TCP", "UDP")
TERMINATION_MESSAGE_POLICIES = ("FallbackToLogsOnError", "File")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_INT32 = 2**31 - 1
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, (dict, Mapping)) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_port_num_or_name(port: Any, path: str) -> list[Cause]:
    """``ValidatePortNumOrName``: an IntOrString naming a port."""
    if isinstance(port, int) and not isinstance(port, bool):
        return [f.invalid(path, port, msg) for msg in is_valid_port_num(port)]
    if isinstance(port, str):
        if not port:
            return [f.required(path)]
        return [f.invalid(path, port, msg) for msg in is_valid_port_name(port)]
    return [f.invalid(path, port, "must be an integer or string")]


def _nonnegative(value: Any, path: str) -> list[Cause]:
    if isinstance(value, int) and value < 0:
        return [f.invalid(path, value, f.IS_NEGATIVE)]
    return []


def validate_resources(resources: Any, path: str) -> list[Cause]:
    """``ValidateResourceRequirements``: parseable, non-negative, requests <= limits.
    Values are shown in canonical form, as Go's ``Quantity.String()`` shows them."""
    causes: list[Cause] = []
    resources = _m(resources)
    parsed: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for part in ("limits", "requests"):
        for name, value in sorted(_m(resources.get(part)).items()):
            qpath = f.key(f.child(path, part), name)
            try:
                q = parse_quantity(value)
            except QuantityError as err:
                causes.append(f.invalid(qpath, value, err.message))
                continue
            if q < 0:
                causes.append(f.invalid(qpath, canonical_quantity(value), f.IS_NEGATIVE))
            else:
                parsed[part][name] = q
    for name, q in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and q > limit:
            request_text = canonical_quantity(resources["requests"][name])
            limit_text = canonical_quantity(resources["limits"][name])
            causes.append(f.invalid(
                f.child(path, "requests"), request_text,
                f"must be less than or equal to {name} limit of {limit_text}"))
    return causes


def _validate_handler(handler: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    http = handler.get("httpGet")
    if isinstance(http, (dict, Mapping)):
        causes += validate_port_num_or_name(http.get("port"), f.child(path, "httpGet", "port"))
        if http.get("scheme") not in ("HTTP", "HTTPS"):
            causes.append(f.not_supported(f.child(path, "httpGet", "scheme"),
                                          http.get("scheme"), ("HTTP", "HTTPS")))
    tcp = handler.get("tcpSocket")
    if isinstance(tcp, (dict, Mapping)):
        causes += validate_port_num_or_name(tcp.get("port"), f.child(path, "tcpSocket", "port"))
    exec_ = handler.get("exec")
    if isinstance(exec_, (dict, Mapping)) and not exec_.get("command"):
        causes.append(f.required(f.child(path, "exec", "command")))
    grpc = handler.get("grpc")
    if isinstance(grpc, (dict, Mapping)):
        causes += [f.invalid(f.child(path, "grpc", "port"), grpc.get("port"), msg)
                   for msg in is_valid_port_num(grpc.get("port"))]
    return causes


def validate_probe(probe: Any, path: str, *, liveness_or_startup: bool) -> list[Cause]:
    if not isinstance(probe, (dict, Mapping)):
        return []
    handlers = [h for h in _PROBE_HANDLERS if probe.get(h) is not None]
    causes: list[Cause] = []
    if not handlers:
        causes.append(f.required(path, "must specify a handler type"))
    for extra in handlers[1:]:
        causes.append(f.forbidden(f.child(path, extra), "may not specify more than 1 handler type"))
    causes += _validate_handler(probe, path)
    for name in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                 "successThreshold", "failureThreshold"):
        causes += _nonnegative(probe.get(name), f.child(path, name))
    if liveness_or_startup and probe.get("successThreshold") not in (None, 1):
        causes.append(f.invalid(f.child(path, "successThreshold"),
                                probe.get("successThreshold"), "must be 1"))
    return causes


def _validate_env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(_l(env)):
        vpath = f.index(path, i)
        var = _m(var)
        name = var.get("name") or ""
        if not name:
            causes.append(f.required(f.child(vpath, "name")))
        elif "=" in name or not name.isprintable() or not name.isascii():
            # RelaxedEnvironmentVariableValidation (on by default since 1.32)
            causes.append(f.invalid(f.child(vpath, "name"), name,
                                    "a valid environment variable name must consist only of "
                                    "printable ASCII characters other than '='"))
        source = _m(var.get("valueFrom"))
        if source:
            if var.get("value"):
                causes.append(f.invalid(f.child(vpath, "valueFrom"), "",
                                        "may not be specified when `value` is not empty"))
            if len(source) > 1:
                causes.append(f.invalid(f.child(vpath, "valueFrom"), "",
                                        "may not have more than one field specified at a time"))
    return causes


def _validate_ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(_l(ports)):
        ppath = f.index(path, i)
        port = _m(port)
        name = port.get("name")
        if name:
            causes += [f.invalid(f.child(ppath, "name"), name, msg)
                       for msg in is_valid_port_name(name)]
            if name in names:
                causes.append(f.duplicate(f.child(ppath, "name"), name))
            names.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            causes.append(f.required(f.child(ppath, "containerPort")))
        else:
            causes += [f.invalid(f.child(ppath, "containerPort"), container_port, msg)
                       for msg in is_valid_port_num(container_port)]
        if port.get("hostPort"):
            causes += [f.invalid(f.child(ppath, "hostPort"), port["hostPort"], msg)
                       for msg in is_valid_port_num(port["hostPort"])]
        protocol = port.get("protocol")
        if not protocol:
            causes.append(f.required(f.child(ppath, "protocol")))
        elif protocol not in PROTOCOLS:
            causes.append(f.not_supported(f.child(ppath, "protocol"), protocol, PROTOCOLS))
    return causes


def validate_container(c: Mapping[str, Any], path: str, volumes: set[str], *,
                       init: bool = False) -> list[Cause]:
    """One container (without the name checks, done across the whole pod)."""
    causes: list[Cause] = []
    image = c.get("image")
    if not image:
        causes.append(f.required(f.child(path, "image")))
    elif image != image.strip():
        causes.append(f.invalid(f.child(path, "image"), image,
                                "must not have leading or trailing whitespace"))
    policy = c.get("imagePullPolicy")
    if not policy:
        causes.append(f.required(f.child(path, "imagePullPolicy")))
    elif policy not in PULL_POLICIES:
        causes.append(f.not_supported(f.child(path, "imagePullPolicy"), policy, PULL_POLICIES))
    tmp = c.get("terminationMessagePolicy")
    if not tmp:
        causes.append(f.required(f.child(path, "terminationMessagePolicy")))
    elif tmp not in TERMINATION_MESSAGE_POLICIES:
        causes.append(f.not_supported(f.child(path, "terminationMessagePolicy"), tmp,
                                      TERMINATION_MESSAGE_POLICIES))
    causes += _validate_ports(c.get("ports"), f.child(path, "ports"))
    causes += _validate_env(c.get("env"), f.child(path, "env"))
    causes += validate_resources(c.get("resources"), f.child(path, "resources"))
    mount_paths: set[str] = set()
    for i, mount in enumerate(_l(c.get("volumeMounts"))):
        mpath = f.index(f.child(path, "volumeMounts"), i)
        mount = _m(mount)
        if not mount.get("name"):
            causes.append(f.required(f.child(mpath, "name")))
        elif mount["name"] not in volumes:
            causes.append(f.not_found(f.child(mpath, "name"), mount["name"]))
        if not mount.get("mountPath"):
            causes.append(f.required(f.child(mpath, "mountPath")))
        elif mount["mountPath"] in mount_paths:
            causes.append(f.invalid(f.child(mpath, "mountPath"), mount["mountPath"],
                                    "must be unique"))
        else:
            mount_paths.add(mount["mountPath"])
    restart_policy = c.get("restartPolicy")
    if restart_policy is not None:
        if not init:
            causes.append(f.forbidden(f.child(path, "restartPolicy"),
                                      "may not be set for non-init containers"))
        elif restart_policy != "Always":
            causes.append(f.not_supported(f.child(path, "restartPolicy"), restart_policy,
                                          ("Always",)))
    sidecar = init and restart_policy == "Always"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if init and not sidecar and c.get(probe) is not None:
            causes.append(f.forbidden(f.child(path, probe),
                                      "may not be set for init containers without restartPolicy=Always"))
            continue
        causes += validate_probe(c.get(probe), f.child(path, probe),
                                 liveness_or_startup=probe != "readinessProbe")
    for hook in ("postStart", "preStop"):
        handler = _m(_m(c.get("lifecycle")).get(hook))
        if handler:
            causes += _validate_handler(handler, f.child(path, "lifecycle", hook))
    return causes


def _validate_containers(spec: Mapping[str, Any], path: str, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for field_name, init in (("initContainers", True), ("containers", False)):
        containers = _l(spec.get(field_name))
        if not init and not containers:
            causes.append(f.required(f.child(path, "containers")))
        for i, c in enumerate(containers):
            cpath = f.index(f.child(path, field_name), i)
            c = _m(c)
            name = c.get("name") or ""
            if not name:
                causes.append(f.required(f.child(cpath, "name")))
            else:
                causes += [f.invalid(f.child(cpath, "name"), name, msg)
                           for msg in is_dns1123_label(name)]
                if name in names:
                    causes.append(f.duplicate(f.child(cpath, "name"), name))
                names.add(name)
            causes += validate_container(c, cpath, volumes, init=init)
    return causes


def _validate_mode(mode: Any, path: str) -> list[Cause]:
    if mode is not None and (not isinstance(mode, int) or not 0 <= mode <= 0o777):
        return [f.invalid(path, mode, _MODE_ERROR)]
    return []


def _validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, vol in enumerate(_l(volumes)):
        vpath = f.index(path, i)
        vol = _m(vol)
        name = vol.get("name") or ""
        if not name:
            causes.append(f.required(f.child(vpath, "name")))
        else:
            causes += [f.invalid(f.child(vpath, "name"), name, msg)
                       for msg in is_dns1123_label(name)]
            if name in names:
                causes.append(f.duplicate(f.child(vpath, "name"), name))
            names.add(name)
        sources = [k for k in vol if k != "name" and vol[k] is not None]
        if not sources:
            causes.append(f.required(vpath, "must specify a volume type"))
        for extra in sources[1:]:
            causes.append(f.forbidden(f.child(vpath, extra),
                                      "may not specify more than 1 volume type"))
        secret, config_map = vol.get("secret"), vol.get("configMap")
        if isinstance(secret, (dict, Mapping)):
            if not secret.get("secretName"):
                causes.append(f.required(f.child(vpath, "secret", "secretName")))
            causes += _validate_mode(secret.get("defaultMode"),
                                     f.child(vpath, "secret", "defaultMode"))
        if isinstance(config_map, (dict, Mapping)):
            if not config_map.get("name"):
                causes.append(f.required(f.child(vpath, "configMap", "name")))
            causes += _validate_mode(config_map.get("defaultMode"),
                                     f.child(vpath, "configMap", "defaultMode"))
        host_path = vol.get("hostPath")
        if isinstance(host_path, (dict, Mapping)) and not host_path.get("path"):
            causes.append(f.required(f.child(vpath, "hostPath", "path")))
        pvc = vol.get("persistentVolumeClaim")
        if isinstance(pvc, (dict, Mapping)) and not pvc.get("claimName"):
            causes.append(f.required(f.child(vpath, "persistentVolumeClaim", "claimName")))
    return names, causes


def _validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, t in enumerate(_l(tolerations)):
        tpath = f.index(path, i)
        t = _m(t)
        key, op = t.get("key") or "", t.get("operator") or "Equal"
        if key:
            causes += validate_label_name(key, f.child(tpath, "key"))
        elif op != "Exists":
            causes.append(f.invalid(f.child(tpath, "operator"), op,
                                    "operator must be Exists when `key` is empty, which means "
                                    '"match all values and all keys"'))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            causes.append(f.invalid(f.child(tpath, "effect"), t.get("effect") or "",
                                    "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op == "Equal":
            causes += [f.invalid(f.child(tpath, "value"), t.get("value") or "", msg)
                       for msg in is_valid_label_value(t.get("value") or "")]
        elif op == "Exists":
            if t.get("value"):
                causes.append(f.invalid(f.child(tpath, "operator"), t.get("value"),
                                        "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(f.not_supported(f.child(tpath, "operator"), op, TOLERATION_OPERATORS))
        effect = t.get("effect")
        if effect and effect not in TAINT_EFFECTS:
            causes.append(f.not_supported(f.child(tpath, "effect"), effect, TAINT_EFFECTS))
    return causes


def validate_pod_spec(spec: Any, path: str = "spec") -> list[Cause]:
    spec = _m(spec)
    volumes, causes = _validate_volumes(spec.get("volumes"), f.child(path, "volumes"))
    causes += _validate_containers(spec, path, volumes)
    restart = spec.get("restartPolicy")
    if not restart:
        causes.append(f.required(f.child(path, "restartPolicy")))
    elif restart not in RESTART_POLICIES:
        causes.append(f.not_supported(f.child(path, "restartPolicy"), restart, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if not dns:
        causes.append(f.required(f.child(path, "dnsPolicy")))
    elif dns not in DNS_POLICIES:
        causes.append(f.not_supported(f.child(path, "dnsPolicy"), dns, DNS_POLICIES))
    causes += validate_labels(spec.get("nodeSelector"), f.child(path, "nodeSelector"))
    for name in ("serviceAccountName", "nodeName"):
        if spec.get(name):
            causes += [f.invalid(f.child(path, name), spec[name], msg)
                       for msg in is_dns1123_subdomain(spec[name])]
    for name in ("hostname", "subdomain"):
        if spec.get(name):
            causes += [f.invalid(f.child(path, name), spec[name], msg)
                       for msg in is_dns1123_label(spec[name])]
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (isinstance(deadline, int) and 1 <= deadline <= MAX_INT32):
        causes.append(f.invalid(f.child(path, "activeDeadlineSeconds"), deadline,
                                inclusive_range_error(1, MAX_INT32)))
    causes += _validate_tolerations(spec.get("tolerations"), f.child(path, "tolerations"))
    return causes
