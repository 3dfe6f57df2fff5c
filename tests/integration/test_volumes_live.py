"""The kubelet's volume manager and resolve_env against a real ``kubepy server``:
configMap/secret/projected volumes written from real objects and refreshed after an update,
service-account tokens from the TokenRequest API bound to the pod, claims bound to real
PersistentVolumes, FailedMount messages for missing sources, and container environments
from real ConfigMaps, Secrets and Services."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from kubepy.api.registry import Registry
from kubepy.client.clock import FakeClock
from kubepy.client.rest import ApiClient
from kubepy.kubelet.runtime.env import ContainerConfigError
from kubepy.kubelet.volumes import VolumeError, VolumeManager, resolve_env
from kubepy.kubelet.volumes.tmpfs import mount_points
from tests.conftest import ServerProcess

REG = Registry()
CM = REG.get("", "v1", "configmaps")
SECRETS = REG.get("", "v1", "secrets")
NS = REG.get("", "v1", "namespaces")
SA = REG.get("", "v1", "serviceaccounts")
SVC = REG.get("", "v1", "services")
PV = REG.get("", "v1", "persistentvolumes")
PVC = REG.get("", "v1", "persistentvolumeclaims")
Obj = dict[str, Any]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="secret volumes are tmpfs: root")


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def jwt_claims(token: str) -> Obj:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def pod_obj(ns: str, *volumes: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": ns, "uid": str(uuid.uuid4()),
                         "labels": {"app": "web"}},
            "spec": {"serviceAccountName": "default", "containers": [{"name": "c"}],
                     "volumes": list(volumes), **spec}}


Scenario = Callable[[ApiClient, str, Path], Awaitable[None]]


def live(server: ServerProcess, tmp_path: Path, scenario: Scenario) -> None:
    """Run *scenario* with a client and a namespace of its own; nothing stays mounted."""
    async def go() -> None:
        async with ApiClient.from_kubeconfig(server.kubeconfig) as client:
            ns = f"vol-{uuid.uuid4().hex[:8]}"
            await client.create(NS, {"metadata": {"name": ns}})
            await client.create(SA, {"metadata": {"name": "default"}}, ns)
            await scenario(client, ns, tmp_path / "pod")
    try:
        asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        leftovers = [m for m in mount_points() if m.startswith(str(tmp_path.resolve()) + "/")]
        for m in leftovers:
            os.system(f"umount -l '{m}'")
        assert leftovers == []


def test_configmap_and_secret_written_and_refreshed(kubepy_server: ServerProcess,
                                                    tmp_path: Path) -> None:
    async def scenario(client: ApiClient, ns: str, pod_dir: Path) -> None:
        await client.create(CM, {"metadata": {"name": "cfg"},
                                 "data": {"app.conf": "v=1\n", "other": "o"},
                                 "binaryData": {"blob": base64.b64encode(b"\x00\x01").decode()}}, ns)
        await client.create(SECRETS, {"metadata": {"name": "creds"},
                                      "data": {"user": b64("admin")},
                                      "stringData": {"pass": "hunter2"}}, ns)
        pod = pod_obj(ns, {"name": "cfg", "configMap": {"name": "cfg", "items": [
                              {"key": "app.conf", "path": "conf/app.conf"},
                              {"key": "blob", "path": "blob", "mode": 0o600}]}},
                      {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                      {"name": "opt", "configMap": {"name": "absent", "optional": True}})
        vm = VolumeManager(client, node_name="n1", clock=FakeClock())
        try:
            paths = await vm.setup(pod, str(pod_dir))
            cfg, creds, opt = Path(paths["cfg"]), Path(paths["creds"]), Path(paths["opt"])
            assert cfg == pod_dir / "volumes/kubernetes.io~configmap/cfg"
            assert (cfg / "conf/app.conf").read_text() == "v=1\n"
            assert (cfg / "blob").read_bytes() == b"\x00\x01"
            assert sorted(p for p in os.listdir(cfg) if not p.startswith("..")) == ["blob", "conf"]
            assert (creds / "user").read_text() == "admin"
            assert (creds / "pass").read_text() == "hunter2"
            assert oct((creds / "pass").stat().st_mode & 0o777) == oct(0o400)
            assert str(creds) in mount_points()                        # secrets live in tmpfs
            assert [p for p in os.listdir(opt) if not p.startswith("..")] == []

            current = await client.get(CM, "cfg", ns)
            current["data"]["app.conf"] = "v=2\n"
            await client.update(CM, current)
            secret = await client.get(SECRETS, "creds", ns)
            secret["data"] = {"user": b64("root")}
            await client.update(SECRETS, secret)
            await vm.refresh(pod, str(pod_dir))
            assert (cfg / "conf/app.conf").read_text() == "v=2\n"
            assert (creds / "user").read_text() == "root"
            assert not (creds / "pass").exists()                  # a removed key disappears
        finally:
            await vm.teardown(pod, str(pod_dir))
        assert not (pod_dir / "volumes").exists()
    live(kubepy_server, tmp_path, scenario)


def test_missing_sources_fail_the_mount(kubepy_server: ServerProcess, tmp_path: Path) -> None:
    async def scenario(client: ApiClient, ns: str, pod_dir: Path) -> None:
        await client.create(CM, {"metadata": {"name": "cfg"}, "data": {"a": "1"}}, ns)
        vm = VolumeManager(client, node_name="n1", clock=FakeClock())
        cases = [
            ({"name": "cfg", "configMap": {"name": "missing"}},
             'MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found'),
            ({"name": "s", "secret": {"secretName": "nope"}},
             'MountVolume.SetUp failed for volume "s" : secret "nope" not found'),
            ({"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "b", "path": "b"}]}},
             'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent '
             'config key: b'),
            ({"name": "all", "projected": {"sources": [{"configMap": {"name": "gone"}},
                                                       {"secret": {"name": "gone2"}}]}},
             'MountVolume.SetUp failed for volume "all" : [configmap "gone" not found, '
             'secret "gone2" not found]'),
        ]
        for volume, message in cases:
            pod = pod_obj(ns, volume)
            try:
                with pytest.raises(VolumeError) as e:
                    await vm.setup(pod, str(pod_dir))
                assert (e.value.reason, e.value.message) == ("FailedMount", message)
            finally:
                await vm.teardown(pod, str(pod_dir))
    live(kubepy_server, tmp_path, scenario)


def test_projected_token_root_ca_and_downward_api(kubepy_server: ServerProcess,
                                                  tmp_path: Path) -> None:
    async def scenario(client: ApiClient, ns: str, pod_dir: Path) -> None:
        ca = (kubepy_server.data_dir / "tls" / "ca.crt").read_text()
        # published by the root-CA controller in a full server; this one runs the API only
        await client.create(CM, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca}}, ns)
        pod = pod_obj(ns, {"name": "kube-api-access", "projected": {"defaultMode": 0o644, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"serviceAccountToken": {"path": "vault-token", "audience": "vault",
                                     "expirationSeconds": 7200}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}})
        clock = FakeClock(start=datetime.now(timezone.utc))   # token expiry is wall time
        vm = VolumeManager(client, node_name="n1", clock=clock)
        try:
            path = Path((await vm.setup(pod, str(pod_dir)))["kube-api-access"])
            assert path == pod_dir / "volumes/kubernetes.io~projected/kube-api-access"
            assert (path / "ca.crt").read_text() == ca
            assert (path / "namespace").read_text() == ns
            token = (path / "token").read_text()
            claims = jwt_claims(token)
            assert claims["sub"] == f"system:serviceaccount:{ns}:default"
            assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": pod["metadata"]["uid"]}
            assert claims["exp"] - claims["iat"] == 3607
            vault = jwt_claims((path / "vault-token").read_text())
            assert vault["aud"] == ["vault"] and vault["exp"] - vault["iat"] == 7200

            await vm.refresh(pod, str(pod_dir))                  # fresh: the cached token
            assert (path / "token").read_text() == token
            time.sleep(1.1)                                      # a new iat gives new bytes
            clock.advance(timedelta(seconds=3607 * 0.81).total_seconds())
            await vm.refresh(pod, str(pod_dir))                  # past 80%: renewed
            renewed = (path / "token").read_text()
            assert renewed != token and jwt_claims(renewed)["iat"] > claims["iat"]
        finally:
            await vm.teardown(pod, str(pod_dir))
    live(kubepy_server, tmp_path, scenario)


def test_persistent_volume_claims(kubepy_server: ServerProcess, tmp_path: Path) -> None:
    async def scenario(client: ApiClient, ns: str, pod_dir: Path) -> None:
        host_dir = tmp_path / "pv-data"
        pv_name = f"pv-{uuid.uuid4().hex[:8]}"
        claim = await client.create(PVC, {"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "volumeName": pv_name,
            "resources": {"requests": {"storage": "1Gi"}}}}, ns)
        await client.create(PV, {"metadata": {"name": pv_name}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"},
            "claimRef": {"namespace": ns, "name": "data", "uid": claim["metadata"]["uid"]}}})
        await client.create(PVC, {"metadata": {"name": "pending"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}, ns)
        vm = VolumeManager(client, node_name="n1", clock=FakeClock())

        def failure(volume: str, claim_name: str, cause: str) -> str:
            return (f"Unable to attach or mount volumes: unmounted volumes=[{volume}], "
                    f"unattached volumes=[], failed to process volumes=[{volume}]: "
                    f"error processing PVC {ns}/{claim_name}: {cause}")
        pod = pod_obj(ns, {"name": "d", "persistentVolumeClaim": {"claimName": "data"}})
        with pytest.raises(VolumeError) as e:          # created, not yet Bound
            await vm.setup(pod, str(pod_dir))
        assert e.value.message == failure("d", "data", "PVC is not bound")

        bound = await client.get(PVC, "data", ns)
        bound["status"] = {"phase": "Bound"}
        await client.update_status(PVC, bound)
        assert await vm.setup(pod, str(pod_dir)) == {"d": str(host_dir)}
        assert host_dir.is_dir()

        for claim_name, cause in [("pending", "PVC is not bound"),
                                  ("ghost", 'failed to fetch PVC from API server: '
                                            'persistentvolumeclaims "ghost" not found')]:
            p = pod_obj(ns, {"name": "x", "persistentVolumeClaim": {"claimName": claim_name}})
            with pytest.raises(VolumeError) as e:
                await vm.setup(p, str(pod_dir))
            assert e.value.message == failure("x", claim_name, cause)

        # a generic ephemeral volume uses the claim <pod>-<volume>, which the pod must own
        eph = pod_obj(ns, {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}})
        eph_claim = await client.create(PVC, {"metadata": {"name": "web-scratch"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "volumeName": pv_name + "-e",
            "resources": {"requests": {"storage": "1Gi"}}}}, ns)
        await client.create(PV, {"metadata": {"name": pv_name + "-e"}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "local": {"path": str(tmp_path)},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}},
            "claimRef": {"namespace": ns, "name": "web-scratch",
                         "uid": eph_claim["metadata"]["uid"]}}})
        eph_claim["status"] = {"phase": "Bound"}
        eph_claim = await client.update_status(PVC, eph_claim)
        with pytest.raises(VolumeError) as e:
            await vm.setup(eph, str(pod_dir))
        assert e.value.message == failure("scratch", "web-scratch", (
            f"PVC {ns}/web-scratch was not created for pod {ns}/web (pod is not owner)"))
        eph_claim["metadata"]["ownerReferences"] = [{
            "apiVersion": "v1", "kind": "Pod", "name": "web", "uid": eph["metadata"]["uid"],
            "controller": True}]
        await client.update(PVC, eph_claim)
        assert await vm.setup(eph, str(pod_dir)) == {"scratch": str(tmp_path)}
        await client.delete(PV, pv_name)
        await client.delete(PV, pv_name + "-e")
    live(kubepy_server, tmp_path, scenario)


def test_env_from_configmaps_secrets_and_services(kubepy_server: ServerProcess,
                                                  tmp_path: Path) -> None:
    async def scenario(client: ApiClient, ns: str, _pod_dir: Path) -> None:
        await client.create(CM, {"metadata": {"name": "settings"},
                                 "data": {"MODE": "prod", "LEVEL": "3", "2nd": "x",
                                          "1st": "y"}}, ns)
        await client.create(SECRETS, {"metadata": {"name": "db"},
                                      "stringData": {"password": "pw", "user": "app"}}, ns)
        svc = await client.create(SVC, {"metadata": {"name": "redis-main"}, "spec": {
            "ports": [{"name": "redis", "port": 6379}], "selector": {"app": "redis"}}}, ns)
        await client.create(SVC, {"metadata": {"name": "headless"}, "spec": {
            "clusterIP": "None", "ports": [{"port": 80}], "selector": {"app": "x"}}}, ns)
        kubernetes = await client.get(SVC, "kubernetes", "default")
        ip = svc["spec"]["clusterIP"]
        pod = pod_obj(ns)
        container = {"name": "c", "envFrom": [
            {"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
            {"configMapRef": {"name": "settings"}},      # 1st, 2nd: not variable names
            {"secretRef": {"name": "db"}},
            {"configMapRef": {"name": "nope", "optional": True}}],
            "env": [
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
                {"name": "MAYBE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "x",
                                                                    "optional": True}}},
                {"name": "URL", "value": "redis://$(REDIS_MAIN_SERVICE_HOST):$(REDIS_MAIN_SERVICE_PORT_REDIS)/$(MODE)"}]}
        warnings: list[str] = []
        env = await resolve_env(client, pod, container, warnings=warnings)
        got = dict(env)
        names = [n for n, _ in env]
        assert len(names) == len(set(names))
        # envFrom, then env in order, then the service variables
        assert set(names[:8]) == {"CFG_MODE", "CFG_LEVEL", "CFG_1st", "CFG_2nd", "MODE",
                                  "LEVEL", "password", "user"}
        assert names[8:10] == ["DB_PASSWORD", "URL"]   # MODE was defined by envFrom already
        assert all("_SERVICE_" in n or "_PORT" in n for n in names[10:])
        assert got["CFG_MODE"] == "prod" and got["CFG_LEVEL"] == "3"
        assert got["password"] == "pw" and got["DB_PASSWORD"] == "pw" and got["MODE"] == "prod"
        assert "MAYBE" not in got and "1st" not in got and got["CFG_1st"] == "y"
        assert got["URL"] == f"redis://{ip}:6379/prod"
        assert got["REDIS_MAIN_PORT_6379_TCP"] == f"tcp://{ip}:6379"
        assert got["KUBERNETES_SERVICE_HOST"] == kubernetes["spec"]["clusterIP"]
        assert not any(k.startswith("HEADLESS_") for k in got)
        assert warnings == [f"Keys [1st, 2nd] from the EnvFrom configMap "
                            f"{ns}/settings were skipped since they are considered invalid "
                            f"environment variable names."]

        no_links = pod_obj(ns, enableServiceLinks=False)
        got = dict(await resolve_env(client, no_links, {"name": "c"}))
        assert "KUBERNETES_SERVICE_HOST" in got and not any(k.startswith("REDIS") for k in got)

        for env_entry, message in [
            ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}},
             'configmap "x" not found'),
            ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "k"}}},
             f"couldn't find key k in ConfigMap {ns}/settings"),
            ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}},
             f"couldn't find key k in Secret {ns}/db"),
            ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
             'secret "s" not found')]:
            with pytest.raises(ContainerConfigError) as e:
                await resolve_env(client, pod, {"name": "c", "env": [env_entry]})
            assert str(e.value) == message
        with pytest.raises(ContainerConfigError, match='^secret "gone" not found$'):
            await resolve_env(client, pod, {"name": "c", "envFrom": [{"secretRef": {"name": "gone"}}]})
    live(kubepy_server, tmp_path, scenario)
