"""REST handlers for resource paths: get, list, watch, create, update, patch, delete.

``ResourceHandlers.handle`` receives a parsed RequestInfo and returns a response or
raises a StatusError (turned into a Status body by the app's error middleware). The
object semantics live in ``objects.Objects``; this module does HTTP: query parameters,
body decoding, field validation, output forms (Table, PartialObjectMetadata) and codes.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

import orjson
from aiohttp import web

from kubepy import errors
from kubepy.api.conversion import convert, storage_version
from kubepy.api.prune import TypeMismatch, check_and_prune
from kubepy.api.registry import Registry, ResourceType
from kubepy.api.schema import SchemaNode, schemas
from kubepy.apiserver import negotiation as neg
from kubepy.apiserver import strategy
from kubepy.apiserver.listing import ListResult, list_objects
from kubepy.apiserver.objects import (DeleteOptions, Objects, WriteOptions, clone, not_found,
                                      now_rfc3339)
from kubepy.apiserver.requestinfo import RequestInfo
from kubepy.apiserver.watch import serve_watch
from kubepy.apiserver.watchcache import CacheHub
from kubepy.storage.interface import Store

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # a trailing newline, as Go's json.Encoder writes (some clients compare raw bodies)
    return web.Response(body=orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE),
                        status=status, content_type="application/json", headers=headers)


class Warnings:
    """Collects ``Warning: 299 - "..."`` response headers for one request."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def apply(self, response: web.StreamResponse) -> None:
        for m in self.messages:
            escaped = m.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{escaped}"')


def schema_for(rt: ResourceType) -> SchemaNode | None:
    custom: SchemaNode | None = getattr(rt, "schema", None)  # a CustomResourceDefinition's
    if custom is not None:
        return custom
    if getattr(rt, "custom", False):
        return None
    return schemas().for_kind(rt.group, rt.version, rt.kind)


class ResourceHandlers:
    def __init__(self, registry: Registry, objects: Objects, hub: CacheHub, store: Store):
        self.registry = registry
        self.objects = objects
        self.hub = hub
        self.store = store
        # subresource handlers registered by kubepy.apiserver.subresources
        self.subresources: dict[tuple[str, str], Callable[..., Any]] = {}
        self.virtual: dict[tuple[str, str], Callable[..., Any]] = {}

    # ------------------------------------------------------------------ entry

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        rt = self.registry.get(info.group, info.version, info.resource)
        if rt is None:
            raise errors.NotFound("the server could not find the requested resource")
        if rt.namespaced is False and info.namespace:
            raise errors.NotFound("the server could not find the requested resource")
        query = {k: v for k, v in request.rel_url.query.items()}
        namespace = info.namespace if rt.namespaced else None
        if rt.namespaced and not namespace and info.verb not in ("list", "watch",
                                                                 "deletecollection"):
            if info.verb != "create" or rt.virtual is False:
                raise errors.NotFound("the server could not find the requested resource")
        warnings = Warnings()
        request["served"] = rt
        rt = self.storage_type(rt)
        response: web.StreamResponse
        if info.subresource:
            handler = self.subresources.get((rt.plural, info.subresource))
            if handler is None and rt.custom and rt.subresource(info.subresource):
                handler = self.subresources.get(("*", info.subresource))
            if handler is None and info.subresource in ("status", "finalize") and \
                    rt.subresource(info.subresource):
                handler = self._status_subresource
            if handler is None:
                raise errors.NotFound("the server could not find the requested resource")
            response = await handler(request, info, rt, namespace, query, warnings)
        elif rt.virtual:
            handler = self.virtual.get((rt.group, rt.plural))
            if handler is None or info.verb != "create":
                raise errors.MethodNotAllowed(
                    f"the server does not allow this method on the requested resource")
            response = await handler(request, info, rt, namespace, query, warnings)
        else:
            method = getattr(self, "_" + info.verb, None)
            if method is None:
                raise errors.MethodNotAllowed(
                    "the server does not allow this method on the requested resource")
            if info.verb not in rt.verbs:
                raise errors.MethodNotAllowed(
                    "the server does not allow this method on the requested resource")
            response = await method(request, info, rt, namespace, query, warnings)
        warnings.apply(response)
        return response

    # ------------------------------------------------------------- versions

    def storage_type(self, rt: ResourceType) -> ResourceType:
        """The resource type objects of ``rt`` are stored as (usually ``rt`` itself)."""
        if rt.custom:
            if rt.stored_version in ("", rt.version):
                return rt
            return self.registry.get(rt.group, rt.stored_version, rt.plural) or rt
        group, version = storage_version(rt.group, rt.plural, rt.version)
        if (group, version) == (rt.group, rt.version):
            return rt
        stored = self.registry.get(group, version, rt.plural)
        assert stored is not None, (group, version, rt.plural)
        return stored

    def out(self, request: web.Request, rt: ResourceType, obj: Obj) -> Obj:
        """A stored object as the version the client addressed."""
        served: ResourceType = request.get("served", rt)
        if rt.custom:  # conversion strategy None: only apiVersion changes
            return obj if served is rt else {**obj, "apiVersion": served.api_version}
        return convert(obj, (rt.group, rt.version), (served.group, served.version))

    def into(self, request: web.Request, rt: ResourceType, obj: Obj) -> Obj:
        """A body in the addressed version as the stored version."""
        served: ResourceType = request.get("served", rt)
        if rt.custom:
            return obj if served is rt else {**obj, "apiVersion": rt.api_version}
        return convert(obj, (served.group, served.version), (rt.group, rt.version))

    # ------------------------------------------------------------------ reads

    async def _get(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                   namespace: str | None, query: dict[str, str], warnings: Warnings,
                   subresource: str = "") -> web.StreamResponse:
        rv = query.get("resourceVersion")
        obj = await self.objects.get(rt, namespace, info.name, fresh=rv in (None, ""))
        return self.render_object(request, rt, obj, query)

    def render_object(self, request: web.Request, rt: ResourceType, obj: Obj,
                      query: dict[str, str], status: int = 200) -> web.Response:
        obj = self.out(request, rt, obj)
        rt = request.get("served", rt)
        form = neg.output_form(request.headers.get("Accept"))
        if form.as_ == "Table":
            table = make_table(rt, [obj], query.get("includeObject", "Metadata"))
            table["apiVersion"] = f"meta.k8s.io/{form.version}"
            table["metadata"] = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return json_response(table, status)
        if form.as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return json_response(partial_metadata(obj, form.version), status)
        return json_response(obj, status)

    def predicate(self, rt: ResourceType, query: dict[str, str]) -> Predicate | None:
        label_text = query.get("labelSelector", "")
        field_text = query.get("fieldSelector", "")
        preds: list[Predicate] = []
        if label_text.strip():
            from kubepy.api.labels import parse_selector

            sel = parse_selector(label_text)
            if not sel.empty:
                preds.append(lambda o: sel.matches((o.get("metadata") or {}).get("labels")))
        if field_text.strip():
            from kubepy.api.fields import (field_values, parse_field_selector,
                                           validate_field_selector)

            fsel = validate_field_selector(rt.group, rt.kind, parse_field_selector(field_text),
                                           namespaced=rt.namespaced)
            group, kind, namespaced = rt.group, rt.kind, rt.namespaced
            preds.append(lambda o: fsel.matches(field_values(group, kind, o,
                                                             namespaced=namespaced)))
        if not preds:
            return None
        if len(preds) == 1:
            return preds[0]
        return lambda o: all(p(o) for p in preds)

    async def _list(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                    namespace: str | None, query: dict[str, str],
                    warnings: Warnings) -> web.StreamResponse:
        pred = self.predicate(rt, query)
        limit = _int_param(query, "limit", 0)
        result = await list_objects(self.hub, self.store, rt, namespace, pred, limit=limit,
                                    continue_token=query.get("continue", ""),
                                    resource_version=query.get("resourceVersion"),
                                    rv_match=query.get("resourceVersionMatch", ""))
        return self.render_list(request, rt, result, query)

    def render_list(self, request: web.Request, rt: ResourceType, result: ListResult,
                    query: dict[str, str]) -> web.Response:
        meta: Obj = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            meta["continue"] = result.continue_token
            if result.remaining is not None:
                meta["remainingItemCount"] = result.remaining
        if request.get("served", rt) is not rt:
            result.items = [self.out(request, rt, o) for o in result.items]
            rt = request["served"]
        form = neg.output_form(request.headers.get("Accept"))
        if form.as_ == "Table":
            table = make_table(rt, result.items, query.get("includeObject", "Metadata"))
            table["apiVersion"] = f"meta.k8s.io/{form.version}"
            table["metadata"] = meta
            return json_response(table)
        if form.as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return json_response({"kind": "PartialObjectMetadataList",
                                  "apiVersion": f"meta.k8s.io/{form.version}", "metadata": meta,
                                  "items": [partial_metadata(o, form.version)
                                            for o in result.items]})
        body = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta,
                "items": result.items}
        return json_response(body)

    async def _watch(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                     namespace: str | None, query: dict[str, str],
                     warnings: Warnings) -> web.StreamResponse:
        pred = self.predicate(rt, query)
        if info.name:  # /watch/namespaces/ns/pods/name (deprecated form)
            name = info.name
            inner = pred
            pred = lambda o: (o.get("metadata") or {}).get("name") == name and (  # noqa: E731
                inner is None or inner(o))
        form = neg.output_form(request.headers.get("Accept"))
        include = query.get("includeObject", "Metadata")

        served: ResourceType = request.get("served", rt)

        def transform(obj: Obj, first: bool) -> Obj:
            obj = self.out(request, rt, obj)
            if form.as_ == "Table":
                table = make_table(served, [obj], include)
                table["apiVersion"] = f"meta.k8s.io/{form.version}"
                table["metadata"] = {"resourceVersion": obj["metadata"].get("resourceVersion")}
                if not first:
                    table["columnDefinitions"] = []
                return table
            if form.as_:
                return partial_metadata(obj, form.version)
            return obj

        response = await serve_watch(request, self.hub, self.store, rt, namespace, pred,
                                     transform, query)
        return response

    # ------------------------------------------------------------------ writes

    def write_options(self, request: web.Request, query: dict[str, str]) -> WriteOptions:
        dry_run = query.get("dryRun", "")
        if dry_run and dry_run != "All":
            raise errors.BadRequest(f'dryRun: Unsupported value: "{dry_run}": supported '
                                    f'values: "All"')
        manager = query.get("fieldManager") or _default_manager(request)
        if len(manager) > 128:
            raise errors.Invalid("fieldManager: Too long: must have at most 128 bytes")
        user = request.get("user")
        return WriteOptions(dry_run=bool(dry_run), field_manager=manager,
                            user=getattr(user, "name", ""))

    def check_fields(self, rt: ResourceType, obj: Obj, query: dict[str, str],
                     warnings: Warnings) -> None:
        """Unknown fields and wrong types, by fieldValidation (Strict, Warn, Ignore)."""
        mode = query.get("fieldValidation") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise errors.BadRequest(f'fieldValidation: Unsupported value: "{mode}": supported '
                                    f'values: "Ignore", "Strict", "Warn"')
        schema = schema_for(rt)
        try:
            unknown = check_and_prune(obj, schema, check_types=not rt.custom)
        except TypeMismatch as e:
            go_path = re.sub(r"\[\d+\]", "", e.path)  # Go's json errors name no indexes
            raise errors.BadRequest(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: json: '
                f"cannot unmarshal {e.got} into Go struct field {e.struct}.{go_path} of type "
                f"{e.expected}")
        if not unknown or mode == "Ignore":
            return
        messages = [f'unknown field "{path}"' for path in unknown]
        if mode == "Strict":
            raise errors.BadRequest("strict decoding error: " + ", ".join(messages))
        for m in messages:
            warnings.add(m)

    @staticmethod
    def managed(rt: ResourceType, old: Obj | None, new: Obj, opts: WriteOptions,
                subresource: str = "") -> Obj:
        """managedFields for a write that is not an apply (``Objects`` calls this after
        defaulting and admission, so defaulted fields belong to the writer)."""
        from kubepy.api.apply import update_managed_fields

        if subresource == "binding":
            return new
        return update_managed_fields(old, new, manager=opts.field_manager,
                                     schema=schema_for(rt), now=_now_str(),
                                     api_version=rt.api_version, subresource=subresource,
                                     reset_fields=_reset_fields(rt, subresource))

    async def _create(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                      namespace: str | None, query: dict[str, str],
                      warnings: Warnings) -> web.StreamResponse:
        if info.name:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        served: ResourceType = request.get("served", rt)
        body = neg.decode_object(await request.read(), neg.body_type(request),
                                 group=served.group, version=served.version, kind=served.kind)
        opts = self.write_options(request, query)
        self.check_fields(served, body, query, warnings)
        body = self.into(request, rt, body)
        obj = await self.objects.create(rt, namespace, body, opts)
        return json_response(self.out(request, rt, obj), 201)

    async def _update(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                      namespace: str | None, query: dict[str, str],
                      warnings: Warnings, subresource: str = "") -> web.StreamResponse:
        served: ResourceType = request.get("served", rt)
        body = neg.decode_object(await request.read(), neg.body_type(request),
                                 group=served.group, version=served.version, kind=served.kind)
        opts = self.write_options(request, query)
        self.check_fields(served, body, query, warnings)
        body = self.into(request, rt, body)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            raise errors.BadRequest("metadata must be an object")
        if meta.get("name") and meta["name"] != info.name:
            raise errors.BadRequest(f"the name of the object ({meta['name']}) does not match "
                                    f"the name on the URL ({info.name})")
        precondition = meta.get("resourceVersion") or None

        def mutate(current: Obj) -> Obj:
            if precondition and precondition != current["metadata"].get("resourceVersion"):
                raise _conflict(rt, info.name)
            new = clone(body)
            new.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
                "resourceVersion"]
            return new

        obj = await self.objects.guaranteed_update(rt, namespace, info.name, mutate, opts,
                                                   subresource=subresource)
        return json_response(self.out(request, rt, obj), 200)

    async def _patch(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                     namespace: str | None, query: dict[str, str],
                     warnings: Warnings, subresource: str = "") -> web.StreamResponse:
        patch_type, doc = neg.decode_patch(await request.read(), neg.body_type(request))
        opts = self.write_options(request, query)
        schema = schema_for(rt)
        if patch_type == neg.STRATEGIC_PATCH and (schema is None or rt.custom):
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml")
        force = query.get("force") in ("true", "1")
        if patch_type == neg.APPLY_PATCH_YAML:
            if not query.get("fieldManager"):
                raise errors.invalid("PatchOptions", "", [errors.field_cause(
                    "fieldManager", "Required value: is required for apply patch",
                    "FieldValueRequired")], "meta.k8s.io")
            return await self._apply(request, info, rt, namespace, query, warnings, doc,
                                     opts, force, subresource)
        elif force:
            raise errors.BadRequest("force: Invalid value: true: may not be specified for "
                                    "non-apply patch")
        def mutate(current: Obj) -> Obj:
            from kubepy.api import patch as patches

            base = clone(self.out(request, rt, current))
            if patch_type == neg.JSON_PATCH:
                new = patches.apply_json_patch(base, doc)
            elif patch_type == neg.MERGE_PATCH:
                new = patches.apply_merge_patch(base, doc)
            else:
                new = patches.apply_strategic_merge_patch(base, doc, schema)
            if not isinstance(new, dict):
                raise errors.BadRequest("the patch produced a value that is not an object")
            self.check_fields(request.get("served", rt), new, query, warnings)
            new = self.into(request, rt, new)
            new_meta = new.get("metadata") or {}
            if new_meta.get("resourceVersion") not in (None, "",
                                                       current["metadata"]["resourceVersion"]):
                raise _conflict(rt, info.name)
            new.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
                "resourceVersion"]
            return new

        obj = await self.objects.guaranteed_update(rt, namespace, info.name, mutate, opts,
                                                   subresource=subresource)
        return json_response(self.out(request, rt, obj), 200)

    async def _apply(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                     namespace: str | None, query: dict[str, str], warnings: Warnings,
                     config: Obj, opts: WriteOptions, force: bool,
                     subresource: str) -> web.StreamResponse:
        from kubepy.api.apply import server_side_apply

        schema = schema_for(rt)
        opts.manage_fields = False  # server_side_apply keeps managedFields itself
        config = clone(config)
        self.check_fields(request.get("served", rt), config, query, warnings)
        config = self.into(request, rt, config)
        cmeta = config.get("metadata") or {}
        if cmeta.get("name") and cmeta["name"] != info.name:
            raise errors.BadRequest(f"the name of the object ({cmeta['name']}) does not match "
                                    f"the name on the URL ({info.name})")
        created: list[bool] = []

        def mutate(current: Obj) -> Obj:
            new = server_side_apply(clone(current), config,
                                    manager=opts.field_manager, force=force, schema=schema,
                                    now=_now_str(), subresource=subresource,
                                    reset_fields=_reset_fields(rt, subresource),
                                    api_version=rt.api_version)
            new.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
                "resourceVersion"]
            return new

        async def create_missing() -> Obj:
            if subresource:
                raise not_found(rt, info.name)
            new = server_side_apply(None, config, manager=opts.field_manager, force=force,
                                    schema=schema, now=_now_str(),
                                    reset_fields=_reset_fields(rt, ""),
                                    api_version=rt.api_version)
            new.setdefault("metadata", {})["name"] = info.name
            created.append(True)
            return await self.objects.create(rt, namespace, new, opts)

        obj = await self.objects.guaranteed_update(rt, namespace, info.name, mutate, opts,
                                                   subresource=subresource,
                                                   create_missing=create_missing)
        return json_response(self.out(request, rt, obj), 201 if created else 200)

    async def _status_subresource(self, request: web.Request, info: RequestInfo,
                                  rt: ResourceType, namespace: str | None,
                                  query: dict[str, str], warnings: Warnings) -> web.StreamResponse:
        if info.verb == "get":
            return await self._get(request, info, rt, namespace, query, warnings)
        if info.verb == "update":
            return await self._update(request, info, rt, namespace, query, warnings,
                                      info.subresource)
        if info.verb == "patch" and info.subresource == "status":
            return await self._patch(request, info, rt, namespace, query, warnings, "status")
        raise errors.MethodNotAllowed("the server does not allow this method on the "
                                      "requested resource")

    # ------------------------------------------------------------------ deletes

    async def delete_options(self, request: web.Request, query: dict[str, str]) -> DeleteOptions:
        body: Obj = {}
        raw = await request.read()
        if raw.strip():
            neg.check_size(raw)
            mt = neg.media_type(neg.body_type(request))
            if mt == neg.PROTOBUF:
                from kubepy.api.protobuf import decode_object as decode_protobuf

                body = decode_protobuf(raw, "meta.k8s.io", "v1", "DeleteOptions")
            else:
                decoded = neg.decode_json(raw) if mt != neg.YAML else neg.decode_yaml(raw)
                if not isinstance(decoded, dict):
                    raise errors.BadRequest("DeleteOptions must be an object")
                body = decoded
        grace = body.get("gracePeriodSeconds")
        if "gracePeriodSeconds" in query:
            grace = _int_param(query, "gracePeriodSeconds", 0)
        policy = query.get("propagationPolicy") or body.get("propagationPolicy")
        orphan = query.get("orphanDependents")
        if orphan is None and body.get("orphanDependents") is not None:
            orphan = "true" if body["orphanDependents"] else "false"
        if policy and orphan is not None:
            raise errors.invalid("DeleteOptions", "", [errors.field_cause(
                "propagationPolicy", "Invalid value: \"" + policy + "\": orphanDependents "
                "and deletionPropagation cannot be both set", "FieldValueInvalid")])
        if orphan is not None:
            policy = "Orphan" if orphan in ("true", "1") else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions", "", [errors.field_cause(
                "propagationPolicy", f'Unsupported value: "{policy}": supported values: '
                '"Foreground", "Background", "Orphan", "nil"', "FieldValueNotSupported")])
        dry = query.get("dryRun") == "All" or body.get("dryRun") == ["All"]
        pre = body.get("preconditions") or {}
        return DeleteOptions(grace_period_seconds=grace, propagation_policy=policy,
                             preconditions={k: v for k, v in pre.items() if v}, dry_run=dry)

    async def _delete(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                      namespace: str | None, query: dict[str, str],
                      warnings: Warnings) -> web.StreamResponse:
        options = await self.delete_options(request, query)
        obj, deleted = await self.objects.delete(rt, namespace, info.name, options)
        if strategy.return_deleted_object(rt) or not deleted:
            return json_response(self.out(request, rt, obj))
        details: Obj = {"name": info.name, "kind": rt.plural,
                        "uid": obj["metadata"].get("uid", "")}
        if rt.group:
            details["group"] = rt.group
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Success", "details": details})

    async def _deletecollection(self, request: web.Request, info: RequestInfo,
                                rt: ResourceType, namespace: str | None,
                                query: dict[str, str], warnings: Warnings) -> web.StreamResponse:
        options = await self.delete_options(request, query)
        pred = self.predicate(rt, query)
        result = await list_objects(self.hub, self.store, rt, namespace, pred)
        deleted = []
        for obj in result.items:
            meta = obj["metadata"]
            try:
                gone, _ = await self.objects.delete(rt, meta.get("namespace"), meta["name"],
                                                    options)
            except errors.NotFound:
                continue
            deleted.append(gone)
        return json_response({"kind": rt.list_kind, "apiVersion": rt.api_version,
                              "metadata": {"resourceVersion": str(self.hub.revision)},
                              "items": deleted})


def _reset_fields(rt: ResourceType, subresource: str) -> Any:
    """Fields a write through this endpoint may not own (None: the apply package's default,
    which suits kinds with a status subresource)."""
    if rt.subresource("status") is None and subresource == "":
        return ()
    return None


def make_table(rt: ResourceType, objects: list[Obj], include_object: str) -> Obj:
    """The Table for ``objects``: built-in printers, or a CRD's printer columns."""
    if rt.custom:
        from kubepy.api.printers import custom

        return custom.table_for(rt.printer_columns, objects, _now(),
                                include_object=include_object)
    from kubepy.api.printers import table_for

    return table_for(rt.group, rt.kind, objects, _now(), include_object=include_object)


def partial_metadata(obj: Obj, version: str = "v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {})}


def _conflict(rt: ResourceType, name: str) -> errors.Conflict:
    from kubepy.apiserver.objects import conflict

    return conflict(rt, name)


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if not value:
        return default
    try:
        n = int(value)
    except ValueError:
        raise errors.BadRequest(f'invalid {name} "{value}": must be an integer') from None
    if n < 0:
        raise errors.BadRequest(f"invalid {name} {n}: must not be negative")
    return n


def _default_manager(request: web.Request) -> str:
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0][:128] if agent else "unknown"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _now_str() -> str:
    return now_rfc3339()
