"""The OCI runtime spec (a bundle's ``config.json``) for a pod's containers. Pure.

``container_spec(pod, container, ...)`` builds the spec of an app or init container and
``sandbox_spec(pod, ...)`` that of the pod's infra container, as a CRI runtime (containerd)
would from what the kubelet asks for:

- process: argv, env and cwd from the container over the image config (``env.py``), user,
  capabilities, ``noNewPrivileges`` when ``allowPrivilegeEscalation`` is false (unset means
  allowed, as in Kubernetes), oomScoreAdj by QoS class (the kubelet's formula; never below
  the floor the caller gives, as containerd's ``restrict_oom_score_adj``). No rlimits: the
  container inherits the runtime's, as with containerd 2.
- namespaces: every container has its own mount namespace. An app container joins the
  sandbox's network, IPC and UTS namespaces by path (``/proc/<sandbox pid>/ns/...``) and
  its PID namespace with ``shareProcessNamespace``; ``hostNetwork`` (network and UTS),
  ``hostIPC`` and ``hostPID`` leave those namespaces out, i.e. the host's. The sandbox
  creates the namespaces the pod does not take from the host.
- hostname = ``spec.hostname`` or the pod name (63 characters at most), set only where the
  spec has a UTS namespace.
- mounts: proc, /dev tmpfs, devpts, /dev/shm (a tmpfs, or the sandbox's shm bound in when
  the caller passes one), mqueue, sysfs and the cgroup tree (read-only unless privileged),
  then the caller's mounts (``bind_mount``), a caller mount replacing a default one at the
  same destination.
- masked and read-only paths (``security.py``), ``readOnlyRootFilesystem``, sysctls.
- cgroups: ``cgroupsPath`` = ``<parent>/pod<uid>/<container id>`` (runc's cgroupfs form);
  cpu shares from the request (``milliCPU*1024/1000``, at least 2), cpu quota from the limit
  over a 100 ms period (at least 1 ms), memory limit; devices denied except runc's
  defaults, all allowed for privileged containers.
- annotations name the pod and container (``io.kubernetes.*``) so that ``runc state`` tells a
  restarted kubelet what each container is.

Not done here: seccomp and AppArmor profiles, host devices for privileged containers, swap
limits, hugepages, pod-level cgroup limits.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from kubepy.api.quantity import quantity_to_int, quantity_to_millis
from kubepy.kubelet.runtime.env import container_env, merged_env, process_args
from kubepy.kubelet.runtime.security import (capabilities, effective_security_context,
                                             masked_paths, resolve_user)

Obj = dict[str, Any]

OCI_VERSION = "1.0.2"
CPU_PERIOD = 100_000
MIN_SHARES = 2
MIN_QUOTA = 1000
SANDBOX_OOM_SCORE_ADJ = -998
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000
PAUSE_ARGS = ("/bin/busybox", "sh", "-c",
              "trap 'exit 0' TERM INT; while :; do /bin/busybox sleep 2147483647 & wait $!; done")

ANNOTATION_TYPE = "io.kubernetes.cri.container-type"  # "sandbox" | "container"
ANNOTATION_POD_NAME = "io.kubernetes.pod.name"
ANNOTATION_POD_NAMESPACE = "io.kubernetes.pod.namespace"
ANNOTATION_POD_UID = "io.kubernetes.pod.uid"
ANNOTATION_CONTAINER_NAME = "io.kubernetes.container.name"
ANNOTATION_SANDBOX_ID = "io.kubernetes.cri.sandbox-id"


def pod_hostname(pod: Obj) -> str:
    """``spec.hostname`` or the pod name, cut to 63 characters without a trailing - or ."""
    name = str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])
    return name[:63].rstrip("-.") if len(name) > 63 else name


def cgroups_path(cgroup_parent: str, pod_uid: str, container_id: str) -> str:
    return f"/{cgroup_parent.strip('/')}/pod{pod_uid}/{container_id}"


def bind_mount(source: str, destination: str, *, read_only: bool = False,
               propagation: str = "rprivate") -> Obj:
    """An OCI bind mount of a host file or directory."""
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", propagation, "ro" if read_only else "rw"]}


def cpu_shares(milli_cpu: int) -> int:
    return max(MIN_SHARES, milli_cpu * 1024 // 1000)


def cpu_quota(milli_cpu: int, period: int = CPU_PERIOD) -> int:
    return max(MIN_QUOTA, milli_cpu * period // 1000)


def qos_class(pod: Obj) -> str:
    """Guaranteed, Burstable or BestEffort (status.qosClass when the server set it)."""
    known = (pod.get("status") or {}).get("qosClass")
    if known:
        return str(known)
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or quantity_to_millis(req.get(r, lim[r])) != \
                    quantity_to_millis(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def oom_score_adj(pod: Obj, container: Obj, memory_capacity: int | None) -> int:
    qos = qos_class(pod)
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort" or not memory_capacity:
        return BESTEFFORT_OOM_SCORE_ADJ
    request = (container.get("resources") or {}).get("requests", {}).get("memory")
    adj = 1000 - (1000 * quantity_to_int(request)) // memory_capacity if request else 1000
    return min(max(adj, 2), 999)


def linux_resources(container: Obj, *, privileged: bool = False) -> Obj:
    """The OCI ``linux.resources`` for the container's requests and limits."""
    res = container.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    cpu_req = req.get("cpu", lim.get("cpu"))
    cpu: Obj = {"shares": cpu_shares(quantity_to_millis(cpu_req) if cpu_req else 0)}
    if "cpu" in lim:
        cpu["quota"] = cpu_quota(quantity_to_millis(lim["cpu"]))
        cpu["period"] = CPU_PERIOD
    out: Obj = {"devices": [{"allow": privileged, "access": "rwm"}], "cpu": cpu}
    if "memory" in lim and quantity_to_int(lim["memory"]) > 0:
        out["memory"] = {"limit": quantity_to_int(lim["memory"])}
    return out


def default_mounts(*, privileged: bool, shm_path: str | None = None) -> list[Obj]:
    ro = [] if privileged else ["ro"]
    shm = (bind_mount(shm_path, "/dev/shm") if shm_path else
           {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]})
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        shm,
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", *ro]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *ro]},
    ]


def _merge_mounts(defaults: list[Obj], extra: Iterable[Obj]) -> list[Obj]:
    extra = list(extra)
    taken = {m["destination"].rstrip("/") or "/" for m in extra}
    return [m for m in defaults if m["destination"] not in taken] + extra


def namespaces(pod: Obj, sandbox_pid: int | None) -> list[Obj]:
    """The OCI namespaces: new ones for the sandbox (*sandbox_pid* None), joined ones for
    its containers; namespaces the pod takes from the host are left out."""
    spec = pod.get("spec") or {}
    host_net, host_ipc, host_pid = (bool(spec.get("hostNetwork")), bool(spec.get("hostIPC")),
                                    bool(spec.get("hostPID")))

    def ns(kind: str, proc_name: str) -> Obj:
        if sandbox_pid is None:
            return {"type": kind}
        return {"type": kind, "path": f"/proc/{sandbox_pid}/ns/{proc_name}"}

    out: list[Obj] = []
    if not host_pid:
        share = bool(spec.get("shareProcessNamespace"))
        out.append(ns("pid", "pid") if share else {"type": "pid"})
    if not host_net:
        out.append(ns("network", "net"))
    if not host_ipc:
        out.append(ns("ipc", "ipc"))
    if not host_net:
        out.append(ns("uts", "uts"))
    out.append({"type": "mount"})
    return out


def _annotations(pod: Obj, kind: str, container_name: str | None,
                 sandbox_id: str | None) -> dict[str, str]:
    meta = pod["metadata"]
    out = {ANNOTATION_TYPE: kind, ANNOTATION_POD_NAME: meta["name"],
           ANNOTATION_POD_NAMESPACE: meta.get("namespace", "default"),
           ANNOTATION_POD_UID: meta.get("uid", "")}
    if container_name:
        out[ANNOTATION_CONTAINER_NAME] = container_name
    if sandbox_id:
        out[ANNOTATION_SANDBOX_ID] = sandbox_id
    return out


def _base(pod: Obj, *, args: Sequence[str], env: list[str], cwd: str, user: Obj,
          caps: list[str], no_new_privileges: bool, oom_adj: int, rootfs: str,
          read_only: bool, oom_floor: int, ns: list[Obj], mounts: list[Obj], masked: list[str],
          readonly_paths: list[str], resources: Obj, cgroups: str,
          annotations: dict[str, str], sysctls: dict[str, str]) -> Obj:
    process: Obj = {
        "terminal": False, "user": user, "args": list(args), "env": env, "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": no_new_privileges, "oomScoreAdj": max(oom_adj, oom_floor),
    }
    linux: Obj = {"namespaces": ns, "resources": resources, "cgroupsPath": cgroups,
                  "maskedPaths": masked, "readonlyPaths": readonly_paths}
    if sysctls:
        linux["sysctl"] = sysctls
    spec: Obj = {"ociVersion": OCI_VERSION, "process": process,
                 "root": {"path": rootfs, "readonly": read_only}, "mounts": mounts,
                 "annotations": annotations, "linux": linux}
    if any(n["type"] == "uts" for n in ns):
        spec["hostname"] = pod_hostname(pod)
    return spec


def _sysctls(pod: Obj) -> dict[str, str]:
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    return {s["name"]: str(s.get("value", "")) for s in psc.get("sysctls") or []}


def container_spec(pod: Obj, container: Obj, *, container_id: str, sandbox_id: str,
                   sandbox_pid: int | None, image_config: Obj | None = None,
                   env: Sequence[tuple[str, str]] | None = None, mounts: Iterable[Obj] = (),
                   rootfs: str = "rootfs", cgroup_parent: str = "kubepy",
                   shm_path: str | None = None, passwd: str = "", group: str = "",
                   memory_capacity: int | None = None,
                   oom_score_adj_floor: int = -1000) -> Obj:
    """The config.json of an app or init container of *pod* (see the module docstring).

    *env* is the container's resolved variables (``env.container_env``; by default its plain
    ``value`` entries only); *image_config* the
    image's ``config`` object (Entrypoint, Cmd, Env, WorkingDir, User); *sandbox_pid* the
    host pid of the running sandbox process, None when the pod takes every namespace from
    the host; *oom_score_adj_floor* the lowest oomScoreAdj the runtime may set (its own,
    when it lacks CAP_SYS_RESOURCE: ``runc.oom_score_adj_floor()``). Raises
    ContainerConfigError for a container that cannot be created.
    """
    image_config = image_config or {}
    if env is None:
        env = container_env(container)
    sc = effective_security_context(pod, container)
    privileged = bool(sc.get("privileged"))
    masked, readonly_paths = masked_paths(sc)
    hostname = pod_hostname(pod)
    return _base(
        pod, args=process_args(container, image_config, env),
        env=merged_env(image_config, env, hostname),
        cwd=container.get("workingDir") or image_config.get("WorkingDir") or "/",
        user=resolve_user(pod, container, image_config, passwd=passwd, group=group).oci(),
        caps=capabilities(sc),
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False,
        oom_adj=oom_score_adj(pod, container, memory_capacity), rootfs=rootfs,
        read_only=bool(sc.get("readOnlyRootFilesystem")), oom_floor=oom_score_adj_floor,
        ns=namespaces(pod, sandbox_pid),
        mounts=_merge_mounts(default_mounts(privileged=privileged, shm_path=shm_path), mounts),
        masked=masked, readonly_paths=readonly_paths,
        resources=linux_resources(container, privileged=privileged),
        cgroups=cgroups_path(cgroup_parent, pod["metadata"].get("uid", ""), container_id),
        annotations=_annotations(pod, "container", container["name"], sandbox_id),
        sysctls=_sysctls(pod))


def sandbox_spec(pod: Obj, *, sandbox_id: str, rootfs: str = "rootfs",
                 cgroup_parent: str = "kubepy", args: Sequence[str] = PAUSE_ARGS,
                 mounts: Iterable[Obj] = (), oom_score_adj_floor: int = -1000) -> Obj:
    """The config.json of the pod's infra container: a process that does nothing but hold
    the namespaces the pod's containers join (user 65535, no capabilities, read-only root)."""
    return _base(
        pod, args=args, env=[f"PATH=/bin"], cwd="/", user={"uid": 65535, "gid": 65535},
        caps=[], no_new_privileges=True, oom_adj=SANDBOX_OOM_SCORE_ADJ, rootfs=rootfs,
        read_only=True, oom_floor=oom_score_adj_floor, ns=namespaces(pod, None),
        mounts=_merge_mounts(default_mounts(privileged=False), mounts),
        masked=masked_paths({})[0], readonly_paths=masked_paths({})[1],
        resources={"devices": [{"allow": False, "access": "rwm"}],
                   "cpu": {"shares": MIN_SHARES}},
        cgroups=cgroups_path(cgroup_parent, pod["metadata"].get("uid", ""), sandbox_id),
        annotations=_annotations(pod, "sandbox", None, sandbox_id), sysctls=_sysctls(pod))
