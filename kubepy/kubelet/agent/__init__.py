"""The kubelet of a real node (``kubepy agent``): ``node`` (the Node from this machine's
facts), ``pressure`` (MemoryPressure/DiskPressure/PIDPressure from the eviction signals and
thresholds), ``podstatus`` (pod status and conditions from the runtime; pure) and ``kubelet``
(``Agent``: registration, Lease, node status, the pod sync loop over ``PodRuntime``)."""
