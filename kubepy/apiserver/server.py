"""Assemble and run the apiserver: store, watch cache, objects, handlers, TLS, bootstrap.

``ApiServer(config).start()`` opens the store, loads the watch cache, serves HTTPS, then
creates the bootstrap objects; ``stop()`` closes everything in reverse. The process that
runs ``kubepy server`` owns one ApiServer plus the other components as API clients.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from kubepy.api.registry import Registry, ResourceType
from kubepy.apiserver import certs
from kubepy.apiserver.admission import CreateAdmission
from kubepy.apiserver.app import AppState, build_app
from kubepy.apiserver.auth import TokenAuthenticator, User
from kubepy.apiserver.bootstrap import bootstrap
from kubepy.apiserver.customresources import CustomResources
from kubepy.apiserver.quota_admission import LimitRanges, Quotas
from kubepy.apiserver.serviceaccounts import TokenIssuer, load_or_create_key
from kubepy.apiserver.handlers import ResourceHandlers
from kubepy.apiserver.kubeletproxy import KubeletProxy, kubelet_client_context
from kubepy.apiserver.metrics import RequestMetrics
from kubepy.apiserver.objects import Objects
from kubepy.apiserver.rbac import RBACAuthorizer
from kubepy.apiserver.serviceips import ServiceAllocator
from kubepy.apiserver.subresources import Subresources
from kubepy.apiserver.watchcache import CacheHub
from kubepy.storage import open_store
from kubepy.storage.interface import Store

log = logging.getLogger("kubepy.apiserver")


@dataclass
class ServerConfig:
    data_dir: Path
    bind_address: str = "0.0.0.0"
    port: int = 6443
    datastore_endpoint: str = ""
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"
    cluster_domain: str = "cluster.local"
    write_kubeconfig: Path | None = None
    tokens: dict[str, User] = field(default_factory=dict)
    compaction_interval: float = 300.0
    compaction_retention: int = 1000
    # several apiserver processes share the port (SO_REUSEPORT) and the store; worker 0
    # bootstraps, compacts and writes CRD status, the others only serve
    workers: int = 1
    worker_id: int = 0

    @property
    def store_endpoint(self) -> str:
        return self.datastore_endpoint or f"sqlite://{self.data_dir / 'db' / 'state.db'}"


async def _gc_freeze_loop(interval: float = 10.0) -> None:
    """Keep the long-lived objects (the watch cache) out of the cyclic collector's scans.

    A full collection over a large cache paused every request for hundreds of
    milliseconds (docs/benchmarks.md); objects are plain acyclic dicts freed by reference
    counting, so freezing what survives costs nothing but those pauses."""
    gc.set_threshold(20000, 20, 20)
    while True:
        gc.freeze()
        await asyncio.sleep(interval)


def _advertise_ip(bind_address: str) -> str:
    if bind_address not in ("0.0.0.0", "::", ""):
        return bind_address
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            address: str = s.getsockname()[0]
            return address
    except OSError:
        return "127.0.0.1"


def _refresh_openapi(state: AppState) -> None:
    """Custom resources changed: rebuild the OpenAPI documents with their schemas."""
    if state.openapi is not None:
        state.openapi.set_extra_schemas(state.openapi_extra())


def install_hooks(objects: Objects) -> None:
    """Defaulting and validation from kubepy.api (pure modules)."""
    from kubepy.api import crd as crds
    from kubepy.api.defaults import apply_defaults
    from kubepy.api.validation import validate_create, validate_update

    def defaulter(rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.custom:
            crds.apply_defaults(obj, rt.schema)
            return
        new = apply_defaults(rt.group, rt.version, rt.kind, obj)
        if new is not obj and new is not None:
            obj.clear()
            obj.update(new)

    def on_create(rt: ResourceType, obj: dict[str, Any]) -> list[dict[str, str]]:
        if rt.custom:
            return (validate_create(rt.group, rt.version, rt.kind, obj,
                                    namespaced=rt.namespaced) + crds.validate(obj, rt.schema))
        return validate_create(rt.group, rt.version, rt.kind, obj)

    def on_update(rt: ResourceType, new: dict[str, Any],
                  old: dict[str, Any]) -> list[dict[str, str]]:
        if rt.custom:
            return (validate_update(rt.group, rt.version, rt.kind, new, old,
                                    namespaced=rt.namespaced) + crds.validate(new, rt.schema))
        return validate_update(rt.group, rt.version, rt.kind, new, old)

    objects.defaulter = defaulter
    objects.create_validator = on_create
    objects.update_validator = on_update


class ApiServer:
    def __init__(self, config: ServerConfig):
        self.config = config
        self.registry = Registry()
        self.store: Store | None = None
        self.hub: CacheHub | None = None
        self.objects: Objects | None = None
        self.runner: web.AppRunner | None = None
        self.pki: certs.ClusterPKI | None = None
        self.allocator: ServiceAllocator | None = None
        self.kubelet_proxy: KubeletProxy | None = None
        self._ready = False
        self.port = config.port

    @property
    def first_service_ip(self) -> str:
        net = ipaddress.ip_network(self.config.service_cidr, strict=False)
        return str(net.network_address + 1)

    def ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.pki.serving.cert_path, self.pki.serving.key_path)
        ctx.load_verify_locations(self.pki.ca.cert_path)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def start(self) -> None:
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.pki = certs.ensure_pki(cfg.data_dir, cluster_domain=cfg.cluster_domain,
                                    first_service_ip=self.first_service_ip,
                                    bind_address=cfg.bind_address)
        endpoint = cfg.store_endpoint
        if endpoint.startswith("sqlite://"):
            Path(endpoint[len("sqlite://"):].split("?")[0]).parent.mkdir(parents=True,
                                                                          exist_ok=True)
        shared = cfg.workers > 1
        self.store = open_store(endpoint, **({"poll_interval": 0.05} if shared else {}))
        hub = self.hub = CacheHub(self.store, shared=shared)
        for rt in self.registry:
            if not rt.virtual:
                hub.cache_for(rt.key_prefix)
        await hub.start()
        objects = self.objects = Objects(self.store, hub)
        install_hooks(objects)
        objects.field_manager = ResourceHandlers.managed
        self.allocator = ServiceAllocator(
            cfg.service_cidr, lambda: hub.cache_for("/registry/services/specs/").objects)
        objects.mutators.append(self.allocator.admit)
        objects.mutators.append(CreateAdmission(hub).admit)
        objects.mutators.append(LimitRanges(hub).admit)
        objects.validators.append(Quotas(hub, self.store).admit)
        handlers = ResourceHandlers(self.registry, objects, hub, self.store)
        authorizer = RBACAuthorizer(lambda prefix: hub.cache_for(prefix).objects)
        Subresources(handlers, authorizer)
        # one client TLS context towards every kubelet (built once, its session reused)
        self.kubelet_proxy = KubeletProxy(handlers, authorizer, kubelet_client_context(
            str(self.pki.kubelet_client.cert_path), str(self.pki.kubelet_client.key_path)))
        advertise = _advertise_ip(cfg.bind_address)
        state = AppState(registry=self.registry, resources=handlers,
                         tokens=TokenAuthenticator(cfg.tokens), authorizer=authorizer,
                         metrics=RequestMetrics(), server_address=f"{advertise}:{cfg.port}",
                         ready=lambda: self._ready,
                         ca_bundle=self.pki.ca.cert_path.read_bytes())
        self.custom_resources = CustomResources(self.registry, hub, objects,
                                                on_change=lambda: _refresh_openapi(state),
                                                writer=cfg.worker_id == 0)
        state.openapi_extra = self.custom_resources.openapi_schemas
        await self.custom_resources.start()
        self.token_issuer = TokenIssuer(
            load_or_create_key(cfg.data_dir / "tls" / "service-account.key"),
            f"https://kubernetes.default.svc.{cfg.cluster_domain}",
            lambda ns, name: hub.cache_for("/registry/serviceaccounts/").objects.get(
                f"/registry/serviceaccounts/{ns}/{name}"))
        state.token_issuer = self.token_issuer
        app = build_app(state)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                    shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, cfg.bind_address, cfg.port,
                           ssl_context=self.ssl_context(), reuse_address=True, backlog=1024,
                           reuse_port=shared or None)
        await site.start()
        if cfg.port == 0:
            self.port = self.runner.addresses[0][1]  # the OS picked the port (one site)
        if cfg.worker_id != 0:  # worker 0 bootstrapped, compacts and wrote the kubeconfigs
            self._gc_task = asyncio.create_task(_gc_freeze_loop(), name="gc-freeze")
            self._ready = True
            return
        await bootstrap(objects, self.registry, first_service_ip=self.first_service_ip,
                        apiserver_ip=advertise, apiserver_port=self.port)
        self.write_kubeconfigs()
        if hasattr(self.store, "start_background_compaction"):
            self.store.start_background_compaction(cfg.compaction_interval,
                                                   cfg.compaction_retention)
        self._gc_task = asyncio.create_task(_gc_freeze_loop(), name="gc-freeze")
        self._ready = True

    def server_url(self) -> str:
        host = self.config.bind_address
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"https://{host}:{self.port}"

    def write_kubeconfigs(self) -> Path:
        assert self.pki is not None
        content = certs.kubeconfig(self.server_url(), self.pki.ca, self.pki.admin)
        admin = self.config.data_dir / "admin.kubeconfig"
        certs.write_kubeconfig(admin, content)
        if self.config.write_kubeconfig:
            certs.write_kubeconfig(self.config.write_kubeconfig, content)
        return admin

    async def stop(self) -> None:
        self._ready = False
        if getattr(self, "_gc_task", None) is not None:
            self._gc_task.cancel()
        if getattr(self, "custom_resources", None) is not None:
            await self.custom_resources.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.kubelet_proxy is not None:
            await self.kubelet_proxy.close()
        if self.hub is not None:
            await self.hub.close()
        if self.store is not None:
            await self.store.close()


async def serve_forever(server: ApiServer, stop: asyncio.Event) -> None:
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()
