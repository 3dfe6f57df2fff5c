"""What each container of a pod mounts. Pure.

Volume directories follow the kubelet's layout under the pod directory,
``<pod dir>/volumes/<plugin>/<volume name>``; ``kubepy.kubelet.volumes.VolumeManager.setup``
makes them and returns ``{volume name: host path}``. ``volume_dirs`` is the older, disk
``emptyDir``-only answer (every other type reported as unsupported), kept until every caller
uses the VolumeManager.

``container_mounts`` returns the OCI mounts of one container: its ``volumeMounts`` (with
``subPath``, which must stay inside the volume, or ``subPathExpr`` expanded from the
container's *env* — a reference to a missing or empty variable fails with ``missing value
for X`` —, ``readOnly``, and ``mountPropagation``: ``HostToContainer`` is ``rslave``,
``Bidirectional`` ``rshared``, none ``rprivate``), then the files the kubelet
manages — ``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf`` — and the termination
message file, each left out when a volumeMount already covers that path. configMap, secret,
downwardAPI and projected volumes are always mounted read-only, as the kubelet does: they
are recognised by their plugin directory (``kubernetes.io~configmap`` etc.) in the host
path, and *read_only_volumes* (``volumes.read_only_volumes(pod)``) names more (claims
marked ``readOnly``).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Collection, Mapping, Sequence

from kubepy.kubelet.runtime.env import ContainerConfigError, expand
from kubepy.kubelet.runtime.spec import bind_mount

Obj = dict[str, Any]

EMPTY_DIR = "kubernetes.io~empty-dir"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
PROPAGATION = {None: "rprivate", "": "rprivate", "None": "rprivate",
               "HostToContainer": "rslave", "Bidirectional": "rshared"}
READ_ONLY_PLUGIN_DIRS = ("kubernetes.io~configmap", "kubernetes.io~secret",
                         "kubernetes.io~downward-api", "kubernetes.io~projected")


def read_only_volume_path(path: str) -> bool:
    """True for a volume directory of a plugin whose volumes are always read-only."""
    parts = posixpath.normpath(path).split("/")
    return any(parts[i] == "volumes" and parts[i + 1] in READ_ONLY_PLUGIN_DIRS
               for i in range(len(parts) - 2))


def volume_dirs(pod: Obj, pod_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(paths, unsupported)``: the host directory of each supported volume by name, and a
    message for each volume that cannot be provided."""
    paths: dict[str, str] = {}
    unsupported: dict[str, str] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol["name"]
        if "emptyDir" in vol:
            medium = (vol.get("emptyDir") or {}).get("medium") or ""
            if medium:
                unsupported[name] = f'volume "{name}": emptyDir medium {medium} not supported'
            else:
                paths[name] = posixpath.join(pod_dir, "volumes", EMPTY_DIR, name)
        else:
            kinds = [k for k in vol if k != "name"]
            unsupported[name] = f'volume "{name}": type {",".join(kinds) or "?"} not supported'
    return paths, unsupported


def sub_path(base: str, sub: str) -> str:
    """*base* joined with a volumeMount's subPath; raises ContainerConfigError when the
    subPath is absolute or leaves the volume."""
    if sub.startswith("/"):
        raise ContainerConfigError(f"subPath {sub!r} must be a relative path")
    norm = posixpath.normpath(sub)
    if norm == ".." or norm.startswith("../"):
        raise ContainerConfigError(f"subPath {sub!r} must not contain '..'")
    return base if norm == "." else posixpath.join(base, norm)


def expand_sub_path_expr(expr: str, env: Sequence[tuple[str, str]]) -> str:
    """``ExpandContainerVolumeMounts``: ``$(VAR)`` from the container's variables; a
    missing or empty one fails."""
    values = dict(env)
    names = re.findall(r"\$\(([^)]*)\)", expr.replace("$$", ""))
    missing = sorted({n for n in names if not values.get(n)})
    if missing:
        raise ContainerConfigError(f"missing value for {', '.join(missing)}")
    return expand(expr, values)


def _covered(destination: str, taken: set[str]) -> bool:
    return posixpath.normpath(destination) in taken


def container_mounts(container: Obj, *, volumes: Mapping[str, str],
                     unsupported: Mapping[str, str] | None = None, etc_hosts: str | None,
                     etc_hostname: str | None, resolv_conf: str | None,
                     termination_log: str | None,
                     read_only_volumes: Collection[str] = (),
                     env: Sequence[tuple[str, str]] = ()) -> list[Obj]:
    """The OCI mounts of *container* (see the module docstring); a None file is not
    mounted. Raises ContainerConfigError for an unknown or unsupported volume."""
    unsupported = unsupported or {}
    mounts: list[Obj] = []
    for vm in container.get("volumeMounts") or []:
        name = vm["name"]
        if name in unsupported:
            raise ContainerConfigError(unsupported[name])
        if name not in volumes:
            raise ContainerConfigError(f'volume "{name}" not found in the pod spec')
        source = volumes[name]
        read_only = (bool(vm.get("readOnly")) or name in read_only_volumes
                     or read_only_volume_path(source))
        sub = vm.get("subPath") or ""
        if vm.get("subPathExpr"):
            sub = expand_sub_path_expr(vm["subPathExpr"], env)
        if sub:
            source = sub_path(source, sub)
        propagation = vm.get("mountPropagation")
        if propagation not in PROPAGATION:
            raise ContainerConfigError(f"invalid mountPropagation {propagation!r}")
        mounts.append(bind_mount(source, vm["mountPath"], read_only=read_only,
                                 propagation=PROPAGATION[propagation]))
    taken = {posixpath.normpath(m["destination"]) for m in mounts}
    managed = [(etc_hosts, "/etc/hosts"), (etc_hostname, "/etc/hostname"),
               (resolv_conf, "/etc/resolv.conf"),
               (termination_log, container.get("terminationMessagePath")
                or DEFAULT_TERMINATION_MESSAGE_PATH)]
    for source_file, destination in managed:
        if source_file is not None and not _covered(destination, taken):
            mounts.append(bind_mount(source_file, destination))
    return mounts
