"""When a CronJob fires, pure: the next activation of a parsed cron ``Schedule`` after a
time (robfig/cron's SpecSchedule.Next and ConstantDelaySchedule semantics), and the most
recent missed activation since a CronJob last ran (the controller's
``mostRecentScheduleTime``).

* Standard schedules fire on whole minutes of wall-clock time in the schedule's location
  (``spec.timeZone``, else a ``CRON_TZ=``/``TZ=`` prefix, else UTC). Day matching follows
  cron: when day-of-month or day-of-week is ``*``/``?`` both must match, otherwise either.
  A wall time that does not exist (a DST gap) is skipped; the search gives up after five
  years (a schedule such as ``0 0 30 2 *`` never fires).
* ``@every <duration>`` fires every duration (whole seconds, at least one) after the given
  time, with sub-second parts dropped.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from kubepy.api.validation.cron import Schedule

MAX_SEARCH_YEARS = 5
MANY_MISSED = 100
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def location(name: str | None) -> tzinfo:
    """A time zone by IANA name ("" or None: UTC); raises ValueError when unknown."""
    if not name or name == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except Exception as e:  # ZoneInfoNotFoundError, ValueError for bad keys
        raise ValueError(f"unknown time zone {name}") from e


def parse_duration(text: str) -> float:
    """A Go duration ("1h30m", "90s", "1.5h") in seconds."""
    total = 0.0
    for number, unit in re.findall(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)", text):
        total += float(number) * _UNITS[unit]
    return total


def _day_matches(s: Schedule, day: datetime) -> bool:
    dom = day.day in s.dom
    dow = (day.weekday() + 1) % 7 in s.dow
    if s.dom_star or s.dow_star:
        return dom and dow
    return dom or dow


def next_time(s: Schedule, after: datetime, tz: tzinfo = timezone.utc) -> datetime | None:
    """The first activation strictly after ``after`` (an aware datetime), in UTC; None if
    there is none within five years."""
    if s.every:
        delay = max(1, int(parse_duration(s.every)))
        return (after.replace(microsecond=0) + timedelta(seconds=delay)).astimezone(timezone.utc)
    local = after.astimezone(tz)
    wall = local.replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
    limit = wall.year + MAX_SEARCH_YEARS
    while wall.year <= limit:
        if wall.month not in s.month:
            year, month = (wall.year + 1, 1) if wall.month == 12 else (wall.year, wall.month + 1)
            wall = datetime(year, month, 1)
            continue
        if not _day_matches(s, wall):
            wall = datetime(wall.year, wall.month, wall.day) + timedelta(days=1)
            continue
        if wall.hour not in s.hour:
            wall = wall.replace(minute=0) + timedelta(hours=1)
            continue
        if wall.minute not in s.minute:
            wall += timedelta(minutes=1)
            continue
        aware = wall.replace(tzinfo=tz)
        utc = aware.astimezone(timezone.utc)
        if utc.astimezone(tz).replace(tzinfo=None) != wall or utc <= after:
            wall += timedelta(minutes=1)  # not a real wall time here (DST gap), or not later
            continue
        return utc
    return None


def prev_time(s: Schedule, at: datetime, tz: tzinfo = timezone.utc) -> datetime | None:
    """The last standard-schedule activation at or before ``at``, in UTC (None within five
    years): ``next_time`` walked backwards."""
    wall = at.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    limit = wall.year - MAX_SEARCH_YEARS
    while wall.year >= limit:
        if wall.month not in s.month:
            wall = datetime(wall.year, wall.month, 1) - timedelta(minutes=1)
            continue
        if not _day_matches(s, wall):
            wall = datetime(wall.year, wall.month, wall.day) - timedelta(minutes=1)
            continue
        if wall.hour not in s.hour:
            wall = wall.replace(minute=0) - timedelta(minutes=1)
            continue
        if wall.minute not in s.minute:
            wall -= timedelta(minutes=1)
            continue
        utc = wall.replace(tzinfo=tz).astimezone(timezone.utc)
        if utc.astimezone(tz).replace(tzinfo=None) != wall or utc > at:
            wall -= timedelta(minutes=1)
            continue
        return utc
    return None


def most_recent(s: Schedule, earliest: datetime, now: datetime,
                tz: tzinfo = timezone.utc) -> tuple[datetime | None, int]:
    """(the latest activation in (earliest, now], about how many activations fell in that
    span — exact for regular schedules, which is what the "too many missed" rule needs)."""
    t1 = next_time(s, earliest, tz)
    if t1 is None or now < t1:
        return None, 0
    if s.every:
        delay = max(1, int(parse_duration(s.every)))
        k = int((now - t1).total_seconds()) // delay
        return t1 + timedelta(seconds=k * delay), k + 1
    t2 = next_time(s, t1, tz)
    if t2 is None or now < t2:
        return t1, 1
    step = round((t2 - t1).total_seconds())
    if step < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    return prev_time(s, now, tz) or t1, int((now - t1).total_seconds()) // step + 1
