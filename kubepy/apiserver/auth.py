"""Authentication: x509 client certificates and bearer tokens.

A client certificate signed by the cluster CA names the user (CN) and its groups (O), as
Kubernetes does. Bearer tokens come from a static token table (the node join token, the
admin token) and, later, service-account tokens. Anything else is ``system:anonymous``;
the app refuses anonymous requests (401) except on the health and version endpoints and
``/cacerts`` (the cluster CA, which joining agents check against their token, as k3s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

ANONYMOUS_PATHS = ("/livez", "/readyz", "/healthz", "/version", "/cacerts")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.name == "system:anonymous"

    def user_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


def user_from_peercert(peercert: dict[str, Any] | None) -> User | None:
    """The user named by a verified client certificate (ssl.getpeercert() form)."""
    if not peercert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return User(cn, tuple(orgs) + ("system:authenticated",))


class TokenAuthenticator:
    """Static bearer tokens: token -> user."""

    def __init__(self, tokens: Mapping[str, User] | None = None):
        self.tokens = dict(tokens or {})

    def add(self, token: str, user: User) -> None:
        self.tokens[token] = user

    def authenticate(self, header: str | None) -> User | None:
        if not header or not header.startswith("Bearer "):
            return None
        token = header[len("Bearer "):].strip()
        user = self.tokens.get(token)
        if user is None:
            return None
        if "system:authenticated" not in user.groups:
            user = User(user.name, user.groups + ("system:authenticated",), user.uid, user.extra)
        return user


def load_token_file(path: str) -> dict[str, User]:
    """kube-apiserver's ``--token-auth-file``: CSV lines ``token,user,uid[,"g1,g2"]``."""
    import csv

    tokens: dict[str, User] = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row or row[0].startswith("#") or len(row) < 3:
                continue
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 \
                else ()
            tokens[row[0].strip()] = User(row[1].strip(), groups, row[2].strip())
    return tokens


def is_anonymous_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ANONYMOUS_PATHS)
