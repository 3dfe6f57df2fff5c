"""The cluster PKI: a CA, the apiserver serving certificate, client certificates, kubeconfig.

Layout under ``<data-dir>/tls`` (created on first start, reused afterwards):
    ca.crt ca.key                  cluster CA (signs serving and client certificates)
    serving.crt serving.key        apiserver serving certificate (SANs: see ``serving_sans``)
    admin.crt admin.key            admin client (CN=system:admin, O=system:masters)
    kubelet-client.crt .key        the apiserver's client certificate towards kubelets
                                   (CN=kube-apiserver-kubelet-client, O=system:masters)
Keys are ECDSA P-256, as k3s uses. Certificates are valid for 10 years (CA) / 1 year.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_ONE_DAY = datetime.timedelta(days=1)
KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class KeyPair:
    cert_path: Path
    key_path: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load(pair: KeyPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pair.cert_path.read_bytes())
    key = serialization.load_pem_private_key(pair.key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def ensure_ca(tls_dir: Path) -> KeyPair:
    pair = KeyPair(tls_dir / "ca.crt", tls_dir / "ca.key")
    if pair.cert_path.exists() and pair.key_path.exists():
        return pair
    tls_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         f"kubepy-ca@{int(_now().timestamp())}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - _ONE_DAY)
        .not_valid_after(_now() + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                     key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(pair.key_path, _key_pem(key))
    pair.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def issue(ca: KeyPair, out: KeyPair, *, common_name: str, organizations: tuple[str, ...] = (),
          dns_names: tuple[str, ...] = (), ip_addresses: tuple[str, ...] = (),
          server: bool = False, client: bool = False, days: int = 365) -> KeyPair:
    """Sign a new leaf certificate with the CA and write it (and its key) to ``out``."""
    ca_cert, ca_key = _load(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs)).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(_now() - _ONE_DAY)
        .not_valid_after(_now() + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True,
                                     key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    out.cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(out.key_path, _key_pem(key))
    out.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return out


def host_addresses() -> tuple[list[str], list[str]]:
    """(names, ip addresses) this host is known by, for the serving certificate."""
    names = {"localhost", socket.gethostname()}
    try:
        names.add(socket.getfqdn())
    except OSError:
        pass
    ips = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ips.add(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    try:  # the address of the default route's interface
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1; no packet is sent for UDP connect
            ips.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(names), sorted(ips)


def serving_sans(cluster_domain: str, first_service_ip: str,
                 bind_address: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names, ips = host_addresses()
    dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
           f"kubernetes.default.svc.{cluster_domain}", *names]
    ip_list = [*ips, first_service_ip]
    if bind_address and bind_address not in ("0.0.0.0", "::"):
        ip_list.append(bind_address)
    return tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ip_list))


@dataclass(frozen=True)
class ClusterPKI:
    ca: KeyPair
    serving: KeyPair
    admin: KeyPair
    kubelet_client: KeyPair


def ensure_pki(data_dir: Path, *, cluster_domain: str, first_service_ip: str,
               bind_address: str | None = None) -> ClusterPKI:
    """Create what is missing of the cluster PKI under data_dir/tls; reuse what exists.

    The serving certificate is re-issued when its SANs no longer cover this host (a new
    address), so clients keep verifying it; the CA and admin certificate stay.
    """
    tls = data_dir / "tls"
    ca = ensure_ca(tls)
    dns, ips = serving_sans(cluster_domain, first_service_ip, bind_address)
    serving = KeyPair(tls / "serving.crt", tls / "serving.key")
    if not _covers(serving, dns, ips):
        issue(ca, serving, common_name="kube-apiserver", dns_names=dns, ip_addresses=ips,
              server=True)
    admin = KeyPair(tls / "admin.crt", tls / "admin.key")
    if not (admin.cert_path.exists() and admin.key_path.exists()):
        issue(ca, admin, common_name="system:admin", organizations=("system:masters",),
              client=True)
    kubelet_client = KeyPair(tls / "kubelet-client.crt", tls / "kubelet-client.key")
    if not (kubelet_client.cert_path.exists() and kubelet_client.key_path.exists()):
        issue(ca, kubelet_client, common_name=KUBELET_CLIENT_CN,
              organizations=("system:masters",), client=True)
    return ClusterPKI(ca, serving, admin, kubelet_client)


def _covers(pair: KeyPair, dns: tuple[str, ...], ips: tuple[str, ...]) -> bool:
    if not (pair.cert_path.exists() and pair.key_path.exists()):
        return False
    cert = x509.load_pem_x509_certificate(pair.cert_path.read_bytes())
    if cert.not_valid_after_utc < _now() + datetime.timedelta(days=30):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(dns) <= have_dns and {str(ipaddress.ip_address(i)) for i in ips} <= have_ips


def kubeconfig(server_url: str, ca: KeyPair, client: KeyPair, *, cluster: str = "default",
               user: str = "default") -> str:
    """A kubeconfig with embedded credentials, as k3s writes it."""
    import base64

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {cluster}\n"
        "  cluster:\n"
        f"    server: {server_url}\n"
        f"    certificate-authority-data: {b64(ca.cert_path)}\n"
        "contexts:\n"
        f"- name: {cluster}\n"
        "  context:\n"
        f"    cluster: {cluster}\n"
        f"    user: {user}\n"
        f"current-context: {cluster}\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {user}\n"
        "  user:\n"
        f"    client-certificate-data: {b64(client.cert_path)}\n"
        f"    client-key-data: {b64(client.key_path)}\n"
    )


def write_kubeconfig(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, content.encode())
