"""The kubelet's serving certificate, the TLS context that asks for client certificates, and
which clients are authorized.

Serving certificate (``serving_pair``): a provided pair in ``cert_dir`` —
kubelet-serving.crt / kubelet-serving.key, which ``kubepy server`` issues from the cluster CA
for its own node's agent (SANs: node name, node IP, 127.0.0.1, localhost; ServerAuth), as the
kubelet's --tls-cert-file/--tls-private-key-file — is used while it is valid, names this node
and matches its key. Otherwise (an agent that joined without one) the serving certificate is
self-signed, as the kubelet without --tls-cert-file makes it: kubelet.crt / kubelet.key, made
on first start and reused while valid and naming this node. The apiserver does not verify it
(as kube-apiserver without --kubelet-certificate-authority).

Client certificates are requested, not required, and verified against the cluster CA when
presented: a certificate from another CA fails the handshake, no certificate at all gets a 401
from the server (as the kubelet's authenticator answers an anonymous request when anonymous
auth is off). Authorization (``authorized``) replaces the kubelet's webhook SubjectAccessReview
by a fixed rule: the apiserver's client (CN=kube-apiserver-kubelet-client) and members of
system:masters may do everything; anyone else gets 403 with the kubelet's
"Forbidden (user=..., verb=..., resource=nodes, subresource=...)" (``forbidden_message``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _names(node_name: str, node_ip: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost")]
    for ip in {node_ip, "127.0.0.1"} - {""}:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    return names


APISERVER_CLIENT_CN = "kube-apiserver-kubelet-client"   # kubepy.apiserver.certs' client
ADMIN_GROUP = "system:masters"
PROVIDED_CERT, PROVIDED_KEY = "kubelet-serving.crt", "kubelet-serving.key"
SELF_SIGNED_CERT, SELF_SIGNED_KEY = "kubelet.crt", "kubelet.key"


def _usable(cert_path: Path, node_name: str, node_ip: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    now = datetime.datetime.now(datetime.timezone.utc)
    left = cert.not_valid_after_utc - now
    return (cert.not_valid_before_utc <= now and left > datetime.timedelta(days=7)
            and set(_names(node_name, node_ip)) <= set(sans))


def provided_usable(cert_path: Path, key_path: Path, node_name: str, node_ip: str,
                    ca_pem: bytes | None = None) -> bool:
    """A provided serving pair is valid for a week more, names this node (name, IP,
    127.0.0.1, localhost), belongs to its key and, with ``ca_pem``, is signed by that CA."""
    if not _usable(cert_path, node_name, node_ip):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        if key.public_key() != cert.public_key():
            return False
        if ca_pem is not None:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return True


def serving_pair(cert_dir: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """The provided pair when usable, else the self-signed one (``ensure_serving_cert``)."""
    cert, key = cert_dir / PROVIDED_CERT, cert_dir / PROVIDED_KEY
    if provided_usable(cert, key, node_name, node_ip):
        return cert, key
    return ensure_serving_cert(cert_dir, node_name, node_ip)


def serving_names(node_name: str, node_ip: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(DNS names, IP addresses) a serving certificate of this node must carry."""
    ips = tuple(dict.fromkeys(ip for ip in (node_ip, "127.0.0.1") if ip))
    return (node_name, "localhost"), ips


def ensure_serving_cert(cert_dir: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """(kubelet.crt, kubelet.key) in cert_dir, made (or remade) when missing or unusable."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = cert_dir / SELF_SIGNED_CERT, cert_dir / SELF_SIGNED_KEY
    if key_path.exists() and _usable(cert_path, node_name, node_ip):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(
        NameOID.COMMON_NAME, f"{node_name}@{int(now.timestamp())}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(_names(node_name, node_ip)), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, True, False, False,
                                         False), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(key, hashes.SHA256()))
    tmp = key_path.with_suffix(".key.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.replace(tmp, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert_path: Path, key_path: Path, client_ca_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert_path), str(key_path))
    context.load_verify_locations(cadata=client_ca_pem.decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context


def peer_identity(peercert: dict[str, object] | None) -> tuple[str, list[str]] | None:
    """(CN, [O...]) of a verified client certificate, None without one."""
    if not peercert:
        return None
    cn, orgs = "", []
    subject = peercert.get("subject", ())  # ((("commonName", "x"),), (("organizationName", "y"),))
    for rdn in subject if isinstance(subject, tuple) else ():
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return cn, orgs


_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
          "DELETE": "delete"}
_SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                 ("/spec", "spec"), ("/checkpoint", "checkpoint"))


def authorized(identity: tuple[str, list[str]]) -> bool:
    """The fixed rule standing in for the kubelet's SubjectAccessReview."""
    cn, orgs = identity
    return cn == APISERVER_CLIENT_CN or ADMIN_GROUP in orgs


def request_attributes(method: str, path: str) -> tuple[str, str]:
    """(verb, subresource of nodes) of a request, as the kubelet's auth.go derives them."""
    verb = _VERBS.get(method.upper(), method.lower())
    for prefix, subresource in _SUBRESOURCES:
        if path == prefix or path.startswith(prefix + "/"):
            return verb, subresource
    return verb, "proxy"


def forbidden_message(identity: tuple[str, list[str]], method: str, path: str) -> str:
    verb, subresource = request_attributes(method, path)
    return (f"Forbidden (user={identity[0]}, verb={verb}, resource=nodes, "
            f"subresource={subresource})")
