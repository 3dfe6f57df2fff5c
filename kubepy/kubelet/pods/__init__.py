"""Running one pod with real containers: ``files`` (the /etc/hosts, /etc/hostname and
/etc/resolv.conf the kubelet writes; pure), ``snapshot`` (overlayfs container rootfs over image
layers), ``status`` (containerStatuses and phase from container records; pure) and ``worker``
(``PodRuntime``: sandbox, network, init and app containers, stop and cleanup)."""
