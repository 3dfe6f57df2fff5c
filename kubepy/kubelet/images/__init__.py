"""The kubelet's image store: references, manifests, layers, the store, registry pulls and
archive imports (see each module's docstring)."""
