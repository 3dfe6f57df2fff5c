"""The namespace lifecycle controller (``controller``) and its pure decisions
(``deletion``): a Terminating namespace is emptied, then released through /finalize."""

from kubepy.controllers.namespace.controller import NamespaceController, new_controllers

__all__ = ["NamespaceController", "new_controllers"]
