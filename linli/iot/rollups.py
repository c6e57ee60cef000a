"""Telemetry history (D6): downsampled rollups, retention and the series read behind the charts.

Rollups: 5 min buckets from raw telemetry, 1 h from 5 min, 1 d from 1 h — each level one set-based
``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` (PostgreSQL ``date_bin``; SQLite the same
arithmetic on epoch seconds). A bucket is always recomputed whole from the level below, so a run is
idempotent and late rows simply re-aggregate their bucket. ``rollup_run`` is incremental: it covers
``[watermark - LINLI_IOT_ROLLUP_LATE_S, now)`` and moves the watermark; rows arriving later than that
grace are folded in by ``rollup_rebuild`` (``manage.py iot_rollups --rebuild-from``). Bucket
boundaries follow the local day (``TIME_ZONE``; fixed offset — China has no DST), so a "1 d" bucket
is a local calendar day.

Retention: per device type (``retention_*_days``; 1 d forever when empty). On PostgreSQL whole monthly
partitions older than the longest raw retention are dropped, then rows are deleted per type in the
rest; raw rows newer than the rollup watermark (minus the grace) are never deleted, so nothing is lost
before it is aggregated.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from linli.core.errors import Invalid
from linli.core.i18n import Msg

from . import partitions
from .models import DeviceType, Resolution, RollupState, Telemetry, TelemetryRollup

STATE = "telemetry"
SIZES = {"5m": 300, "1h": 3600, "1d": 86400}
SOURCE = {"5m": None, "1h": "5m", "1d": "1h"}  # level computed from (None = raw telemetry)
CHUNK = dt.timedelta(days=2)
ROLLUP_TABLE = TelemetryRollup._meta.db_table
RAW_TABLE = Telemetry._meta.db_table


def late_grace() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LINLI_IOT_ROLLUP_LATE_S)


def _origin() -> dt.datetime:
    """Bucket origin: local midnight 2000-01-01 (so days are local days)."""
    return dt.datetime(2000, 1, 1, tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE)).astimezone(dt.UTC)


def floor(t: dt.datetime, resolution: str) -> dt.datetime:
    size = SIZES[resolution]
    origin = _origin()
    return origin + dt.timedelta(seconds=((t - origin).total_seconds() // size) * size)


def _bucket_sql(column: str, resolution: str) -> tuple[str, list[Any]]:
    size = SIZES[resolution]
    if connection.vendor == "postgresql":
        return f"date_bin(%s::interval, {column}, %s::timestamptz)", [f"{size} seconds", _origin()]
    origin = int(_origin().timestamp())
    # Epoch seconds of the (text) timestamp, floored to the bucket relative to the origin (always after 2000).
    return (f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', ((CAST(strftime('%%s', {column}) AS INTEGER) - {origin}) / {size}) * {size} + {origin},"
            f" 'unixepoch')"), []


def _ts(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _aggregate(cur, resolution: str, start: dt.datetime, end: dt.datetime) -> int:
    """(Re)compute every ``resolution`` bucket in [start, end) (both on bucket boundaries)."""
    src = SOURCE[resolution]
    if src is None:
        bucket, bparams = _bucket_sql("ts", resolution)
        inner = (f"SELECT device_id, key, {bucket} AS b, 1 AS n, value AS vmin, value AS vmax, value AS vsum, value AS vlast, ts AS last_ts"
                 f" FROM {RAW_TABLE} WHERE ts >= %s AND ts < %s AND value IS NOT NULL")
        params = [*bparams, _ts(start), _ts(end)]
    else:
        bucket, bparams = _bucket_sql("bucket", resolution)
        inner = (f"SELECT device_id, key, {bucket} AS b, n, vmin, vmax, vsum, vlast, last_ts"
                 f" FROM {ROLLUP_TABLE} WHERE resolution = %s AND bucket >= %s AND bucket < %s")
        params = [*bparams, src, _ts(start), _ts(end)]
    sql = (
        f"INSERT INTO {ROLLUP_TABLE} (device_id, key, resolution, bucket, n, vmin, vmax, vsum, vlast, last_ts)"
        f" SELECT device_id, key, %s, b, SUM(n), MIN(vmin), MAX(vmax), SUM(vsum), MAX(CASE WHEN rn = 1 THEN vlast END), MAX(last_ts)"
        f" FROM (SELECT s.*, ROW_NUMBER() OVER (PARTITION BY device_id, key, b ORDER BY last_ts DESC) AS rn FROM ({inner}) s) t"
        f" WHERE true GROUP BY device_id, key, b"
        f" ON CONFLICT (device_id, key, resolution, bucket) DO UPDATE SET n = excluded.n, vmin = excluded.vmin,"
        f" vmax = excluded.vmax, vsum = excluded.vsum, vlast = excluded.vlast, last_ts = excluded.last_ts"
    )
    cur.execute(sql, [resolution, *params])
    return max(cur.rowcount, 0)


def _aggregate_range(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """All levels for [start, end): each coarser level over the whole buckets touched."""
    out = {}
    with connection.cursor() as cur:
        for resolution in ("5m", "1h", "1d"):
            a = floor(start, resolution)
            n = 0
            while a < end:  # CHUNK is a whole number of days, so chunk bounds stay on bucket boundaries
                b = min(a + CHUNK, end)
                n += _aggregate(cur, resolution, a, b)
                a = b
            out[resolution] = n
    return out


def _earliest_raw() -> dt.datetime | None:
    return Telemetry.objects.order_by("ts").values_list("ts", flat=True).first()


@dataclass
class RollupResult:
    start: dt.datetime | None
    end: dt.datetime
    rows: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat(), **{f"rows_{k}": v for k, v in self.rows.items()}}


def rollup_run(*, now: dt.datetime | None = None) -> RollupResult:
    """Incremental rollup from the watermark (idempotent; concurrent runs serialise on the state row)."""
    now = now or timezone.now()
    with transaction.atomic():
        RollupState.objects.get_or_create(name=STATE)
        state = RollupState.objects.select_for_update().get(name=STATE)
        start = state.watermark - late_grace() if state.watermark else _earliest_raw()
        rows = _aggregate_range(start, now) if start is not None and start < now else {}
        state.watermark = max(now, state.watermark) if state.watermark else now
        state.save(update_fields=["watermark", "updated_at"])
    return RollupResult(start, now, rows)


def rollup_rebuild(*, start: dt.datetime, end: dt.datetime | None = None) -> RollupResult:
    """Re-aggregate [start, end) at every level, e.g. after a backfill older than the late grace."""
    end = end or timezone.now()
    if end <= start:
        raise Invalid("rollup.bad_range", Msg("结束时间须晚于开始时间", "The end must be after the start"))
    with transaction.atomic():
        return RollupResult(start, end, _aggregate_range(start, end))


# ---- retention -----------------------------------------------------------------------------------
PARTITION_RE = re.compile(rf"^{partitions.TABLE}_(\d{{4}})(\d{{2}})$")


def _month_partitions() -> list[tuple[str, dt.datetime]]:
    """(name, exclusive upper bound) of the monthly partitions of the telemetry table."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = %s", [partitions.TABLE],
        )
        names = [r[0] for r in cur.fetchall()]
    out = []
    for name in names:
        m = PARTITION_RE.match(name)
        if m:
            end = partitions._month(dt.date(int(m[1]), int(m[2]), 1), 1)
            out.append((name, dt.datetime(end.year, end.month, 1, tzinfo=dt.UTC)))
    return sorted(out, key=lambda p: p[1])


def _delete(table: str, column: str, cutoff: dt.datetime, type_ids: list[int], resolution: str | None = None) -> int:
    marks = ",".join(["%s"] * len(type_ids))
    where = f"{column} < %s AND device_id IN (SELECT id FROM iot_device WHERE device_type_id IN ({marks}))"
    params: list[Any] = [_ts(cutoff), *type_ids]
    if resolution:
        where = "resolution = %s AND " + where
        params.insert(0, resolution)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE {where}", params)
        return max(cur.rowcount, 0)


def _by_days(types: list[DeviceType], attr: str) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for t in types:
        days = getattr(t, attr)
        if days is not None:
            out.setdefault(days, []).append(t.pk)
    return out


def retention_run(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Enforce every type's retention (idempotent). Returns what was dropped and deleted."""
    now = now or timezone.now()
    types = list(DeviceType.objects.all())
    out: dict[str, Any] = {"dropped_partitions": [], "raw": 0, "5m": 0, "1h": 0, "1d": 0}
    if not types:
        return out
    watermark = RollupState.objects.filter(name=STATE).values_list("watermark", flat=True).first()
    safe = watermark - late_grace() if watermark else None  # raw rows after this are not aggregated yet
    with transaction.atomic():
        if safe is not None:
            if partitions.is_partitioned(connection):
                drop_before = min(now - dt.timedelta(days=max(t.retention_raw_days for t in types)), safe)
                with connection.cursor() as cur:
                    for name, upper in _month_partitions():
                        if upper <= drop_before:
                            cur.execute(f"DROP TABLE {connection.ops.quote_name(name)}")
                            out["dropped_partitions"].append(name)
            for days, ids in _by_days(types, "retention_raw_days").items():
                out["raw"] += _delete(RAW_TABLE, "ts", min(now - dt.timedelta(days=days), safe), ids)
        for resolution in Resolution.values:
            for days, ids in _by_days(types, f"retention_{resolution}_days").items():
                out[resolution] += _delete(ROLLUP_TABLE, "bucket", now - dt.timedelta(days=days), ids, resolution)
    return out


# ---- series for charts and the API ---------------------------------------------------------------
MAX_POINTS = 2000
MAX_RAW_SPAN = dt.timedelta(days=7)
TAIL_ROWS = 50_000  # raw rows folded into not-yet-rolled-up buckets of one chart, at most
MAX_SPAN = dt.timedelta(days=3660)
AUTO = [(dt.timedelta(hours=6), "raw"), (dt.timedelta(days=3), "5m"), (dt.timedelta(days=31), "1h")]
RESOLUTIONS = ("auto", "raw", *SIZES)


def choose_resolution(span: dt.timedelta) -> str:
    """24 h → 5 min, 7 d → 1 h, 90 d → 1 d; short ranges raw."""
    return next((res for limit, res in AUTO if span <= limit), "1d")


@dataclass
class Series:
    resolution: str
    start: dt.datetime
    end: dt.datetime
    points: list[dict[str, Any]]
    truncated: bool


def series(*, device_id: int, key: str, start: dt.datetime, end: dt.datetime, resolution: str = "auto") -> Series:
    """Points of one key of one (already scope-checked) device in [start, end), at most ``MAX_POINTS``.

    raw: ``{ts, value}`` (newest ``MAX_POINTS`` when more, ``truncated``); rollups:
    ``{ts, value (mean), min, max, last, count}`` per bucket."""
    if resolution not in RESOLUTIONS:
        raise Invalid("series.bad_resolution", Msg("分辨率须为 {allowed}", "resolution must be one of {allowed}"), allowed="|".join(RESOLUTIONS))
    if not key or len(key) > 64:
        raise Invalid("series.bad_key", Msg("读数项 key 必填且不超过64个字符", "key is required (at most 64 characters)"))
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("series.naive_time", Msg("时间须带时区，如 2026-12-01T08:00:00+08:00", "Times need a time zone, e.g. 2026-12-01T08:00:00+08:00"))
    span = end - start
    if span <= dt.timedelta(0):
        raise Invalid("series.bad_range", Msg("结束时间须晚于开始时间", "The end must be after the start"))
    if span > MAX_SPAN:
        raise Invalid("series.range_too_long", Msg("时间范围不能超过10年", "The range must not exceed 10 years"))
    if resolution == "auto":
        resolution = choose_resolution(span)
    if resolution == "raw":
        if span > MAX_RAW_SPAN:
            raise Invalid("series.raw_range_too_long", Msg("原始数据最多查询7天，请选择汇总分辨率", "Raw data covers at most 7 days; choose a rollup resolution"))
        rows = list(Telemetry.objects.filter(device_id=device_id, key=key, ts__gte=start, ts__lt=end, value__isnull=False)
                    .order_by("-ts").values_list("ts", "value")[: MAX_POINTS + 1])
        truncated = len(rows) > MAX_POINTS
        points = [{"ts": ts, "value": v} for ts, v in reversed(rows[:MAX_POINTS])]
        return Series("raw", start, end, points, truncated)
    if span.total_seconds() / SIZES[resolution] > MAX_POINTS:
        raise Invalid("series.too_many_points", Msg("该范围按所选分辨率超过{max}个点，请缩小范围或选择更粗的分辨率",
                                                    "More than {max} points at this resolution; narrow the range or choose a coarser one"),
                      max=MAX_POINTS)
    first = floor(start, resolution)
    # Buckets from the one holding the rollup watermark on are not final yet: they come from the raw
    # rows, so a chart always reaches the latest reading (also before the rollup task's first run).
    watermark = RollupState.objects.filter(name=STATE).values_list("watermark", flat=True).first()
    tail = max(first, floor(watermark, resolution)) if watermark else first
    qs = (TelemetryRollup.objects.filter(device_id=device_id, key=key, resolution=resolution, bucket__gte=first, bucket__lt=min(end, tail))
          .order_by("bucket").values_list("bucket", "n", "vmin", "vmax", "vsum", "vlast"))
    points = [{"ts": b, "value": s / n, "min": lo, "max": hi, "last": last, "count": n} for b, n, lo, hi, s, last in qs]
    truncated = False
    if tail < end:
        tail = max(tail, end - MAX_RAW_SPAN)
        rows = list(Telemetry.objects.filter(device_id=device_id, key=key, ts__gte=tail, ts__lt=end, value__isnull=False)
                    .order_by("-ts").values_list("ts", "value")[:TAIL_ROWS + 1])
        truncated = len(rows) > TAIL_ROWS
        buckets: dict[dt.datetime, dict[str, Any]] = {}
        for ts, v in reversed(rows[:TAIL_ROWS]):
            b = buckets.setdefault(floor(ts, resolution), {"n": 0, "min": v, "max": v, "sum": 0.0})
            b["n"] += 1
            b["sum"] += v
            b["min"], b["max"], b["last"] = min(b["min"], v), max(b["max"], v), v
        points += [{"ts": k, "value": b["sum"] / b["n"], "min": b["min"], "max": b["max"], "last": b["last"], "count": b["n"]}
                   for k, b in sorted(buckets.items())]
    return Series(resolution, start, end, points, truncated)
