"""The one error hierarchy of kubepy.

Each class maps one-to-one onto a Kubernetes ``Status`` reason and HTTP code. Code below
the HTTP edge raises these; only the apiserver turns them into ``Status`` bodies (see
``to_status``). ``details`` follows ``metav1.StatusDetails``: name, group, kind, causes.
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """A failure that the API reports as a ``Status`` with ``reason`` and ``code``."""

    reason: str = "InternalError"
    code: int = 500

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes or []
        self.retry_after = retry_after

    def details(self) -> dict[str, Any] | None:
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        return details or None

    def to_status(self) -> dict[str, Any]:
        # field order of metav1.Status as the apiserver writes it (details before code)
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            status["reason"] = self.reason
        details = self.details()
        if details is not None:
            status["details"] = details
        status["code"] = self.code
        return status


class BadRequest(StatusError):
    reason, code = "BadRequest", 400


class Unauthorized(StatusError):
    reason, code = "Unauthorized", 401


class Forbidden(StatusError):
    reason, code = "Forbidden", 403


class NotFound(StatusError):
    reason, code = "NotFound", 404


class MethodNotAllowed(StatusError):
    reason, code = "MethodNotAllowed", 405


class NotAcceptable(StatusError):
    reason, code = "NotAcceptable", 406


class AlreadyExists(StatusError):
    reason, code = "AlreadyExists", 409


class Conflict(StatusError):
    reason, code = "Conflict", 409


class Gone(StatusError):
    """A resourceVersion that was compacted away: reason ``Expired``, as the apiserver says."""

    reason, code = "Expired", 410


class RequestEntityTooLarge(StatusError):
    reason, code = "RequestEntityTooLarge", 413


class UnsupportedMediaType(StatusError):
    reason, code = "UnsupportedMediaType", 415


class Invalid(StatusError):
    reason, code = "Invalid", 422


class TooManyRequests(StatusError):
    reason, code = "TooManyRequests", 429


class InternalError(StatusError):
    reason, code = "InternalError", 500


class ServiceUnavailable(StatusError):
    reason, code = "ServiceUnavailable", 503


class Timeout(StatusError):
    reason, code = "Timeout", 504


def field_cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """One entry of ``details.causes`` for a 422 Invalid (``field`` is a dotted path)."""
    return {"reason": reason, "message": message, "field": field}


def invalid(kind: str, name: str, causes: list[dict[str, str]], group: str = "") -> Invalid:
    """Build the 422 that kubectl prints as ``The Kind "name" is invalid: f: msg, ...``.

    The message joins ``field: message`` of each cause the way apimachinery's
    ``errors.NewInvalid`` does: one cause inline, several as a bracketed list.
    """
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    if len(parts) == 1:
        joined = parts[0]
    else:
        joined = "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind  # schema.GroupKind's String()
    return Invalid(
        f'{qualified} "{name}" is invalid: {joined}', name=name, group=group, kind=kind,
        causes=causes
    )
