"""A container's environment and process arguments, as the kubelet and CRI compute them. Pure.

- ``expand(text, mapping)``: Kubernetes ``$(VAR)`` expansion. ``$(NAME)`` becomes the value
  of NAME when the mapping has it and stays ``$(NAME)`` verbatim when it does not; ``$$``
  is an escaped ``$``; a ``$`` followed by anything else, and an unclosed ``$(``, stay as
  written.
- ``container_env(container, ...)``: the container's variables in order: ``envFrom`` first,
  then ``env``. A plain ``value`` is expanded against the variables defined before it (and
  the service variables); references (``valueFrom``) are resolved by the caller, who passes
  their values by name, and are never expanded. A later definition of a name replaces the
  earlier value in place. Service variables the container does not define come last.
- ``process_args(container, image_config, env)``: ``command``/``args`` versus the image's
  ``Entrypoint``/``Cmd`` with the Docker/Kubernetes rules; ``command`` and ``args`` are
  expanded against the container's variables (not the image's).
- ``merged_env(image_config, env, hostname)``: the final ``NAME=value`` list for the OCI
  spec: ``HOSTNAME`` first, then the image's variables, then the container's, a later
  value replacing an earlier one of the same name in place (containerd's order); ``PATH``
  defaults to the usual search path when neither the image nor the pod sets it.
- ``service_env(services, namespace, enable_service_links=...)``: the Docker-links variables
  the kubelet gives a pod (pkg/kubelet ``getServiceEnvVarMap`` + ``envvars.FromServices``):
  the ``kubernetes`` service of ``default`` always, the services of the pod's namespace when
  ``enableServiceLinks``; services without a cluster IP (headless, ExternalName) skipped.
- ``is_env_var_name(name)``: the kubelet's check for ``envFrom`` keys (others are skipped).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

Obj = dict[str, Any]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASTER_SERVICES = frozenset({"kubernetes"})
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


class ContainerConfigError(ValueError):
    """The container cannot be created from its spec (the CreateContainerConfigError and
    CreateContainerError family of reasons)."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` references in *text* from *mapping* (see the module docstring)."""
    if "$" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2:close]
            out.append(mapping[name] if name in mapping else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def container_env(container: Obj, *, value_from: Mapping[str, str] | None = None,
                  env_from: Sequence[tuple[str, str]] = (),
                  service_env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The container's variables as ``(name, value)`` pairs in definition order.

    *value_from* maps the name of each ``env`` entry that has a ``valueFrom`` to its resolved
    value (an entry missing from it is an optional reference that resolved to nothing and is
    left out); *env_from* is the already resolved ``envFrom`` content in order.
    """
    value_from = value_from or {}
    service_env = service_env or {}
    values: dict[str, str] = {}
    for name, value in env_from:
        values[name] = value
    for entry in container.get("env") or []:
        name = entry["name"]
        if "valueFrom" in entry and entry["valueFrom"] is not None:
            if name in value_from:
                values[name] = value_from[name]
            continue
        raw = entry.get("value") or ""
        values[name] = expand(raw, _Chain(values, service_env)) if raw else ""
    for name, value in service_env.items():
        values.setdefault(name, value)
    return list(values.items())


class _Chain(Mapping[str, str]):
    """The container's variables first, then the service variables."""

    def __init__(self, first: Mapping[str, str], second: Mapping[str, str]) -> None:
        self.first, self.second = first, second

    def __getitem__(self, key: str) -> str:
        return self.first[key] if key in self.first else self.second[key]

    def __contains__(self, key: object) -> bool:
        return key in self.first or key in self.second

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter({**self.second, **self.first})

    def __len__(self) -> int:
        return len({**self.second, **self.first})


def process_args(container: Obj, image_config: Obj,
                 env: Sequence[tuple[str, str]]) -> list[str]:
    """The process's argv: ``command`` replaces the image's Entrypoint *and* Cmd; ``args``
    alone replaces only Cmd. Raises ContainerConfigError when nothing is left to run."""
    mapping = dict(env)
    command = [expand(a, mapping) for a in container.get("command") or []]
    args = [expand(a, mapping) for a in container.get("args") or []]
    if command:
        argv = command + args
    elif args:
        argv = list(image_config.get("Entrypoint") or []) + args
    else:
        argv = list(image_config.get("Entrypoint") or []) + list(image_config.get("Cmd") or [])
    if not argv:
        raise ContainerConfigError("no command specified")
    return argv


def merged_env(image_config: Obj, env: Sequence[tuple[str, str]], hostname: str) -> list[str]:
    """``NAME=value`` strings for the OCI process (see the module docstring)."""
    merged: dict[str, str] = {"HOSTNAME": hostname} if hostname else {}
    for item in image_config.get("Env") or []:
        name, _, value = item.partition("=")
        merged[name] = value
    for name, value in env:
        merged[name] = value
    merged.setdefault("PATH", DEFAULT_PATH)
    return [f"{k}={v}" for k, v in merged.items()]


def is_env_var_name(name: str) -> bool:
    """apimachinery's IsEnvVarName: letters, digits, ``_``, ``-``, ``.``; no leading digit."""
    return _ENV_VAR_NAME.fullmatch(name) is not None


def _env_name(service_name: str) -> str:
    return service_name.replace("-", "_").upper()


def _has_cluster_ip(service: Obj) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def _host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_link_vars(service: Obj) -> list[tuple[str, str]]:
    """``envvars.FromServices`` for one service (which must have a cluster IP)."""
    spec = service.get("spec") or {}
    ip = spec["clusterIP"]
    ports = spec.get("ports") or []
    prefix = _env_name(service["metadata"]["name"])
    out: list[tuple[str, str]] = [(prefix + "_SERVICE_HOST", ip)]
    if not ports:
        return out
    out.append((prefix + "_SERVICE_PORT", str(ports[0]["port"])))
    for sp in ports:
        if sp.get("name"):
            out.append((f"{prefix}_SERVICE_PORT_{_env_name(sp['name'])}", str(sp["port"])))
    for i, sp in enumerate(ports):
        proto = sp.get("protocol") or "TCP"
        url = f"{proto.lower()}://{_host_port(ip, sp['port'])}"
        if i == 0:
            out.append((prefix + "_PORT", url))
        port_prefix = f"{prefix}_PORT_{sp['port']}_{proto.upper()}"
        out += [(port_prefix, url), (port_prefix + "_PROTO", proto.lower()),
                (port_prefix + "_PORT", str(sp["port"])), (port_prefix + "_ADDR", ip)]
    return out


def service_env(services: Iterable[Obj], namespace: str, *,
                enable_service_links: bool = True) -> dict[str, str]:
    """The service variables a pod in *namespace* sees (see the module docstring); the
    services are taken in name order (a later definition of a name wins)."""
    chosen: dict[str, Obj] = {}
    for svc in services:
        if not _has_cluster_ip(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_service_links:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(service_link_vars(chosen[name]))
    return env
