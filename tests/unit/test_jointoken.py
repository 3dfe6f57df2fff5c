"""Join tokens (kubepy.cli.jointoken): the k3s secure and short forms, the CA hash check
against a real CA certificate, and the server's choice of join secret."""

from __future__ import annotations

import argparse
import hashlib
import ssl
from pathlib import Path

import pytest

from kubepy.apiserver import certs
from kubepy.cli import jointoken
from kubepy.cli.jointoken import JoinToken, JoinTokenError
from kubepy.cli.server import check_token_ca, join_secret, write_join_token

H = "ab" * 32


@pytest.mark.parametrize("token,want", [
    (f"K10{H}::server:s3cret", JoinToken("s3cret", "server", H)),
    (f"K10{H.upper()}::server:s3cret", JoinToken("s3cret", "server", H)),
    (f"K10{H}::node:pa:ss", JoinToken("pa:ss", "node", H)),
    (f"K10{H}::bearer-only", JoinToken("bearer-only", "", H)),
    (f"  K10{H}::server:s3cret\n", JoinToken("s3cret", "server", H)),
    ("s3cret", JoinToken("s3cret")),
    ("server:s3cret", JoinToken("s3cret", "server")),
    ("K10-no-separator", JoinToken("K10-no-separator")),
    ("eyJhbGciOiJSUzI1NiJ9.e30.sig", JoinToken("eyJhbGciOiJSUzI1NiJ9.e30.sig")),
], ids=["secure", "upper-hex", "colon-in-password", "secure-bearer", "whitespace", "short",
        "short-user", "k10-without-hash", "jwt"])
def test_parse(token: str, want: JoinToken) -> None:
    got = jointoken.parse(token)
    assert got == want
    assert got.secure is (want.ca_hash is not None)


@pytest.mark.parametrize("token,message", [
    ("", "no password"),
    ("server:", "no password"),
    (f"K10{H}::", "no password"),
    (f"K10{H}::server:", "no password"),
    ("K10abc::server:s", "64 hex digits"),
    (f"K10{'zz' * 32}::server:s", "64 hex digits"),
    (f"K10{H}00::server:s", "64 hex digits"),
], ids=["empty", "user-only", "secure-empty", "secure-user-only", "short-hash", "not-hex",
        "long-hash"])
def test_parse_refuses(token: str, message: str) -> None:
    with pytest.raises(JoinTokenError, match=message):
        jointoken.parse(token)


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return certs.ensure_ca(tmp_path_factory.mktemp("tls")).cert_path.read_bytes()


@pytest.fixture(scope="module")
def other_ca_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return certs.ensure_ca(tmp_path_factory.mktemp("tls2")).cert_path.read_bytes()


def _der_hash(pem: bytes) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode())).hexdigest()


@pytest.mark.parametrize("hash_of,accepted", [
    ("pem", True), ("der", True), ("other-pem", False), ("other-der", False),
], ids=["pem-sha256", "der-fingerprint", "other-ca-pem", "other-ca-der"])
def test_check_ca(ca_pem: bytes, other_ca_pem: bytes, hash_of: str, accepted: bool) -> None:
    source = other_ca_pem if hash_of.startswith("other") else ca_pem
    digest = (_der_hash(source) if hash_of.endswith("der")
              else hashlib.sha256(source).hexdigest())
    token = jointoken.parse(f"K10{digest}::server:s")
    if accepted:
        jointoken.check_ca(token, ca_pem)
    else:
        with pytest.raises(JoinTokenError, match="does not match the token's CA hash"):
            jointoken.check_ca(token, ca_pem)


def test_check_ca_short_token_accepts_any(ca_pem: bytes, other_ca_pem: bytes) -> None:
    token = jointoken.parse("s")
    jointoken.check_ca(token, ca_pem)
    jointoken.check_ca(token, other_ca_pem)


@pytest.mark.parametrize("body", [b"", b"<html>not a CA</html>"], ids=["empty", "html"])
def test_check_ca_refuses_non_pem(body: bytes) -> None:
    token = jointoken.parse(f"K10{hashlib.sha256(body).hexdigest()}::server:s")
    with pytest.raises(JoinTokenError, match="no PEM certificate"):
        jointoken.check_ca(token, body)


def test_format_round_trips(ca_pem: bytes) -> None:
    token = jointoken.format_token(ca_pem, "s3cret")
    assert token == f"K10{hashlib.sha256(ca_pem).hexdigest()}::server:s3cret"
    parsed = jointoken.parse(token)
    assert parsed == JoinToken("s3cret", "server", hashlib.sha256(ca_pem).hexdigest())
    jointoken.check_ca(parsed, ca_pem)
    assert jointoken.format_token(ca_pem, "b", username="") == \
        f"K10{hashlib.sha256(ca_pem).hexdigest()}::b"


def test_generate_secret() -> None:
    assert jointoken.generate_secret(lambda n: bytes(range(n))) == bytes(range(16)).hex()
    a, b = jointoken.generate_secret(), jointoken.generate_secret()
    assert a != b and len(a) == 32 and ":" not in a


@pytest.mark.parametrize("given,saved,want", [
    ("flag", None, "flag"),
    ("flag", f"K10{H}::server:saved\n", "flag"),
    (f"K10{H}::server:flag", None, "flag"),
    (None, f"K10{H}::server:saved\n", "saved"),
    (None, "saved", "saved"),
    (None, None, "generated"),
    ("", "  \n", "generated"),
], ids=["flag", "flag-over-file", "flag-secure", "file", "file-short", "generated",
        "blank"])
def test_join_secret(given: str | None, saved: str | None, want: str) -> None:
    assert join_secret(given, saved, lambda: "generated") == want


def test_token_file_written_0600(tmp_path: Path, ca_pem: bytes) -> None:
    path = write_join_token(tmp_path, ca_pem, "s3cret")
    assert path == tmp_path / "token"
    assert path.stat().st_mode & 0o777 == 0o600
    assert jointoken.parse(path.read_text()) == JoinToken(
        "s3cret", "server", hashlib.sha256(ca_pem).hexdigest())


@pytest.mark.parametrize("token,refused", [
    (None, False), ("s3cret", False), ("server:s3cret", False), ("own-ca", False),
    (f"K10{H}::server:s3cret", True),
], ids=["none", "short", "short-user", "secure-own-ca", "secure-other-ca"])
def test_server_checks_a_secure_token_against_its_ca(ca_pem: bytes, token: str | None,
                                                     refused: bool) -> None:
    if token == "own-ca":
        token = jointoken.format_token(ca_pem, "s3cret")
    args = argparse.Namespace(token=token)
    if refused:
        with pytest.raises(SystemExit, match="does not match"):
            check_token_ca(args, ca_pem)
    else:
        check_token_ca(args, ca_pem)
