"""The kubelet's serving certificate and the TLS context that asks for client certificates.

As the kubelet without --tls-cert-file does, the serving certificate is self-signed and kept
in ``cert_dir`` (kubelet.crt / kubelet.key), made on first start and reused while it is valid
and names this node; the apiserver does not verify it (contract C5). Client certificates are
requested, not required, and verified against the cluster CA when presented: a certificate
from another CA fails the handshake, no certificate at all gets a 401 from the server (as
the kubelet's authenticator answers an anonymous request when anonymous auth is off).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _names(node_name: str, node_ip: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost")]
    for ip in {node_ip, "127.0.0.1"} - {""}:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    return names


def _usable(cert_path: Path, node_name: str, node_ip: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    return left > datetime.timedelta(days=7) and set(_names(node_name, node_ip)) <= set(sans)


def ensure_serving_cert(cert_dir: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """(kubelet.crt, kubelet.key) in cert_dir, made (or remade) when missing or unusable."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = cert_dir / "kubelet.crt", cert_dir / "kubelet.key"
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
