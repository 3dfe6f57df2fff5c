"""Helpers of the compatibility suite: real kubectl binaries and a raw API client.

Contract (one module imported by conftest.py and the tests alike, so classes such as
``ApiError`` are the same objects everywhere):

* ``Kubectl`` runs one real kubectl generation with ``--kubeconfig`` of the session server,
  ``-n <namespace of this test>`` and ``KUBECACHEDIR`` in a per-generation cache dir, and
  returns ``Result(rc, stdout, stderr)`` (a NamedTuple, so ``rc, out, err = kubectl(...)``).
  ``kubectl.ok(...)`` asserts rc == 0 and returns stdout; ``kubectl.fails(...)`` the reverse.
* ``RawApi`` is a tiny HTTPS client with the admin certificate of the kubeconfig, for seeding
  objects and reading back what the server stored (no kubernetes library in the way).
* ``parse_table`` splits kubectl's tabwriter output by the header's column positions so tests
  can assert header and cells exactly; ``table`` also normalises AGE-like cells to ``<age>``.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) leaves the repo off the path
    sys.path.insert(0, str(_ROOT))

from tests.conftest import ServerProcess, kubectl_binaries  # noqa: E402

KUBECTLS: dict[str, Path] = kubectl_binaries()
EXPECTED_GENERATIONS = ["1.20", "1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"]
COMPAT_LABEL = "kubepy.test/compat"


def minor(version: str) -> int:
    return int(version.split(".")[1])


# ---------------------------------------------------------------------------- raw API


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class RawApi:
    """Minimal HTTPS client with the admin credentials of a kubeconfig (no kubernetes lib)."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        cfg = yaml.safe_load(kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        self.server = cluster["server"]
        host_port = self.server.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        workdir.mkdir(parents=True, exist_ok=True)
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            src = cluster if key.startswith("certificate-authority") else user
            p = workdir / key
            p.write_bytes(base64.b64decode(src[key]))
            files[key] = str(p)
        self.ca_file = files["certificate-authority-data"]
        self.cert_file = files["client-certificate-data"]
        self.key_file = files["client-key-data"]
        self.ctx = ssl.create_default_context(cafile=self.ca_file)
        self.ctx.check_hostname = False
        self.ctx.load_cert_chain(self.cert_file, self.key_file)

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json", accept: str = "application/json",
                timeout: float = 30) -> Any:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=timeout)
        try:
            data = None
            headers = {"Accept": accept}
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                parsed: Any = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode(errors="replace")
            if resp.status >= 400:
                raise ApiError(resp.status, parsed)
            return parsed
        finally:
            conn.close()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def create(self, path: str, obj: dict[str, Any]) -> Any:
        return self.request("POST", path, obj)

    def ensure_namespace(self, name: str) -> None:
        ns = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": name, "labels": {COMPAT_LABEL: "true"}}}
        try:
            self.create("/api/v1/namespaces", ns)
        except ApiError as e:
            if e.status != 409:
                raise


# ---------------------------------------------------------------------------- kubectl

class Result(NamedTuple):
    rc: int
    stdout: str
    stderr: str


class Kubectl:
    """One kubectl generation bound to the session server and one test namespace."""

    def __init__(self, version: str, binary: Path, server: ServerProcess, cache_dir: Path,
                 namespace: str, workdir: Path) -> None:
        self.version = version
        self.minor = minor(version)
        self.binary = binary
        self.server = server
        self.cache_dir = cache_dir
        self.ns = namespace
        self.workdir = workdir

    def argv(self, args: tuple[str, ...], namespaced: bool = True) -> list[str]:
        base = [str(self.binary), "--kubeconfig", str(self.server.kubeconfig)]
        if namespaced:
            base += ["-n", self.ns]
        return base + list(args)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["KUBECACHEDIR"] = str(self.cache_dir)
        env["HOME"] = str(self.workdir)
        env.update(extra or {})
        return env

    def __call__(self, *args: str, input: str | None = None, namespaced: bool = True,
                 env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(self.argv(args, namespaced), input=input, capture_output=True,
                              text=True, env=self.env(env), timeout=timeout,
                              cwd=self.workdir)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, namespaced: bool = True) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(args, namespaced), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(),
                                cwd=self.workdir)

    def ok(self, *args: str, **kw: Any) -> str:
        res = self(*args, **kw)
        assert res.rc == 0, self.describe_failure(args, res)
        return res.stdout

    def fails(self, *args: str, **kw: Any) -> str:
        """Run a command that must fail; return its stderr."""
        res = self(*args, **kw)
        assert res.rc != 0, self.describe_failure(args, res, expected="a failure")
        return res.stderr

    def describe_failure(self, args: tuple[str, ...], res: Result,
                         expected: str = "rc 0") -> str:
        return (f"kubectl {self.version} {' '.join(args)} (ns {self.ns}): expected {expected},"
                f" got rc={res.rc}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}")

    def run_many(self, *commands: tuple[str, ...], workers: int = 4) -> list[Result]:
        """Run independent commands concurrently (kubectl is CPU-bound on the client side;
        the machine has two cores). Results come back in the order of ``commands``."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda args: self(*args), commands))

    def write(self, name: str, text: str) -> Path:
        p = self.workdir / name
        p.write_text(text)
        return p

    def __repr__(self) -> str:
        return f"<kubectl {self.version}>"


def needs(kubectl: Kubectl, min_minor: int, why: str) -> None:
    """Skip, with the reason, when a command or flag does not exist in this generation."""
    if kubectl.minor < min_minor:
        pytest.skip(f"kubectl {kubectl.version}: {why} (needs 1.{min_minor}+)")


# ---------------------------------------------------------------------------- output helpers

AGE_RE = re.compile(r"^(<unknown>|<invalid>|\d+(\.\d+)?[smhdy](\d+[smhd])?)$")


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Split kubectl's column output: header cells and row cells, by header column offsets.

    Header names may contain single spaces ("NOMINATED NODE"); tabwriter separates columns
    by at least 3 spaces, so a run of 2+ spaces ends a header cell.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines, f"no table in output: {text!r}"
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s\s))\S", header)]
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [len(header)])]
    rows = []
    for ln in lines[1:]:
        cells = [ln[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]  # type: ignore
        rows.append(cells)
    return names, rows


def norm_age(cell: str) -> str:
    return "<age>" if AGE_RE.match(cell) else cell


def table(text: str, age_columns: tuple[str, ...] = ("AGE", "LAST SEEN", "DURATION")
          ) -> tuple[list[str], list[list[str]]]:
    names, rows = parse_table(text)
    idx = [i for i, n in enumerate(names) if n in age_columns]
    for r in rows:
        for i in idx:
            if i < len(r):
                r[i] = norm_age(r[i])
    return names, rows


def mismatches(cases: list[tuple[str, Any, Any]]) -> str:
    """Empty when every (case id, got, expected) agrees; otherwise one line per mismatch,
    so a table-driven test run in one go still names each failing case."""
    bad = [f"  {cid}: got {got!r}, expected {exp!r}" for cid, got, exp in cases if got != exp]
    return "\n".join(bad)


def yaml_docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


