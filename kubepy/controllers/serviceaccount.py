"""Service-account controllers (kube-controller-manager's ``serviceaccount-controller`` and
``root-ca-cert-publisher``), both keyed by namespace name:

* ``ServiceAccountsController``: every Active namespace has a ServiceAccount ``default``;
  deleting it brings it back. Namespaces that are not Active are left alone (a
  Terminating one refuses new content anyway).
* ``RootCACertPublisher``: every namespace has the ConfigMap ``kube-root-ca.crt`` whose
  ``ca.crt`` is the cluster CA bundle (PEM) pods use to verify the API server, annotated
  with upstream's ``kubernetes.io/description``; edits of its data are reverted.

Pure decisions: ``missing_service_accounts`` and ``root_ca_config_map_action`` (create,
update with the copy to send, or nothing). The CA bundle comes from
``ControllerConfig.root_ca_pem``, else from the CA certificates the controller-manager's own
client trusts (the kubeconfig's certificate-authority-data) — ``root_ca_bundle``.
"""

from __future__ import annotations

import copy
import logging
import ssl
from typing import Any, Iterable, Mapping

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.store import split_key
from kubepy.controllers.context import ControllerContext

log = logging.getLogger("kubepy.controllers.serviceaccount")

Obj = dict[str, Any]
_REG = Registry()
NAMESPACES: ResourceType = _REG.get("", "v1", "namespaces")  # type: ignore[assignment]
SERVICE_ACCOUNTS: ResourceType = _REG.get("", "v1", "serviceaccounts")  # type: ignore[assignment]
CONFIG_MAPS: ResourceType = _REG.get("", "v1", "configmaps")  # type: ignore[assignment]

DEFAULT_SERVICE_ACCOUNTS = ("default",)
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
ROOT_CA_KEY = "ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")


# ---------------------------------------------------------------------------- pure

def missing_service_accounts(namespace: Mapping[str, Any] | None,
                             existing: Iterable[str],
                             wanted: Iterable[str] = DEFAULT_SERVICE_ACCOUNTS) -> list[str]:
    """The ServiceAccounts to create in ``namespace`` (none unless it is Active)."""
    if namespace is None or (namespace.get("status") or {}).get("phase", "Active") != "Active" \
            or (namespace.get("metadata") or {}).get("deletionTimestamp"):
        return []
    have = set(existing)
    return [name for name in wanted if name not in have]


def service_account(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}


def root_ca_config_map_action(namespace: Mapping[str, Any] | None,
                              current: Mapping[str, Any] | None,
                              ca_pem: str) -> tuple[str, Obj | None]:
    """("create", cm) | ("update", cm) | ("none", None) for one namespace."""
    if namespace is None or not ca_pem or \
            (namespace.get("metadata") or {}).get("deletionTimestamp"):
        return "none", None
    data = {ROOT_CA_KEY: ca_pem}
    if current is None:
        return "create", {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": ROOT_CA_CONFIG_MAP,
                                       "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                          "data": data}
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
        return "none", None
    new = copy.deepcopy(dict(current))
    new["data"] = data
    new.setdefault("metadata", {}).setdefault("annotations", {})
    if new["metadata"]["annotations"] is None:
        new["metadata"]["annotations"] = {}
    new["metadata"]["annotations"][DESCRIPTION_ANNOTATION] = DESCRIPTION
    return "update", new


def root_ca_bundle(configured: str, ssl_context: ssl.SSLContext | None) -> str:
    """The configured PEM bundle, else the CA certificates ``ssl_context`` was given
    (a context that trusts no explicit CA — system store or no verification — gives "")."""
    if configured:
        return configured
    if ssl_context is None or ssl_context.verify_mode == ssl.CERT_NONE:
        return ""
    ders = ssl_context.get_ca_certs(binary_form=True)
    if not ders or len(ders) > 8:  # a system trust store is not the cluster CA
        return ""
    return "".join(ssl.DER_cert_to_PEM_cert(der) for der in ders)


def _namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


# ---------------------------------------------------------------------------- controllers

class ServiceAccountsController(Controller):
    name = "serviceaccount"

    def __init__(self, ctx: ControllerContext,
                 wanted: Iterable[str] = DEFAULT_SERVICE_ACCOUNTS) -> None:
        self.client = ctx.client
        self.wanted = tuple(wanted)
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.service_accounts = ctx.informers.informer(SERVICE_ACCOUNTS)
        super().__init__(name=self.name, workers=ctx.workers(self.name, 1), clock=ctx.clock,
                         informers=[self.namespaces, self.service_accounts])
        self.namespaces.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new))
        self.service_accounts.add_event_handler(None, None, self._on_sa_deleted)

    def _on_sa_deleted(self, sa: Obj) -> None:
        if (sa.get("metadata") or {}).get("name") in self.wanted and _namespace_of(sa):
            self.enqueue_key(_namespace_of(sa))

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.store.get(key)
        existing = [name for name in self.wanted
                    if self.service_accounts.store.get_by_name(key, name) is not None]
        for name in missing_service_accounts(ns, existing, self.wanted):
            try:
                await self.client.create(SERVICE_ACCOUNTS, service_account(name), key)
            except (errors.AlreadyExists, errors.NotFound, errors.Forbidden):
                continue  # there already, or the namespace is gone or terminating
        return None


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, ctx: ControllerContext, ca_pem: str) -> None:
        self.client = ctx.client
        self.ca_pem = ca_pem
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.config_maps = ctx.informers.informer(
            CONFIG_MAPS, field_selector=f"metadata.name={ROOT_CA_CONFIG_MAP}")
        super().__init__(name=self.name, workers=ctx.workers(self.name, 1), clock=ctx.clock,
                         informers=[self.namespaces, self.config_maps])
        self.namespaces.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new))
        self.config_maps.add_event_handler(None, lambda old, new: self._on_config_map(new),
                                           self._on_config_map)

    def _on_config_map(self, cm: Obj) -> None:
        if (cm.get("metadata") or {}).get("name") == ROOT_CA_CONFIG_MAP and _namespace_of(cm):
            self.enqueue_key(_namespace_of(cm))

    async def reconcile(self, key: str) -> float | None:
        ns_name = split_key(key)[1]
        action, cm = root_ca_config_map_action(
            self.namespaces.store.get(ns_name),
            self.config_maps.store.get_by_name(ns_name, ROOT_CA_CONFIG_MAP), self.ca_pem)
        try:
            if action == "create" and cm is not None:
                await self.client.create(CONFIG_MAPS, cm, ns_name)
            elif action == "update" and cm is not None:
                await self.client.update(CONFIG_MAPS, cm)
        except (errors.AlreadyExists, errors.NotFound, errors.Forbidden):
            pass  # the cache lagged, or the namespace is gone or terminating
        return None


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    controllers: list[Controller] = [ServiceAccountsController(ctx)]
    ca_pem = root_ca_bundle(getattr(ctx.config, "root_ca_pem", ""),
                            getattr(ctx.client, "ssl_context", None))
    if ca_pem:
        controllers.append(RootCACertPublisher(ctx, ca_pem))
    else:
        log.warning("no cluster CA bundle known (ControllerConfig.root_ca_pem, or the client's "
                    "certificate-authority-data): the %s ConfigMaps are not published",
                    ROOT_CA_CONFIG_MAP)
    return controllers
