"""Fixtures of the compatibility suite (see harness.py for the helpers they hand out).

``kubectl`` is parametrised over every kubectl generation on this machine (ids "1.20",
"1.27" ... "1.33"); each test gets a namespace of its own, created through the raw API.
A machine without kubectl fails loudly: a missing binary is never a skip.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves the repo off the path
    sys.path.insert(0, str(_ROOT))

from tests.compat.harness import KUBECTLS, Kubectl, RawApi  # noqa: E402
from tests.conftest import ServerProcess  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.compat)


@pytest.fixture(scope="session")
def api(kubepy_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> RawApi:
    return RawApi(kubepy_server.kubeconfig, tmp_path_factory.mktemp("rawapi"))


def _namespace_for(node: pytest.Item, version: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", node.originalname.lower().removeprefix("test_")).strip("-")
    digest = hashlib.sha1(node.nodeid.encode()).hexdigest()[:5]
    return f"{base[:40].strip('-')}-{version.replace('.', '-')}-{digest}"


@pytest.fixture(scope="session")
def kubectl_cache_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kubectl-cache")
    return {v: root / v for v in KUBECTLS}


def _generation_params() -> list[Any]:
    if not KUBECTLS:
        return [pytest.param("missing", id="no-kubectl")]
    return list(KUBECTLS)


@pytest.fixture(params=_generation_params())
def kubectl(request: pytest.FixtureRequest, kubepy_server: ServerProcess, api: RawApi,
            kubectl_cache_dirs: dict[str, Path], tmp_path: Path) -> Iterator[Kubectl]:
    version = request.param
    if version == "missing":
        pytest.fail("no kubectl binary found on this machine (kubectl_binaries() is empty): "
                    "the setup must install them; this is not a skip")
    ns = _namespace_for(request.node, version)
    api.ensure_namespace(ns)
    yield Kubectl(version, KUBECTLS[version], kubepy_server, kubectl_cache_dirs[version], ns,
                  tmp_path)
