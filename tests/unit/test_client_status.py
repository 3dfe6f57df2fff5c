"""Status bodies back to kubepy.errors (kubepy.client.status), kubeconfig loading
(kubepy.client.kubeconfig) and REST paths (kubepy.client.rest.resource_path)."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.kubeconfig import load_kubeconfig
from kubepy.client.rest import _retry_delay, resource_path
from kubepy.client.status import errors_from_status

REG = Registry()


def status(reason: str, code: int, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "message": f"msg {reason}", "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


STATUS_CASES = [
    ("not found", status("NotFound", 404, name="x", kind="pods"), 404, errors.NotFound, "NotFound", 404),
    ("already exists, not conflict", status("AlreadyExists", 409), 409, errors.AlreadyExists, "AlreadyExists", 409),
    ("conflict", status("Conflict", 409), 409, errors.Conflict, "Conflict", 409),
    ("expired is Gone", status("Expired", 410), 410, errors.Gone, "Expired", 410),
    ("invalid", status("Invalid", 422, causes=[{"field": "spec"}]), 422, errors.Invalid, "Invalid", 422),
    ("no reason: by code", {"message": "oops"}, 403, errors.Forbidden, "Forbidden", 403),
    ("too many requests", status("TooManyRequests", 429, retryAfterSeconds=3), 429,
     errors.TooManyRequests, "TooManyRequests", 429),
    ("unknown code keeps code and reason", status("Teapot", 418), 418, errors.StatusError, "Teapot", 418),
    ("code from body wins", status("Timeout", 504), 500, errors.Timeout, "Timeout", 504),
]


@pytest.mark.parametrize("body,code,cls,reason,status_code", [c[1:] for c in STATUS_CASES],
                         ids=[c[0] for c in STATUS_CASES])
def test_errors_from_status(body: dict[str, Any], code: int, cls: type, reason: str,
                            status_code: int) -> None:
    err = errors_from_status(body, code)
    assert type(err) is cls
    assert (err.reason, err.code, err.message) == (reason, status_code, body["message"])


def test_details_carry_over_and_round_trip() -> None:
    original = errors.invalid("Pod", "p", [errors.field_cause("spec.x", "bad")])
    err = errors_from_status(original.to_status(), 422)
    assert (err.name, err.kind, err.causes, str(err)) == ("p", "Pod", original.causes, str(original))
    assert errors_from_status(status("TooManyRequests", 429, retryAfterSeconds=3), 429).retry_after == 3


PATHS = [
    ("core namespaced item", ("", "v1", "pods"), "ns", "p", None, "/api/v1/namespaces/ns/pods/p"),
    ("core all namespaces", ("", "v1", "pods"), None, None, None, "/api/v1/pods"),
    ("subresource", ("", "v1", "pods"), "ns", "p", "binding", "/api/v1/namespaces/ns/pods/p/binding"),
    ("group cluster-scoped", ("rbac.authorization.k8s.io", "v1", "clusterroles"), "ignored", "r", None,
     "/apis/rbac.authorization.k8s.io/v1/clusterroles/r"),
    ("group namespaced list", ("apps", "v1", "deployments"), "ns", None, None,
     "/apis/apps/v1/namespaces/ns/deployments"),
]


@pytest.mark.parametrize("gvr,ns,name,sub,path", [c[1:] for c in PATHS], ids=[c[0] for c in PATHS])
def test_resource_path(gvr: tuple[str, str, str], ns: str | None, name: str | None,
                       sub: str | None, path: str) -> None:
    rt = REG.get(*gvr)
    assert rt is not None
    assert resource_path(rt, ns, name, sub) == path


RETRIES = [
    ("429 without header: 1s", 429, None, 1.0),
    ("429 with header", 429, "3", 3.0),
    ("503 with header", 503, "2", 2.0),
    ("500 without header: final", 500, None, None),
    ("409: final", 409, "5", None),
    ("capped", 429, "3600", 30.0),
]


@pytest.mark.parametrize("code,header,delay", [c[1:] for c in RETRIES], ids=[c[0] for c in RETRIES])
def test_retry_delay(code: int, header: str | None, delay: float | None) -> None:
    assert _retry_delay(code, header) == delay


def _kubeconfig(tmp_path: Path, cluster: str, user: str) -> Path:
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts:\n- name: c\n  context: {cluster: k, user: u, namespace: team}\n"
        f"clusters:\n- name: k\n  cluster: {cluster}\n"
        f"users:\n- name: u\n  user: {user}\n")
    return path


def test_kubeconfig_token_file_and_insecure(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("s3cret\n")
    cfg = load_kubeconfig(_kubeconfig(
        tmp_path, "{server: 'https://h:6443/', insecure-skip-tls-verify: true}", "{tokenFile: tok}"))
    assert (cfg.server, cfg.token, cfg.namespace) == ("https://h:6443", "s3cret", "team")
    assert cfg.ssl_context is not None and cfg.ssl_context.verify_mode == ssl.CERT_NONE


def _self_signed_pem() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_kubeconfig_ca_file_relative_and_embedded(tmp_path: Path) -> None:
    pem = _self_signed_pem()
    (tmp_path / "ca.crt").write_bytes(pem)
    for cluster in ("{server: 'https://h', certificate-authority: ca.crt}",
                    "{server: 'https://h', certificate-authority-data: %s}" % base64.b64encode(pem).decode()):
        cfg = load_kubeconfig(_kubeconfig(tmp_path, cluster, "{token: t}"))
        assert cfg.ssl_context is not None and cfg.ssl_context.verify_mode == ssl.CERT_REQUIRED
        assert len(cfg.ssl_context.get_ca_certs()) == 1 and cfg.token == "t"


UNSUPPORTED = [
    ("exec plugin", "{exec: {command: x}}", "exec"),
    ("missing context", None, "context 'nope' not found"),
]


@pytest.mark.parametrize("user,message", [c[1:] for c in UNSUPPORTED], ids=[c[0] for c in UNSUPPORTED])
def test_kubeconfig_errors(tmp_path: Path, user: str | None, message: str) -> None:
    path = _kubeconfig(tmp_path, "{server: 'https://h'}", user or "{token: t}")
    with pytest.raises(ValueError, match=message):
        load_kubeconfig(path, "nope" if user is None else None)
