"""``Agent``: the kubelet loop of one real node, talking to the API server only through the API.

``start()`` starts the kubelet API (``KubeletServer`` over ``AgentStreamingRuntime``, when
``client_ca_pem`` is set) so that its real port is advertised, registers the Node (capacity
from the machine, nodeInfo with ``runc://<version>``, ``daemonEndpoints``), renews its Lease
in ``kube-node-lease``, posts node status every ``status_frequency`` s, waits for
``spec.podCIDR``, builds the CNI configuration on it, takes over the pods a previous agent
left running (``PodRuntime.recover``: nothing is killed or started twice; exits that happened
meanwhile are read from conmon's exit files) and then watches the pods bound here. Pods are
synced by one work queue keyed ``namespace/name`` (level-triggered: a container's exit, a
probe result change or a back-off's end enqueues its pod). One sync:

* images are pulled with the credentials of the pod's ``imagePullSecrets`` (``_pull``);
* a new pod gets its volumes (``VolumeManager.setup``; a VolumeError leaves it
  ContainerCreating with a FailedMount event and is retried) and its sandbox;
* ``compute_pod_actions`` says which init/app containers to start or restart (restartPolicy,
  crash and image back-off) and which unhealthy ones to kill; started containers get their
  postStart hook (a failure kills them) and their probes (``ProbeManager``; readiness feeds
  ContainersReady/Ready, a liveness/startup failure kills); the sync is requeued when the
  nearest back-off ends;
* the status (``podstatus.pod_status``) is written with one PUT of ``pods/status`` when it
  differs; a finished pod (Succeeded/Failed) has its sandbox and network released;
* a pod with ``deletionTimestamp`` runs its preStop hooks and is stopped within its grace
  period (at once for 0), its volumes and directory removed, and the object deleted with
  ``gracePeriodSeconds=0`` (uid precondition); a pod gone from the API is stopped at once.

configMap/secret/projected volumes of running pods are re-projected every
``VOLUME_REFRESH`` s. Events (Pulling, Pulled, Failed, BackOff, Created, Started, Killing,
Unhealthy, FailedMount, FailedPostStartHook, FailedPreStopHook,
FailedToRetrieveImagePullSecret) go through an
``EventRecorder``. ``stop()`` ends the loops and leaves the pods running (as a kubelet does
on SIGTERM); ``stop_all_pods`` is for tests and killall.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.controller import Controller
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.ratelimit import ItemExponentialFailureRateLimiter
from kubepy.client.rest import ApiClient
from kubepy.kubelet.agent import node as nodeinfo
from kubepy.kubelet.agent import pressure as node_pressure
from kubepy.kubelet.agent import imagegc, logrotation, podstatus, pullsecrets
from kubepy.kubelet.images.auth import Credentials
from kubepy.kubelet.images.pull import pull_image
from kubepy.kubelet.images.reference import parse_reference
from kubepy.kubelet.images.registry import RegistryClient
from kubepy.kubelet.images.store import Image, ImageNotFound, ImageStore
from kubepy.kubelet.network import NetNSManager, PodNetwork, build_conflist
from kubepy.kubelet.network.cni import BRIDGE_NAME, NETWORK_NAME
from kubepy.client.events import EventRecorder
from kubepy.client.tasks import cancel_and_wait
from kubepy.kubelet.pods.actions import DEADLINE_EXCEEDED, DEADLINE_MESSAGE, active_deadline, \
    compute_pod_actions, format_pod, probe_kill_grace, termination_grace, unhealthy_kill_message
from kubepy.kubelet.pods.backoff import Backoff, image_key, pod_key_prefix
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord, rfc3339
from kubepy.kubelet.prober import ExecSync, ProbeManager, ProbeResult, run_post_start, \
    run_pre_stop
from kubepy.kubelet.pods.worker import PodRuntime, PodStartError, PodState, PodStopError
from kubepy.kubelet.agent.streaming import AgentStreamingRuntime
from kubepy.kubelet.server import KubeletServer
from kubepy.kubelet.runtime.conmon import ConmonRunner
from kubepy.kubelet.runtime.runc import ExitWatcher, Runc
from kubepy.kubelet.simulated import nodes as simnodes
from kubepy.kubelet.volumes import VolumeError, VolumeManager, resolve_env

log = logging.getLogger("kubepy.kubelet.agent")

Obj = dict[str, Any]
_REGISTRY = Registry()
NODES: ResourceType = _REGISTRY.get("", "v1", "nodes")  # type: ignore[assignment]
PODS: ResourceType = _REGISTRY.get("", "v1", "pods")  # type: ignore[assignment]
LEASES: ResourceType = _REGISTRY.get("coordination.k8s.io", "v1", "leases")  # type: ignore[assignment]
SERVICES: ResourceType = _REGISTRY.get("", "v1", "services")  # type: ignore[assignment]
CREATE_RETRY = 10.0       # a container that could not be created is tried again after this
KUBELET_ADDRESS = "0.0.0.0"    # the kubelet API listens on every address, as the kubelet does
VOLUME_REFRESH = 5.0      # configMap/secret volumes of running pods are re-projected this often


@dataclass
class AgentConfig:
    node_name: str
    data_dir: Path                       # the agent's own directory (<data-dir>/agent)
    node_ip: str = ""
    cni_bin_dir: str = "/usr/lib/cni"
    bridge: str = BRIDGE_NAME
    network_name: str = NETWORK_NAME
    netns_dir: str = "/run/kubepy/netns"
    cgroup_parent: str = "kubepy"
    cluster_dns: list[str] = field(default_factory=lambda: ["10.43.0.10"])
    cluster_domain: str = "cluster.local"
    node_labels: dict[str, str] = field(default_factory=dict)
    insecure_registries: list[str] = field(default_factory=list)
    lease_duration: int = simnodes.LEASE_DURATION_SECONDS
    status_frequency: float = 10.0
    pod_cidr_timeout: float = 120.0
    workers: int = 8
    kubelet_port: int = 10250            # the kubelet API (HTTPS); 0 = any free port
    client_ca_pem: bytes = b""           # CA of accepted client certs; empty = no kubelet API
    eviction_hard: str = node_pressure.DEFAULT_EVICTION_HARD   # pressure conditions' thresholds
    # the kubelet's containerLogMaxSize / containerLogMaxFiles / containerLogMonitorInterval
    container_log_max_size: int = logrotation.DEFAULT_MAX_SIZE
    container_log_max_files: int = logrotation.DEFAULT_MAX_FILES
    container_log_monitor_interval: float = logrotation.MONITOR_INTERVAL
    # imageGCHighThresholdPercent / imageGCLowThresholdPercent / imageMinimumGCAge, and the
    # period of the image GC (the kubelet's ImageGCPeriod); high 100 turns image GC off
    image_gc_high_threshold: int = imagegc.HIGH_THRESHOLD_PERCENT
    image_gc_low_threshold: int = imagegc.LOW_THRESHOLD_PERCENT
    image_minimum_gc_age: float = imagegc.MIN_AGE
    image_gc_period: float = imagegc.GC_PERIOD


class _PodQueue(Controller):
    def __init__(self, agent: "Agent", informers: list[Any]) -> None:
        super().__init__(name="kubelet-pods", workers=agent.config.workers, clock=agent.clock,
                         informers=informers,
                         rate_limiter=ItemExponentialFailureRateLimiter(0.5, 30.0))
        self.agent = agent

    async def reconcile(self, key: str) -> float | None:
        return await self.agent.sync_pod(key)


class Agent:
    def __init__(self, client: ApiClient, config: AgentConfig, *,
                 clock: Clock | None = None) -> None:
        self.client, self.config = client, config
        self.clock: Clock = clock or REAL_CLOCK
        self.node_uid = ""
        self.pod_cidr = ""
        self.kubelet_version = "v1.32.0+kubepy"
        self.facts: nodeinfo.MachineFacts | None = None
        self.eviction_thresholds = node_pressure.parse_thresholds(config.eviction_hard)
        self._pressure_seen: dict[str, float] = {}   # condition -> last time a signal met it
        self.runtime: PodRuntime | None = None
        self.network: PodNetwork | None = None
        self.netns = NetNSManager(config.netns_dir)
        self.images = ImageStore(config.data_dir / "images")
        self.runc = Runc(str(config.data_dir / "runc"))
        self.informers = SharedInformerFactory(client, clock=self.clock)
        self.pod_informer = self.informers.informer(
            PODS, field_selector=f"spec.nodeName={config.node_name}")
        self.service_informer = self.informers.informer(SERVICES)
        self.queue = _PodQueue(self, [self.pod_informer])
        self.volumes = VolumeManager(client, node_name=config.node_name, clock=self.clock)
        self.probes = ProbeManager(clock=self.clock, on_change=self._probe_changed)
        self.pod_informer.add_event_handler(*self.queue.handlers())
        self.states: dict[str, PodState] = {}       # uid -> state (also after stop_pod)
        self.uids: dict[str, str] = {}              # pod key -> uid we run
        self.start_failures: dict[str, str] = {}    # uid -> last sandbox error
        self.backoff = Backoff()                    # crash-looping containers
        self.image_backoff = Backoff()              # failing image pulls
        self.events = EventRecorder(client, "kubelet", host=config.node_name, clock=self.clock)
        self._watched: set[str] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._lease: Obj | None = None
        self._session: aiohttp.ClientSession | None = None
        self.ready = asyncio.Event()
        self.image_usage = imagegc.ImageUsage()
        self._gc_lock = asyncio.Lock()   # image GC never runs while a pull does
        self._pulls = 0
        self.kubelet_port = config.kubelet_port   # the port really listened on (advertised)
        self.server: KubeletServer | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register the node and run until ``stop`` (returns once pods are being watched)."""
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.facts = nodeinfo.machine_facts(str(cfg.data_dir), await _runc_version(self.runc))
        # the Node's allocatable: emptyDir tmpfs size and resourceFieldRef limits default to it
        self.volumes.allocatable = nodeinfo.allocatable(self.facts)
        try:
            version = (await self.client.request("GET", "/version")).get("gitVersion")
            self.kubelet_version = version or self.kubelet_version
        except Exception as e:  # noqa: BLE001 - the default version will do
            log.warning("could not read the server version: %r", e)
        if cfg.client_ca_pem:      # listen first, so that the real port is advertised
            self.server = KubeletServer(
                AgentStreamingRuntime(self._state_of, lambda: self.runtime),
                client_ca_pem=cfg.client_ca_pem, cert_dir=cfg.data_dir / "pki",
                node_name=cfg.node_name, node_ip=cfg.node_ip)
            self.kubelet_port = await self.server.start(KUBELET_ADDRESS, cfg.kubelet_port)
            log.info("kubelet API on port %d", self.kubelet_port)
        await self._register()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._lease_loop(), name="kubelet-lease"))
        self._tasks.append(loop.create_task(self._status_loop(), name="kubelet-node-status"))
        self.pod_cidr = await self._wait_for_pod_cidr()
        self._build_runtime()
        recovered = await self._recover()
        self.informers.start()
        self._tasks.append(loop.create_task(self.queue.run(), name="kubelet-pods"))
        await self.pod_informer.has_synced.wait()
        for key in recovered:        # also those deleted while no agent ran
            self.queue.enqueue_key(key)
        self._tasks.append(loop.create_task(self._volume_refresh_loop(),
                                            name="kubelet-volume-refresh"))
        self._tasks.append(loop.create_task(self._log_rotation_loop(),
                                            name="kubelet-log-rotation"))
        self._tasks.append(loop.create_task(self._image_gc_loop(), name="kubelet-image-gc"))
        self.ready.set()
        log.info("node %s ready: podCIDR %s, bridge %s", cfg.node_name, self.pod_cidr,
                 cfg.bridge)

    def _build_runtime(self) -> None:
        cfg = self.config
        conf = build_conflist(pod_cidr=self.pod_cidr, name=cfg.network_name, bridge=cfg.bridge,
                              ipam_data_dir=str(cfg.data_dir / "cni" / "ipam"))
        self.network = PodNetwork(cfg.cni_bin_dir, conf, cfg.data_dir / "cni")
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=600, sock_connect=10))
        self.runtime = PodRuntime(
            str(cfg.data_dir), self.images, self.runc, self.network, netns=self.netns,
            watcher=ExitWatcher(), cgroup_parent=cfg.cgroup_parent,
            cluster_dns=cfg.cluster_dns, cluster_domain=cfg.cluster_domain,
            host_ip=cfg.node_ip, pull=self._pull, recorder=self._event, env=self._resolve_env,
            conmon=self._conmon())

    def _conmon(self) -> ConmonRunner:
        """conmon with no size limit of its own when the agent rotates the logs (as CRI-O's
        default under the kubelet), else with conmon's own limit."""
        state_dir = str(self.config.data_dir / "conmon")
        if logrotation.rotation_enabled(self.config.container_log_max_size,
                                        self.config.container_log_max_files):
            return ConmonRunner(self.runc, state_dir, log_size_max=0)
        return ConmonRunner(self.runc, state_dir)

    async def _pull(self, ref: str, pod: Obj) -> Image:
        """Pull *ref* for *pod* as the kubelet does: with each credential of the pod's pull
        secrets for the image's registry in turn (the first success wins, else the errors
        together), anonymously when there is none; secrets that cannot be read are warned
        about (FailedToRetrieveImagePullSecret) and the pull goes on."""
        assert self._session is not None
        async with self._gc_lock:
            self._pulls += 1
        try:
            return await self._pull_with_secrets(ref, pod)
        finally:
            self._pulls -= 1

    async def _pull_with_secrets(self, ref: str, pod: Obj) -> Image:
        assert self._session is not None
        keyrings, missing = await pullsecrets.read_pull_secrets(self.client, pod)
        if missing:
            self._event(pod, "Warning", "FailedToRetrieveImagePullSecret",
                        pullsecrets.missing_secrets_message(missing))
        registry = parse_reference(ref).registry
        attempts: list[Credentials | None] = [
            {registry: creds} for creds in pullsecrets.credentials_for(ref, keyrings)] or [None]
        failures: list[Exception] = []
        for credentials in attempts:
            client = RegistryClient(self._session, credentials=credentials,
                                    insecure_registries=self.config.insecure_registries)
            try:
                return await pull_image(self.images, client, ref)
            except Exception as e:  # noqa: BLE001 - the next credentials may do
                failures.append(e)
        if len(failures) == 1:
            raise failures[0]
        raise ImagePullErrors(failures)

    async def stop(self) -> None:
        """End the loops; pods keep running."""
        await self.queue.shutdown()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self.informers.stop()
        await self.probes.close()
        await self.events.close()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._session is not None:
            await self._session.close()

    async def stop_all_pods(self, grace: float = 0) -> list[str]:
        """Stop every pod this process runs; the problems met."""
        problems: list[str] = []
        if self.runtime is None:
            return problems
        for uid in list(self.runtime.pods):
            try:
                await self.runtime.stop_pod(uid, grace)
            except PodStopError as e:
                problems.append(str(e))
        return problems

    # ------------------------------------------------------------------ node

    def _pressure(self) -> set[str]:
        """The node conditions under pressure (``pressure``), from this machine now."""
        data_dir = self.config.data_dir
        signals = node_pressure.observe(str(data_dir), str(data_dir / "images"))
        under, self._pressure_seen = node_pressure.pressured(
            node_pressure.met(signals, self.eviction_thresholds), self._pressure_seen,
            self.clock.monotonic())
        return under

    def _node_status(self, old: Obj | None) -> Obj:
        assert self.facts is not None
        return nodeinfo.node_status(self.config.node_name, self.facts, self.config.node_ip,
                                    self.kubelet_version, old, self.clock.now(),
                                    kubelet_port=self.kubelet_port,
                                    images=nodeinfo.node_images(list(self.images.list())),
                                    pressure=self._pressure())

    async def _register(self) -> None:
        assert self.facts is not None
        cfg = self.config
        body = nodeinfo.new_node(cfg.node_name, self.facts, cfg.node_ip, self.kubelet_version,
                                 self.clock.now(), labels=cfg.node_labels,
                                 kubelet_port=self.kubelet_port,
                                 images=nodeinfo.node_images(list(self.images.list())),
                                 pressure=self._pressure())
        delay = 0.5
        while True:
            try:
                try:
                    created = await self.client.create(NODES, body)
                except errors.AlreadyExists:
                    created = await self.client.get(NODES, cfg.node_name)
                    created = await self.client.update(
                        NODES, {**created, "status": self._node_status(created.get("status"))},
                        subresource="status")
                self.node_uid = created["metadata"]["uid"]
                log.info("registered node %s", cfg.node_name)
                return
            except (errors.StatusError, aiohttp.ClientError, OSError) as e:
                log.warning("registering node %s failed, retrying: %r", cfg.node_name, e)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _wait_for_pod_cidr(self) -> str:
        deadline = self.clock.monotonic() + self.config.pod_cidr_timeout
        while True:
            node = await self.client.get(NODES, self.config.node_name)
            cidr = (node.get("spec") or {}).get("podCIDR")
            if cidr:
                return str(cidr)
            if self.clock.monotonic() > deadline:
                raise TimeoutError(f"node {self.config.node_name} got no spec.podCIDR in "
                                   f"{self.config.pod_cidr_timeout}s (is the node IPAM "
                                   f"controller running with --cluster-cidr?)")
            await self.clock.sleep(0.2)

    async def renew_lease(self) -> None:
        name, ns = self.config.node_name, simnodes.NODE_LEASE_NAMESPACE
        now, duration = self.clock.now(), self.config.lease_duration
        if self._lease is None:
            try:
                self._lease = await self.client.get(LEASES, name, ns)
            except errors.NotFound:
                self._lease = await self.client.create(
                    LEASES, simnodes.new_lease(name, self.node_uid, now, duration))
                return
        try:
            self._lease = await self.client.update(
                LEASES, simnodes.renewed_lease(self._lease, name, now, duration))
        except (errors.Conflict, errors.NotFound):
            self._lease = None
            raise

    async def _lease_loop(self) -> None:
        interval = self.config.lease_duration / 4
        while True:
            try:
                await self.renew_lease()
                await self.clock.sleep(interval)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - keep renewing
                log.warning("renewing the lease failed: %r", e)
                await self.clock.sleep(0.5)

    async def post_node_status(self) -> None:
        current = await self.client.get(NODES, self.config.node_name)
        await self.client.update(NODES, {**current, "status": self._node_status(
            current.get("status"))}, subresource="status")

    async def _status_loop(self) -> None:
        while True:
            try:
                await self.clock.sleep(self.config.status_frequency)
                await self.post_node_status()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - keep posting
                log.warning("posting node status failed: %r", e)

    # ------------------------------------------------------------------ pods

    def _now(self) -> str:
        return rfc3339(self.clock.now().timestamp())

    async def sync_pod(self, key: str) -> float | None:
        assert self.runtime is not None
        pod = self.pod_informer.store.get(key)
        known = self.uids.get(key)
        if known and (pod is None or pod["metadata"].get("uid") != known):
            await self._terminate(known, None, 0)   # gone (force-deleted) or replaced
            self.uids.pop(key, None)
        if pod is None:
            return None
        meta = pod["metadata"]
        uid = meta["uid"]
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            await self._terminate(uid, pod, termination_grace(pod) if grace is None
                                  else float(grace))
            try:
                await self.client.delete(PODS, meta["name"], meta["namespace"],
                                         grace_period_seconds=0, preconditions={"uid": uid})
            except (errors.NotFound, errors.Conflict):
                pass
            self.uids.pop(key, None)
            return None
        state = self.states.get(uid)
        if state is None:
            if (pod.get("status") or {}).get("phase") in podstatus.TERMINAL:
                return None  # finished before this agent knew it: nothing runs any more
            pod, state = await self._start(key, pod)
        requeue: float | None = None
        if uid in self.runtime.pods and not state.stopping \
                and state.phase not in podstatus.TERMINAL \
                and state.sandbox_exit is not None and state.sandbox_exit.done():
            state = await self._recreate_sandbox(state)
        if uid in self.runtime.pods and not state.stopping \
                and state.phase not in podstatus.TERMINAL:
            left = active_deadline(state.pod, state.started_at, self.clock.now().timestamp())
            if left == 0:
                await self._fail(state, DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
            else:
                requeue = await self._apply_actions(state)
                if left is not None:
                    requeue = _sooner(requeue, left)
        self._watch_exits(key, state)
        self._probe_results(state)
        self._probe_events()
        runtime_status = state.status()
        running = uid in self.runtime.pods
        if runtime_status["phase"] in podstatus.TERMINAL and running:
            await self._release(uid)
            running = False
        await self._post(pod, runtime_status, sandbox_ready=running)
        return requeue

    async def _start(self, key: str, pod: Obj) -> tuple[Obj, PodState]:
        """Create the sandbox (network, pod files, infra container) of a new pod."""
        assert self.runtime is not None
        uid = pod["metadata"]["uid"]
        self.uids[key] = uid
        now = self._now()
        if uid not in self.start_failures:
            pod = await self._post(pod, podstatus.waiting_status(
                pod, self.config.node_ip, now, "ContainerCreating", ""), sandbox_ready=False)
        try:
            volumes = await self.volumes.setup(pod, self.runtime.pod_dir(uid))
        except VolumeError as e:
            self._event(pod, "Warning", e.reason, e.message)
            raise
        try:
            state = await self.runtime.start_sandbox(pod, volumes=volumes)
        except PodStartError as e:
            self.start_failures[uid] = str(e)
            latest = self.pod_informer.store.get(key) or pod
            self._event(latest, "Warning", "FailedCreatePodSandBox",
                        f"Failed to create pod sandbox: {e}")
            await self._post(latest, podstatus.waiting_status(
                latest, self.config.node_ip, now, "ContainerCreating",
                f"failed to create the pod sandbox: {e}"), sandbox_ready=False)
            raise
        self.start_failures.pop(uid, None)
        self.states[uid] = state
        return pod, state

    async def _apply_actions(self, state: PodState) -> float | None:
        """One round of ``compute_pod_actions`` applied; when to sync again."""
        assert self.runtime is not None
        pod, uid = state.pod, state.uid
        now = self.clock.now().timestamp()
        actions = compute_pod_actions(pod, state.init_containers, state.containers,
                                      backoff=self.backoff, image_backoff=self.image_backoff,
                                      now=now, unhealthy=self._unhealthy(state))
        requeue = actions.requeue_after
        for records in (state.init_containers, state.containers):
            for name, record in records.items():
                message = actions.crash_backoff.get(name, "")
                if message and not record.backoff_message:
                    self._event(pod, "Warning", "BackOff", f"Back-off restarting failed "
                                f"container {name} in pod {format_pod(pod)}")
                record.backoff_message = message
                if name in actions.image_backoff and record.reason != "ImagePullBackOff":
                    record.reason, record.message = "ImagePullBackOff", \
                        actions.image_backoff[name]
                    self._event(pod, "Normal", "BackOff", actions.image_backoff[name])
                    self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff")
        for kill in actions.kill:
            await self.runtime.kill_container(state, kill.name, probe_kill_grace(pod, kill.name),
                                              message=kill.message)
            requeue = 0.0
        for start in actions.start:
            if state.stopping:
                break
            if start.backoff_key is not None:
                self.backoff.next(start.backoff_key, start.event_time, now)
            await self.runtime.start_container(state, start.name, init=start.init)
            if not start.init:
                await self._after_start(state, start.name)
            record = (state.init_containers if start.init else state.containers)[start.name]
            if record.reason == "ErrImagePull":
                ikey = image_key(uid, record.image)
                self.image_backoff.next(ikey, now, now)
                requeue = _sooner(requeue, self.image_backoff.remaining_since_update(ikey, now))
            elif record.phase is ContainerPhase.WAITING:
                requeue = _sooner(requeue, CREATE_RETRY)
        return requeue

    async def _resolve_env(self, pod: Obj, container: Obj, pod_ip: str) -> list[tuple[str, str]]:
        ns = pod["metadata"].get("namespace", "default")
        services = [s for s in self.service_informer.store.list()
                    if s["metadata"].get("namespace") == ns
                    or (s["metadata"].get("namespace") == "default"
                        and s["metadata"]["name"] == "kubernetes")]
        warnings: list[str] = []
        try:
            return await resolve_env(self.client, pod, container, services=services,
                                     node_ip=self.config.node_ip, pod_ip=pod_ip,
                                     allocatable=self.volumes.allocatable, warnings=warnings)
        finally:
            for message in warnings:       # envFrom keys that are no variable names
                self._event(pod, "Warning", "InvalidEnvironmentVariableNames", message)

    async def _volume_refresh_loop(self) -> None:
        """Re-project configMap/secret/downwardAPI/projected volumes of the running pods,
        so that updates reach them (the kubelet's periodic remount); record the probe
        events no sync drained."""
        while True:
            await self.clock.sleep(VOLUME_REFRESH)
            self._probe_events()     # repeated failures that changed no result
            now = self.clock.now().timestamp()
            self.backoff.gc(now)
            self.image_backoff.gc(now)
            for uid, state in list(self.states.items()):
                if self.runtime is None or uid not in self.runtime.pods or state.stopping:
                    continue
                try:
                    await self.volumes.refresh(state.pod, state.pod_dir)
                except VolumeError as e:
                    self._event(state.pod, "Warning", e.reason, e.message)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - keep refreshing the others
                    log.warning("pod %s: refreshing volumes failed: %r", uid, e)

    async def _log_rotation_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.container_log_monitor_interval)
            try:
                await self.rotate_logs()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - try again next round
                log.warning("rotating container logs failed: %r", e)

    async def rotate_logs(self) -> list[str]:
        """Rotate the logs of the running containers past ``container_log_max_size``
        (``logrotation``); the ids of the containers whose log was rotated."""
        runtime, cfg = self.runtime, self.config
        if runtime is None or runtime.conmon is None:
            return []
        live: list[logrotation.LiveLog] = []
        for state in list(runtime.pods.values()):
            if state.stopping:
                continue
            for records in (state.init_containers, state.containers):
                for name, record in list(records.items()):
                    if record.phase is not ContainerPhase.RUNNING or not record.container_id:
                        continue
                    path = runtime.log_path(state.pod, name, record.restart_count)
                    try:
                        size = os.path.getsize(path)
                    except OSError:
                        continue
                    live.append(logrotation.LiveLog(record.container_id, path, size))
        rotated: list[str] = []
        for container_id in logrotation.logs_to_rotate(
                live, max_size=cfg.container_log_max_size,
                max_files=cfg.container_log_max_files):
            try:
                if await runtime.conmon.rotate_log(container_id,
                                                   max_size=cfg.container_log_max_size,
                                                   max_files=cfg.container_log_max_files):
                    rotated.append(container_id)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the container may just have exited
                log.info("container %s: log rotation failed: %r", container_id, e)
        return rotated

    async def _image_gc_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.image_gc_period)
            try:
                await self.garbage_collect_images()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - try again next period
                log.warning("image garbage collection failed: %r", e)

    def _images_in_use(self) -> set[str]:
        """References of the images the containers of the pods known here use (every pod
        bound to this node that has not finished, and every pod the runtime holds)."""
        pods = [p for p in self.pod_informer.store.list()
                if (p.get("status") or {}).get("phase") not in podstatus.TERMINAL]
        pods += [state.pod for state in self.states.values()]
        refs: set[str] = set()
        for pod in pods:
            spec = pod.get("spec") or {}
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                if c.get("image"):
                    refs.add(c["image"])
        for state in self.states.values():
            for record in [*state.init_containers.values(), *state.containers.values()]:
                if record.image_id:
                    refs.add(record.image_id)
        return refs

    async def garbage_collect_images(self) -> list[str]:
        """One round of image GC (``imagegc``) on the filesystem of the image store: when
        its usage passed the high threshold, unused images are removed least recently used
        first and their blobs and layers freed; a FreeDiskSpaceFailed warning on the Node
        when that was not enough. The ids removed. Skipped while a pull runs."""
        cfg = self.config
        refs = self._images_in_use()
        now = self.clock.now().timestamp()
        async with self._gc_lock:
            if self._pulls:
                return []
            amount, removed, freed = await asyncio.to_thread(
                image_gc_round, self.images, self.image_usage, refs, now,
                high=cfg.image_gc_high_threshold, low=cfg.image_gc_low_threshold,
                min_age=cfg.image_minimum_gc_age)
        if removed:
            log.info("image GC: removed %s (%d bytes) to free %d bytes", ", ".join(removed),
                     freed, amount)
        if freed < amount:
            self.events.event({"kind": "Node", "apiVersion": "v1",
                               "metadata": {"name": cfg.node_name, "uid": cfg.node_name}},
                              "Warning", "FreeDiskSpaceFailed",
                              imagegc.shortfall_message(amount, freed))
        return removed

    async def _recreate_sandbox(self, state: PodState) -> PodState:
        """The sandbox died: kill the containers, and (unless restartPolicy Never keeps a pod
        whose containers ran from restarting) start a new sandbox; init containers run again,
        app containers restart through the usual actions."""
        assert self.runtime is not None
        pod, uid = state.pod, state.uid
        self._event(pod, "Normal", "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.")
        self.probes.remove_pod(uid)
        try:
            await self.runtime.stop_pod(uid, termination_grace(pod))
        except PodStopError as e:
            log.warning("%s", e)
        self._watched.difference_update(state.instances)
        if state.sandbox is not None:
            self._watched.discard(state.sandbox.id)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        if policy == "Never" and (state.containers or state.init_containers):
            return state                       # its containers' exits decide the phase
        fresh = await self.runtime.start_sandbox(pod, volumes=state.volumes)
        for name, old in state.init_containers.items():
            fresh.init_containers[name] = ContainerRecord(
                name=name, image=old.image, reason="PodInitializing",
                restart_count=old.restart_count + 1, last=old)
        fresh.containers.update(state.containers)
        fresh.started_at = state.started_at
        self.states[uid] = fresh
        self.runtime.checkpoint(fresh)
        return fresh

    async def _fail(self, state: PodState, reason: str, message: str) -> None:
        """Fail the pod (activeDeadlineSeconds): its containers are stopped with the grace
        period and nothing restarts any more."""
        assert self.runtime is not None
        state.failure = (reason, message)
        self._event(state.pod, "Warning", reason, message)
        grace = termination_grace(state.pod)
        await asyncio.gather(*(self.runtime.kill_container(state, name, grace)
                               for name, r in state.containers.items()
                               if r.phase is ContainerPhase.RUNNING),
                             *(self.runtime.kill_container(state, name, grace, init=True)
                               for name, r in state.init_containers.items()
                               if r.phase is ContainerPhase.RUNNING))
        self.runtime.checkpoint(state)

    def _unhealthy(self, state: PodState) -> dict[str, str]:
        """Running containers whose liveness (or startup) probe failed: name -> the Killing
        message ("Container c failed liveness probe, will be restarted")."""
        out: dict[str, str] = {}
        for name, record in state.containers.items():
            if record.phase is not ContainerPhase.RUNNING:
                continue
            failed = self.probes.liveness_failed(state.uid, name)
            if failed:
                out[name] = unhealthy_kill_message(state.pod, failed)
        return out

    def _state_of(self, namespace: str, name: str) -> PodState | None:
        uid = self.uids.get(f"{namespace}/{name}")
        return self.states.get(uid) if uid else None

    def _exec_sync(self, container_id: str) -> ExecSync:
        async def run(argv: list[str], timeout: float | None) -> tuple[int, bytes, bytes]:
            assert self.runtime is not None
            return await self.runtime.exec_sync(container_id, argv, timeout=timeout)
        return run

    async def _recover(self) -> list[str]:
        """Take over the pods a previous agent left running; their keys."""
        assert self.runtime is not None
        keys: list[str] = []
        for state in await self.runtime.recover():
            meta = state.pod["metadata"]
            key = f"{meta.get('namespace', 'default')}/{meta['name']}"
            self.uids[key], self.states[state.uid] = state.uid, state
            keys.append(key)
            for name, record in state.containers.items():
                if record.phase is ContainerPhase.RUNNING:
                    self._add_probes(state, name)
            log.info("recovered pod %s (%d containers running)", key, sum(
                1 for r in state.containers.values() if r.phase is ContainerPhase.RUNNING))
        return keys

    def _add_probes(self, state: PodState, name: str) -> None:
        record = state.containers[name]
        spec = next(c for c in (state.pod.get("spec") or {}).get("containers") or []
                    if c["name"] == name)
        self.probes.add_container(state.pod, spec, container_id=record.container_id,
                                  started_at=record.started_at or self.clock.now().timestamp(),
                                  pod_ip=state.pod_ips[0] if state.pod_ips else "",
                                  exec_sync=self._exec_sync(record.container_id))

    async def _after_start(self, state: PodState, name: str) -> None:
        """A container just started: its postStart hook (a failure kills it), then its
        probes."""
        assert self.runtime is not None
        record = state.containers.get(name)
        if record is None or record.phase is not ContainerPhase.RUNNING:
            return
        spec = next(c for c in (state.pod.get("spec") or {}).get("containers") or []
                    if c["name"] == name)
        pod_ip = state.pod_ips[0] if state.pod_ips else ""
        exec_sync = self._exec_sync(record.container_id)
        if (spec.get("lifecycle") or {}).get("postStart"):
            result, message = await run_post_start(state.pod, spec, pod_ip=pod_ip,
                                                   exec_sync=exec_sync, clock=self.clock)
            if result is not ProbeResult.SUCCESS:
                log.info("pod %s: postStart of %s failed: %s", state.uid, name, message)
                self._event(state.pod, "Warning", "FailedPostStartHook", "PostStartHook failed")
                await self.runtime.kill_container(state, name, termination_grace(state.pod),
                                                  message="FailedPostStartHook")
                return
        self._add_probes(state, name)

    async def _pre_stop(self, state: PodState, grace: float) -> None:
        """Run the preStop hooks of the running containers (together, within *grace*)."""
        pod_ip = state.pod_ips[0] if state.pod_ips else ""

        async def one(spec: Obj, record: ContainerRecord) -> None:
            if not (spec.get("lifecycle") or {}).get("preStop"):
                return
            result, message = await run_pre_stop(
                state.pod, spec, pod_ip=pod_ip, exec_sync=self._exec_sync(record.container_id),
                timeout=grace, clock=self.clock)
            if result is not ProbeResult.SUCCESS:
                self._event(state.pod, "Warning", "FailedPreStopHook", message)

        hooks = []
        for spec in (state.pod.get("spec") or {}).get("containers") or []:
            record = state.containers.get(spec["name"])
            if record is not None and record.phase is ContainerPhase.RUNNING:
                self._event(state.pod, "Normal", "Killing", f"Stopping container {spec['name']}")
                hooks.append(one(spec, record))
        if hooks:
            await asyncio.gather(*hooks, return_exceptions=True)

    def _probe_changed(self, pod_uid: str, container_name: str) -> None:
        for key, uid in list(self.uids.items()):
            if uid == pod_uid:
                self.queue.enqueue_key(key)

    def _probe_events(self) -> None:
        for uid, type_, reason, message in self.probes.events():
            state = self.states.get(uid)
            if state is not None:
                self._event(state.pod, type_, reason, message)

    def _probe_results(self, state: PodState) -> None:
        """Readiness and startup results onto the running containers' records."""
        for name, record in state.containers.items():
            if record.phase is ContainerPhase.RUNNING:
                record.probe_ready = self.probes.ready(state.uid, name)
                record.probe_started = self.probes.started(state.uid, name)
            elif record.phase is ContainerPhase.EXITED:
                self.probes.remove_container(state.uid, name)

    def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        self.events.event({"kind": "Pod", "apiVersion": "v1", "metadata": pod["metadata"]},
                          type_, reason, message)

    def _watch_exits(self, key: str, state: PodState) -> None:
        sandbox, exited = state.sandbox, state.sandbox_exit
        if sandbox is not None and exited is not None and sandbox.id not in self._watched:
            self._watched.add(sandbox.id)
            exited.add_done_callback(self._enqueue_on_done(key))
        for cid, inst in state.instances.items():
            if cid not in self._watched:
                self._watched.add(cid)
                inst.exited.add_done_callback(self._enqueue_on_done(key))

    def _enqueue_on_done(self, key: str) -> Callable[["asyncio.Future[Any]"], None]:
        """A done-callback that syncs the pod *key* again (a container or sandbox exited)."""
        def done(_future: "asyncio.Future[Any]") -> None:
            self.queue.enqueue_key(key)
        return done

    async def _release(self, uid: str) -> None:
        assert self.runtime is not None
        try:
            await self.runtime.stop_pod(uid, 0)
        except PodStopError as e:
            log.warning("%s", e)

    async def _terminate(self, uid: str, pod: Obj | None, grace: float) -> None:
        """Stop the pod: preStop hooks within *grace*, SIGTERM, SIGKILL when the rest of the
        grace period is over (at once for 0); then its volumes and directory go."""
        assert self.runtime is not None
        self.probes.remove_pod(uid)
        live = self.runtime.pods.get(uid)
        if live is not None and grace > 0:
            started = self.clock.monotonic()
            await self._pre_stop(live, grace)
            grace = max(0.0, grace - (self.clock.monotonic() - started))
        if uid in self.runtime.pods:
            try:
                await self.runtime.stop_pod(uid, grace)
            except PodStopError as e:
                log.warning("%s", e)
        state = self.states.pop(uid, None)
        self.start_failures.pop(uid, None)
        self.backoff.forget_prefix(pod_key_prefix(uid))
        self.image_backoff.forget_prefix(pod_key_prefix(uid))
        target = pod or (state.pod if state else None)
        if target is not None:
            try:
                await self.volumes.teardown(target, self.runtime.pod_dir(uid))
            except VolumeError as e:
                log.warning("pod %s: %s", uid, e.message)
            self.runtime.remove_pod(target)
        if state is not None:
            self._watched.difference_update(state.instances)
            if state.sandbox is not None:
                self._watched.discard(state.sandbox.id)

    async def _post(self, pod: Obj, runtime_status: Obj, *, sandbox_ready: bool) -> Obj:
        """Write the pod's status if it changed; the pod as the server now has it."""
        status = podstatus.pod_status(pod, runtime_status, self._now(),
                                      sandbox_ready=sandbox_ready)
        if status == pod.get("status"):
            return pod
        body = copy.copy(pod)
        body["status"] = status
        try:
            return await self.client.update(PODS, body, subresource="status")
        except errors.NotFound:
            pass
        except errors.Conflict:
            # the informer brings the newer pod, which enqueues it again
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            self.queue.enqueue_after(key, 0.1)
        return pod


def _image_disk_size(store: ImageStore, image: Image) -> int:
    """Blobs plus unpacked layers of *image* (layers shared with others counted too)."""
    size = int(image.get("size") or 0)
    for chain_id in image["layers"]:
        try:
            meta = json.loads((store.layer_dir(chain_id).parent / "layer.json").read_text())
            size += int(meta.get("size") or 0)
        except (OSError, ValueError):
            pass
    return size


def image_gc_round(store: ImageStore, usage: imagegc.ImageUsage, refs: set[str], now: float,
                    *, high: int, low: int, min_age: float) -> tuple[int, list[str], int]:
    """The I/O of one image GC round (blocking): (bytes to free, ids removed, bytes freed)."""
    fs = os.statvfs(store.root)
    amount = imagegc.amount_to_free(fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize,
                                    high=high, low=low)
    in_use = {image["id"] for ref in refs if (image := store.get(ref)) is not None}
    present = {image["id"]: (_image_disk_size(store, image), float(image.get("created") or now))
               for image in store.list()}
    infos = usage.detect(present, in_use, now)
    chosen, freed = imagegc.images_to_remove(infos, in_use, amount=amount, now=now,
                                             min_age=min_age)
    removed: list[str] = []
    for image_id in chosen:
        try:
            store.remove(image_id)
            removed.append(image_id)
        except ImageNotFound:
            pass
    if removed:
        store.garbage_collect(None)
    return amount, removed, freed


class ImagePullErrors(Exception):
    """Every credential failed: the errors, worded as Go's aggregate error ("[a, b]")."""

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__("[" + ", ".join(str(e) for e in failures) + "]")
        self.failures = failures


def _sooner(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


async def _runc_version(runc: Runc) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            runc.binary, "--version", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        return out.decode(errors="replace")
    except OSError:
        return ""


def node_name_default() -> str:
    """The kubelet's default node name: the hostname, lower-cased."""
    return os.uname().nodename.lower()


__all__ = ["Agent", "AgentConfig", "node_name_default"]
