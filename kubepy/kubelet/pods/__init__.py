"""Running pods with real containers: ``files`` (the /etc/hosts, /etc/hostname and
/etc/resolv.conf the kubelet writes; pure), ``snapshot`` (overlayfs container rootfs over image
layers), ``status`` (containerStatuses and phase from container records; pure), ``actions``
(what a sync does next: starts, restarts, kills, back-off; pure), ``backoff`` (the crash-loop
and image-pull back-off; pure), ``checkpoint`` (the pod's runtime state on disk; pure),
``crilog`` (the end of a CRI log as a termination message; pure) and ``worker``
(``PodRuntime``: sandbox, network, containers under conmon, stop, cleanup and recovery)."""
