"""JSON Merge Patch (RFC 7386), ``application/merge-patch+json``, as kube-apiserver applies it.

Contract: ``apply_merge_patch(doc, patch) -> dict`` returns a new document and never mutates
its inputs. In the patch, ``null`` deletes a member, objects merge recursively and every
other value (arrays included) replaces the target value.

Errors, as the real apiserver reports them (it uses evanphx/json-patch v4 ``MergePatch``):

* a patch that is ``null``, a string, a number or a boolean -> 400 ``BadRequest``
  ``Invalid JSON Patch``;
* a patch that is an array becomes the whole result, which then fails to decode as an
  object -> 422 ``Invalid`` (``: "" is invalid: patch: Invalid value: ...``).

Null pruning follows v4 rather than the letter of RFC 7386: a value copied into a place where
the target had nothing (or a non-object) is stripped of ``null`` members at every depth,
including objects inside arrays, but ``null`` elements of arrays are kept; a non-object patch
value replacing an object target is taken as is.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubepy import errors
from kubepy.api.patch.common import deep_copy, json_quote

BAD_MERGE_PATCH_MESSAGE = "Invalid JSON Patch"


def apply_merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply the RFC 7386 merge patch ``patch`` (any decoded JSON value) to a copy of ``doc`` and return it."""
    if isinstance(patch, list):
        rendered = orjson.dumps(prune_nulls(patch)).decode()
        message = (
            f"Invalid value: {json_quote(rendered)}: "
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
        raise errors.invalid("", "", [errors.field_cause("patch", message)])
    if not isinstance(patch, dict):
        raise errors.BadRequest(BAD_MERGE_PATCH_MESSAGE)
    result = deep_copy(doc)
    _merge_into(result, patch)
    return result


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge ``patch`` into ``target`` in place (``target`` is already a private copy)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if current is None:
            target[key] = prune_nulls(value)
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value)
        elif isinstance(current, dict):
            target[key] = deep_copy(value)
        else:
            target[key] = prune_nulls(value)


def prune_nulls(value: Any) -> Any:
    """A copy of ``value`` without ``null`` object members, at any depth (array nulls stay)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value
