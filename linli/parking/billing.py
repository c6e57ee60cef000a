"""K2: what a stay costs — a pure function of the rule and the two instants, integer fen only.

* A stay no longer than ``free_minutes`` is free; beyond it the whole stay is billed from entry.
* The stay is cut into 24-hour blocks counted from entry; each block is capped at ``daily_cap_fen``.
* Inside a block, daytime costs ``first_fen`` for the first ``first_minutes`` (first block only) and
  ``step_fen`` for each started ``step_minutes`` after; each night window (Asia/Shanghai local time,
  UTC+8 all year — a fixed offset, so no DST) the block touches costs ``night_fen`` instead of steps.

Every piece is non-decreasing in the exit time, so the total is too; it never exceeds
cap × started days; the same inputs always give the same integer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

CST = dt.timezone(dt.timedelta(hours=8), "CST")  # China Standard Time: no DST since 1991
DAY = 86_400
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Terms:
    """A billing rule detached from the database (the decision index holds these)."""

    free_minutes: int = 15
    first_minutes: int = 60
    first_fen: int = 500
    step_minutes: int = 60
    step_fen: int = 200
    daily_cap_fen: int | None = None
    night_start_minute: int | None = None
    night_end_minute: int | None = None
    night_fen: int = 0
    pass_holders_free: bool = True
    visitor_paid_by_host: bool = False

    @classmethod
    def of(cls, rule: Any) -> Terms:
        return cls(**{f: getattr(rule, f) for f in cls.__dataclass_fields__})


def _seconds(t: dt.datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("aware datetimes only")
    return (t - _EPOCH) // dt.timedelta(seconds=1)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _night(rule: Any, start: int, end: int) -> tuple[int, int]:
    """(seconds inside night windows, number of night windows touched) within [start, end)."""
    ns, ne = rule.night_start_minute, rule.night_end_minute
    if ns is None or ne is None or ns == ne or end <= start:
        return 0, 0
    offset = 8 * 3600
    length = ((ne - ns) % 1440) * 60
    # local midnight (as epoch seconds) of the day before the start: a window may begin then
    day0 = (start + offset) // DAY * DAY - offset - DAY
    inside = touched = 0
    day = day0
    while day < end:
        ws = day + ns * 60
        we = ws + length
        lo, hi = max(ws, start), min(we, end)
        if hi > lo:
            inside += hi - lo
            touched += 1
        day += DAY
    return inside, touched


def _block(rule: Any, start: int, end: int, first: bool) -> int:
    night_s, nights = _night(rule, start, end)
    day_s = (end - start) - night_s
    fen = nights * rule.night_fen
    if day_s > 0:
        step = rule.step_minutes * 60
        if first:
            fen += rule.first_fen
            rest = day_s - rule.first_minutes * 60
            if rest > 0:
                fen += _ceil_div(rest, step) * rule.step_fen
        else:
            fen += _ceil_div(day_s, step) * rule.step_fen
    cap = rule.daily_cap_fen
    return fen if cap is None else min(fen, cap)


def bill(rule: Any, entry: dt.datetime, exit: dt.datetime) -> int:
    """Fen owed for a stay from ``entry`` to ``exit`` (aware datetimes) under ``rule``."""
    start, end = _seconds(entry), _seconds(exit)
    if end - start <= rule.free_minutes * 60:
        return 0
    total, t, first = 0, start, True
    while t < end:
        nxt = min(t + DAY, end)
        total += _block(rule, t, nxt, first)
        t, first = nxt, False
    return total
