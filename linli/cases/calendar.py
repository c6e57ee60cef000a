"""Working-hours calendar for SLA deadlines (C2).

A working day is Monday–Friday unless ``HolidayDay`` says otherwise (public holidays off, adjusted
weekend working days 调休 on). Working periods within a day come from
``settings.LINLI_CASE_WORKDAY`` (default ``"08:30-12:00,13:30-17:30"``, 7.5 hours) in
``settings.LINLI_CASE_TIMEZONE`` (default Asia/Shanghai). Deadlines are returned in UTC-aware form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

DEFAULT_WORKDAY = "08:30-12:00,13:30-17:30"


@lru_cache(maxsize=8)
def parse_periods(spec: str) -> tuple[tuple[dt.time, dt.time], ...]:
    """"08:30-12:00,13:30-17:30" → ((08:30, 12:00), (13:30, 17:30)); sorted, non-overlapping."""
    periods = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        a, _, b = part.partition("-")
        start, end = dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip())
        if end <= start:
            raise ValueError(f"working period {part!r} ends before it starts")
        periods.append((start, end))
    periods.sort()
    for (_, e1), (s2, _) in zip(periods, periods[1:], strict=False):
        if s2 < e1:
            raise ValueError(f"working periods overlap in {spec!r}")
    if not periods:
        raise ValueError("no working period configured")
    return tuple(periods)


def workday_periods() -> tuple[tuple[dt.time, dt.time], ...]:
    return parse_periods(getattr(settings, "LINLI_CASE_WORKDAY", DEFAULT_WORKDAY))


def local_tz() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "LINLI_CASE_TIMEZONE", "Asia/Shanghai"))


def _overrides() -> dict[dt.date, bool]:
    from .config import snapshot

    return snapshot().holidays


def is_workday(day: dt.date, overrides: dict[dt.date, bool] | None = None) -> bool:
    if overrides is None:
        overrides = _overrides()
    return overrides.get(day, day.weekday() < 5)


def provisional_years(start: dt.datetime, end: dt.datetime) -> list[int]:
    """Years between ``start`` and ``end`` (local dates) whose calendar is not confirmed as the
    State Council's schedule (``CalendarYear.confirmed``): working-hour deadlines there count
    Monday–Friday minus the holidays entered so far (the statutory days), without 调休 working
    days — an explicit, visible fallback rather than a guess."""
    from .config import snapshot

    tz = local_tz()
    years = snapshot().years
    return [y for y in range(start.astimezone(tz).year, end.astimezone(tz).year + 1) if not years.get(y, False)]


def add_working_hours(start: dt.datetime, offsets_hours: Sequence[float]) -> list[dt.datetime]:
    """The instants reached after each of ``offsets_hours`` working hours from ``start``.

    One walk over the calendar serves all offsets; a start outside working time counts from the
    next working period. Holiday overrides come from the in-process calendar (``config.snapshot``).
    """
    tz = local_tz()
    periods = workday_periods()
    order = sorted(range(len(offsets_hours)), key=lambda i: offsets_hours[i])
    results: list[dt.datetime | None] = [None] * len(offsets_hours)
    cursor = start.astimezone(tz)
    day = cursor.date()
    overrides = _overrides()
    used = dt.timedelta(0)  # working time consumed so far
    k = 0
    while k < len(order):
        if overrides.get(day, day.weekday() < 5):
            for p_start, p_end in periods:
                seg_start = max(cursor, dt.datetime.combine(day, p_start, tzinfo=tz))
                seg_end = dt.datetime.combine(day, p_end, tzinfo=tz)
                if seg_start >= seg_end:
                    continue
                avail = seg_end - seg_start
                while k < len(order):
                    need = dt.timedelta(hours=offsets_hours[order[k]]) - used
                    if need > avail:
                        break
                    results[order[k]] = seg_start + need
                    k += 1
                used += avail
                cursor = seg_end
                if k == len(order):
                    break
        day += dt.timedelta(days=1)
    return [r.astimezone(dt.UTC) for r in results]  # type: ignore[union-attr]


def sla_instants(start: dt.datetime, hours: int, *, working: bool) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(warn_at at 80 %, due_at at 100 %, escalate2_at at 200 %) of a ``hours`` time limit."""
    offsets = (hours * 0.8, float(hours), hours * 2.0)
    if working:
        warn, due, esc2 = add_working_hours(start, offsets)
    else:
        warn, due, esc2 = (start + dt.timedelta(hours=h) for h in offsets)
    return warn, due, esc2
