"""Service-account tokens: the TokenRequest API and bearer-token authentication of them.

Tokens are JWTs signed ES256 with the cluster's service-account key
(``<data-dir>/tls/service-account.key``, created on first start), as the apiserver issues
them: ``iss`` the cluster issuer, ``sub`` ``system:serviceaccount:<ns>:<name>``, ``aud``
the requested audiences (default: the issuer), ``exp``/``iat``/``nbf``, and the
``kubernetes.io`` claim naming the namespace, service account (and bound pod/secret).
A token authenticates while it is unexpired, its audience includes the apiserver's, and
the ServiceAccount it names still exists with the same uid.
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any, Callable

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

from kubepy.apiserver.auth import User

Obj = dict[str, Any]
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


class TokenIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str,
                 service_account: Callable[[str, str], Obj | None],
                 clock: Callable[[], float] = time.time):
        self.key = key
        self.issuer = issuer
        self.audiences = (issuer,)
        self.service_account = service_account  # (namespace, name) -> ServiceAccount or None
        self.clock = clock
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(hashlib.sha256(public).digest())

    def issue(self, sa: Obj, *, audiences: list[str] | None = None,
              expiration_seconds: int = DEFAULT_EXPIRATION,
              bound: Obj | None = None) -> tuple[str, int]:
        """A token for ``sa``; returns (token, expiry as Unix time)."""
        now = int(self.clock())
        exp = now + max(MIN_EXPIRATION, int(expiration_seconds))
        meta = sa["metadata"]
        k8s: Obj = {"namespace": meta["namespace"],
                    "serviceaccount": {"name": meta["name"], "uid": meta.get("uid", "")}}
        if bound and bound.get("kind") in ("Pod", "Secret", "Node"):
            k8s[bound["kind"].lower()] = {"name": bound.get("name", ""),
                                          "uid": bound.get("uid", "")}
        claims = {"aud": list(audiences or self.audiences), "exp": exp, "iat": now,
                  "iss": self.issuer, "kubernetes.io": k8s, "nbf": now,
                  "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}"}
        header = {"alg": "ES256", "kid": self.kid}
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}", exp

    def authenticate(self, token: str) -> User | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            claims = orjson.loads(_unb64(parts[1]))
            raw = _unb64(parts[2])
            if header.get("alg") != "ES256" or len(raw) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                       int.from_bytes(raw[32:], "big"))
            self.key.public_key().verify(der, f"{parts[0]}.{parts[1]}".encode(),
                                         ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, orjson.JSONDecodeError):
            return None
        now = self.clock()
        if claims.get("iss") != self.issuer or not (claims.get("nbf", 0) - 60 <= now <
                                                     claims.get("exp", 0)):
            return None
        aud = claims.get("aud") or []
        if not any(a in self.audiences for a in ([aud] if isinstance(aud, str) else aud)):
            return None
        info = claims.get("kubernetes.io") or {}
        ns = info.get("namespace", "")
        sa_info = info.get("serviceaccount") or {}
        sa = self.service_account(ns, sa_info.get("name", ""))
        if sa is None or sa["metadata"].get("uid") != sa_info.get("uid"):
            return None
        return User(f"system:serviceaccount:{ns}:{sa_info['name']}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{ns}",
                     "system:authenticated"), sa_info.get("uid", ""))
