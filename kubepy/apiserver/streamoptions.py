"""Options of the pod streaming subresources and where they lead on the kubelet.

Pure functions, shaped after pkg/registry/core/pod (LogLocation, streamLocation,
PortForwardLocation, validateContainer) and the parameter codec that fills the option
structs from a query:

- booleans are true unless absent, ``0`` or ``false`` (any case): ``?follow`` is true;
- integers parse as Go's ``strconv.ParseInt`` (a failure is 400 BadRequest with its text);
- PodLogOptions are then validated (422 Invalid, ``PodLogOptions "p" is invalid: ...``);
- the kubelet query is written as ``url.Values.Encode`` writes it (keys sorted).

Queries come in as ``{name: [values...]}`` (repeated names kept, e.g. ``command``).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from kubepy import errors

Obj = dict[str, Any]
Query = Mapping[str, list[str]]

_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2 ** 63 - 1
_RFC3339 = "2006-01-02T15:04:05Z07:00"


def query_bool(query: Query, name: str) -> bool:
    values = query.get(name) or []
    if not values:
        return False
    return not (values[0] == "0" or values[0].lower() == "false")


def query_int(query: Query, name: str) -> int | None:
    values = query.get(name) or []
    if not values:
        return None
    text = values[0]
    if not _INT.fullmatch(text):
        raise errors.BadRequest(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise errors.BadRequest(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def query_time(query: Query, name: str) -> datetime.datetime | None:
    """An RFC 3339 time (metav1.Time's query form); an empty value means unset."""
    values = query.get(name) or []
    if not values or values[0] == "":
        return None
    text = values[0]
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in text.upper():
        raise errors.BadRequest(f'parsing time "{text}" as "{_RFC3339}": cannot parse '
                                f'"{text}" as "2006"')
    return parsed


def query_str(query: Query, name: str) -> str:
    values = query.get(name) or []
    return values[0] if values else ""


# ------------------------------------------------------------------------- logs


@dataclass(frozen=True)
class LogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    since_seconds: int | None = None
    since_time: datetime.datetime | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None
    insecure_skip_tls_verify_backend: bool = False


def log_options(query: Query) -> LogOptions:
    """PodLogOptions from a query (400 BadRequest for a value that does not parse)."""
    return LogOptions(
        container=query_str(query, "container"),
        follow=query_bool(query, "follow"),
        previous=query_bool(query, "previous"),
        timestamps=query_bool(query, "timestamps"),
        since_seconds=query_int(query, "sinceSeconds"),
        since_time=query_time(query, "sinceTime"),
        tail_lines=query_int(query, "tailLines"),
        limit_bytes=query_int(query, "limitBytes"),
        insecure_skip_tls_verify_backend=query_bool(query, "insecureSkipTLSVerifyBackend"),
    )


def validate_log_options(opts: LogOptions, name: str) -> None:
    """ValidatePodLogOptions: raise 422 Invalid naming every bad field."""
    causes: list[dict[str, str]] = []
    if opts.tail_lines is not None and opts.tail_lines < 0:
        causes.append(errors.field_cause(
            "tailLines", f"Invalid value: {opts.tail_lines}: must be greater than or equal to 0"))
    if opts.limit_bytes is not None and opts.limit_bytes < 1:
        causes.append(errors.field_cause(
            "limitBytes", f"Invalid value: {opts.limit_bytes}: must be greater than 0"))
    if opts.since_seconds is not None and opts.since_time is not None:
        causes.append(errors.field_cause(
            "", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            "FieldValueForbidden"))
    elif opts.since_seconds is not None and opts.since_seconds < 1:
        causes.append(errors.field_cause(
            "sinceSeconds", f"Invalid value: {opts.since_seconds}: must be greater than 0"))
    if not causes:
        return
    # field.ErrorList's text: "<field>: <detail>" even for the root path (": Forbidden...")
    parts = [f"{c['field']}: {c['message']}" for c in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    raise errors.Invalid(f'PodLogOptions "{name}" is invalid: {joined}', name=name,
                         kind="PodLogOptions", causes=causes)


def format_rfc3339(when: datetime.datetime) -> str:
    """Go's Format(time.RFC3339): whole seconds, ``Z`` for UTC."""
    when = when.astimezone(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_query(opts: LogOptions) -> str:
    """The kubelet's /containerLogs query for ``opts`` (url.Values.Encode: keys sorted)."""
    params: dict[str, str] = {}
    if opts.follow:
        params["follow"] = "true"
    if opts.previous:
        params["previous"] = "true"
    if opts.timestamps:
        params["timestamps"] = "true"
    if opts.since_seconds is not None:
        params["sinceSeconds"] = str(opts.since_seconds)
    if opts.since_time is not None:
        params["sinceTime"] = format_rfc3339(opts.since_time)
    if opts.tail_lines is not None:
        params["tailLines"] = str(opts.tail_lines)
    if opts.limit_bytes is not None:
        params["limitBytes"] = str(opts.limit_bytes)
    return urlencode(sorted(params.items()))


# ------------------------------------------------------------- exec, attach, portforward


def stream_query(kind: str, query: Query) -> str:
    """The kubelet query of an exec, attach or portforward request (streamParams).

    exec and attach carry stdin/stdout/stderr/tty as ``1`` and exec its ``command``
    words in order; portforward carries ``port=80,8080`` from ``ports``.
    """
    params: list[tuple[str, str]] = []
    if kind in ("exec", "attach"):
        for flag in ("stdin", "stdout", "stderr", "tty"):
            if query_bool(query, flag):
                params.append((flag, "1"))
        if kind == "exec":
            params += [("command", word) for word in query.get("command") or []]
    elif kind == "portforward":
        ports: list[str] = []
        for text in query.get("ports") or []:
            for part in text.split(","):
                value = query_int({"ports": [part.strip()]}, "ports")
                if value is not None:
                    ports.append(str(value))
        if ports:
            params.append(("port", ",".join(ports)))
    params.sort(key=lambda kv: kv[0])  # stable: command words keep their order
    return urlencode(params)


# --------------------------------------------------------------------- containers


def container_names(pod: Obj) -> list[str]:
    """Every container of the pod in VisitContainers order: init, regular, ephemeral."""
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []]


def choose_container(pod: Obj, container: str) -> str:
    """validateContainer: the named container must exist; none named means the only one."""
    name = (pod.get("metadata") or {}).get("name", "")
    regular: list[str] = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if not container:
        if len(regular) == 1:
            return regular[0]
        if not regular:
            raise errors.BadRequest(f"a container name must be specified for pod {name}")
        raise errors.BadRequest(f"a container name must be specified for pod {name}, "
                                f"choose one of: [{' '.join(container_names(pod))}]")
    if container not in container_names(pod):
        raise errors.BadRequest(f"container {container} is not valid for pod {name}")
    return container


def node_name(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


# -------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class KubeletAddress:
    host: str
    port: int

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


DEFAULT_KUBELET_PORT = 10250
PREFERRED_ADDRESS_TYPES = ("InternalIP",)


def kubelet_address(node: Obj) -> KubeletAddress:
    """Where a node's kubelet listens: its InternalIP and daemonEndpoints port (10250 if
    unset), as NodeConnectionInfoGetter finds it (500 when the node has no address)."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    host = ""
    for kind in PREFERRED_ADDRESS_TYPES:
        host = next((a.get("address", "") for a in addresses if a.get("type") == kind), "")
        if host:
            break
    if not host:
        known = " ".join("{%s %s}" % (a.get("type", ""), a.get("address", ""))
                         for a in addresses)
        raise errors.InternalError(
            f"no preferred addresses found; known addresses: [{known}]")
    endpoint = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {})
    port = int(endpoint.get("Port") or 0)
    return KubeletAddress(host, port if port > 0 else DEFAULT_KUBELET_PORT)


def split_scheme_name_port(ident: str) -> tuple[str, str, str]:
    """utilnet.SplitSchemeNamePort: ``name``, ``name:port`` or ``scheme:name:port``."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        raise errors.BadRequest(f'invalid node request "{ident}"')
    if not name or scheme not in ("", "http", "https"):
        raise errors.BadRequest(f'invalid node request "{ident}"')
    return scheme, name, port
