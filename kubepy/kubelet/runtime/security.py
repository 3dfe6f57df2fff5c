"""A container's security settings as CRI runtimes turn a securityContext into an OCI spec. Pure.

- Capabilities: the containerd/CRI-O runtime default set, then ``add`` (``ALL`` = every
  capability) and ``drop`` (``ALL`` = none), a specific drop winning over a specific add, as
  containerd applies them; ``privileged`` grants every capability. Kubernetes names have no
  ``CAP_`` prefix; the OCI spec's have it. The inheritable and ambient sets stay empty.
- User: ``runAsUser``/``runAsGroup`` (the container's securityContext over the pod's), else
  the image's ``User`` (``uid``, ``uid:gid``, ``name`` or ``name:group``), names looked up in
  the rootfs's ``/etc/passwd`` and ``/etc/group`` whose *text* the caller passes in; the
  additional groups are the pod's ``supplementalGroups`` and ``fsGroup``.
- Masked and read-only ``/proc`` and ``/sys`` paths: the kubelet's defaults, none when the
  container is privileged or asks for ``procMount: Unmasked``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubepy.kubelet.runtime.env import ContainerConfigError

Obj = dict[str, Any]

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Every capability up to CAP_CHECKPOINT_RESTORE (40), in kernel number order.
ALL_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def effective_security_context(pod: Obj, container: Obj) -> Obj:
    """The container's securityContext over the pod-level fields that it may override."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    merged = {k: psc[k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot",
                                  "seLinuxOptions", "seccompProfile") if k in psc}
    merged.update({k: v for k, v in csc.items() if v is not None})
    return merged


def _cap_name(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def capabilities(sc: Obj) -> list[str]:
    """The bounding/effective/permitted capability list for a container's securityContext."""
    if sc.get("privileged"):
        return list(ALL_CAPABILITIES)
    caps_field = sc.get("capabilities") or {}
    add = [c.upper() for c in caps_field.get("add") or []]
    drop = [c.upper() for c in caps_field.get("drop") or []]
    caps = list(DEFAULT_CAPABILITIES)
    if "ALL" in add:
        caps = list(ALL_CAPABILITIES)
    if "ALL" in drop:
        caps = []
    for name in add:
        if name != "ALL" and _cap_name(name) not in caps:
            caps.append(_cap_name(name))
    dropped = {_cap_name(n) for n in drop if n != "ALL"}
    return [c for c in caps if c not in dropped]


@dataclass(frozen=True)
class User:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)

    def oci(self) -> Obj:
        out: Obj = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            out["additionalGids"] = self.additional_gids
        return out


def _lookup(text: str, key: str, *, by_name: bool) -> list[str] | None:
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and (parts[0] == key if by_name else parts[2] == key):
            return parts
    return None


def resolve_user(pod: Obj, container: Obj, image_config: Obj, *, passwd: str = "",
                 group: str = "") -> User:
    """The process user (see the module docstring); raises ContainerConfigError for an image
    user name the rootfs does not know, or for runAsNonRoot with uid 0."""
    sc = effective_security_context(pod, container)
    image_user, _, image_group = (image_config.get("User") or "").partition(":")
    uid: int | None = sc.get("runAsUser")
    gid: int | None = sc.get("runAsGroup")
    entry: list[str] | None = None
    if uid is None:
        if not image_user:
            uid = 0
        elif image_user.isdigit():
            uid = int(image_user)
        else:
            entry = _lookup(passwd, image_user, by_name=True)
            if entry is None:
                raise ContainerConfigError(f"unable to find user {image_user}: "
                                           "no matching entries in passwd file")
            uid = int(entry[2])
    if gid is None:
        if image_group and sc.get("runAsUser") is None:
            if image_group.isdigit():
                gid = int(image_group)
            else:
                g = _lookup(group, image_group, by_name=True)
                if g is None:
                    raise ContainerConfigError(f"unable to find group {image_group}: "
                                               "no matching entries in group file")
                gid = int(g[2])
        else:
            entry = entry or _lookup(passwd, str(uid), by_name=False)
            gid = int(entry[3]) if entry else 0
    if sc.get("runAsNonRoot") and uid == 0:
        raise ContainerConfigError("container's runAsUser breaks non-root policy")
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    extra = [g for g in psc.get("supplementalGroups") or []]
    if psc.get("fsGroup") is not None:
        extra.append(psc["fsGroup"])
    extra = [g for i, g in enumerate(extra) if g not in extra[:i] and g != gid]
    return User(uid, gid, extra)


def masked_paths(sc: Obj) -> tuple[list[str], list[str]]:
    """``(maskedPaths, readonlyPaths)`` for the securityContext."""
    if sc.get("privileged") or sc.get("procMount") == "Unmasked":
        return [], []
    return list(MASKED_PATHS), list(READONLY_PATHS)
