"""Small facts shared by the probe handlers: port resolution, Go's text forms, limits.

The kubelet's messages are Go error strings; these helpers produce the same text
(``net.JoinHostPort``, ``%q`` quoting, ``time.Duration`` printing, syscall error words).
"""

from __future__ import annotations

import errno
import os
from typing import Any

from kubepy.api.gotext import go_quote as go_quote  # the probers quote with it
from kubepy.kubelet.prober.types import Obj

KUBE_VERSION = "1.32"            # major.minor the User-Agent names (kube-probe/1.32)
MAX_READ_LENGTH = 10 * 1024      # exec output and HTTP body are read up to 10 KiB

# Go's syscall.Errno texts differ from strerror only in the first letter's case.
_ERRNO_TEXT = {errno.ECONNREFUSED: "connection refused", errno.EHOSTUNREACH: "no route to host",
               errno.ENETUNREACH: "network is unreachable",
               errno.ECONNRESET: "connection reset by peer", errno.ETIMEDOUT: "i/o timeout"}


class PortError(ValueError):
    """The probe's port cannot be resolved (the probe is then 'errored', not failed)."""


def resolve_container_port(port: Any, container: Obj) -> int:
    """pkg/probe ResolveContainerPort: a number, or the name of one of the container's
    ports, or a number written as a string; 1..65535."""
    if isinstance(port, bool):
        raise PortError(f"intOrString had no kind: {port!r}")
    if isinstance(port, int):
        number = port
    elif isinstance(port, str):
        named = [p.get("containerPort") for p in container.get("ports") or []
                 if p.get("name") == port]
        if named:
            number = int(named[0] or 0)
        else:
            try:
                number = int(port, 10)
            except ValueError:
                raise PortError(f'strconv.Atoi: parsing {go_quote(port)}: invalid syntax') from None
    else:
        raise PortError(f"intOrString had no kind: {port!r}")
    if 0 < number < 65536:
        return number
    raise PortError(f"invalid port number: {number}")


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def go_duration(seconds: float) -> str:
    """A time.Duration as Go prints it: 1s, 1.5s, 500ms, 1m0s, 1h0m0s."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs + frac:g}s" if frac else f"{secs}s"
    if hours:
        return f"{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{minutes}m{sec_text}"
    return sec_text


def os_error_text(exc: BaseException) -> str:
    """The Go text of a socket error: 'connection refused', 'no route to host', ..."""
    code = getattr(exc, "errno", None)
    if code in _ERRNO_TEXT:
        return _ERRNO_TEXT[code]
    if isinstance(code, int):
        text = os.strerror(code)
        return text[:1].lower() + text[1:]
    return str(exc) or type(exc).__name__


def pod_full_name(pod: Obj) -> str:
    """format.Pod: name_namespace(uid)."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def go_list(items: list[str]) -> str:
    """A []string printed with %v: [a b c]."""
    return "[" + " ".join(items) + "]"
