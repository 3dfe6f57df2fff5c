"""Import layering (STYLE.md §1): packages depend downward only.

An AST scan of every module under kubepy/: a module in a layer may import only from the
layers this table allows (plus the standard library and third-party packages, except
aiohttp, which only HTTP layers may use).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "kubepy"

# layer -> kubepy layers it may import
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "streaming": {"errors", "streaming"},
    "api": {"errors", "api"},
    "storage": {"errors", "storage"},
    "apiserver": {"errors", "api", "storage", "apiserver"},
    "client": {"errors", "api", "client"},
    "controllers": {"errors", "api", "client", "controllers"},
    "scheduler": {"errors", "api", "client", "scheduler"},
    "kubelet": {"errors", "api", "client", "kubelet", "streaming"},
    "proxy": {"errors", "api", "client", "proxy"},
    "dns": {"errors", "api", "client", "dns"},
    "cli": {"errors", "api", "storage", "apiserver", "client", "controllers", "scheduler",
            "kubelet", "proxy", "dns", "streaming", "cli"},
}
HTTP_LAYERS = {"apiserver", "client", "kubelet", "cli"}


def _layer(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    layer = _layer(path)
    if layer not in ALLOWED:
        pytest.fail(f"{path}: package {layer!r} is not in the layering table")
    tree = ast.parse(path.read_text(), str(path))
    bad = []
    for name in _imports(tree):
        parts = name.split(".")
        if parts[0] == "kubepy" and len(parts) > 1:
            target = parts[1]
            if target not in ALLOWED[layer]:
                bad.append(name)
        elif parts[0] == "aiohttp" and layer not in HTTP_LAYERS:
            bad.append(name)
    assert not bad, f"{layer} must not import {bad}"


def test_the_table_sees_modules() -> None:
    assert len(MODULES) > 20
