"""The node agent: registers its Node, renews its Lease and runs the pods bound to it.

``kubepy.kubelet.simulated`` is the simulated runtime (no containers) that lets one process
pretend to be thousands of nodes for tests and benchmarks.
"""
