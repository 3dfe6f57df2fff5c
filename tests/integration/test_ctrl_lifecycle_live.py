"""Namespace lifecycle, service-account and garbage-collector controllers on a real
``kubepy server`` (its own controller-manager disabled): the controllers under test run in
the test's event loop; owners and dependents are made by hand with ownerReferences.

Shown: cascading deletion in the background, foreground (the owner waits for a blocking
dependent) and orphan modes; a Deployment deleted by kubectl takes its ReplicaSet and pods;
an ownerReference whose uid does not match the live owner counts as absent; a custom
resource owner is watched once its CRD appears; a deleted namespace is emptied (custom
resources included), reports remaining finalizers in its conditions and disappears; every
namespace gets the ``default`` ServiceAccount and ``kube-root-ca.crt``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from typing import Any, AsyncIterator

import pytest
import yaml

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.rest import ApiClient
from kubepy.controllers import garbagecollector, namespace, serviceaccount
from tests.conftest import ServerProcess
from tests.integration.ctrlharness import (KUBECTL, Cluster, api_only_server, gone, run,
                                           running_controllers, wait_for)

REG = Registry()
NS = REG.get("", "v1", "namespaces")
PODS = REG.get("", "v1", "pods")
CMS = REG.get("", "v1", "configmaps")
SECRETS = REG.get("", "v1", "secrets")
SAS = REG.get("", "v1", "serviceaccounts")
RSS = REG.get("apps", "v1", "replicasets")
DEPLOYS = REG.get("apps", "v1", "deployments")
CRDS = REG.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
HOLD = "test.kubepy.io/hold"

Obj = dict[str, Any]

server = api_only_server("ctrl-lifecycle")


@contextlib.asynccontextmanager
async def running(server: ServerProcess) -> AsyncIterator[Cluster]:
    async with running_controllers(server, (namespace, serviceaccount, garbagecollector),
                                   prefix="lc") as cl:
        yield cl


def ref(owner: Obj, *, block: bool | None = None, controller: bool | None = None,
        uid: str | None = None) -> Obj:
    r = {"apiVersion": owner.get("apiVersion") or "v1", "kind": owner.get("kind") or "ConfigMap",
         "name": owner["metadata"]["name"], "uid": uid or owner["metadata"]["uid"]}
    if controller is not None:
        r["controller"] = controller
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


async def configmap(c: ApiClient, ns: str, name: str, *owners: Obj,
                    finalizers: tuple[str, ...] = ()) -> Obj:
    meta: Obj = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = list(finalizers)
    obj = await c.create(CMS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}, ns)
    return {"apiVersion": "v1", "kind": "ConfigMap", **obj}


# ---------------------------------------------------------------------------- GC

def test_background_deletion_cascades_and_keeps_objects_with_a_living_owner(
        server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            owner = await configmap(c, ns, "owner")
            other = await configmap(c, ns, "other-owner")
            child = await configmap(c, ns, "child", ref(owner))
            await configmap(c, ns, "grandchild", ref(child))
            await configmap(c, ns, "shared", ref(owner), ref(other))
            await asyncio.sleep(0.5)  # the GC has seen them and left them alone
            assert not await gone(c, CMS, "grandchild", ns)
            await c.delete(CMS, "owner", ns)
            await wait_for(lambda: gone(c, CMS, "child", ns))
            await wait_for(lambda: gone(c, CMS, "grandchild", ns))

            async def shared_released() -> bool:
                refs = (await c.get(CMS, "shared", ns))["metadata"].get("ownerReferences")
                return refs == [ref(other)]
            await wait_for(shared_released)
            assert not await gone(c, CMS, "other-owner", ns)
    run(go())


def test_reference_with_a_stale_uid_is_an_absent_owner(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            owner = await configmap(c, ns, "owner")
            await configmap(c, ns, "stale", ref(owner, uid=str(uuid.uuid4())))
            await configmap(c, ns, "fresh", ref(owner))
            await wait_for(lambda: gone(c, CMS, "stale", ns))
            await asyncio.sleep(0.3)
            assert not await gone(c, CMS, "fresh", ns)
            assert not await gone(c, CMS, "owner", ns)
    run(go())


def test_foreground_deletion_waits_for_blocking_dependents(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            owner = await configmap(c, ns, "owner")
            await configmap(c, ns, "blocker", ref(owner, block=True), finalizers=(HOLD,))
            await configmap(c, ns, "free", ref(owner, block=False))
            await c.delete(CMS, "owner", ns, propagation_policy="Foreground")
            await wait_for(lambda: gone(c, CMS, "free", ns))

            async def blocker_terminating() -> bool:
                return bool((await c.get(CMS, "blocker", ns))["metadata"].get(
                    "deletionTimestamp"))
            await wait_for(blocker_terminating)
            await asyncio.sleep(0.5)
            held = await c.get(CMS, "owner", ns)  # still there: the blocker is not gone
            assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
            assert held["metadata"].get("deletionTimestamp")
            await c.patch(CMS, "blocker", {"metadata": {"finalizers": None}}, namespace=ns)
            await wait_for(lambda: gone(c, CMS, "blocker", ns))
            await wait_for(lambda: gone(c, CMS, "owner", ns))
    run(go())


def test_orphan_deletion_releases_dependents(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            owner = await configmap(c, ns, "owner")
            other = await configmap(c, ns, "other")
            await configmap(c, ns, "a", ref(owner, block=True, controller=True))
            await configmap(c, ns, "b", ref(owner), ref(other))
            await c.delete(CMS, "owner", ns, propagation_policy="Orphan")
            await wait_for(lambda: gone(c, CMS, "owner", ns))
            a = await c.get(CMS, "a", ns)
            b = await c.get(CMS, "b", ns)
            assert "ownerReferences" not in a["metadata"]
            assert b["metadata"]["ownerReferences"] == [ref(other)]
            await asyncio.sleep(0.5)  # and they stay
            assert not await gone(c, CMS, "a", ns)
    run(go())


def test_kubectl_delete_deployment_removes_replicasets_and_pods(server: ServerProcess) -> None:
    if not KUBECTL.exists():
        pytest.skip("kubectl 1.32 not installed")

    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            labels = {"app": "web"}
            tmpl = {"metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            await wait_for(lambda: _exists(c, SAS, "default", ns))  # pods need it
            dep = await c.create(DEPLOYS, {"metadata": {"name": "web"}, "spec": {
                "replicas": 2, "selector": {"matchLabels": labels}, "template": tmpl}}, ns)
            dep = {"apiVersion": "apps/v1", "kind": "Deployment", **dep}
            rs = await c.create(RSS, {"metadata": {
                "name": "web-abc", "ownerReferences": [ref(dep, block=True, controller=True)]},
                "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                         "template": tmpl}}, ns)
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", **rs}
            for i in range(2):
                await c.create(PODS, {"metadata": {
                    "name": f"web-abc-{i}", "labels": labels,
                    "ownerReferences": [ref(rs, block=True, controller=True)]},
                    "spec": tmpl["spec"]}, ns)
            code, out = await cl.kubectl("delete", "deployment", "web", "--wait=false")
            assert code == 0, out
            await wait_for(lambda: gone(c, RSS, "web-abc", ns))

            async def no_pods() -> bool:
                return not (await c.list(PODS, ns))["items"]
            await wait_for(no_pods)
    run(go())


CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.lc.kubepy.io"},
       "spec": {"group": "lc.kubepy.io", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                    "openAPIV3Schema": {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True}}}]}}


async def ensure_crd(c: ApiClient) -> ResourceType:
    with contextlib.suppress(errors.AlreadyExists):
        await c.create(CRDS, CRD)
    widgets = ResourceType("lc.kubepy.io", "v1", "widgets", "Widget", True)

    async def served() -> bool:
        try:
            await c.list(widgets, "default")
            return True
        except errors.StatusError:
            return False
    await wait_for(served)
    return widgets


def test_custom_resource_owner(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            widgets = await ensure_crd(c)
            w = await c.create(widgets, {"apiVersion": "lc.kubepy.io/v1", "kind": "Widget",
                                         "metadata": {"name": "w"}}, ns)
            await configmap(c, ns, "part", ref({"apiVersion": "lc.kubepy.io/v1",
                                                "kind": "Widget", **w}))
            await asyncio.sleep(1.5)
            assert not await gone(c, CMS, "part", ns)
            await c.delete(widgets, "w", ns)
            await wait_for(lambda: gone(c, CMS, "part", ns))
    run(go())


# ---------------------------------------------------------------------------- namespaces

def test_namespace_deletion_empties_it_then_it_disappears(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace
            widgets = await ensure_crd(c)
            await c.create(widgets, {"apiVersion": "lc.kubepy.io/v1", "kind": "Widget",
                                     "metadata": {"name": "w"}}, ns)
            await configmap(c, ns, "plain")
            await configmap(c, ns, "held", finalizers=(HOLD,))
            await c.create(SECRETS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}}, ns)
            await c.delete(NS, ns)

            async def finalizers_reported() -> Obj | None:
                conds = {x["type"]: x for x in
                         (await c.get(NS, ns)).get("status", {}).get("conditions") or []}
                remaining = conds.get("NamespaceFinalizersRemaining", {})
                return conds if remaining.get("status") == "True" else None
            conds = await wait_for(finalizers_reported)
            assert conds["NamespaceFinalizersRemaining"]["message"] == \
                f"Some finalizers are remaining: {HOLD} in 1 resource instances"
            assert conds["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizerRemain"
            assert conds["NamespaceContentRemaining"]["message"] == \
                "Some resources are remaining: configmaps. has 1 resource instances"
            assert conds["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
            assert conds["NamespaceDeletionContentFailure"]["reason"] == "ContentDeleted"
            live = await c.get(NS, ns)
            assert live["status"]["phase"] == "Terminating"
            assert live["spec"]["finalizers"] == ["kubernetes"]
            for rt in (SECRETS, widgets):
                assert not (await c.list(rt, ns))["items"]
            assert [i["metadata"]["name"] for i in (await c.list(CMS, ns))["items"]] == ["held"]
            with pytest.raises(errors.Forbidden):
                await configmap(c, ns, "late")
            await c.patch(CMS, "held", {"metadata": {"finalizers": None}}, namespace=ns)
            await wait_for(lambda: gone(c, NS, ns, None), timeout=30)
    run(go())


# ---------------------------------------------------------------------------- service accounts

def test_default_service_account_and_root_ca(server: ServerProcess) -> None:
    kubeconfig = yaml.safe_load(server.kubeconfig.read_text())
    ca_pem = base64.b64decode(
        kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()

    async def go() -> None:
        async with running(server) as cl:
            c, ns = cl.client, cl.namespace

            async def cm() -> Obj | None:
                try:
                    return await c.get(CMS, "kube-root-ca.crt", ns)
                except errors.NotFound:
                    return None
            root = await wait_for(cm)
            assert root["data"]["ca.crt"].strip() == ca_pem.strip()
            assert root["metadata"]["annotations"]["kubernetes.io/description"].startswith(
                "Contains a CA bundle")
            await wait_for(lambda: _exists(c, SAS, "default", ns))
            await c.delete(SAS, "default", ns)
            await wait_for(lambda: _exists(c, SAS, "default", ns))
            await c.patch(CMS, "kube-root-ca.crt", {"data": {"ca.crt": "tampered"}},
                          namespace=ns)

            async def restored() -> bool:
                got = await cm()
                return bool(got) and got["data"]["ca.crt"] != "tampered"
            await wait_for(restored)
    run(go())


async def _exists(c: ApiClient, rt: ResourceType, name: str, ns: str) -> bool:
    return not await gone(c, rt, name, ns)
