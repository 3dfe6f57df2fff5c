"""The standard cron schedule syntax CronJobs use (robfig/cron v3 ``ParseStandard``).

``parse_schedule`` turns a five-field spec or a descriptor (``@hourly``, ``@every 1h``...)
into a ``Schedule`` of allowed values per field, or raises ``ValueError`` with the
message robfig/cron gives, which the apiserver quotes in ``spec.schedule: Invalid value``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (name, minimum, maximum, names)
_MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("dom", 1, 31, {}),
    ("month", 1, 12, _MONTHS), ("dow", 0, 6, _DAYS))
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")


@dataclass(frozen=True)
class Schedule:
    minute: frozenset[int]
    hour: frozenset[int]
    dom: frozenset[int]
    month: frozenset[int]
    dow: frozenset[int]
    dom_star: bool  # '*' or '?' in day-of-month: cron then matches on day-of-week only
    dow_star: bool
    every: str = ""  # the duration of an "@every <duration>" schedule
    timezone: str = ""


def _atoi(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'failed to parse int from {text}: strconv.Atoi: parsing '
                         f'"{text}": invalid syntax')
    value = int(text)
    if value < 0:
        raise ValueError(f"negative number ({value}) not allowed: {text}")
    return value


def _int_or_name(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    return _atoi(text)


def _range(expr: str, lo: int, hi: int, names: dict[str, int]) -> tuple[set[int], bool]:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(low_high) == 1:  # "N/step" means N through the maximum
            end = hi
        if step > 1:
            star = False
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ValueError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def parse_schedule(spec: str) -> Schedule:
    if not spec:
        raise ValueError("empty spec string")
    timezone = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        timezone = head.split("=", 1)[1]
        spec = spec.strip()
    if spec.startswith("@"):
        if spec.startswith("@every "):
            duration = spec[len("@every "):].strip()
            if not _DURATION.match(duration):
                raise ValueError(f"failed to parse duration {spec}: time: invalid duration "
                                 f'"{duration}"')
            none: frozenset[int] = frozenset()
            return Schedule(none, none, none, none, none, False, False, duration, timezone)
        if spec not in _DESCRIPTORS:
            raise ValueError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    values: list[frozenset[int]] = []
    stars: list[bool] = []
    for text, (_, lo, hi, names) in zip(fields, _FIELDS):
        allowed: set[int] = set()
        star = False
        for expr in text.split(","):
            got, is_star = _range(expr, lo, hi, names)
            allowed |= got
            star = star or is_star
        values.append(frozenset(allowed))
        stars.append(star)
    return Schedule(values[0], values[1], values[2], values[3], values[4],
                    stars[2], stars[4], "", timezone)


def schedule_error(spec: str) -> str | None:
    try:
        parse_schedule(spec)
    except ValueError as err:
        return str(err)
    return None
