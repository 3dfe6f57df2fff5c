"""Job decisions (kubepy.controllers.job.logic / pods) as tables: accounting through the
tracking finalizer, parallelism and completions, Indexed jobs, back-off, backoffLimit,
deadline, suspend, pod failure policy, conditions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.controllers.job import logic
from kubepy.controllers.job import pods as jp

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]
F = jp.TRACKING_FINALIZER


def job(*, completions: int | None = 1, parallelism: int = 1, backoff: int = 6,
        indexed: bool = False, status: Obj | None = None, **spec: Any) -> Obj:
    s: Obj = {"parallelism": parallelism, "backoffLimit": backoff,
              "completionMode": "Indexed" if indexed else "NonIndexed",
              "template": {"metadata": {"labels": {"job-name": "pi"}},
                           "spec": {"restartPolicy": "Never",
                                    "containers": [{"name": "main", "image": "perl"}]}},
              **spec}
    if completions is not None:
        s["completions"] = completions
    return {"metadata": {"name": "pi", "namespace": "ns", "uid": "j1"}, "spec": s,
            "status": status if status is not None else {}}


_seq = iter(range(10**6))


def pod(phase: str = "Running", *, ready: bool = False, finalizer: bool = True,
        index: int | None = None, deleting: bool = False, exit_code: int | None = None,
        finished_ago: float = 600, uid: str | None = None) -> Obj:
    n = next(_seq)
    meta: Obj = {"name": f"pi-{n}", "namespace": "ns", "uid": uid or f"p{n}",
                 "creationTimestamp": f"2026-01-01T10:00:{n % 60:02d}Z",
                 "finalizers": [F] if finalizer else []}
    if index is not None:
        meta["annotations"] = {jp.COMPLETION_INDEX: str(index)}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    status: Obj = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    if exit_code is not None or phase in ("Succeeded", "Failed"):
        finished = (NOW - timedelta(seconds=finished_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
        status["containerStatuses"] = [{"name": "main", "state": {"terminated": {
            "exitCode": exit_code if exit_code is not None else (0 if phase == "Succeeded" else 1),
            "finishedAt": finished}}}]
    return {"metadata": meta, "spec": {}, "status": status}


def cond_types(status: Obj) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status.get("conditions") or []}


CASES = [
    # id, job, pods, creates, n_deletes (counted), n_removes (uncounted), status subset, conds
    ("new-job-creates-one", job(), [], [None], 0, 0, {"active": 0, "succeeded": 0}, {}),
    ("parallel-3-of-5", job(completions=5, parallelism=3), [], [None] * 3, 0, 0, {}, {}),
    ("remaining-completions-cap", job(completions=5, parallelism=3,
                                       status={"succeeded": 4}), [], [None], 0, 0, {}, {}),
    ("running-nothing-to-do", job(), [pod(ready=True)], [], 0, 0, {"active": 1, "ready": 1}, {}),
    ("success-completes", job(), [pod("Succeeded")], [], 0, 0,
     {"succeeded": 1, "active": 0, "uncountedTerminatedPods": {}},
     {"SuccessCriteriaMet": "True", "Complete": "True"}),
    ("success-already-counted", job(status={"succeeded": 1}), [pod("Succeeded", finalizer=False)],
     [], 0, 0, {"succeeded": 1}, {"SuccessCriteriaMet": "True", "Complete": "True"}),
    ("failure-retried-after-backoff", job(), [pod("Failed", finished_ago=60)], [None], 0, 0,
     {"failed": 1}, {}),
    ("backoff-holds-creation", job(), [pod("Failed", finished_ago=5)], [], 0, 0, {"failed": 1}, {}),
    ("backoff-limit-exceeded", job(backoff=1, status={"failed": 1}), [pod("Failed")], [], 0, 0,
     {"failed": 2}, {"FailureTarget": "True", "Failed": "True"}),
    ("backoff-limit-deletes-active", job(backoff=0, parallelism=2, completions=2),
     [pod("Failed"), pod()], [], 1, 0, {"failed": 1, "active": 0},
     {"FailureTarget": "True"}),
    ("no-completions-one-success-waits", job(completions=None, parallelism=2),
     [pod("Succeeded"), pod()], [], 0, 0, {"succeeded": 1, "active": 1}, {}),
    ("no-completions-done-when-idle", job(completions=None, parallelism=2),
     [pod("Succeeded"), pod("Succeeded")], [], 0, 0, {"succeeded": 2},
     {"SuccessCriteriaMet": "True", "Complete": "True"}),
    ("excess-removed", job(completions=5, parallelism=1), [pod(ready=True), pod()], [], 0, 1,
     {"active": 1}, {}),
    ("deleted-pod-counts-failed-and-is-replaced", job(), [pod(deleting=True)], [None], 0, 0,
     {"failed": 1}, {}),
    ("deleted-pod-waits-with-policy-failed", job(podReplacementPolicy="Failed"),
     [pod(deleting=True)], [], 0, 0, {"failed": 0, "terminating": 1}, {}),
    ("suspend-removes-active", job(suspend=True), [pod(), pod()], [], 0, 2,
     {"active": 0}, {"Suspended": "True"}),
    ("resume", job(status={"conditions": [{"type": "Suspended", "status": "True"}]}), [],
     [None], 0, 0, {"startTime": "2026-01-01T12:00:00Z"}, {"Suspended": "False"}),
    ("deadline-exceeded", job(activeDeadlineSeconds=60,
                              status={"startTime": "2026-01-01T11:58:00Z"}), [pod()],
     [], 1, 0, {}, {"FailureTarget": "True"}),
    ("deadline-not-yet", job(activeDeadlineSeconds=600,
                             status={"startTime": "2026-01-01T11:58:00Z"}), [pod()],
     [], 0, 0, {"active": 1}, {}),
    ("finished-job-only-accounts", job(status={"conditions": [
        {"type": "Complete", "status": "True"}], "succeeded": 1}), [pod("Succeeded")], [], 0, 0,
     {"succeeded": 2}, {"Complete": "True"}),
    ("on-failure-restarts-count", job(backoff=2, template={"spec": {"restartPolicy": "OnFailure",
                                                                     "containers": []}}),
     [{**pod(), "status": {"phase": "Running", "containerStatuses": [{"restartCount": 2}]}}],
     [], 1, 0, {}, {"FailureTarget": "True"}),
]


@pytest.mark.parametrize("job_, pods, creates, n_delete, n_remove, status, conds",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sync(job_: Obj, pods: list[Obj], creates: list[Any], n_delete: int, n_remove: int,
              status: Obj, conds: dict[str, str]) -> None:
    got = logic.sync(job_, pods, NOW)
    assert got.create == creates
    assert (len(got.delete), len(got.remove)) == (n_delete, n_remove)
    assert {k: got.status.get(k) for k in status} == status
    assert {k: v for k, v in cond_types(got.status).items() if k in conds} == conds
    assert set(cond_types(got.status)) - {"Suspended"} == set(conds) - {"Suspended"}


def test_accounting_records_uncounted_then_counts() -> None:
    p_ok, p_bad = pod("Succeeded", uid="s1"), pod("Failed", uid="f1")
    got = logic.sync(job(completions=3, parallelism=3), [p_ok, p_bad, pod()], NOW)
    assert got.finalize == [p_ok, p_bad]
    assert got.uncounted == {"succeeded": ["s1"], "failed": ["f1"]}
    assert got.status["uncountedTerminatedPods"] == {}
    assert (got.status["succeeded"], got.status["failed"]) == (1, 1)
    # a pod whose finalizer we removed but the cache still shows: not counted twice
    again = logic.sync(job(completions=3, parallelism=3), [p_ok], NOW, frozenset({"s1"}))
    assert again.finalize == [] and again.status["succeeded"] == 0
    # an uncounted uid whose pod is gone is counted from the status list
    crashed = logic.sync(job(status={"uncountedTerminatedPods": {"succeeded": ["zz"]}}), [], NOW)
    assert crashed.status["succeeded"] == 1 and cond_types(crashed.status)["Complete"] == "True"


def test_completion_conditions_and_event() -> None:
    got = logic.sync(job(), [pod("Succeeded")], NOW)
    complete = [c for c in got.status["conditions"] if c["type"] == "Complete"][0]
    assert complete["reason"] == "CompletionsReached"
    assert complete["message"] == "Reached expected number of succeeded pods"
    assert got.status["completionTime"] == "2026-01-01T12:00:00Z"
    assert got.events == [("Normal", "Completed", "Job completed")]


def test_failure_event_waits_for_pods() -> None:
    j = job(backoff=0, completions=2, parallelism=2)
    first = logic.sync(j, [pod("Failed"), pod()], NOW)
    assert first.events == [] and "completionTime" not in first.status
    j["status"] = first.status
    second = logic.sync(j, [pod("Failed", finalizer=False)], NOW)
    failed = [c for c in second.status["conditions"] if c["type"] == "Failed"][0]
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded",
                                                     "Job has reached the specified backoff limit")
    assert second.events == [("Warning", "BackoffLimitExceeded",
                               "Job has reached the specified backoff limit")]


INDEXED = [
    ("creates-lowest-indexes", job(completions=5, parallelism=2, indexed=True), [], [0, 1]),
    ("skips-active-and-completed", job(completions=4, parallelism=3, indexed=True,
                                       status={"completedIndexes": "0"}),
     [pod(index=1)], [2, 3]),
    ("success-records-index", job(completions=3, parallelism=1, indexed=True),
     [pod("Succeeded", index=0)], [1]),
    ("failed-index-retried", job(completions=2, parallelism=2, indexed=True),
     [pod("Failed", index=0, finished_ago=3600), pod(index=1)], [0]),
]


@pytest.mark.parametrize("job_, pods, creates", [c[1:] for c in INDEXED],
                         ids=[c[0] for c in INDEXED])
def test_indexed(job_: Obj, pods: list[Obj], creates: list[int]) -> None:
    assert logic.sync(job_, pods, NOW).create == creates


def test_indexed_completion_and_duplicates() -> None:
    j = job(completions=3, parallelism=3, indexed=True, status={"completedIndexes": "0,2"})
    got = logic.sync(j, [pod("Succeeded", index=1)], NOW)
    assert got.status["completedIndexes"] == "0-2" and got.status["succeeded"] == 3
    assert cond_types(got.status)["Complete"] == "True"
    dup = logic.sync(job(completions=2, parallelism=2, indexed=True),
                     [pod(index=0, ready=True), pod(index=0), pod(index=7)], NOW)
    assert len(dup.remove) == 2 and dup.create == [1]


def test_indexed_pod_shape() -> None:
    p = jp.new_pod(job(indexed=True), 3)
    assert p["metadata"]["generateName"] == "pi-3-"
    assert p["metadata"]["annotations"][jp.COMPLETION_INDEX] == "3"
    assert p["metadata"]["labels"][jp.COMPLETION_INDEX] == "3"
    assert p["metadata"]["finalizers"] == [F]
    assert p["spec"]["hostname"] == "pi-3"
    assert p["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
    plain = jp.new_pod(job(), None)
    assert plain["metadata"]["generateName"] == "pi-" and "annotations" not in plain["metadata"]
    assert plain["metadata"]["ownerReferences"][0]["kind"] == "Job"


@pytest.mark.parametrize("indexes, text", [([], ""), ([0], "0"), ([0, 1, 2, 5], "0-2,5"),
                                           ([3, 1, 2, 7, 8], "1-3,7-8")],
                         ids=["empty", "one", "run-and-single", "unsorted"])
def test_index_strings(indexes: list[int], text: str) -> None:
    assert jp.format_indexes(indexes) == text
    assert jp.parse_indexes(text) == set(indexes)


@pytest.mark.parametrize("failures, delay", [(0, 0), (1, 10), (2, 20), (3, 40), (6, 320),
                                             (7, 360), (20, 360)],
                         ids=["none", "1", "2", "3", "6", "cap", "far"])
def test_backoff_delay(failures: int, delay: float) -> None:
    assert jp.backoff_delay(failures) == delay


def test_backoff_counts_only_failures_since_success() -> None:
    t = NOW - timedelta(seconds=15)
    assert jp.backoff_remaining([t, t - timedelta(1)], None, NOW) == 5  # 2 failures: 20 s
    assert jp.backoff_remaining([t, t - timedelta(1)], t - timedelta(hours=1), NOW) == 0


POLICY = {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                          "values": [42]}},
    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [42]}},
]}


@pytest.mark.parametrize("failed_pod, outcome", [
    (pod("Failed", exit_code=42, uid="x"), "FailJob"),
    (pod("Failed", exit_code=1, uid="y"), "Count"),
    ({**pod("Failed", uid="z"), "status": {"phase": "Failed", "conditions": [
        {"type": "DisruptionTarget", "status": "True"}]}}, "Ignore"),
], ids=["fail-job", "count", "ignore"])
def test_pod_failure_policy(failed_pod: Obj, outcome: str) -> None:
    j = job(podFailurePolicy=POLICY, podReplacementPolicy="Failed")
    got = logic.sync(j, [failed_pod], NOW)
    if outcome == "FailJob":
        target = [c for c in got.status["conditions"] if c["type"] == "FailureTarget"][0]
        assert target["reason"] == "PodFailurePolicy"
        assert target["message"] == (f"Container main for pod ns/{failed_pod['metadata']['name']} "
                                     "failed with exit code 42 matching FailJob rule at index 1")
        assert cond_types(got.status)["Failed"] == "True"
    else:
        assert got.status["failed"] == (1 if outcome == "Count" else 0)
        assert "Failed" not in cond_types(got.status)
    assert got.finalize == [failed_pod]


def _finished(type_: str = "Complete", *, at: str | None = "2026-01-01T11:00:00Z",
              completion: str | None = None, ttl: int | None = 30, deleting: bool = False) -> Obj:
    cond: Obj = {"type": type_, "status": "True"}
    if at is not None:
        cond["lastTransitionTime"] = at
    status: Obj = {"conditions": [cond]}
    if completion is not None:
        status["completionTime"] = completion
    j = job(status=status) if ttl is None else job(status=status, ttlSecondsAfterFinished=ttl)
    if deleting:
        j["metadata"]["deletionTimestamp"] = "2026-01-01T11:30:00Z"
    return j


TTL_AT = datetime(2026, 1, 1, 11, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("job_, expiry", [
    pytest.param(_finished(), TTL_AT, id="complete"),
    pytest.param(_finished("Failed"), TTL_AT, id="failed"),
    pytest.param(_finished(ttl=0), TTL_AT - timedelta(seconds=30), id="ttl-zero"),
    pytest.param(_finished(at=None, completion="2026-01-01T10:00:00Z"),
                 TTL_AT - timedelta(hours=1), id="completion-time-when-no-transition-time"),
    pytest.param(_finished(at=None), None, id="no-finish-time"),
    pytest.param(_finished(ttl=None), None, id="no-ttl"),
    pytest.param(_finished(deleting=True), None, id="being-deleted"),
    pytest.param(_finished("SuccessCriteriaMet"), None, id="not-finished"),
    pytest.param({**_finished(), "status": {"conditions": [
        {"type": "Complete", "status": "False", "lastTransitionTime": "2026-01-01T11:00:00Z"}]}},
        None, id="complete-false"),
])
def test_ttl_expiry(job_: Obj, expiry: datetime | None) -> None:
    assert logic.ttl_expiry(job_) == expiry
