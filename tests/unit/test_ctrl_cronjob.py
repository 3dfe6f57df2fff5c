"""CronJob schedule arithmetic (kubepy.controllers.cronjob.schedule) and decisions
(kubepy.controllers.cronjob.logic) as tables, in virtual time."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kubepy.api.validation.cron import parse_schedule
from kubepy.controllers.cronjob import logic
from kubepy.controllers.cronjob import schedule as cron

Obj = dict[str, Any]
UTC = timezone.utc


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else \
        datetime.fromisoformat(text)


NEXT = [
    ("every-minute", "* * * * *", "2026-01-01T12:00:00", "2026-01-01T12:01:00"),
    ("every-minute-mid", "* * * * *", "2026-01-01T12:00:30", "2026-01-01T12:01:00"),
    ("step", "*/15 * * * *", "2026-01-01T12:14:59", "2026-01-01T12:15:00"),
    ("hourly", "@hourly", "2026-01-01T12:00:00", "2026-01-01T13:00:00"),
    ("daily", "@daily", "2026-01-01T12:00:00", "2026-01-02T00:00:00"),
    ("weekly-sunday", "@weekly", "2026-01-01T12:00:00", "2026-01-04T00:00:00"),
    ("monthly", "@monthly", "2026-01-15T00:00:00", "2026-02-01T00:00:00"),
    ("yearly", "@yearly", "2026-01-01T00:00:00", "2027-01-01T00:00:00"),
    ("weekdays-9", "0 9 * * 1-5", "2026-01-02T09:00:00", "2026-01-05T09:00:00"),
    ("dom-or-dow", "0 0 13 * 5", "2026-01-01T00:00:00", "2026-01-02T00:00:00"),
    ("dom-and-star-dow", "0 0 13 * *", "2026-01-01T00:00:00", "2026-01-13T00:00:00"),
    ("feb-29", "0 0 29 2 *", "2026-01-01T00:00:00", "2028-02-29T00:00:00"),
    ("names", "30 6 * jan,feb mon", "2026-01-01T00:00:00", "2026-01-05T06:30:00"),
    ("month-wrap", "0 0 1 * *", "2026-12-31T23:59:00", "2027-01-01T00:00:00"),
    ("every-90s", "@every 90s", "2026-01-01T12:00:00.5", "2026-01-01T12:01:30"),
    ("every-1h30m", "@every 1h30m", "2026-01-01T12:00:00", "2026-01-01T13:30:00"),
]


@pytest.mark.parametrize("spec, after, expect", [c[1:] for c in NEXT], ids=[c[0] for c in NEXT])
def test_next_time(spec: str, after: str, expect: str) -> None:
    assert cron.next_time(parse_schedule(spec), t(after)) == t(expect)


def test_next_time_never() -> None:
    assert cron.next_time(parse_schedule("0 0 30 2 *"), t("2026-01-01T00:00:00")) is None


@pytest.mark.parametrize("spec, tz, after, expect", [
    ("0 9 * * *", "America/New_York", "2026-01-01T00:00:00", "2026-01-01T14:00:00"),
    ("0 9 * * *", "America/New_York", "2026-07-01T00:00:00", "2026-07-01T13:00:00"),
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00", "2026-03-30T00:30:00"),  # DST gap
    ("0 9 * * *", "Asia/Kolkata", "2026-01-01T00:00:00", "2026-01-01T03:30:00"),
], ids=["ny-winter", "ny-summer", "berlin-gap-skipped", "kolkata-half-hour"])
def test_next_time_in_zone(spec: str, tz: str, after: str, expect: str) -> None:
    assert cron.next_time(parse_schedule(spec), t(after), ZoneInfo(tz)) == t(expect)


MOST_RECENT = [
    ("none-yet", "*/5 * * * *", "2026-01-01T12:00:00", "2026-01-01T12:04:00", None, 0),
    ("one", "*/5 * * * *", "2026-01-01T12:00:00", "2026-01-01T12:06:00",
     "2026-01-01T12:05:00", 1),
    ("several", "*/5 * * * *", "2026-01-01T12:00:00", "2026-01-01T12:21:00",
     "2026-01-01T12:20:00", 4),
    ("many", "* * * * *", "2026-01-01T00:00:00", "2026-01-01T02:00:30",
     "2026-01-01T02:00:00", 120),
    ("irregular-weekend", "0 9 * * 1-5", "2026-01-01T10:00:00", "2026-01-04T10:00:00",
     "2026-01-02T09:00:00", 1),
    ("every", "@every 10m", "2026-01-01T12:00:00", "2026-01-01T12:35:00",
     "2026-01-01T12:30:00", 3),
]


@pytest.mark.parametrize("spec, earliest, now, latest, missed", [c[1:] for c in MOST_RECENT],
                         ids=[c[0] for c in MOST_RECENT])
def test_most_recent(spec: str, earliest: str, now: str, latest: str | None,
                     missed: int) -> None:
    got = cron.most_recent(parse_schedule(spec), t(earliest), t(now))
    assert got == (t(latest) if latest else None, missed)


# ------------------------------------------------------------------ sync

def cronjob(schedule: str = "*/5 * * * *", *, status: Obj | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "hello", "namespace": "ns", "uid": "c1",
                         "creationTimestamp": "2026-01-01T12:00:00Z"},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                                     "spec": {"template": {"spec": {"containers": []}}}},
                     **spec},
            "status": status if status is not None else {}}


def child(name: str, uid: str, state: str = "running", start: str = "2026-01-01T12:00:00Z",
          completed: str = "2026-01-01T12:01:00Z") -> Obj:
    status: Obj = {"startTime": start}
    if state in ("Complete", "Failed"):
        status["conditions"] = [{"type": state, "status": "True"}]
        if state == "Complete":
            status["completionTime"] = completed
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "status": status}


def ref(name: str, uid: str) -> Obj:
    return {"kind": "Job", "name": name, "namespace": "ns", "uid": uid, "apiVersion": "batch/v1"}


NOW = t("2026-01-01T12:05:00.05")
SLOT = 29454485  # 2026-01-01T12:05:00Z in minutes since the epoch

SYNC = [
    ("first-run", cronjob(), [], f"hello-{SLOT}", [], []),
    ("not-due", cronjob(), [], None, [], []),
    ("suspended", cronjob(suspend=True), [], None, [], []),
    ("already-ran", cronjob(status={"lastScheduleTime": "2026-01-01T12:05:00Z"}), [], None, [], []),
    ("forbid-active", cronjob(concurrencyPolicy="Forbid", status={"active": [ref("hello-1", "j1")]}),
     [child("hello-1", "j1")], None, [], ["JobAlreadyActive"]),
    ("allow-active", cronjob(status={"active": [ref("hello-1", "j1")]}), [child("hello-1", "j1")],
     f"hello-{SLOT}", [], []),
    ("replace-active", cronjob(concurrencyPolicy="Replace",
                               status={"active": [ref("hello-1", "j1")]}),
     [child("hello-1", "j1")], f"hello-{SLOT}", ["hello-1"], []),
    ("completed-leaves-active", cronjob(status={"active": [ref("hello-1", "j1")]}),
     [child("hello-1", "j1", "Complete")], f"hello-{SLOT}", [], ["SawCompletedJob"]),
    ("missing", cronjob(status={"active": [ref("hello-1", "j1")]}), [], f"hello-{SLOT}", [],
     ["MissingJob"]),
    ("unexpected", cronjob(), [child("other", "j9")], f"hello-{SLOT}", [], ["UnexpectedJob"]),
    ("history-limits", cronjob(successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0),
     [child("a", "1", "Complete", start="2026-01-01T10:00:00Z"),
      child("b", "2", "Complete", start="2026-01-01T11:00:00Z"), child("c", "3", "Failed")],
     f"hello-{SLOT}", ["a", "c"], []),
    ("bad-zone", cronjob(timeZone="Mars/Olympus"), [], None, [], ["UnknownTimeZone"]),
]


@pytest.mark.parametrize("cj, jobs, create, deletes, reasons", [c[1:] for c in SYNC],
                         ids=[c[0] for c in SYNC])
def test_sync(cj: Obj, jobs: list[Obj], create: str | None, deletes: list[str],
              reasons: list[str]) -> None:
    now = NOW if create or deletes or reasons or cj["spec"]["suspend"] or \
        cj["status"].get("lastScheduleTime") else t("2026-01-01T12:04:00")
    got = logic.sync(cj, jobs, now)
    assert (got.create or {}).get("metadata", {}).get("name") == create
    assert got.delete == deletes
    assert [e[1] for e in got.events] == reasons


def test_created_job_shape_and_status() -> None:
    cj = cronjob(timeZone="Europe/Paris", schedule="0 13 * * *")
    cj["metadata"]["creationTimestamp"] = "2026-01-01T11:00:00Z"
    got = logic.sync(cj, [], t("2026-01-01T12:00:10"))
    job = got.create
    assert job is not None and got.scheduled_time == t("2026-01-01T12:00:00")
    assert job["metadata"]["name"] == f"hello-{int(got.scheduled_time.timestamp()) // 60}"
    assert job["metadata"]["labels"] == {"team": "a"}
    assert job["metadata"]["annotations"] == {
        "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-01-01T13:00:00+01:00"}
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"] == {"template": {"spec": {"containers": []}}}
    assert got.requeue_after == pytest.approx(86400 - 10 + 0.1)


def test_last_successful_time_and_saw_completed_message() -> None:
    cj = cronjob(status={"active": [ref("hello-1", "j1")],
                         "lastScheduleTime": "2026-01-01T12:05:00Z"})
    got = logic.sync(cj, [child("hello-1", "j1", "Complete", completed="2026-01-01T12:05:30Z")],
                     t("2026-01-01T12:06:00"))
    assert got.status["active"] == []
    assert got.status["lastSuccessfulTime"] == "2026-01-01T12:05:30Z"
    assert got.events == [("Normal", "SawCompletedJob",
                           "Saw completed job: hello-1, condition: Complete")]


@pytest.mark.parametrize("deadline, now, outcome", [
    (None, "2026-01-01T12:07:00", "create"),
    (200, "2026-01-01T12:07:00", "create"),
    (60, "2026-01-01T12:07:00", "nothing"),  # 12:05 fell out of the window [12:06, 12:07]
    (30, "2026-01-01T12:05:20", "create"),
], ids=["no-deadline-late-start", "within-deadline", "missed-outside-window", "just-in-time"])
def test_starting_deadline(deadline: int | None, now: str, outcome: str) -> None:
    """Upstream (v2) only looks for activations inside the deadline window, so a start
    missed by more than the deadline is skipped silently and the next one is awaited."""
    cj = cronjob() if deadline is None else cronjob(startingDeadlineSeconds=deadline)
    got = logic.sync(cj, [], t(now))
    assert (got.create is not None) == (outcome == "create")
    assert got.events == []
    assert got.requeue_after is not None and got.requeue_after > 0


def test_too_many_missed() -> None:
    cj = cronjob("* * * * *")
    got = logic.sync(cj, [], t("2026-01-01T15:00:30"))
    assert ("Warning", "TooManyMissedTimes", logic.TOO_MANY_MISSED) in got.events
    assert got.create is not None and got.scheduled_time == t("2026-01-01T15:00:00")
