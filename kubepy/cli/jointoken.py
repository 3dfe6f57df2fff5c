"""Join tokens, the k3s way: ``K10<ca-hash>::<username>:<password>`` or a bare secret.

The secure ("full") form names the cluster CA by the SHA-256 of the CA bundle exactly as the
server serves it on ``GET /cacerts`` (k3s: the PEM file as stored on disk); a joining agent
fetches ``/cacerts`` without verification, compares its hash with the token's and only then
sends the credentials. For a CA bundle of custom certificates k3s hashes the DER encoding
of the root certificate instead; either hash is accepted here. The short form is the
credentials alone: the agent then trusts whatever CA the server sends (warned about).

The credentials are ``<username>:<password>`` split at the first colon (``server:S``, as
``<data-dir>/token`` holds them) or, without a colon, the password alone; the password is the
bearer token the API server accepts for agents. Pure: no I/O, randomness injected.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import ssl
from dataclasses import dataclass
from typing import Callable

PREFIX = "K10"
SERVER_USERNAME = "server"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


class JoinTokenError(ValueError):
    """A token that cannot be parsed, or a CA that does not match the token."""


@dataclass(frozen=True)
class JoinToken:
    password: str
    username: str = ""
    ca_hash: str | None = None  # lower-case hex SHA-256; None for the short form

    @property
    def secure(self) -> bool:
        return self.ca_hash is not None


def parse(token: str) -> JoinToken:
    """The parts of a secure (``K10<hash>::<credentials>``) or short (``<credentials>``)
    token; JoinTokenError when the hash is not 64 hex digits or the password is empty."""
    token = token.strip()
    ca_hash: str | None = None
    credentials = token
    if token.startswith(PREFIX) and "::" in token:
        ca_hash, _, credentials = token[len(PREFIX):].partition("::")
        if not _HEX64.fullmatch(ca_hash):
            raise JoinTokenError(f"token: the CA hash after {PREFIX} must be 64 hex digits "
                                 f"(a SHA-256), got {ca_hash!r}")
        ca_hash = ca_hash.lower()
    username, colon, password = credentials.partition(":")
    if not colon:
        username, password = "", credentials
    if not password:
        raise JoinTokenError("token: no password (expected K10<ca-hash>::server:<secret> "
                             "or <secret>)")
    return JoinToken(password=password, username=username, ca_hash=ca_hash)


def ca_hashes(ca_bundle: bytes) -> set[str]:
    """The hashes a token may name *ca_bundle* by: the SHA-256 of the bundle as served and
    of the DER encoding of each certificate in it."""
    out = {hashlib.sha256(ca_bundle).hexdigest()}
    for block in _PEM_CERT.findall(ca_bundle):
        try:
            der = ssl.PEM_cert_to_DER_cert(block.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            continue
        out.add(hashlib.sha256(der).hexdigest())
    return out


def check_ca(token: JoinToken, ca_bundle: bytes) -> None:
    """Refuse (JoinTokenError) a CA bundle that a secure token does not name; a short token
    names no CA and accepts any."""
    if token.ca_hash is None:
        return
    if not _PEM_CERT.search(ca_bundle):
        raise JoinTokenError("the server's /cacerts holds no PEM certificate")
    if token.ca_hash not in ca_hashes(ca_bundle):
        raise JoinTokenError(
            f"the server's CA (sha256 {hashlib.sha256(ca_bundle).hexdigest()}) does not "
            f"match the token's CA hash {token.ca_hash}: not the cluster the token is for")


def format_token(ca_bundle: bytes, password: str, username: str = SERVER_USERNAME) -> str:
    """The secure form of *password* for the cluster whose CA bundle is *ca_bundle*."""
    credentials = f"{username}:{password}" if username else password
    return f"{PREFIX}{hashlib.sha256(ca_bundle).hexdigest()}::{credentials}"


def generate_secret(token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh random secret (32 hex digits, no colon)."""
    return token_bytes(16).hex()
