"""Kubeconfig files: which server, and which credentials, a client uses.

``load_kubeconfig(path, context=None)`` reads the context (default: current-context) and
returns a ``ClientConfig``: server URL, a ready ``ssl.SSLContext`` (cluster CA from
``certificate-authority-data`` or ``certificate-authority``, client certificate and key from
``client-certificate[-data]``/``client-key[-data]``, or no verification at all when
``insecure-skip-tls-verify: true``), and a bearer token (``token`` or ``tokenFile``).
Relative file paths are resolved against the kubeconfig's directory, as kubectl does.
Unsupported auth (exec plugins, auth providers) raises ``ValueError``.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class ClientConfig:
    server: str
    ssl_context: ssl.SSLContext | None
    token: str | None = None
    namespace: str = "default"


def _named(entries: list[dict[str, Any]] | None, name: str, what: str, key: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(key) or {}
    raise ValueError(f"kubeconfig: {what} {name!r} not found")


def _data(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """The bytes of ``<key>-data`` (base64) or of the file ``<key>`` names."""
    if section.get(f"{key}-data"):
        return base64.b64decode(section[f"{key}-data"])
    if section.get(key):
        return (base / os.path.expanduser(str(section[key]))).read_bytes()
    return None


def ssl_context_for(cluster: dict[str, Any], user: dict[str, Any], base: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks hostnames
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = _data(cluster, "certificate-authority", base)
        if ca is not None:  # the cluster's CA alone is trusted, as client-go does
            ctx.load_verify_locations(cadata=ca.decode())
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cluster.get("tls-server-name"):
        # aiohttp has no per-request SNI override; a hostname mismatch is then expected
        ctx.check_hostname = False
    cert = _data(user, "client-certificate", base)
    key = _data(user, "client-key", base)
    if cert is not None:
        # ssl only loads certificate chains from files: stage them in a private temp dir
        with tempfile.TemporaryDirectory(prefix="kubepy-cred-") as tmp:
            cert_path = Path(tmp) / "client.crt"
            key_path = Path(tmp) / "client.key"
            cert_path.write_bytes(cert)
            os.chmod(cert_path, 0o600)
            if key is not None:
                key_path.write_bytes(key)
                os.chmod(key_path, 0o600)
            ctx.load_cert_chain(str(cert_path), str(key_path) if key is not None else None)
    return ctx


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> ClientConfig:
    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    base = path.resolve().parent
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise ValueError(f"kubeconfig {path}: no current-context")
    ctx = _named(doc.get("contexts"), ctx_name, "context", "context")
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster", "cluster")
    user = _named(doc.get("users"), ctx["user"], "user", "user") if ctx.get("user") else {}
    if user.get("exec") or user.get("auth-provider"):
        raise ValueError(f"kubeconfig {path}: exec and auth-provider credentials are not supported")
    server = cluster.get("server")
    if not server:
        raise ValueError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / user["tokenFile"]).read_text().strip()
    ssl_ctx = ssl_context_for(cluster, user, base) if server.startswith("https") else None
    return ClientConfig(server.rstrip("/"), ssl_ctx, token or None,
                        ctx.get("namespace") or "default")
