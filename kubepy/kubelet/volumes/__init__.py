"""Pod volumes and container environments for the kubelet.

- ``VolumeManager(client, node_name=..., clock=...)``: ``setup(pod, pod_dir)`` makes every
  volume of the pod and returns ``{volume name: host path}`` to bind-mount; ``refresh``
  re-projects configMap/secret/downwardAPI/projected volumes (atomic ``..data`` swap, so
  running containers see the new content); ``teardown`` unmounts what setup mounted.
  Failures raise ``VolumeError`` (reason ``FailedMount``, the kubelet's message).
- ``resolve_env(client, pod, container, ...)``: the container's final ``(name, value)`` list
  (valueFrom, envFrom, service links, ``$(VAR)`` expansion); raises ``ContainerConfigError``.

Modules: ``manager`` (per-volume setup), ``environment`` (resolve_env), ``sources`` (API
reads), ``tokens`` (TokenRequest cache), and the pure or small I/O parts: ``projection``
(payloads), ``fieldpath`` (downward API values), ``atomic_writer``, ``hostpath``,
``emptydir`` (tmpfs size), ``tmpfs``, ``ownership`` (fsGroup).
"""

from kubepy.kubelet.volumes.environment import resolve_env
from kubepy.kubelet.volumes.errors import VolumeError
from kubepy.kubelet.volumes.manager import VolumeManager

__all__ = ["VolumeError", "VolumeManager", "resolve_env"]
