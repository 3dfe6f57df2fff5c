"""``VolumeManager``: sets up, refreshes and tears down the volumes of the pods of a node.

Volumes live where the kubelet keeps them, ``<pod dir>/volumes/<plugin>/<volume name>``:

=====================  =============================  =================================
volume                 directory                       content
=====================  =============================  =================================
emptyDir               kubernetes.io~empty-dir         disk (0777); ``medium: Memory``:
                                                       tmpfs sized by ``emptydir``
configMap              kubernetes.io~configmap         atomic writer, disk
secret                 kubernetes.io~secret            atomic writer, tmpfs
downwardAPI            kubernetes.io~downward-api      atomic writer, disk
projected              kubernetes.io~projected         atomic writer, tmpfs (configMap,
                                                       secret, downwardAPI and
                                                       serviceAccountToken sources)
hostPath               the host path itself            type checked (and created)
persistentVolumeClaim  the bound PV's hostPath.path    claim must be Bound to a PV
                       or local.path                   whose claimRef is the claim
ephemeral              as a claim, ``<pod>-<volume>``  the claim must be the pod's
=====================  =============================  =================================

``setup`` is idempotent: it can run again for a pod whose volumes exist (a restarted agent);
the atomic writer only publishes content that changed. ``refresh`` re-projects the
API-backed volumes (new ConfigMap/Secret content, labels and annotations, renewed tokens);
running containers see it through the ``..data`` symlink swap. ``teardown`` unmounts every
tmpfs and removes the directories it made; it refuses to remove a directory that is still
a mount point. fsGroup (``securityContext.fsGroup``) gives the group to the files of
emptyDir and the API-backed volumes (``ownership``).

Failures raise ``VolumeError`` worded as the kubelet's FailedMount events:
``MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found``, and for a
claim ``Unable to attach or mount volumes: unmounted volumes=[data], unattached
volumes=[], failed to process volumes=[data]: error processing PVC ns/c: PVC is not bound``.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable, Mapping

from kubepy.api.quantity import QuantityError
from kubepy.client.clock import Clock
from kubepy.client.rest import ApiClient, ApiUnreachable
from kubepy import errors as api_errors
from kubepy.kubelet.volumes import hostpath, ownership, projection, tmpfs
from kubepy.kubelet.volumes.atomic_writer import AtomicWriteError, AtomicWriter
from kubepy.kubelet.volumes.emptydir import memory_size
from kubepy.kubelet.volumes.errors import VolumeError, setup_failed
from kubepy.kubelet.volumes.projection import FileProjection, Payload, ProjectionError
from kubepy.kubelet.volumes.sources import (CONFIGMAPS, PVCS, PVS, SECRETS, NoClient,
                                            ObjectSource, SourceNotFound)
from kubepy.kubelet.volumes.tokens import TokenManager

log = logging.getLogger("kubepy.kubelet.volumes")

Obj = dict[str, Any]

EMPTY_DIR = "kubernetes.io~empty-dir"
CONFIGMAP = "kubernetes.io~configmap"
SECRET = "kubernetes.io~secret"
DOWNWARD_API = "kubernetes.io~downward-api"
PROJECTED = "kubernetes.io~projected"
PLUGIN_DIRS = {"emptyDir": EMPTY_DIR, "configMap": CONFIGMAP, "secret": SECRET,
               "downwardAPI": DOWNWARD_API, "projected": PROJECTED}
API_BACKED = ("configMap", "secret", "downwardAPI", "projected")
READ_ONLY_PLUGINS = frozenset({CONFIGMAP, SECRET, DOWNWARD_API, PROJECTED})
MEMORY_BACKED = frozenset({"secret", "projected"})
TOKEN_MODE_WITH_FS_GROUP = 0o600


def volume_kind(volume: Obj) -> str:
    """The volume source key of a pod volume (``configMap``, ``hostPath``, ...)."""
    kinds = [k for k, v in volume.items() if k != "name" and v is not None]
    return kinds[0] if len(kinds) == 1 else ",".join(kinds) or "?"


def volume_dir(pod_dir: str, volume: Obj) -> str | None:
    """The directory a pod-dir volume lives in; None for hostPath and claims."""
    plugin = PLUGIN_DIRS.get(volume_kind(volume))
    return os.path.join(pod_dir, "volumes", plugin, volume["name"]) if plugin else None


def read_only_volumes(pod: Obj) -> set[str]:
    """Volumes every container mounts read-only: the API-backed ones, and claims marked
    ``readOnly``."""
    out = set()
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        kind = volume_kind(vol)
        if kind in API_BACKED or (kind in ("persistentVolumeClaim", "ephemeral")
                                  and (vol.get(kind) or {}).get("readOnly")):
            out.add(vol["name"])
    return out


def _fs_group(pod: Obj) -> int | None:
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return int(value) if value is not None else None


def _pvc_failure(volume: str, namespace: str, claim: str, cause: str) -> VolumeError:
    return VolumeError(f"Unable to attach or mount volumes: unmounted volumes=[{volume}], "
                       f"unattached volumes=[], failed to process volumes=[{volume}]: "
                       f"error processing PVC {namespace}/{claim}: {cause}")


class VolumeManager:
    def __init__(self, client: ApiClient | None, *, node_name: str, clock: Clock,
                 allocatable: Mapping[str, Any] | None = None) -> None:
        self.client = client
        self.node_name = node_name
        self.clock = clock
        self.allocatable: Mapping[str, Any] | None = allocatable   # node allocatable, for
        self.source = ObjectSource(client)                         # resourceFieldRef limits
        self.tokens = TokenManager(self.source, clock)

    # ---------------------------------------------------------------- public

    async def setup(self, pod: Obj, pod_dir: str) -> dict[str, str]:
        """Volume name -> host path to bind-mount; raises VolumeError. Idempotent."""
        paths: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            paths[vol["name"]] = await self._setup_one(pod, pod_dir, vol)
        return paths

    async def refresh(self, pod: Obj, pod_dir: str) -> None:
        """Re-project the configMap/secret/downwardAPI/projected volumes that exist. Every
        volume is tried; the first failure is raised at the end (the old content stays)."""
        failures: list[VolumeError] = []
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            path = volume_dir(pod_dir, vol)
            if volume_kind(vol) in API_BACKED and path and os.path.isdir(path):
                try:
                    await self._setup_one(pod, pod_dir, vol)
                except VolumeError as e:
                    failures.append(e)
        if failures:
            raise failures[0]

    async def teardown(self, pod: Obj, pod_dir: str) -> None:
        """Unmount every tmpfs under the pod's volume directories and remove them; raises
        VolumeError naming what stayed mounted."""
        self.tokens.forget_pod((pod.get("metadata") or {}).get("uid", ""))
        root = os.path.join(pod_dir, "volumes")
        if not os.path.isdir(root):
            return
        problems: list[str] = []
        for plugin in sorted(os.listdir(root)):
            plugin_dir = os.path.join(root, plugin)
            if not os.path.isdir(plugin_dir) or os.path.islink(plugin_dir):
                continue
            for name in sorted(os.listdir(plugin_dir)):
                path = os.path.join(plugin_dir, name)
                try:
                    tmpfs.unmount(path)
                except OSError as e:
                    problems.append(f'volume "{name}": {e}')
        mounted = sorted(m for m in tmpfs.mount_points()
                         if m.startswith(os.path.realpath(root) + "/"))
        if mounted:
            problems.append("still mounted: " + ", ".join(mounted))
        if problems:
            raise VolumeError("UnmountVolume.TearDown failed: " + "; ".join(problems),
                              reason="FailedUnmount")
        shutil.rmtree(root, ignore_errors=True)

    # ---------------------------------------------------------------- per volume

    async def _setup_one(self, pod: Obj, pod_dir: str, vol: Obj) -> str:
        name, kind = vol["name"], volume_kind(vol)
        source = vol.get(kind) or {}
        try:
            if kind == "emptyDir":
                return self._empty_dir(pod, pod_dir, vol, source)
            if kind == "hostPath":
                path = source.get("path") or ""
                hostpath.check_type(path, source.get("type") or "")
                return path
            if kind == "persistentVolumeClaim":
                return await self._claim(pod, vol, source.get("claimName") or "")
            if kind == "ephemeral":   # generic ephemeral volume: the claim <pod>-<volume>
                return await self._claim(pod, vol, f"{pod['metadata']['name']}-{name}",
                                         owned=True)
            if kind in API_BACKED:
                payload = await self._payload(pod, kind, source)
                return self._publish(pod, pod_dir, vol, kind, payload)
            raise setup_failed(name, f"volume type {kind} is not supported")
        except VolumeError:
            raise
        except (SourceNotFound, NoClient, ProjectionError, AtomicWriteError,
                hostpath.HostPathError) as e:
            raise setup_failed(name, str(e)) from e
        except api_errors.StatusError as e:
            raise setup_failed(name, e.message) from e
        except (ApiUnreachable, OSError) as e:
            raise setup_failed(name, str(e)) from e

    def _empty_dir(self, pod: Obj, pod_dir: str, vol: Obj, source: Obj) -> str:
        path = volume_dir(pod_dir, vol)
        assert path is not None
        medium = source.get("medium") or ""
        if medium not in ("", "Memory"):
            raise setup_failed(vol["name"], f"emptyDir medium {medium} is not supported")
        fresh = not os.path.isdir(path)
        os.makedirs(path, exist_ok=True)
        if medium == "Memory":
            try:
                size = memory_size(pod, source.get("sizeLimit"), self.allocatable)
            except QuantityError as e:
                raise setup_failed(vol["name"], f"invalid sizeLimit: {e}") from e
            fresh = not tmpfs.is_mount_point(path)
            tmpfs.mount_tmpfs(path, size)
        elif fresh:
            os.chmod(path, 0o777)
        group = _fs_group(pod)
        if fresh and group is not None:
            ownership.set_volume_ownership(path, group, read_only=False)
        return path

    async def _claim(self, pod: Obj, vol: Obj, claim: str, *, owned: bool = False) -> str:
        name = vol["name"]
        meta = pod.get("metadata") or {}
        ns = meta.get("namespace", "default")
        try:
            pvc = await self.source.get(PVCS, claim, ns)
        except (SourceNotFound, api_errors.StatusError, NoClient, ApiUnreachable) as e:
            raise _pvc_failure(name, ns, claim,
                               f"failed to fetch PVC from API server: {e}") from e
        owners = (pvc.get("metadata") or {}).get("ownerReferences") or []
        if owned and not any(o.get("controller") and o.get("uid") == meta.get("uid")
                             for o in owners):
            raise _pvc_failure(name, ns, claim, f"PVC {ns}/{claim} was not created for pod "
                                                f"{ns}/{meta.get('name')} (pod is not owner)")
        if (pvc.get("metadata") or {}).get("deletionTimestamp"):
            raise _pvc_failure(name, ns, claim, "PVC is being deleted")
        if (pvc.get("status") or {}).get("phase") != "Bound":
            raise _pvc_failure(name, ns, claim, "PVC is not bound")
        pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
        if not pv_name:
            raise _pvc_failure(name, ns, claim, "PVC has empty pvc.Spec.VolumeName")
        try:
            pv = await self.source.get(PVS, pv_name)
        except (SourceNotFound, api_errors.StatusError, ApiUnreachable) as e:
            raise _pvc_failure(name, ns, claim, f"failed to fetch PV {pv_name} from API "
                                                f"server: {e}") from e
        spec = pv.get("spec") or {}
        claim_ref = spec.get("claimRef")
        if not claim_ref:
            raise _pvc_failure(name, ns, claim, f"found PV object {pv_name} but it has a nil "
                                                f"pv.Spec.ClaimRef indicating it is not yet "
                                                f"bound to the claim")
        claim_uid = pvc["metadata"].get("uid", "")
        if claim_ref.get("uid") != claim_uid:
            raise _pvc_failure(name, ns, claim, f"found PV object {pv_name} but its "
                                                f"pv.Spec.ClaimRef.UID ({claim_ref.get('uid')}) "
                                                f"does not point to claim.UID ({claim_uid})")
        try:
            if spec.get("hostPath"):
                path = spec["hostPath"].get("path") or ""
                hostpath.check_type(path, spec["hostPath"].get("type") or "")
                return path
            if spec.get("local"):
                path = spec["local"].get("path") or ""
                if not os.path.exists(path):
                    raise hostpath.HostPathError(f'path "{path}" does not exist')
                return path
        except (hostpath.HostPathError, OSError) as e:
            raise setup_failed(name, str(e)) from e
        kinds = [k for k in spec if k not in ("accessModes", "capacity", "claimRef",
                                              "persistentVolumeReclaimPolicy",
                                              "storageClassName", "volumeMode",
                                              "mountOptions", "nodeAffinity")]
        raise setup_failed(name, f"persistent volume {pv_name} of type "
                                 f"{','.join(kinds) or '?'} is not supported")

    # ---------------------------------------------------------------- API-backed volumes

    async def _payload(self, pod: Obj, kind: str, source: Obj) -> Payload:
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        if kind == "configMap":
            cm = await self.source.get_optional(CONFIGMAPS, source.get("name") or "", ns,
                                                optional=bool(source.get("optional")))
            return projection.configmap_payload(source, cm)
        if kind == "secret":
            secret = await self.source.get_optional(SECRETS, source.get("secretName") or "",
                                                    ns, optional=bool(source.get("optional")))
            return projection.secret_payload(source, secret)
        if kind == "downwardAPI":
            return projection.downward_payload(source.get("items"), pod,
                                               default_mode=source.get("defaultMode"),
                                               allocatable=self.allocatable)
        return await self._projected(pod, source)

    async def _projected(self, pod: Obj, source: Obj) -> Payload:
        """The projected volume's payload; the failures of all sources together."""
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        default_mode = source.get("defaultMode")
        payload: Payload = {}
        failures: list[str] = []
        for item in source.get("sources") or []:
            try:
                if item.get("configMap") is not None:
                    src = {**item["configMap"], "defaultMode": default_mode}
                    cm = await self.source.get_optional(
                        CONFIGMAPS, src.get("name") or "", ns, optional=bool(src.get("optional")))
                    payload.update(projection.configmap_payload(src, cm))
                elif item.get("secret") is not None:
                    src = {**item["secret"], "defaultMode": default_mode}
                    secret = await self.source.get_optional(
                        SECRETS, src.get("name") or "", ns, optional=bool(src.get("optional")))
                    payload.update(projection.secret_payload(src, secret))
                elif item.get("downwardAPI") is not None:
                    payload.update(projection.downward_payload(
                        item["downwardAPI"].get("items"), pod, default_mode=default_mode,
                        allocatable=self.allocatable))
                elif item.get("serviceAccountToken") is not None:
                    tp = item["serviceAccountToken"]
                    mode = (TOKEN_MODE_WITH_FS_GROUP if _fs_group(pod) is not None
                            else default_mode if default_mode is not None
                            else projection.DEFAULT_MODE)
                    try:
                        token = await self.tokens.get_token(pod, tp)
                    except (api_errors.StatusError, ApiUnreachable, RuntimeError) as e:
                        raise ProjectionError(f"failed to fetch token: {e}") from e
                    payload[tp.get("path") or "token"] = FileProjection(token.encode(), mode)
                else:
                    kinds = ",".join(k for k in item if item[k] is not None)
                    failures.append(f"projected source {kinds or '?'} is not supported")
            except (SourceNotFound, NoClient, ProjectionError) as e:
                failures.append(str(e))
        if failures:
            raise ProjectionError(projection.aggregate(failures))
        return payload

    def _publish(self, pod: Obj, pod_dir: str, vol: Obj, kind: str, payload: Payload) -> str:
        """Write *payload* into the volume's directory with the atomic writer."""
        path = volume_dir(pod_dir, vol)
        assert path is not None
        if not os.path.isdir(path):
            os.makedirs(path)
            os.chmod(path, 0o777)
        if kind in MEMORY_BACKED:
            tmpfs.mount_tmpfs(path)
        group = _fs_group(pod)
        set_perms: Callable[[str], None] | None = None
        if group is not None:
            def set_perms(_ts_dir: str, root: str = path, gid: int = group) -> None:
                ownership.set_volume_ownership(root, gid, read_only=True)
        if AtomicWriter(path, now=self.clock.now).write(payload, set_perms):
            log.debug("volume %s of pod %s: new content published", vol["name"],
                      (pod.get("metadata") or {}).get("name"))
        return path
