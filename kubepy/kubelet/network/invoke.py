"""Running CNI plugins (the I/O half of libcni).

``PluginRunner`` executes one plugin binary (``process.run_process``) the way the CNI spec
describes: parameters in ``CNI_*`` environment variables, the network configuration on stdin,
a JSON result (or a JSON error object and a non-zero exit) on stdout. ``add_network_list``/``check_network_list``/
``del_network_list`` walk a configuration list as libcni does: ADD and CHECK in list order,
each ADD feeding its result to the next plugin as ``prevResult``; DEL in reverse order with the
cached final ADD result as ``prevResult``. ``ResultCache`` keeps, per (container, interface),
the list, runtime config, netns and result of the last ADD under kubepy's data dir, so a
restarted kubelet can still DEL exactly what it added.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any, Protocol

from kubepy.kubelet.network.cni import parse_error, plugin_stdin
from kubepy.kubelet.network.process import run_process

PLUGIN_TIMEOUT = 60.0


class CNIError(Exception):
    """A plugin failed: the spec's error ``code``, ``msg`` and ``details``."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        self.plugin, self.command, self.code, self.msg, self.details = (plugin, command, code,
                                                                        msg, details)
        text = f"CNI plugin {plugin} {command} failed (code {code}): {msg}"
        super().__init__(text + (f": {details}" if details else ""))


class Runner(Protocol):
    async def run(self, plugin_type: str, command: str, *, container_id: str, netns: str,
                  ifname: str, conf: dict[str, Any], args: str = ""
                  ) -> dict[str, Any] | None: ...


class PluginRunner:
    """Runs plugin binaries found in ``cni_bin_dirs`` (``CNI_PATH``)."""

    def __init__(self, cni_bin_dirs: str | list[str], *, timeout: float = PLUGIN_TIMEOUT) -> None:
        self.bin_dirs = [cni_bin_dirs] if isinstance(cni_bin_dirs, str) else list(cni_bin_dirs)
        self.timeout = timeout

    def find(self, plugin_type: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", plugin_type) or plugin_type.startswith("."):
            raise CNIError(plugin_type, "FIND", 999, "invalid plugin type")
        for d in self.bin_dirs:
            path = os.path.join(d, plugin_type)
            if os.access(path, os.X_OK):
                return path
        raise CNIError(plugin_type, "FIND", 999,
                       f"failed to find plugin {plugin_type!r} in path {self.bin_dirs}")

    async def run(self, plugin_type: str, command: str, *, container_id: str = "",
                  netns: str = "", ifname: str = "", conf: dict[str, Any], args: str = ""
                  ) -> dict[str, Any] | None:
        """Exec the plugin; its parsed stdout (``None`` when empty, as DEL's is)."""
        path = self.find(plugin_type)
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "CNI_COMMAND": command, "CNI_PATH": os.pathsep.join(self.bin_dirs)}
        if command != "VERSION":
            env.update(CNI_CONTAINERID=container_id, CNI_NETNS=netns, CNI_IFNAME=ifname,
                       CNI_ARGS=args)
        try:
            returncode, out, err = await run_process(
                [path], stdin=json.dumps(conf).encode(), env=env, timeout=self.timeout)
        except asyncio.TimeoutError:
            raise CNIError(plugin_type, command, 999, f"timed out after {self.timeout}s")
        if returncode != 0:
            code, msg, details = parse_error(out or err)
            raise CNIError(plugin_type, command, code, msg or err.decode(errors="replace"),
                           details)
        if not out.strip():
            return None
        result: dict[str, Any] = json.loads(out)
        return result

    async def version(self, plugin_type: str, cni_version: str = "1.0.0") -> dict[str, Any]:
        """The plugin's VERSION answer (``cniVersion``, ``supportedVersions``)."""
        return await self.run(plugin_type, "VERSION", conf={"cniVersion": cni_version}) or {}


async def add_network_list(runner: Runner, conflist: dict[str, Any], *, container_id: str,
                           netns: str, ifname: str, runtime_config: dict[str, Any],
                           args: str = "") -> dict[str, Any]:
    """ADD every plugin in order, chaining results; the final result."""
    result: dict[str, Any] | None = None
    for plugin in conflist["plugins"]:
        conf = plugin_stdin(conflist, plugin, prev_result=result, runtime_config=runtime_config)
        result = await runner.run(plugin["type"], "ADD", container_id=container_id, netns=netns,
                                  ifname=ifname, conf=conf, args=args) or result
    return result or {"cniVersion": conflist["cniVersion"]}


async def check_network_list(runner: Runner, conflist: dict[str, Any], *, container_id: str,
                             netns: str, ifname: str, runtime_config: dict[str, Any],
                             args: str = "",
                             prev_result: dict[str, Any]) -> None:
    """CHECK every plugin in order against the cached result; raises ``CNIError``."""
    for plugin in conflist["plugins"]:
        conf = plugin_stdin(conflist, plugin, prev_result=prev_result,
                            runtime_config=runtime_config)
        await runner.run(plugin["type"], "CHECK", container_id=container_id, netns=netns,
                         ifname=ifname, conf=conf, args=args)


async def del_network_list(runner: Runner, conflist: dict[str, Any], *, container_id: str,
                           netns: str, ifname: str, runtime_config: dict[str, Any],
                           args: str = "",
                           prev_result: dict[str, Any] | None) -> None:
    """DEL every plugin in reverse order. Every plugin is tried; the first error is raised
    after the rest ran, so one failing plugin does not leak the others' state."""
    first: CNIError | None = None
    for plugin in reversed(conflist["plugins"]):
        conf = plugin_stdin(conflist, plugin, prev_result=prev_result,
                            runtime_config=runtime_config)
        try:
            await runner.run(plugin["type"], "DEL", container_id=container_id, netns=netns,
                             ifname=ifname, conf=conf, args=args)
        except CNIError as e:
            first = first or e
    if first is not None:
        raise first


class ResultCache:
    """One JSON file per (network, container, interface) under ``root``:
    ``{"network", "containerId", "ifName", "netns", "config", "runtimeConfig", "result"}``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, network: str, container_id: str, ifname: str) -> Path:
        return self.root / f"{network}-{container_id}-{ifname}.json"

    def save(self, entry: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(entry["network"], entry["containerId"], entry["ifName"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, path)

    def load(self, network: str, container_id: str, ifname: str) -> dict[str, Any] | None:
        try:
            text = self._path(network, container_id, ifname).read_text()
        except FileNotFoundError:
            return None
        entry: dict[str, Any] = json.loads(text)
        return entry

    def delete(self, network: str, container_id: str, ifname: str) -> None:
        self._path(network, container_id, ifname).unlink(missing_ok=True)

    def entries(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):
                continue
        return out
