"""JSON Patch (RFC 6902), ``application/json-patch+json``, as kube-apiserver applies it.

Contract: ``apply_json_patch(doc, ops) -> dict`` returns a new document and never mutates
``doc`` or ``ops``. Operations: add, remove, replace, move, copy, test; JSON pointers
(RFC 6901) with ``~1`` -> ``/`` and ``~0`` -> ``~``; ``-`` appends to an array.

Errors, as the real apiserver reports them:

* the patch document is not a JSON array of objects -> 400 ``BadRequest`` with the Go
  decoder's text (``json: cannot unmarshal object into Go value of type jsonpatch.Patch``);
* more than 10000 operations -> 413 ``RequestEntityTooLarge``;
* an operation that cannot apply (missing path, bad index, failed ``test``, unknown ``op``)
  -> 422 ``Invalid`` with the generic message ``the server rejected our request due to an
  error in our request``; the jsonpatch reason (``testing value /x failed: test failed``) is
  not sent to the client, only kept on the exception as ``detail``.

Kubernetes uses evanphx/json-patch v4, whose behaviour differs from the RFC in a few places
that clients can observe; this module follows Kubernetes there:

* ``replace`` of a missing object member succeeds and adds it;
* negative array indexes count from the end (``/-1`` is the last element);
* ``copy`` from a missing object member copies ``null``;
* ``test`` of a missing member passes when ``value`` is ``null``;
* ``add``/``remove`` with the empty path ``""`` fail; ``replace`` with ``""`` swaps the
  whole document.

One deliberate difference: a pointer that does not start with ``/`` is a missing path here
(v4 silently resolves ``a/b`` against the root).
"""

from __future__ import annotations

import re
from typing import Any, Union

from kubepy import errors
from kubepy.api.patch.common import deep_copy, json_equal, json_kind, unprocessable

MAX_JSON_PATCH_OPERATIONS = 10000

Container = Union[dict[str, Any], list[Any]]
_INDEX = re.compile(r"^[+-]?[0-9]+$")


class _OpError(Exception):
    """An operation that does not apply; its text follows evanphx/json-patch v4."""


def apply_json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply the RFC 6902 operations ``ops`` (any decoded JSON value) to a copy of ``doc`` and return it."""
    operations = _decode(ops)
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise errors.RequestEntityTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(operations)}"
        )
    root: Any = deep_copy(doc)
    try:
        for op in operations:
            root = _apply_operation(root, op)
    except _OpError as exc:
        raise unprocessable(str(exc)) from exc
    if not isinstance(root, dict):
        raise unprocessable(f"json: cannot unmarshal {json_kind(root)} into an object")
    return root


def _decode(ops: Any) -> list[dict[str, Any] | None]:
    """Check the document shape the way ``jsonpatch.DecodePatch`` does."""
    if ops is None:
        return []
    if not isinstance(ops, list):
        raise errors.BadRequest(
            f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise errors.BadRequest(
                f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation"
            )
    return ops


def _string_field(op: dict[str, Any], name: str) -> str | None:
    value = op.get(name)
    return value if isinstance(value, str) else None


def _apply_operation(root: Any, op: dict[str, Any] | None) -> Any:
    op = op or {}
    kind = _string_field(op, "op") or "unknown"
    if kind == "add":
        path = _require_path(op, "add operation failed to decode path: missing value")
        container, key = _locate(root, path, f'add operation does not apply: doc is missing path: "{path}"')
        _add(container, key, deep_copy(op.get("value")), f"error in add for path: '{path}'")
    elif kind == "remove":
        path = _require_path(op, "remove operation failed to decode path: missing value")
        container, key = _locate(root, path, f'remove operation does not apply: doc is missing path: "{path}"')
        _remove(container, key, f"error in remove for path: '{path}'")
    elif kind == "replace":
        path = _require_path(op, "replace operation failed to decode path: missing value")
        value = deep_copy(op.get("value"))
        if path == "":
            if not isinstance(value, (dict, list)):
                raise _OpError("replace operation value must be object or array")
            return value
        container, key = _locate(root, path, f"replace operation does not apply: doc is missing path: {path}")
        _get(container, key, f"replace operation does not apply: doc is missing key: {path}")
        _set(container, key, value, f"error in remove for path: '{path}'")
    elif kind == "move":
        source = _require_from(op, "move operation failed to decode from: missing value")
        container, key = _locate(root, source, f"move operation does not apply: doc is missing from path: {source}")
        value = _get(container, key, f"error in move for path: '{key}'")
        _remove(container, key, f"error in move for path: '{key}'")
        path = _require_path(op, "move operation failed to decode path: missing value")
        container, key = _locate(root, path, f"move operation does not apply: doc is missing destination path: {path}")
        _add(container, key, value, f"error in move for path: '{path}'")
    elif kind == "copy":
        source = _require_from(op, "copy operation failed to decode from: missing value")
        container, key = _locate(root, source, f"copy operation does not apply: doc is missing from path: {source}")
        value = _get(container, key, f"error in copy for from: '{source}'")
        path = _require_path(op, "copy operation failed to decode path: missing value")
        container, key = _locate(root, path, f"copy operation does not apply: doc is missing destination path: {path}")
        _add(container, key, deep_copy(value), "error while adding value during copy")
    elif kind == "test":
        _test(root, op)
    else:
        raise _OpError(f"Unexpected kind: {kind}")
    return root


def _require_path(op: dict[str, Any], message: str) -> str:
    path = _string_field(op, "path")
    if path is None:
        raise _OpError(message)
    return path


def _require_from(op: dict[str, Any], message: str) -> str:
    source = _string_field(op, "from")
    if source is None:
        raise _OpError(message)
    return source


def _decode_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parse_index(key: str, length: int, message: str) -> int:
    """An existing element's index; negative indexes count from the end (v4 behaviour)."""
    if not _INDEX.match(key):
        raise _OpError(f'{message}: strconv.Atoi: parsing "{key}": invalid syntax')
    idx = int(key)
    if idx < 0:
        if idx < -length:
            raise _OpError(f"{message}: Unable to access invalid index: {idx}: invalid index referenced")
        idx += length
    if idx >= length:
        raise _OpError(f"{message}: Unable to access invalid index: {idx}: invalid index referenced")
    return idx


def _locate(root: Any, path: str, message: str) -> tuple[Container, str]:
    """The container holding the last token of ``path``, and that token (decoded)."""
    if not path.startswith("/"):
        raise _OpError(f"{message}: missing value")
    tokens = path.split("/")[1:]
    node = root
    for token in tokens[:-1]:
        if isinstance(node, dict):
            node = node.get(_decode_token(token))
        elif isinstance(node, list):
            if not _INDEX.match(token):
                raise _OpError(f"{message}: missing value")
            idx = int(token)
            if idx < 0:
                idx += len(node)
            if not 0 <= idx < len(node):
                raise _OpError(f"{message}: missing value")
            node = node[idx]
        else:
            raise _OpError(f"{message}: missing value")
    if not isinstance(node, (dict, list)):
        raise _OpError(f"{message}: missing value")
    return node, _decode_token(tokens[-1])


def _get(container: Container, key: str, message: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)  # v4: a missing member reads as null, without error
    return container[_parse_index(key, len(container), message)]


def _set(container: Container, key: str, value: Any, message: str) -> None:
    if isinstance(container, dict):
        container[key] = value
    else:
        container[_parse_index(key, len(container), message)] = value


def _add(container: Container, key: str, value: Any, message: str) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    if not _INDEX.match(key):
        raise _OpError(f"{message}: value was not a proper array index: '{key}'")
    idx = int(key)
    size = len(container) + 1
    if idx >= size or idx < -size:
        raise _OpError(f"{message}: Unable to access invalid index: {idx}: invalid index referenced")
    if idx < 0:
        idx += size
    container.insert(idx, value)


def _remove(container: Container, key: str, message: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OpError(f"{message}: Unable to remove nonexistent key: {key}: missing value")
        del container[key]
    else:
        del container[_parse_index(key, len(container), message)]


def _test(root: Any, op: dict[str, Any]) -> None:
    path = _require_path(op, "test operation failed to decode path: missing value")
    expected = op.get("value")
    if path == "":
        if not json_equal(root, expected):
            raise _OpError(f"testing value {path} failed: test failed")
        return
    container, key = _locate(root, path, f"test operation does not apply: is missing path: {path}")
    actual = _get(container, key, f"error in test for path: '{path}'")
    if actual is None or expected is None:
        if actual is None and expected is None:
            return
        raise _OpError(f"testing value {path} failed: test failed")
    if not json_equal(actual, expected):
        raise _OpError(f"testing value {path} failed: test failed")
