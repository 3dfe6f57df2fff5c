"""Service-account controllers' decisions (kubepy.controllers.serviceaccount), as tables."""

from __future__ import annotations

import datetime
import ssl
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubepy.controllers import serviceaccount as sa

ACTIVE = {"metadata": {"name": "a"}, "status": {"phase": "Active"}}
TERMINATING = {"metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"},
               "status": {"phase": "Terminating"}}
NO_STATUS = {"metadata": {"name": "a"}}


@pytest.mark.parametrize("ns,existing,expected", [
    (ACTIVE, [], ["default"]),
    (ACTIVE, ["default"], []),
    (NO_STATUS, [], ["default"]),
    (TERMINATING, [], []),
    (None, [], []),
], ids=["missing", "present", "phase-not-yet-set", "terminating", "namespace-gone"])
def test_missing_service_accounts(ns: dict[str, Any] | None, existing: list[str],
                                  expected: list[str]) -> None:
    assert sa.missing_service_accounts(ns, existing) == expected


PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
GOOD = {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": "a", "resourceVersion": "7",
                     "annotations": {sa.DESCRIPTION_ANNOTATION: sa.DESCRIPTION}},
        "data": {"ca.crt": PEM}}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    if "metadata" in changes:
        out["metadata"] = {**base["metadata"], **changes["metadata"]}
    return out


@pytest.mark.parametrize("ns,current,ca,action,data", [
    (ACTIVE, None, PEM, "create", {"ca.crt": PEM}),
    (ACTIVE, GOOD, PEM, "none", None),
    (ACTIVE, with_(GOOD, data={"ca.crt": "old"}), PEM, "update", {"ca.crt": PEM}),
    (ACTIVE, with_(GOOD, data={"ca.crt": PEM, "extra": "x"}), PEM, "update", {"ca.crt": PEM}),
    (ACTIVE, with_(GOOD, metadata={"annotations": None}), PEM, "update", {"ca.crt": PEM}),
    (TERMINATING, None, PEM, "none", None),
    (None, None, PEM, "none", None),
    (ACTIVE, None, "", "none", None),
], ids=["create", "in-sync", "data-reverted", "extra-keys-dropped", "annotation-restored",
        "terminating", "namespace-gone", "no-ca"])
def test_root_ca_config_map_action(ns: dict[str, Any] | None, current: dict[str, Any] | None,
                                   ca: str, action: str, data: dict[str, str] | None) -> None:
    got_action, cm = sa.root_ca_config_map_action(ns, current, ca)
    assert got_action == action
    if data is None:
        assert cm is None
        return
    assert cm is not None and cm["data"] == data
    assert cm["metadata"]["name"] == "kube-root-ca.crt"
    assert cm["metadata"]["annotations"][sa.DESCRIPTION_ANNOTATION] == sa.DESCRIPTION
    if current is not None:  # updates keep the resourceVersion and leave the cache alone
        assert cm["metadata"]["resourceVersion"] == "7"
        assert cm is not current and current["metadata"] is not cm["metadata"]


def self_signed_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubepy-test-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_root_ca_bundle_sources() -> None:
    pem = self_signed_pem()
    assert sa.root_ca_bundle("configured", None) == "configured"
    assert sa.root_ca_bundle("", None) == ""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pem)
    got = sa.root_ca_bundle("", ctx)
    assert x509.load_pem_x509_certificate(got.encode()) == \
        x509.load_pem_x509_certificate(pem.encode())
    insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    assert sa.root_ca_bundle("", insecure) == ""
