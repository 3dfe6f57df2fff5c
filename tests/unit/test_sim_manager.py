"""The controller-manager's module loading (kubepy.controllers.manager) and the
``--controllers`` selection of ``kubepy controller-manager`` (kubepy.cli.components)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.cli.components import selected_modules
from kubepy.client.clock import FakeClock
from kubepy.client.controller import Controller
from kubepy.controllers.context import CONTROLLER_MODULES, ControllerConfig, ControllerContext
from kubepy.controllers.manager import build_controllers, load_controller_modules, run_controllers


@pytest.fixture
def fake_package(tmp_path: Path) -> Iterator[str]:
    pkg = tmp_path / "simfakectrl"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(
        "from kubepy.client.controller import Controller\n"
        "class C(Controller):\n"
        "    name = 'good-controller'\n"
        "    async def reconcile(self, key):\n"
        "        return None\n"
        "def new_controllers(ctx):\n"
        "    return [C(clock=ctx.clock)]\n")
    (pkg / "broken.py").write_text("import simfakectrl.nonexistent_dependency\n")
    (pkg / "raises.py").write_text("raise RuntimeError('boom at import')\n")
    (pkg / "nofactory.py").write_text("x = 1\n")
    (pkg / "badfactory.py").write_text("def new_controllers(ctx):\n    raise ValueError('no')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield "simfakectrl"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("simfakectrl")]:
            del sys.modules[name]


def test_modules_are_sorted_into_loaded_missing_and_failed(fake_package: str) -> None:
    loaded = load_controller_modules(
        ["good", "absent", "broken", "raises", "nofactory", "badfactory"], fake_package)
    assert list(loaded.modules) == ["good", "badfactory"]
    assert loaded.missing == ["absent"]
    assert set(loaded.failed) == {"broken", "raises", "nofactory"}
    assert "nonexistent_dependency" in loaded.failed["broken"]
    assert "boom at import" in loaded.failed["raises"]


def test_a_failing_factory_does_not_stop_the_others(fake_package: str) -> None:
    loaded = load_controller_modules(["badfactory", "good"], fake_package)

    async def go() -> tuple[list[str], bool]:
        class Informers:
            started = False

            def start(self) -> None:
                self.started = True

            async def wait_for_cache_sync(self, timeout: Any = None) -> bool:
                return True

        clock = FakeClock()
        informers = Informers()
        ctx = ControllerContext(client=None, informers=informers, clock=clock,  # type: ignore
                                config=ControllerConfig(), recorder_for=lambda c: None)  # type: ignore
        controllers: list[Controller] = build_controllers(ctx, loaded.modules)
        task = asyncio.ensure_future(run_controllers(ctx, controllers))
        await asyncio.sleep(0.01)
        running = all(c._worker_tasks for c in controllers)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return [c.name for c in controllers], running and informers.started

    names, running = asyncio.run(go())
    assert names == ["good-controller"] and running


@pytest.mark.parametrize("spec,expected", [
    ("*", CONTROLLER_MODULES),
    ("", CONTROLLER_MODULES),
    ("*,-garbagecollector,-job", tuple(m for m in CONTROLLER_MODULES
                                      if m not in ("garbagecollector", "job"))),
    ("replicaset,deployment", ("replicaset", "deployment")),
    ("replicaset,-replicaset", ()),
], ids=["all", "empty-means-all", "all-but", "only", "named-and-disabled"])
def test_selected_modules(spec: str, expected: tuple[str, ...]) -> None:
    assert selected_modules(spec) == expected
