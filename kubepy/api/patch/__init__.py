"""The PATCH engines of the API server, as pure functions over plain JSON dicts.

* ``apply_json_patch(doc, ops)`` — ``application/json-patch+json`` (RFC 6902);
* ``apply_merge_patch(doc, patch)`` — ``application/merge-patch+json`` (RFC 7386);
* ``apply_strategic_merge_patch(original, patch, schema)`` —
  ``application/strategic-merge-patch+json``, with ``schema`` the kind's root
  ``SchemaNode`` from ``kubepy.api.schema.schemas().for_kind(group, version, kind)``.
  A kind without schema (custom resources) gets 415 ``unsupported_patch_type()``.

None of them mutates its inputs. Failures raise ``kubepy.errors`` classes carrying the code,
reason and message kube-apiserver uses for the same failure (see each module).
"""

from kubepy.api.patch.common import PatchApplyError
from kubepy.api.patch.json_patch import MAX_JSON_PATCH_OPERATIONS, apply_json_patch
from kubepy.api.patch.merge_patch import apply_merge_patch
from kubepy.api.patch.strategic import (
    CUSTOM_RESOURCE_PATCH_TYPES,
    apply_strategic_merge_patch,
    unsupported_patch_type,
)

__all__ = [
    "CUSTOM_RESOURCE_PATCH_TYPES",
    "MAX_JSON_PATCH_OPERATIONS",
    "PatchApplyError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "unsupported_patch_type",
]
