"""The mutating admission plugins whose effects show on every created Pod:
ServiceAccount, Priority and DefaultTolerationSeconds.

They are not defaulting (they depend on other objects: the ServiceAccount, the
PriorityClasses), so the apiserver calls them after ``apply_defaults`` on pod create,
handing in what they need to know. Randomness (the token volume's name suffix) is
injected. Each function mutates and returns the pod it is given; refusals raise
``kubepy.errors.Forbidden`` worded as the upstream plugins word them.
"""

from __future__ import annotations

import random
from typing import Any, Mapping

from kubepy.errors import Forbidden

Obj = dict[str, Any]

DEFAULT_SERVICE_ACCOUNT = "default"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
TOKEN_EXPIRATION_SECONDS = 3607  # one hour plus the plugin's 7 s of slack
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# utilrand.String's alphabet: no vowels (no words) and no look-alikes.
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300
DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300


def random_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(_ALPHANUMS) for _ in range(length))


def _name(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


def admit_service_account(pod: Obj, *, service_account: Mapping[str, Any] | None,
                          volume_suffix: str) -> Obj:
    """Name the service account (``default`` if none) and mount its token.

    ``service_account`` is the ServiceAccount object, or None if it does not exist (the
    plugin then refuses the pod). The token is mounted unless the pod or, failing an
    answer there, the ServiceAccount sets ``automountServiceAccountToken: false``, or a
    container already mounts something at the token path."""
    spec = pod.setdefault("spec", {})
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if MIRROR_POD_ANNOTATION in annotations:
        return pod
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccount"] = spec["serviceAccountName"]
    sa_name = spec["serviceAccountName"]
    if service_account is None:
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
        raise Forbidden(f'pods "{_name(pod)}" is forbidden: error looking up service account '
                        f'{namespace}/{sa_name}: serviceaccount "{sa_name}" not found',
                        name=_name(pod), kind="pods")
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = service_account.get("automountServiceAccountToken")
    if automount is False:
        return pod
    containers = [c for kind in ("initContainers", "containers")
                  for c in spec.get(kind) or [] if isinstance(c, dict)]
    if any(m.get("mountPath") == TOKEN_MOUNT_PATH
           for c in containers for m in c.get("volumeMounts") or []):
        return pod
    volume_name = TOKEN_VOLUME_PREFIX + volume_suffix
    spec.setdefault("volumes", []).append({"name": volume_name, "projected": {
        "defaultMode": 0o644,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                                     "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP,
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]}})
    for c in containers:
        c.setdefault("volumeMounts", []).append(
            {"name": volume_name, "mountPath": TOKEN_MOUNT_PATH, "readOnly": True})
    return pod


def admit_priority(pod: Obj, priority_classes: Mapping[str, Mapping[str, Any]]) -> Obj:
    """Resolve ``priorityClassName`` (or the globalDefault class) into ``priority`` and
    ``preemptionPolicy``; with no class at all: priority 0, PreemptLowerPriority.
    ``priority_classes`` maps name -> PriorityClass object."""
    spec = pod.setdefault("spec", {})
    class_name = spec.get("priorityClassName") or ""
    policy = "PreemptLowerPriority"
    if not class_name:
        defaults = sorted((pc for pc in priority_classes.values() if pc.get("globalDefault")),
                          key=lambda pc: pc.get("value", 0))
        if defaults:
            pc = defaults[0]
            class_name = (pc.get("metadata") or {}).get("name") or ""
            value = int(pc.get("value", 0))
            policy = pc.get("preemptionPolicy") or policy
            spec["priorityClassName"] = class_name
        else:
            value = 0
    elif class_name in priority_classes:
        pc = priority_classes[class_name]
        value = int(pc.get("value", 0))
        policy = pc.get("preemptionPolicy") or policy
    elif class_name in SYSTEM_PRIORITY_CLASSES:
        value = SYSTEM_PRIORITY_CLASSES[class_name]
    else:
        raise Forbidden(f'pods "{_name(pod)}" is forbidden: no PriorityClass with name '
                        f"{class_name} was found", name=_name(pod), kind="pods")
    given = spec.get("priority")
    if given is not None and given != value:
        raise Forbidden(f'pods "{_name(pod)}" is forbidden: the integer value of priority '
                        f"({given}) must not be provided in pod spec; priority admission "
                        f"controller computed {value} from the given PriorityClass name",
                        name=_name(pod), kind="pods")
    given_policy = spec.get("preemptionPolicy")
    if given_policy is not None and given_policy != policy:
        raise Forbidden(f'pods "{_name(pod)}" is forbidden: the string value of '
                        f"PreemptionPolicy ({given_policy}) must not be provided in pod spec; "
                        f"priority admission controller computed {policy} from the given "
                        "PriorityClass name", name=_name(pod), kind="pods")
    spec["priority"] = value
    spec["preemptionPolicy"] = policy
    return pod


def _tolerates(tolerations: list[Any], key: str) -> bool:
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        if t.get("effect") not in (None, "", "NoExecute"):
            continue
        if t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"):
            return True
    return False


def admit_default_toleration_seconds(
        pod: Obj, *, not_ready_seconds: int = DEFAULT_NOT_READY_TOLERATION_SECONDS,
        unreachable_seconds: int = DEFAULT_UNREACHABLE_TOLERATION_SECONDS) -> Obj:
    """Tolerate ``not-ready`` and ``unreachable`` NoExecute taints for 300 s unless the
    pod already tolerates them."""
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    added = []
    for key, seconds in (("node.kubernetes.io/not-ready", not_ready_seconds),
                         ("node.kubernetes.io/unreachable", unreachable_seconds)):
        if not _tolerates(tolerations, key):
            added.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                          "tolerationSeconds": seconds})
    if added:
        spec["tolerations"] = list(tolerations) + added
    return pod
