"""PersistentVolume binding (kube-controller-manager's persistentvolume-binder): pure
decisions in ``logic``, the two reconcile loops in ``controller``."""

from kubepy.controllers.pvbinder.controller import new_controllers

__all__ = ["new_controllers"]
