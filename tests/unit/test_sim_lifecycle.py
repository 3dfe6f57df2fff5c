"""The simulated pod lifecycle (kubepy.kubelet.simulated.lifecycle): exits, restartPolicy,
CrashLoopBackOff back-off (10 s doubling to 300 s, reset after 600 s), deletion deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.simulated.lifecycle import (State, advance, container_id, deletion_deadline,
                                                next_transition, start_pod)

T0 = 1_800_000_000.0


def pod(run: str | None = None, exit_code: str | None = None, policy: str | None = None,
        containers: int = 1, **spec: Any) -> dict[str, Any]:
    annotations = {}
    if run is not None:
        annotations["sim.kubepy.io/run-seconds"] = run
    if exit_code is not None:
        annotations["sim.kubepy.io/exit-code"] = exit_code
    body: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "busybox"}
                                           for i in range(containers)], **spec}
    if policy:
        body["restartPolicy"] = policy
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1",
                         "annotations": annotations}, "spec": body}


# (at seconds after start, state, restartCount, back-off armed, phase)
CRASH_LOOP = [(0.5, State.RUNNING, 0, 0, "Running"),
              (1.5, State.RUNNING, 1, 10, "Running"),    # first exit restarts at once
              (2.5, State.WAITING, 1, 10, "Running"),    # second exit waits 10 s
              (12.5, State.RUNNING, 2, 20, "Running"),
              (13.5, State.WAITING, 2, 20, "Running"),
              (33.5, State.RUNNING, 3, 40, "Running"),
              (155.5, State.RUNNING, 5, 160, "Running"),
              (316.5, State.RUNNING, 6, 300, "Running"),  # capped at 300 s
              (317.5, State.WAITING, 6, 300, "Running"),
              (618.5, State.WAITING, 7, 300, "Running")]


@pytest.mark.parametrize(
    "manifest,at,state,restarts,backoff,phase",
    [(pod(), 10_000, State.RUNNING, 0, 0, "Running"),
     (pod(run="5", policy="Never"), 4.9, State.RUNNING, 0, 0, "Running"),
     (pod(run="5", policy="Never"), 5, State.TERMINATED, 0, 0, "Succeeded"),
     (pod(run="5", exit_code="1", policy="Never"), 6, State.TERMINATED, 0, 0, "Failed"),
     (pod(run="5", policy="OnFailure"), 6, State.TERMINATED, 0, 0, "Succeeded"),
     (pod(run="5", exit_code="3", policy="OnFailure"), 6, State.RUNNING, 1, 10, "Running"),
     (pod(run="5", exit_code="3", policy="OnFailure"), 10.5, State.WAITING, 1, 10, "Running"),
     (pod(run="5", policy="Always"), 10.5, State.WAITING, 1, 10, "Running"),  # exit 0 too
     (pod(run="0", exit_code="1", policy="Never"), 0, State.TERMINATED, 0, 0, "Failed"),
     (pod(run="bogus"), 10_000, State.RUNNING, 0, 0, "Running"),
     # ran 700 s each time: the back-off is expired at every exit, restarts are immediate
     (pod(run="700", exit_code="1"), 1401, State.RUNNING, 2, 10, "Running"),
     *[(pod(run="1", exit_code="1"), *row) for row in CRASH_LOOP]],
    ids=["runs-forever", "never-before-exit", "never-succeeded", "never-failed",
         "onfailure-exit0-succeeded", "onfailure-restarts-at-once", "onfailure-backoff",
         "always-restarts-exit0", "zero-run-seconds", "bad-annotation-ignored",
         "backoff-reset-after-600s", *[f"crashloop-t{row[0]}" for row in CRASH_LOOP]])
def test_container_over_time(manifest: dict[str, Any], at: float, state: State, restarts: int,
                             backoff: float, phase: str) -> None:
    rt = advance(start_pod(manifest, T0, "10.42.0.2"), T0 + at)
    c = rt.containers[0]
    assert (c.state, c.restart_count, c.backoff, rt.phase) == (state, restarts, backoff, phase)
    assert c.container_id == container_id("u1", "c0", restarts)


@pytest.mark.parametrize("run,exit_code,policy", [("1", "1", "Always"), ("7", "0", "OnFailure"),
                                                  ("3", "2", "OnFailure"), ("2", "0", "Never")],
                         ids=["always", "onfailure-ok", "onfailure-failing", "never"])
def test_advance_is_path_independent(run: str, exit_code: str, policy: str) -> None:
    """Stepping through every transition gives what one jump to the end gives."""
    start = start_pod(pod(run=run, exit_code=exit_code, policy=policy), T0, "ip")
    stepped = start
    while (nxt := next_transition(stepped)) is not None and nxt <= T0 + 2000:
        stepped = advance(stepped, nxt)
    stepped = advance(stepped, T0 + 2000)
    assert stepped == advance(start, T0 + 2000)


def test_waiting_container_remembers_the_last_instance() -> None:
    rt = advance(start_pod(pod(run="1", exit_code="137"), T0, "ip"), T0 + 2.5)
    c = rt.containers[0]
    assert c.state is State.WAITING and c.restart_at == T0 + 12
    assert c.terminated is not None and c.terminated.exit_code == 137
    assert c.terminated.reason == "Error" and c.terminated.finished_at == T0 + 2
    assert c.last_terminated is not None and c.last_terminated.finished_at == T0 + 1
    assert next_transition(rt) == T0 + 12


@pytest.mark.parametrize(
    "spec,expected",
    [({"initContainers": [{"name": "init", "image": "i"}]}, [(State.TERMINATED, True, False)]),
     ({"initContainers": [{"name": "side", "image": "i", "restartPolicy": "Always"}]},
      [(State.RUNNING, False, True)]),
     ({}, [])],
    ids=["init-completes", "sidecar-runs", "none"])
def test_init_containers(spec: dict[str, Any], expected: list[tuple[State, bool, bool]]) -> None:
    rt = start_pod(pod(**spec), T0, "ip")
    assert [(c.state, c.init, c.sidecar) for c in rt.init_containers] == expected


def test_pod_finishes_when_the_last_container_stops_and_sidecars_stop_with_it() -> None:
    manifest = pod(run="5", policy="Never", containers=2,
                   initContainers=[{"name": "side", "image": "i", "restartPolicy": "Always"}])
    rt = advance(start_pod(manifest, T0, "ip"), T0 + 100)
    assert rt.finished_at == T0 + 5 and rt.phase == "Succeeded"
    assert rt.init_containers[0].state is State.TERMINATED
    assert next_transition(rt) is None
    assert advance(rt, T0 + 10_000) is rt


@pytest.mark.parametrize(
    "grace,observed,previous,terminal,deadline",
    [(30, 100.0, None, False, 130.0),
     (0, 100.0, None, False, 100.0),
     (None, 100.0, None, False, 100.0),
     (30, 100.0, None, True, 100.0),
     (30, 110.0, 130.0, False, 130.0),    # the same deletion seen again: unchanged
     (5, 110.0, 130.0, False, 115.0),     # a shorter grace period brings it closer
     (60, 110.0, 130.0, False, 130.0)],   # a longer one does not push it back
    ids=["grace-30", "grace-0", "no-grace", "finished-pod", "resync", "shortened",
         "not-lengthened"])
def test_deletion_deadline(grace: int | None, observed: float, previous: float | None,
                           terminal: bool, deadline: float) -> None:
    assert deletion_deadline(grace, observed, previous, terminal=terminal) == deadline
