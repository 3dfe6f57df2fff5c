"""The container runtime over runc: OCI spec generation (``spec``, ``env``, ``security``;
pure), bundles (``bundle``), the pod sandbox (``sandbox``), the runc command line and exit
statuses (``runc``) and the cgroup files read after a container ends (``cgroups``)."""
