"""Subresources and create-only review APIs.

- ``*/scale``: the autoscaling/v1 Scale view of deployments, replicasets, statefulsets and
  replicationcontrollers (GET, PUT with a resourceVersion precondition, PATCH);
- ``pods/binding`` and the core ``bindings`` resource: set spec.nodeName once (409 if bound);
- ``pods/eviction``: delete a pod unless a PodDisruptionBudget forbids it (429);
- reviews: SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview,
  SubjectAccessReview, LocalSubjectAccessReview, TokenReview.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.apiserver import negotiation as neg
from kubepy.apiserver.auth import User
from kubepy.apiserver.handlers import ResourceHandlers, Warnings, _now_str, json_response
from kubepy.apiserver.objects import DeleteOptions, WriteOptions, clone, conflict
from kubepy.apiserver.rbac import Attributes, RBACAuthorizer
from kubepy.apiserver.requestinfo import RequestInfo

Obj = dict[str, Any]


def _selector_string(obj: Obj) -> str:
    sel = (obj.get("spec") or {}).get("selector")
    if not sel:
        return ""
    if obj.get("kind") == "ReplicationController":
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    from kubepy.api.labels import selector_from_label_selector, selector_to_string

    return selector_to_string(selector_from_label_selector(sel))


_BUILTIN_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}


def _get_path(obj: Obj, path: str | None) -> Any:
    value: Any = obj
    for part in (path or "").strip(".").split("."):
        if not part:
            return None
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set_path(obj: Obj, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def scale_of(obj: Obj, paths: Obj | None = None) -> Obj:
    """The autoscaling/v1 Scale view (``paths``: a CRD's scale subresource paths)."""
    meta = obj["metadata"]
    paths = paths or _BUILTIN_SCALE
    status: Obj = {"replicas": int(_get_path(obj, paths.get("statusReplicasPath")) or 0)}
    if paths is _BUILTIN_SCALE:
        selector = _selector_string(obj)
    else:
        selector = _get_path(obj, paths.get("labelSelectorPath")) or ""
    if selector:
        status["selector"] = selector
    spec_replicas = _get_path(obj, paths.get("specReplicasPath"))
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                              "creationTimestamp") if k in meta},
            "spec": {"replicas": int(1 if spec_replicas is None and paths is _BUILTIN_SCALE
                                     else spec_replicas or 0)},
            "status": status}


class Subresources:
    def __init__(self, handlers: ResourceHandlers, authorizer: RBACAuthorizer):
        self.h = handlers
        self.authorizer = authorizer
        for plural in ("deployments", "replicasets", "statefulsets", "replicationcontrollers",
                       "*"):  # "*": custom resources with a scale subresource
            handlers.subresources[(plural, "scale")] = self.scale
        handlers.subresources[("pods", "binding")] = self.binding
        handlers.subresources[("pods", "eviction")] = self.eviction
        handlers.subresources[("serviceaccounts", "token")] = self.token_request
        handlers.virtual[("", "bindings")] = self.binding
        handlers.virtual[("authorization.k8s.io", "selfsubjectaccessreviews")] = self.ssar
        handlers.virtual[("authorization.k8s.io", "subjectaccessreviews")] = self.sar
        handlers.virtual[("authorization.k8s.io", "localsubjectaccessreviews")] = self.sar
        handlers.virtual[("authorization.k8s.io", "selfsubjectrulesreviews")] = self.ssrr
        handlers.virtual[("authentication.k8s.io", "selfsubjectreviews")] = self.whoami
        handlers.virtual[("authentication.k8s.io", "tokenreviews")] = self.token_review

    # ---------------------------------------------------------------- scale

    async def scale(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                    namespace: str | None, query: dict[str, str],
                    warnings: Warnings) -> web.StreamResponse:
        objects = self.h.objects
        paths = rt.scale_paths if rt.custom else None
        if info.verb == "get":
            return json_response(scale_of(await objects.get(rt, namespace, info.name), paths))
        opts = self.h.write_options(request, query)
        if info.verb == "update":
            body = neg.decode_object(await request.read(), neg.body_type(request),
                                     group="autoscaling", version="v1", kind="Scale")

            def replicas_from(current: Obj) -> tuple[int, str | None]:
                return _replicas(body), (body.get("metadata") or {}).get("resourceVersion")
        elif info.verb == "patch":
            patch_type, doc = neg.decode_patch(await request.read(), neg.body_type(request))

            def replicas_from(current: Obj) -> tuple[int, str | None]:
                from kubepy.api import patch as patches

                view = scale_of(current, paths)
                if patch_type == neg.JSON_PATCH:
                    new = patches.apply_json_patch(view, doc)
                elif patch_type == neg.MERGE_PATCH:
                    new = patches.apply_merge_patch(view, doc)
                elif patch_type == neg.STRATEGIC_PATCH:
                    from kubepy.api.schema import schemas

                    new = patches.apply_strategic_merge_patch(
                        view, doc, schemas().for_kind("autoscaling", "v1", "Scale"))
                else:
                    new = {**view, "spec": {**view["spec"], **(doc.get("spec") or {})}}
                rv = (new.get("metadata") or {}).get("resourceVersion")
                return _replicas(new), (rv if rv != view["metadata"]["resourceVersion"] else None)
        else:
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")

        def mutate(current: Obj) -> Obj:
            replicas, precondition = replicas_from(current)
            if precondition and precondition != current["metadata"]["resourceVersion"]:
                raise conflict(rt, info.name)
            if replicas < 0:
                raise errors.invalid("Scale", info.name, [errors.field_cause(
                    "spec.replicas", f"Invalid value: {replicas}: must be greater than or "
                    "equal to 0")], "autoscaling")
            new = copy.deepcopy(current)
            _set_path(new, (paths or _BUILTIN_SCALE)["specReplicasPath"], replicas)
            return new

        obj = await objects.guaranteed_update(rt, namespace, info.name, mutate, opts,
                                              subresource="scale")
        return json_response(scale_of(obj, paths))

    # ---------------------------------------------------------------- binding

    async def binding(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                      namespace: str | None, query: dict[str, str],
                      warnings: Warnings) -> web.StreamResponse:
        if info.verb != "create":
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")
        body = neg.decode_object(await request.read(), neg.body_type(request), group="",
                                 version="v1", kind="Binding")
        pod_name = info.name if info.subresource else (body.get("metadata") or {}).get("name")
        target = (body.get("target") or {}).get("name")
        if not pod_name or not target:
            raise errors.invalid("Binding", pod_name or "", [errors.field_cause(
                "target.name", "Required value")])
        pods = self.h.registry.get("", "v1", "pods")
        assert pods is not None
        opts = self.h.write_options(request, query)

        def mutate(current: Obj) -> Obj:
            spec = current.get("spec") or {}
            if current["metadata"].get("deletionTimestamp"):
                raise errors.Conflict(f'Operation cannot be fulfilled on pods/binding '
                                      f'"{pod_name}": pod {pod_name} is being deleted, cannot '
                                      f"be assigned to a host")
            if spec.get("nodeName"):
                raise errors.Conflict(f'Operation cannot be fulfilled on pods/binding '
                                      f'"{pod_name}": pod {pod_name} is already assigned to '
                                      f'node "{spec["nodeName"]}"', name=pod_name,
                                      kind="pods/binding")
            new = copy.deepcopy(current)
            new["spec"]["nodeName"] = target
            annotations = (body.get("metadata") or {}).get("annotations")
            if annotations:
                new["metadata"].setdefault("annotations", {}).update(annotations)
            conditions = [c for c in (new.get("status") or {}).get("conditions") or []
                          if c.get("type") != "PodScheduled"]
            from kubepy.apiserver.handlers import _now_str

            conditions.append({"type": "PodScheduled", "status": "True",
                               "lastProbeTime": None, "lastTransitionTime": _now_str()})
            new.setdefault("status", {})["conditions"] = conditions
            return new

        await self.h.objects.guaranteed_update(pods, namespace, pod_name, mutate, opts,
                                               subresource="binding")
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Success", "code": 201}, 201)

    # ---------------------------------------------------------------- eviction

    async def eviction(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                       namespace: str | None, query: dict[str, str],
                       warnings: Warnings) -> web.StreamResponse:
        if info.verb != "create":
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")
        body = neg.decode_object(await request.read(), neg.body_type(request), group="policy",
                                 version="v1", kind="Eviction")
        pod = await self.h.objects.get(rt, namespace, info.name)
        opts = body.get("deleteOptions") or {}
        dry_run = bool(opts.get("dryRun")) or query.get("dryRun") == "All"
        if not pod["metadata"].get("deletionTimestamp"):
            await self._consume_disruption_budget(pod, dry_run)
        await self.h.objects.delete(rt, namespace, info.name, DeleteOptions(
            grace_period_seconds=opts.get("gracePeriodSeconds"),
            propagation_policy=opts.get("propagationPolicy"),
            preconditions={k: v for k, v in (opts.get("preconditions") or {}).items() if v},
            dry_run=dry_run))
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Success", "code": 201}, 201)

    async def _consume_disruption_budget(self, pod: Obj, dry_run: bool) -> None:
        """The eviction's PDB check: the one budget covering the pod must allow a
        disruption, which the eviction then takes (status.disruptionsAllowed - 1 and the pod
        in status.disruptedPods, written with compare-and-swap before the pod is deleted,
        so concurrent evictions never exceed the budget)."""
        from kubepy.api.labels import selector_from_label_selector

        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed", "Pending"):
            return
        ns = pod["metadata"].get("namespace")
        name = pod["metadata"]["name"]
        labels = pod["metadata"].get("labels") or {}
        prefix = f"/registry/poddisruptionbudgets/{ns}/"
        matching = [pdb for key, pdb in
                    self.h.hub.cache_for("/registry/poddisruptionbudgets/").objects.items()
                    if key.startswith(prefix) and selector_from_label_selector(
                        (pdb.get("spec") or {}).get("selector")).matches(labels)]
        if not matching:
            return
        if len(matching) > 1:
            raise errors.InternalError("This pod has more than one PodDisruptionBudget, which "
                                       "the eviction subresource does not support.")
        rt = self.h.registry.get("policy", "v1", "poddisruptionbudgets")
        assert rt is not None
        pdb_name = matching[0]["metadata"]["name"]

        def take(current: Obj) -> Obj:
            status = current.get("status") or {}
            meta = current["metadata"]
            if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
                raise errors.TooManyRequests(f"The disruption budget {pdb_name} is still being "
                                             "processed by the server.")
            allowed = int(status.get("disruptionsAllowed") or 0)
            if allowed <= 0:
                raise errors.TooManyRequests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    causes=[{"reason": "DisruptionBudget", "message":
                             f"The disruption budget {pdb_name} needs "
                             f"{status.get('desiredHealthy', 0)} healthy pods and has "
                             f"{status.get('currentHealthy', 0)} currently"}])
            new = clone(current)
            new_status = new.setdefault("status", {})
            new_status["disruptionsAllowed"] = allowed - 1
            new_status.setdefault("disruptedPods", {})[name] = _now_str()
            return new

        await self.h.objects.guaranteed_update(
            rt, ns, pdb_name, take, WriteOptions(dry_run=dry_run, field_manager="kube-apiserver",
                                                 manage_fields=False), subresource="status")

    # ---------------------------------------------------------------- token

    async def token_request(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                            namespace: str | None, query: dict[str, str],
                            warnings: Warnings) -> web.StreamResponse:
        """serviceaccounts/token: issue a service-account token (TokenRequest)."""
        if info.verb != "create":
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")
        body = neg.decode_object(await request.read(), neg.body_type(request),
                                 group="authentication.k8s.io", version="v1",
                                 kind="TokenRequest")
        sa = await self.h.objects.get(rt, namespace, info.name)
        from kubepy.apiserver.app import AppState

        state: AppState = request.app["state"]
        issuer = state.token_issuer
        if issuer is None:  # no signing key: the TokenRequest API is not served (as in kube-apiserver)
            raise errors.NotFound("the server could not find the requested resource")
        spec = dict(body.get("spec") or {})
        audiences = spec.get("audiences") or list(issuer.audiences)
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise errors.invalid("TokenRequest", info.name, [errors.field_cause(
                "spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a "
                "duration less than 10 minutes")], "authentication.k8s.io")
        token, exp = issuer.issue(sa, audiences=audiences, expiration_seconds=seconds,
                                  bound=spec.get("boundObjectRef"))
        import datetime as _dt

        expires = _dt.datetime.fromtimestamp(exp, _dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        spec.update({"audiences": audiences, "expirationSeconds": seconds})
        spec.setdefault("boundObjectRef", None)
        return json_response({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": info.name, "namespace": namespace,
                         "creationTimestamp": None},
            "spec": spec, "status": {"token": token, "expirationTimestamp": expires}}, 201)

    # ---------------------------------------------------------------- reviews

    async def _review_body(self, request: web.Request, group: str, kind: str) -> Obj:
        return neg.decode_object(await request.read(), neg.body_type(request), group=group,
                                 version="v1", kind=kind)

    def _decide(self, user: User, spec: Obj, namespace_default: str = "") -> Obj:
        ra = spec.get("resourceAttributes")
        nra = spec.get("nonResourceAttributes")
        if ra:
            attrs = Attributes(verb=ra.get("verb", ""), namespace=ra.get("namespace") or
                               namespace_default, group=ra.get("group", ""),
                               resource=ra.get("resource", ""),
                               subresource=ra.get("subresource", ""), name=ra.get("name", ""))
        elif nra:
            attrs = Attributes(verb=nra.get("verb", ""), path=nra.get("path", ""),
                               is_resource=False)
        else:
            raise errors.invalid("SelfSubjectAccessReview", "", [errors.field_cause(
                "spec.resourceAttributes", "Required value: exactly one of "
                "nonResourceAttributes or resourceAttributes must be specified")],
                "authorization.k8s.io")
        allowed, reason = self.authorizer.authorize(user, attrs)
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return status

    async def ssar(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                   namespace: str | None, query: dict[str, str],
                   warnings: Warnings) -> web.StreamResponse:
        body = await self._review_body(request, "authorization.k8s.io", rt.kind)
        user: User = request["user"]
        body["status"] = self._decide(user, body.get("spec") or {})
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return json_response(body, 201)

    async def sar(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                  namespace: str | None, query: dict[str, str],
                  warnings: Warnings) -> web.StreamResponse:
        body = await self._review_body(request, "authorization.k8s.io", rt.kind)
        spec = body.get("spec") or {}
        user = User(spec.get("user", ""), tuple(spec.get("groups") or []), spec.get("uid", ""))
        body["status"] = self._decide(user, spec, namespace or "")
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return json_response(body, 201)

    async def ssrr(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                   namespace: str | None, query: dict[str, str],
                   warnings: Warnings) -> web.StreamResponse:
        body = await self._review_body(request, "authorization.k8s.io", rt.kind)
        user: User = request["user"]
        res, nonres = self.authorizer.rules_for(user, (body.get("spec") or {}).get(
            "namespace", ""))
        body["status"] = {"resourceRules": res, "nonResourceRules": nonres, "incomplete": False}
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return json_response(body, 201)

    async def whoami(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                     namespace: str | None, query: dict[str, str],
                     warnings: Warnings) -> web.StreamResponse:
        user: User = request["user"]
        return json_response({"kind": "SelfSubjectReview",
                              "apiVersion": "authentication.k8s.io/v1",
                              "metadata": {"creationTimestamp": None},
                              "status": {"userInfo": user.user_info()}}, 201)

    async def token_review(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                           namespace: str | None, query: dict[str, str],
                           warnings: Warnings) -> web.StreamResponse:
        body = await self._review_body(request, "authentication.k8s.io", "TokenReview")
        token = (body.get("spec") or {}).get("token", "")
        from kubepy.apiserver.app import AppState

        state: AppState = request.app["state"]
        user = state.tokens.authenticate(f"Bearer {token}")
        if user is None and state.token_issuer is not None:
            user = state.token_issuer.authenticate(token)
        body["status"] = ({"authenticated": True, "user": user.user_info()} if user else
                          {"authenticated": False})
        body.setdefault("metadata", {})["creationTimestamp"] = None
        return json_response(body, 201)


def _replicas(scale: Obj) -> int:
    value = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.BadRequest(f"Scale in version \"v1\" cannot be handled as a Scale: json: "
                                f"cannot unmarshal {type(value).__name__} into Go struct field "
                                f"ScaleSpec.spec.replicas of type int32")
    return value
