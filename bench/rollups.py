"""D6 benchmark: telemetry rollups on PostgreSQL (``python -m bench --only rollups [--quick]``).

Own database (``linli_bench_rollups`` / ``…_quick``, dropped and rebuilt each run): ``devices`` devices
with two numeric keys, one reading a minute over ``minutes`` minutes, inserted with generate_series.
Measures, in one run:
(a) ``rebuild``: the first full pass (5 min, 1 h, 1 d) over every raw row — rows/s;
(b) ``incremental``: one periodic ``rollup_run`` after one more minute of data from every device
    (what the every-minute task costs at this fleet size);
(c) chart reads at 1 h over the loaded range (at most 7 days) from the rollups (``rollups.series``) against
    the comparison point: the same hourly means computed from the raw rows with ``date_bin … GROUP BY``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 3)


def _summary(samples: list[float]) -> dict:
    return {"p50_ms": _pct(samples, 0.5), "p95_ms": _pct(samples, 0.95), "mean_ms": round(statistics.fmean(samples) * 1000, 3), "n": len(samples)}


def run(*, devices: int = 500, minutes: int = 7 * 1440, reads: int = 100, quick: bool = False) -> dict:
    from bench import people

    url = os.environ.get("LINLI_BENCH_ROLLUPS_URL") or f"postgres://postgres@127.0.0.1:5432/linli_bench_rollups{'_quick' if quick else ''}"
    people.drop_database(url)
    people.ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from linli.iot import partitions, rollups
    from linli.iot.models import Device, DeviceType
    from linli.places.models import Region

    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = end - dt.timedelta(minutes=minutes)
    partitions.ensure_partitions(today=end.date(), back=max(1, minutes // (30 * 1440) + 1), ahead=1)
    region = Region.add_root(level="city", code="370100", name="济南市")
    dtype = DeviceType.objects.get(code="trash_bin")
    Device.objects.bulk_create([Device(serial=f"B{i:06d}", device_type=dtype, region=region, token_hash=f"{i:064d}", token_prefix="x",
                                       mqtt_username=f"B{i:06d}", mqtt_password_hash="x") for i in range(devices)], batch_size=2000)
    ids = list(Device.objects.values_list("id", flat=True))
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO iot_telemetry (device_id, key, ts, value)"
            " SELECT d, k, %s::timestamptz + make_interval(mins => m), (m %% 600) / 6.0 + random()"
            " FROM unnest(%s::bigint[]) d, unnest(ARRAY['fill_level', 'weight']) k, generate_series(0, %s - 1) m",
            [start, ids, minutes],
        )
        rows = cur.rowcount
        cur.execute("ANALYZE iot_telemetry")
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    rebuilt = rollups.rollup_rebuild(start=start, end=end)
    rebuild_s = time.perf_counter() - t0
    rollups.rollup_run(now=end)  # sets the watermark
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO iot_telemetry (device_id, key, ts, value) SELECT d, k, %s, 50 FROM unnest(%s::bigint[]) d,"
            " unnest(ARRAY['fill_level', 'weight']) k", [end, ids],
        )
        cur.execute("ANALYZE iot_telemetryrollup")
    t0 = time.perf_counter()
    rollups.rollup_run(now=end + dt.timedelta(minutes=1))
    incremental_s = time.perf_counter() - t0

    rnd = random.Random(1)
    origin = rollups._origin()
    from_rollups, from_raw = [], []
    span = dt.timedelta(minutes=min(minutes, 7 * 1440))
    for _ in range(reads):
        dev = rnd.choice(ids)
        a, b = end - span, end
        t0 = time.perf_counter()
        pts = rollups.series(device_id=dev, key="fill_level", start=a, end=b, resolution="1h").points
        from_rollups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                "SELECT date_bin('1 hour', ts, %s) b, avg(value), min(value), max(value), count(*) FROM iot_telemetry"
                " WHERE device_id = %s AND key = 'fill_level' AND ts >= %s AND ts < %s GROUP BY b ORDER BY b", [origin, dev, a, b],
            )
            raw = cur.fetchall()
        from_raw.append(time.perf_counter() - t0)
        assert abs(len(raw) - len(pts)) <= 1, (len(raw), len(pts))
    with connection.cursor() as cur:
        cur.execute("SELECT resolution, count(*) FROM iot_telemetryrollup GROUP BY 1")
        counts = dict(cur.fetchall())
    return {
        "database": url.split("@")[-1], "devices": devices, "keys_per_device": 2, "raw_rows": rows, "minutes": minutes,
        "load_seconds": round(load_s, 2),
        "rebuild": {"seconds": round(rebuild_s, 2), "raw_rows_per_second": round(rows / rebuild_s) if rebuild_s else None,
                    "rollup_rows": counts, "upserts": rebuilt.rows},
        "incremental_run": {"new_rows": len(ids) * 2, "seconds": round(incremental_s, 3),
                            "note": "re-aggregates [watermark - late grace, now) at every level"},
        "chart_1h": {"span_hours": span.total_seconds() / 3600, "from_rollups": _summary(from_rollups),
                     "comparison_raw_group_by": _summary(from_raw)},
    }
