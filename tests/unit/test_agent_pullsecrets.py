"""imagePullSecrets -> the credentials the agent tries, per image, in the secrets' order."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from kubepy.kubelet.agent.pullsecrets import credentials_for, missing_secrets_message, \
    read_pull_secrets, secret_credentials


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(type_: str, key: str, document: Any) -> dict[str, Any]:
    raw = document if isinstance(document, str) else json.dumps(document)
    return {"metadata": {"name": "s"}, "type": type_, "data": {key: _b64(raw)}}


ALICE = {"auth": _b64("alice:wonderland")}

SECRETS = [
    ("dockerconfigjson", _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson",
                                 {"auths": {"127.0.0.1:5000": ALICE}}),
     {"127.0.0.1:5000": ("alice", "wonderland")}),
    ("dockerconfigjson-url-key", _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson",
                                         {"auths": {"https://index.docker.io/v1/":
                                                    {"username": "u", "password": "p"}}}),
     {"docker.io": ("u", "p")}),
    ("dockercfg", _secret("kubernetes.io/dockercfg", ".dockercfg", {"reg.example:443": ALICE}),
     {"reg.example:443": ("alice", "wonderland")}),
    ("wrong-key-for-type", _secret("kubernetes.io/dockercfg", ".dockerconfigjson",
                                   {"auths": {"r": ALICE}}), {}),
    ("opaque", _secret("Opaque", ".dockerconfigjson", {"auths": {"r": ALICE}}), {}),
    ("not-json", _secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{nope"), {}),
    ("no-data", {"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson"}, {}),
]


@pytest.mark.parametrize("secret,expected", [(s, e) for _, s, e in SECRETS],
                         ids=[i for i, _, _ in SECRETS])
def test_secret_credentials(secret: dict[str, Any], expected: dict[str, tuple[str, str]]) -> None:
    assert secret_credentials(secret) == expected


KEYRINGS = [{"127.0.0.1:5000": ("a", "1")}, {"docker.io": ("d", "2")},
            {"127.0.0.1:5000": ("b", "3"), "docker.io": ("d", "2")}]

LOOKUPS = [
    ("loopback-in-order", "127.0.0.1:5000/team/app:1", KEYRINGS, [("a", "1"), ("b", "3")]),
    ("docker-hub-short-name-once", "busybox", KEYRINGS, [("d", "2")]),
    ("other-registry-anonymous", "quay.io/x/y:1", KEYRINGS, []),
    ("port-matters", "127.0.0.1:5001/app", KEYRINGS, []),
    ("no-secrets", "127.0.0.1:5000/app", [], []),
    ("invalid-reference", "UPPER/Case", KEYRINGS, []),
]


@pytest.mark.parametrize("image,keyrings,expected", [(i, k, e) for _, i, k, e in LOOKUPS],
                         ids=[i for i, *_ in LOOKUPS])
def test_credentials_for(image: str, keyrings: list[Any], expected: list[tuple[str, str]]) -> None:
    assert credentials_for(image, keyrings) == expected


def test_missing_secret_message_is_the_kubelets() -> None:
    assert missing_secrets_message(["a", "b"]) == (
        "Unable to retrieve some image pull secrets (a, b); attempting to pull the image may "
        "not succeed.")


def test_without_a_client_every_named_secret_is_missing() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"imagePullSecrets": [{"name": "x"}, {}, {"name": "y"}]}}
    assert asyncio.run(read_pull_secrets(None, pod)) == ([], ["x", "y"])
