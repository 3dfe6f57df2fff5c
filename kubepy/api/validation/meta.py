"""ObjectMeta validation: apimachinery's ``ValidateObjectMeta`` and ``...Update``.

Checks name/generateName against the kind's name rule, namespace presence against the
kind's scope, labels, annotations (keys and the 256 KiB total), ownerReferences and
finalizers; on update, the identity fields that may never change. Also holds the label
and selector checks reused by workload validation (``validate_labels``,
``validate_label_selector``). Map keys are visited in sorted order so that the causes
come out in a stable order (Go visits maps randomly).
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.api.validation import field as f
from kubepy.api.validation.names import (
    NameValidator, dns1123_label_name, is_qualified_name, is_valid_label_value,
)

Cause = f.Cause

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024  # apimachinery TotalAnnotationSizeLimitB
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"
# apimachinery BannedOwners: events may not own anything.
BANNED_OWNERS = {("", "v1", "Event")}


def validate_label_name(name: str, path: str) -> list[Cause]:
    return [f.invalid(path, name, msg) for msg in is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(labels, (dict, Mapping)):
        return causes
    for k in sorted(labels):
        causes += validate_label_name(k, path)
        v = labels[k]
        if not isinstance(v, str):
            causes.append(f.invalid(path, v, "must be a string"))
            continue
        causes += [f.invalid(path, v, msg) for msg in is_valid_label_value(v)]
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(annotations, (dict, Mapping)):
        return causes
    total = 0
    for k in sorted(annotations):
        # The rule is QualifiedName except that case does not matter.
        causes += [f.invalid(path, k, msg) for msg in is_qualified_name(k.lower())]
        total += len(k.encode()) + len(str(annotations[k]).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(f.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def validate_owner_references(refs: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(refs, list):
        return causes
    controller = ""
    for ref in refs:
        if not isinstance(ref, (dict, Mapping)):
            causes.append(f.invalid(path, ref, "must be an object"))
            continue
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
        group, version = _split_api_version(api_version)
        if not version:
            causes.append(f.invalid(f.child(path, "apiVersion"), api_version,
                                    "version must not be empty"))
        if not kind:
            causes.append(f.invalid(f.child(path, "kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            causes.append(f.invalid(f.child(path, "name"), ref.get("name") or "",
                                    "name must not be empty"))
        if not ref.get("uid"):
            causes.append(f.invalid(f.child(path, "uid"), ref.get("uid") or "",
                                    "uid must not be empty"))
        if (group, version, kind) in BANNED_OWNERS:
            causes.append(f.invalid(path, ref, f"{group}/{version}, Kind={kind} "
                                               "is disallowed from being an owner"))
        if ref.get("controller") is True:
            name = f"{kind}/{ref.get('name', '')}"
            if controller:
                causes.append(f.invalid(path, refs, "Only one reference can have Controller "
                                        f'set to true. Found "true" in references for '
                                        f"{controller} and {name}"))
            else:
                controller = name
    return causes


def validate_finalizers(finalizers: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(finalizers, list):
        return causes
    for name in finalizers:
        causes += [f.invalid(path, name, msg) for msg in is_qualified_name(str(name))]
    if FINALIZER_ORPHAN in finalizers and FINALIZER_FOREGROUND in finalizers:
        causes.append(f.invalid(path, finalizers, f"finalizer {FINALIZER_ORPHAN} and "
                                f"{FINALIZER_FOREGROUND} cannot be both set"))
    return causes


def validate_object_meta(meta: Any, *, namespaced: bool,
                         name_fn: NameValidator, path: str = "metadata") -> list[Cause]:
    """``ValidateObjectMeta``. A missing name with a generateName is accepted: the
    apiserver fills the name in before it validates."""
    if not isinstance(meta, (dict, Mapping)):
        return [f.required(f.child(path, "name"), "name or generateName is required")]
    causes: list[Cause] = []
    generate_name = meta.get("generateName") or ""
    name = meta.get("name") or ""
    if generate_name:
        causes += [f.invalid(f.child(path, "generateName"), generate_name, msg)
                   for msg in name_fn(generate_name, True)]
    if name:
        causes += [f.invalid(f.child(path, "name"), name, msg) for msg in name_fn(name, False)]
    elif not generate_name:
        causes.append(f.required(f.child(path, "name"), "name or generateName is required"))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            causes.append(f.required(f.child(path, "namespace")))
        else:
            causes += [f.invalid(f.child(path, "namespace"), namespace, msg)
                       for msg in dns1123_label_name(namespace, False)]
    elif namespace:
        causes.append(f.forbidden(f.child(path, "namespace"), "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        causes.append(f.invalid(f.child(path, "generation"), generation, f.IS_NEGATIVE))
    causes += validate_labels(meta.get("labels"), f.child(path, "labels"))
    causes += validate_annotations(meta.get("annotations"), f.child(path, "annotations"))
    causes += validate_owner_references(meta.get("ownerReferences"),
                                        f.child(path, "ownerReferences"))
    causes += validate_finalizers(meta.get("finalizers"), f.child(path, "finalizers"))
    return causes


_IDENTITY_FIELDS = ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                    "deletionGracePeriodSeconds")


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[Cause]:
    """``ValidateObjectMetaUpdate``: identity fields are immutable, generation never goes
    down, and no finalizer may be added once deletion has begun."""
    new = new if isinstance(new, (dict, Mapping)) else {}
    old = old if isinstance(old, (dict, Mapping)) else {}
    causes: list[Cause] = []
    for name in _IDENTITY_FIELDS:
        causes += f.check_immutable(f.child(path, name), new.get(name), old.get(name))
    new_gen, old_gen = new.get("generation") or 0, old.get("generation") or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        causes.append(f.invalid(f.child(path, "generation"), new_gen, "must not be decremented"))
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if added:
            causes.append(f.forbidden(
                f.child(path, "finalizers"),
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {f.go_value(added)}"))
    causes += validate_labels(new.get("labels"), f.child(path, "labels"))
    causes += validate_annotations(new.get("annotations"), f.child(path, "annotations"))
    causes += validate_owner_references(new.get("ownerReferences"),
                                        f.child(path, "ownerReferences"))
    causes += validate_finalizers(new.get("finalizers"), f.child(path, "finalizers"))
    return causes


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    """``ValidateLabelSelector`` (metav1 validation): matchLabels and matchExpressions."""
    causes: list[Cause] = []
    if not isinstance(selector, (dict, Mapping)):
        return causes
    causes += validate_labels(selector.get("matchLabels"), f.child(path, "matchLabels"))
    for i, req in enumerate(selector.get("matchExpressions") or []):
        rpath = f.index(f.child(path, "matchExpressions"), i)
        req = req if isinstance(req, (dict, Mapping)) else {}
        op, values = req.get("operator"), req.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                causes.append(f.required(f.child(rpath, "values"),
                                         "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(f.forbidden(f.child(rpath, "values"), "may not be specified "
                                          "when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(f.invalid(f.child(rpath, "operator"), op,
                                    "not a valid selector operator"))
        causes += validate_label_name(str(req.get("key", "")), f.child(rpath, "key"))
        for j, value in enumerate(values if op in ("In", "NotIn") else []):
            causes += [f.invalid(f.index(f.child(rpath, "values"), j), value, msg)
                       for msg in is_valid_label_value(str(value))]
    return causes


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether a metav1.LabelSelector selects ``labels`` (an empty selector selects all)."""
    if not isinstance(selector, (dict, Mapping)):
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for req in selector.get("matchExpressions") or []:
        k, op, values = req.get("key"), req.get("operator"), req.get("values") or []
        if op == "In" and labels.get(k) not in values:
            return False
        if op == "NotIn" and k in labels and labels[k] in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True
