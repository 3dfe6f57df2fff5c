"""From a ``Status`` body back to the one error hierarchy (``kubepy.errors``).

The inverse of ``StatusError.to_status`` at the client edge: ``reason`` picks the class when
it names one (``AlreadyExists`` and ``Conflict`` share 409; ``Expired`` and ``Gone`` are both
410), else the HTTP ``code`` does; a code no class owns gives a plain ``StatusError`` carrying
that code and reason. ``details`` (name, group, kind, causes, retryAfterSeconds) carry over.
"""

from __future__ import annotations

from typing import Any

from kubepy import errors

_BY_REASON: dict[str, type[errors.StatusError]] = {
    "BadRequest": errors.BadRequest,
    "Unauthorized": errors.Unauthorized,
    "Forbidden": errors.Forbidden,
    "NotFound": errors.NotFound,
    "MethodNotAllowed": errors.MethodNotAllowed,
    "NotAcceptable": errors.NotAcceptable,
    "AlreadyExists": errors.AlreadyExists,
    "Conflict": errors.Conflict,
    "Expired": errors.Gone,
    "Gone": errors.Gone,
    "RequestEntityTooLarge": errors.RequestEntityTooLarge,
    "UnsupportedMediaType": errors.UnsupportedMediaType,
    "Invalid": errors.Invalid,
    "TooManyRequests": errors.TooManyRequests,
    "InternalError": errors.InternalError,
    "ServiceUnavailable": errors.ServiceUnavailable,
    "Timeout": errors.Timeout,
    "ServerTimeout": errors.Timeout,
}

_BY_CODE: dict[int, type[errors.StatusError]] = {
    400: errors.BadRequest, 401: errors.Unauthorized, 403: errors.Forbidden,
    404: errors.NotFound, 405: errors.MethodNotAllowed, 406: errors.NotAcceptable,
    409: errors.Conflict, 410: errors.Gone, 413: errors.RequestEntityTooLarge,
    415: errors.UnsupportedMediaType, 422: errors.Invalid, 429: errors.TooManyRequests,
    500: errors.InternalError, 503: errors.ServiceUnavailable, 504: errors.Timeout,
}


def errors_from_status(status: dict[str, Any], code: int) -> errors.StatusError:
    """The exception a non-2xx response (or a watch ERROR event) stands for.

    ``status`` is the decoded body (a ``Status`` when the server sent one, else any dict,
    e.g. ``{"message": <body text>}``); ``code`` is the HTTP status, used when the body has
    no ``code`` of its own.
    """
    code = int(status.get("code") or code)
    reason = status.get("reason") or ""
    details = status.get("details") or {}
    message = status.get("message") or reason or f"the server responded with HTTP {code}"
    cls = _BY_REASON.get(reason)
    if cls is None or (cls.code != code and code in _BY_CODE):
        cls = _BY_CODE.get(code, errors.StatusError)
    err = cls(message, name=details.get("name"), group=details.get("group"),
              kind=details.get("kind"), causes=details.get("causes"),
              retry_after=details.get("retryAfterSeconds"))
    if cls is errors.StatusError or (reason and reason != cls.reason and cls is not errors.Gone):
        err.reason = reason or err.reason
        err.code = code
    return err
