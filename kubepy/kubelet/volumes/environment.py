"""``resolve_env``: a container's final environment (the kubelet's
``makeEnvironmentVariables``), reading ConfigMaps, Secrets and Services from the API.

Order and rules, as the kubelet:

1. ``envFrom`` in order: every key of the ConfigMap / Secret, with ``prefix``; keys that are
   not valid variable names are skipped (reported through *warnings*, as the kubelet's
   ``InvalidEnvironmentVariableNames`` event words it); a missing object fails unless
   ``optional``.
2. ``env`` in order: a ``value`` is ``$(VAR)``-expanded against the variables defined so
   far and the service variables; a ``valueFrom`` is resolved — ``fieldRef``
   (``fieldpath.pod_field_value``), ``resourceFieldRef`` (limits default to the node's
   *allocatable*), ``configMapKeyRef`` / ``secretKeyRef`` (a missing object or key fails
   unless ``optional``, in which case the variable is left out).
3. The service variables (``runtime.env.service_env``) the container did not define.

*services*: the Services to derive links from (all namespaces, e.g. an informer's
content); None lists them through *client* (the pod's namespace and ``default``).
Failures raise ``ContainerConfigError`` with the kubelet's message (``configmap "x" not
found``, ``couldn't find key k in ConfigMap ns/x``).
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy import errors as api_errors
from kubepy.client.rest import ApiClient, ApiUnreachable
from kubepy.kubelet.runtime.env import (ContainerConfigError, container_env, is_env_var_name,
                                        service_env)
from kubepy.kubelet.volumes.fieldpath import FieldPathError, pod_field_value, resource_value
from kubepy.kubelet.volumes.projection import ProjectionError, secret_contents
from kubepy.kubelet.volumes.sources import (CONFIGMAPS, SECRETS, SERVICES, NoClient,
                                            ObjectSource, SourceNotFound)

Obj = dict[str, Any]


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


class _Objects:
    """The ConfigMaps and Secrets of one resolution, each read once."""

    def __init__(self, source: ObjectSource, namespace: str) -> None:
        self.source, self.namespace = source, namespace
        self.cache: dict[tuple[str, str], Obj | None] = {}

    async def get(self, kind: str, name: str, *, optional: bool) -> Obj | None:
        key = (kind, name)
        if key not in self.cache or self.cache[key] is None:
            rt = CONFIGMAPS if kind == "ConfigMap" else SECRETS
            try:
                self.cache[key] = await self.source.get(rt, name, self.namespace)
            except SourceNotFound:
                if optional:
                    return None
                raise
        return self.cache[key]

    async def contents(self, kind: str, name: str, *, optional: bool) -> dict[str, bytes] | None:
        obj = await self.get(kind, name, optional=optional)
        if obj is None:
            return None
        if kind == "ConfigMap":   # the kubelet reads only a ConfigMap's data (not binaryData)
            return {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        return secret_contents(obj)


async def _services(source: ObjectSource, namespace: str) -> list[Obj]:
    items = await source.list(SERVICES, namespace)
    if namespace != "default":
        items += [s for s in await source.list(SERVICES, "default")
                  if s["metadata"]["name"] == "kubernetes"]
    for s in items:
        s.setdefault("metadata", {}).setdefault("namespace", namespace)
    return items


async def resolve_env(client: ApiClient | None, pod: Obj, container: Obj, *,
                      services: list[Obj] | None = None, node_ip: str = "",
                      pod_ip: str = "", allocatable: Mapping[str, Any] | None = None,
                      warnings: list[str] | None = None) -> list[tuple[str, str]]:
    """The container's ``(name, value)`` list (see the module docstring)."""
    try:
        return await _resolve(client, pod, container, services=services, node_ip=node_ip,
                              pod_ip=pod_ip, allocatable=allocatable, warnings=warnings)
    except (SourceNotFound, NoClient, FieldPathError, ProjectionError) as e:
        raise ContainerConfigError(str(e)) from e
    except api_errors.StatusError as e:
        raise ContainerConfigError(e.message) from e
    except ApiUnreachable as e:
        raise ContainerConfigError(str(e)) from e


def _ips(status_list: Any, first: str) -> list[str]:
    ips = [entry.get("ip", "") for entry in status_list or [] if entry.get("ip")]
    if first and first not in ips:
        ips.insert(0, first)
    return ips


async def _resolve(client: ApiClient | None, pod: Obj, container: Obj, *,
                   services: list[Obj] | None, node_ip: str, pod_ip: str,
                   allocatable: Mapping[str, Any] | None,
                   warnings: list[str] | None) -> list[tuple[str, str]]:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    status = pod.get("status") or {}
    ns = meta.get("namespace") or "default"
    source = ObjectSource(client)
    if services is None:
        services = await _services(source, ns) if client is not None else []
    links = service_env(services, ns,
                        enable_service_links=spec.get("enableServiceLinks") is not False)
    objects = _Objects(source, ns)

    env_from: list[tuple[str, str]] = []
    for ref in container.get("envFrom") or []:
        kind, src = (("ConfigMap", ref["configMapRef"]) if ref.get("configMapRef")
                     else ("Secret", ref.get("secretRef") or {}))
        name = src.get("name") or ""
        contents = await objects.contents(kind, name, optional=bool(src.get("optional")))
        if contents is None:
            continue
        invalid = []
        for key, value in contents.items():
            var = (ref.get("prefix") or "") + key
            if not is_env_var_name(var):
                invalid.append(var)
                continue
            env_from.append((var, _text(value)))
        if invalid and warnings is not None:
            what = "configMap" if kind == "ConfigMap" else "secret"
            warnings.append(f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} "
                            f"{ns}/{name} were skipped since they are considered invalid "
                            f"environment variable names.")

    host_ips = _ips(status.get("hostIPs"), node_ip or status.get("hostIP") or "")
    pod_ips = _ips(status.get("podIPs"), pod_ip or status.get("podIP") or "")
    value_from: dict[str, str] = {}
    for entry in container.get("env") or []:
        ref = entry.get("valueFrom")
        if entry.get("value") or not ref:
            continue
        name = entry["name"]
        if ref.get("fieldRef"):
            value_from[name] = pod_field_value(pod, ref["fieldRef"].get("fieldPath") or "",
                                               host_ips=host_ips, pod_ips=pod_ips)
        elif ref.get("resourceFieldRef"):
            value_from[name] = resource_value(ref["resourceFieldRef"], pod, container,
                                              allocatable)
        elif ref.get("configMapKeyRef") or ref.get("secretKeyRef"):
            kind, key_ref = (("ConfigMap", ref["configMapKeyRef"]) if ref.get("configMapKeyRef")
                             else ("Secret", ref["secretKeyRef"]))
            optional = bool(key_ref.get("optional"))
            obj_name, key = key_ref.get("name") or "", key_ref.get("key") or ""
            contents = await objects.contents(kind, obj_name, optional=optional)
            if contents is None:
                continue
            if key not in contents:
                if optional:
                    continue
                raise ContainerConfigError(f"couldn't find key {key} in {kind} {ns}/{obj_name}")
            value_from[name] = _text(contents[key])
    return container_env(container, value_from=value_from, env_from=env_from,
                         service_env=links)
