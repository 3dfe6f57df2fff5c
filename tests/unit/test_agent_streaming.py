"""``AgentStreamingRuntime``: which container instance, CRI logs and conmon paths the
kubelet server is told about (tables over hand-made pod states)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubepy.kubelet.agent.streaming import AgentStreamingRuntime
from kubepy.kubelet.images.store import ImageStore
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord
from kubepy.kubelet.pods.worker import PodRuntime, PodState
from kubepy.kubelet.runtime.conmon import ConmonRunner
from kubepy.kubelet.runtime.runc import Runc

Obj = dict[str, Any]
POD: Obj = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"initContainers": [{"name": "i"}],
                     "containers": [{"name": "a", "stdin": True, "tty": True},
                                    {"name": "b"}]}}


def _exited(cid: str, restarts: int) -> ContainerRecord:
    return ContainerRecord("a", container_id=cid, phase=ContainerPhase.EXITED, exit_code=1,
                           restart_count=restarts)


@pytest.fixture
def runtime(tmp_path: Path) -> PodRuntime:
    runc = Runc(str(tmp_path / "runc"))
    return PodRuntime(str(tmp_path / "data"), ImageStore(tmp_path / "images"), runc, None,
                      watcher=object(),  # type: ignore[arg-type]  # no subreaper in unit tests
                      conmon=ConmonRunner(runc, str(tmp_path / "conmon")))


def _restarting() -> ContainerRecord:
    r = ContainerRecord("a", reason="CreateContainerError", restart_count=2)
    r.last = _exited("c1", 1)
    return r


# record of "a" -> (container id, running, log name, previous log name, attach socket?)
CASES = [
    ("never-created", None, (None, False, None, None, False)),
    ("running-first", ContainerRecord("a", container_id="c0", phase=ContainerPhase.RUNNING),
     ("c0", True, "0.log", None, True)),
    ("running-restarted", ContainerRecord("a", container_id="c2", phase=ContainerPhase.RUNNING,
                                          restart_count=2, last=_exited("c1", 1)),
     ("c2", True, "2.log", "1.log", True)),
    ("crash-loop", _exited("c3", 3), ("c3", False, "3.log", "2.log", False)),
    ("restart-failed", _restarting(), ("c1", False, "1.log", "0.log", False)),
]


@pytest.mark.parametrize("record,want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_container_ref(runtime: PodRuntime, record: ContainerRecord | None,
                       want: tuple[str | None, bool, str | None, str | None, bool]) -> None:
    state = PodState(pod=POD, pod_dir="/x", started_at=0, netns_path="/run/netns/n")
    if record is not None:
        state.containers["a"] = record
    sr = AgentStreamingRuntime(lambda ns, n: state if (ns, n) == ("ns", "p") else None,
                               lambda: runtime)
    ref = sr.container("ns", "p", "a")
    assert ref is not None
    cid, running, log, previous, attach = want
    assert (ref.container_id, ref.running) == (cid, running)
    base = Path(runtime.data_dir) / "logs" / "ns_p_u1" / "a"
    assert ref.log_path == (str(base / log) if log else None)
    assert ref.previous_log_path == (str(base / previous) if previous else None)
    assert (ref.attach_socket is not None) is attach
    assert (ref.ctl_path is not None) is attach      # conmon's files only while it runs
    assert (ref.tty, ref.stdin, ref.stdin_once) == (True, True, False)


def test_pod_ref_and_unknowns(runtime: PodRuntime) -> None:
    state = PodState(pod=POD, pod_dir="/x", started_at=0, netns_path="/run/netns/n")
    sr = AgentStreamingRuntime(lambda ns, n: state if (ns, n) == ("ns", "p") else None,
                               lambda: runtime)
    ref = sr.pod("ns", "p")
    assert ref is not None and (ref.uid, ref.netns_path, ref.containers) == (
        "u1", "/run/netns/n", ("i", "a", "b"))
    assert sr.pod("ns", "q") is None
    assert sr.container("ns", "p", "zzz") is None
    assert sr.runc_command() == ["runc", "--root", runtime.runc.root_dir]
