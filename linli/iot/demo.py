"""Demo environment devices (V1, V2, D6): smart trash bins on a collection route and a refuse transfer
station with an emission monitor in one grid, with a few days of history so the charts, the collection
list and the exceedance table are not empty.

Devices and the route go through the services (credentials, audit); the history is bulk-inserted
(one reading every 10 minutes per key), the newest reading goes through the ingest pipeline (latest
values, rules → alarms) and the rollups are rebuilt over the range. Deterministic for a seed, with
timestamps relative to the time it runs. Called by the demo builder (``manage.py demo``).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from typing import Any

from django.conf import settings
from django.utils import timezone

from . import environment, rollups, services
from .ingest import InMessage, ingest_batch
from .models import Device, DeviceType, Telemetry

DAYS = 4
STEP = dt.timedelta(minutes=10)
ROUNDS = (dt.time(7, 0), dt.time(16, 0))
BIN_SPOTS = ["东门", "1号楼", "3号楼", "5号楼", "幼儿园北侧", "菜市场", "健身广场", "西门"]


def _bin_series(rng: random.Random, start: dt.datetime, end: dt.datetime, *, missed_last: bool) -> list[tuple[dt.datetime, float, float]]:
    """(ts, fill %, weight kg): fills at a bin-specific rate, busier by day, emptied at each round."""
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    rate = rng.uniform(1.5, 4.0)  # %/h at daytime
    kg_per_pct = rng.uniform(0.35, 0.5)
    fill = rng.uniform(5, 40)
    out = []
    t = start
    last_round = None
    while t < end:
        local = t.astimezone(tz)
        hour = local.hour + local.minute / 60
        day_factor = 0.25 if hour < 6 or hour >= 22 else 1.3 if 17 <= hour < 21 else 1.0
        fill = min(100.0, fill + rate * day_factor * STEP.total_seconds() / 3600 * rng.uniform(0.6, 1.4))
        for rt in ROUNDS:
            at = dt.datetime.combine(local.date(), rt, tzinfo=tz)
            if at <= local < at + STEP and last_round != at and not (missed_last and end - t < dt.timedelta(hours=30)):
                fill, last_round = rng.uniform(1, 5), at
        out.append((t, round(fill, 1), round(fill * kg_per_pct, 1)))
        t += STEP
    return out


def _station_series(rng: random.Random, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dict[str, float]]]:
    """H2S / NH3 / odour / PM10 with a working-hours peak (tipping at the station) and noise."""
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    out = []
    t = start
    while t < end:
        local = t.astimezone(tz)
        hour = local.hour + local.minute / 60
        work = max(0.0, math.sin((hour - 6) / 12 * math.pi)) if 6 <= hour <= 18 else 0.0
        out.append((t, {
            "h2s": round(0.012 + 0.04 * work * rng.uniform(0.6, 1.4), 3),
            "nh3": round(0.3 + 0.9 * work * rng.uniform(0.6, 1.3), 2),
            "odour": round(8 + 9 * work * rng.uniform(0.5, 1.4)),
            "pm10": round(40 + 80 * work * rng.uniform(0.5, 1.3) + rng.uniform(-8, 8)),
        }))
        t += STEP
    return out


def build(*, actor: Any, region, community_name: str = "", seed: int = 2026, now: dt.datetime | None = None) -> dict[str, int]:
    """Create the demo bins, route and transfer station in ``region`` (a grid) with history."""
    rng = random.Random(seed)
    now = now or timezone.now()
    end = now.replace(second=0, microsecond=0)
    start = end - dt.timedelta(days=DAYS)
    types = {t.code: t for t in DeviceType.objects.filter(code__in=["trash_bin", "emission_monitor"])}
    lat0, lng0 = region.centroid_lat or 36.66, region.centroid_lng or 117.02
    code = region.code[-6:]
    bins: list[Device] = []
    rows: list[Telemetry] = []
    last: list[InMessage] = []
    for i, spot in enumerate(BIN_SPOTS, start=1):
        dev, _ = services.device_provision(
            actor=actor, serial=f"BIN-{code}-{i:02d}", device_type=types["trash_bin"], region=region, name=f"{spot}垃圾桶",
            vendor="绿洁环境", model="LJ-240S", lat=lat0 + rng.uniform(-0.002, 0.002), lng=lng0 + rng.uniform(-0.002, 0.002),
            location_note=f"{community_name}{spot}",
        )
        bins.append(dev)
        series = _bin_series(rng, start, end, missed_last=i in (2, 5, 7))
        for ts, fill, kg in series[:-1]:
            rows += [Telemetry(device_id=dev.pk, key="fill_level", ts=ts, value=fill), Telemetry(device_id=dev.pk, key="weight", ts=ts, value=kg)]
        ts, fill, kg = series[-1]
        last.append(InMessage(dev.mqtt_username, "telemetry", {"ts": int(ts.timestamp() * 1000), "values": {"fill_level": fill, "weight": kg, "battery": 87}}))
    station, _ = services.device_provision(
        actor=actor, serial=f"ENV-{code}-01", device_type=types["emission_monitor"], region=region, name=f"{community_name}垃圾转运站",
        vendor="清风环保", model="QF-E4", lat=lat0 + 0.003, lng=lng0 - 0.003, location_note=f"{community_name}垃圾转运站厂界",
    )
    readings = _station_series(rng, start, end)
    for ts, values in readings[:-1]:
        rows += [Telemetry(device_id=station.pk, key=k, ts=ts, value=v) for k, v in values.items()]
    ts, values = readings[-1]
    last.append(InMessage(station.mqtt_username, "telemetry", {"ts": int(ts.timestamp() * 1000), "values": values}))
    Telemetry.objects.bulk_create(rows, batch_size=2000)
    ingest_batch(last, channel="http", now=end)
    environment.route_save(actor=actor, region=region, name=f"{community_name}早晚清运线", round_times="07:00,16:00",
                           device_ids=[b.pk for b in bins[:6]])
    rollups.rollup_rebuild(start=start, end=end + dt.timedelta(minutes=1))
    return {"iot_devices": len(bins) + 1, "telemetry_rows": len(rows) + sum(len(m.payload["values"]) for m in last)}
