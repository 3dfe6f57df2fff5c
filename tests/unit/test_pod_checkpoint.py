"""The on-disk runtime state of a pod survives a JSON round trip (agent recovery)."""

from __future__ import annotations

import json

import pytest

from kubepy.kubelet.pods.checkpoint import Checkpoint, InstanceInfo, from_json, to_json
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord


def _checkpoint() -> Checkpoint:
    last = ContainerRecord("a", image="busybox:e2e", container_id="c0",
                           phase=ContainerPhase.EXITED, started_at=1.0, finished_at=2.0,
                           exit_code=1, oom_killed=True)
    running = ContainerRecord("a", image="busybox:e2e", image_id="sha256:x", container_id="c1",
                              phase=ContainerPhase.RUNNING, started_at=3.0, restart_count=1,
                              last=last, backoff_message="transient", probe_ready=False)
    init = ContainerRecord("i", container_id="c2", phase=ContainerPhase.EXITED, exit_code=0)
    return Checkpoint(started_at=0.5, netns_path="/run/netns/x", pod_ips=["10.0.0.2"],
                      host_ip="192.0.2.1", sandbox_id="sb", sandbox_bundle="/p/sandbox",
                      sandbox_cgroups_path="/kubepy/podu/sb",
                      init_containers={"i": init}, containers={"a": running},
                      instances=[InstanceInfo("c1", "a", False, "/p/c1", "/kubepy/podu/c1")],
                      volumes={"d": "/p/volumes/kubernetes.io~empty-dir/d"},
                      failure=("DeadlineExceeded", "too long"))


def test_round_trip_keeps_records_but_not_transient_state() -> None:
    cp = _checkpoint()
    back = from_json(json.loads(json.dumps(to_json(cp))))
    a = back.containers["a"]
    assert (a.phase, a.restart_count, a.container_id) == (ContainerPhase.RUNNING, 1, "c1")
    assert a.last is not None and (a.last.exit_code, a.last.oom_killed) == (1, True)
    assert (a.backoff_message, a.probe_ready) == ("", True)   # not kept
    assert back.init_containers["i"].exit_code == 0
    assert back.instances == cp.instances
    assert back.volumes == {"d": "/p/volumes/kubernetes.io~empty-dir/d"}
    assert back.failure == ("DeadlineExceeded", "too long")
    assert (back.sandbox_id, back.netns_path, back.pod_ips) == ("sb", "/run/netns/x",
                                                                ["10.0.0.2"])


@pytest.mark.parametrize("data", [{}, {"version": 2}, {"version": 1}, {"version": 1,
                                                                       "sandbox": {}}],
                         ids=["empty", "newer", "no-sandbox", "bad-sandbox"])
def test_bad_files_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        from_json(data)
