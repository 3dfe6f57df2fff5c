"""Server-side apply and managedFields, as pure functions over plain JSON dicts.

* ``server_side_apply(live, config, *, manager, force, schema, now, subresource="")`` —
  the ``application/apply-patch+yaml`` PATCH; returns the new object.
* ``update_managed_fields(old, new, *, manager, schema, now, api_version, subresource="")``
  — managedFields bookkeeping for create, update and the other patch types.

Modules, bottom up: ``fieldpath`` (paths, field sets, the ``fieldsV1`` encoding), ``shape``
(what the schema says about each position), ``typed`` (field sets, compare, merge, remove
over objects), ``managed`` (managedFields entries, ordering, the conflict error), ``merge``
(ownership changes of one write), ``fieldmanager`` (the two entry points).
"""

from kubepy.api.apply.fieldmanager import (
    LAST_APPLIED_ANNOTATION,
    STRIPPED_FIELDS,
    TypedObjectError,
    default_reset_fields,
    manager_from_user_agent,
    server_side_apply,
    update_managed_fields,
)
from kubepy.api.apply.fieldpath import from_fields_v1, path_string, to_fields_v1

__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "STRIPPED_FIELDS",
    "TypedObjectError",
    "default_reset_fields",
    "from_fields_v1",
    "manager_from_user_agent",
    "path_string",
    "server_side_apply",
    "to_fields_v1",
    "update_managed_fields",
]
