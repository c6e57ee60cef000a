"""History (D6): 5 min / 1 h / 1 d rollups (set-based, incremental, late data), retention per device
type (partitions dropped on PostgreSQL), and the series API behind the charts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection

from linli.iot import partitions, rollups
from linli.iot.models import DeviceType, RollupState, Telemetry, TelemetryRollup
from linli.iot.perms import IotPerm
from tests.factories import account
from tests.iot.helpers import device, ensure_catalog

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing time


def put(dev, key: str, rows: list[tuple[dt.datetime, float | None]], text: str | None = None) -> None:
    Telemetry.objects.bulk_create([Telemetry(device_id=dev.pk, key=key, ts=ts, value=v, value_text=text) for ts, v in rows])


def roll(dev, key: str, resolution: str) -> list[TelemetryRollup]:
    return list(TelemetryRollup.objects.filter(device_id=dev.pk, key=key, resolution=resolution).order_by("bucket"))


def test_D6_rollups_min_max_avg_last_count_at_three_levels(tree):
    dev, _ = device(tree.grid_a, "trash_bin")
    other, _ = device(tree.grid_a, "trash_bin")
    put(dev, "fill_level", [(T0 + dt.timedelta(minutes=m), float(m)) for m in range(0, 130)])  # 0..129, one a minute
    put(dev, "event", [(T0, None)], text="x")  # non-numeric keys are not rolled up
    put(other, "fill_level", [(T0 + dt.timedelta(minutes=1), 50.0)])
    with time_machine.travel(T0 + dt.timedelta(hours=3), tick=False):
        res = rollups.rollup_run()
    assert res.rows["5m"] == 27
    five = roll(dev, "fill_level", "5m")
    assert len(five) == 26 and five[0].bucket == T0 and five[0].n == 5
    assert (five[0].vmin, five[0].vmax, five[0].avg, five[0].vlast) == (0, 4, 2, 4)
    assert five[-1].bucket == T0 + dt.timedelta(minutes=125) and five[-1].n == 5 and five[-1].vlast == 129
    hours = roll(dev, "fill_level", "1h")
    assert [h.bucket for h in hours] == [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)]
    assert (hours[0].n, hours[0].vmin, hours[0].vmax, hours[0].avg, hours[0].vlast) == (60, 0, 59, 29.5, 59)
    day = roll(dev, "fill_level", "1d")
    # the day bucket is the local (Asia/Shanghai) day: 2026-11-20 00:00+08 = 11-19 16:00 UTC
    assert len(day) == 1 and day[0].bucket == dt.datetime(2026, 11, 19, 16, tzinfo=dt.UTC)
    assert (day[0].n, day[0].vmin, day[0].vmax, day[0].vlast) == (130, 0, 129, 129)
    assert day[0].avg == pytest.approx(64.5)
    assert not TelemetryRollup.objects.filter(key="event").exists()
    assert roll(other, "fill_level", "1d")[0].n == 1


def test_D6_rollup_is_incremental_idempotent_and_late_data_reaggregates(tree):
    dev, _ = device(tree.grid_a, "trash_bin")
    put(dev, "fill_level", [(T0, 10.0), (T0 + dt.timedelta(minutes=1), 20.0)])
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        rollups.rollup_run()
        first = [(r.bucket, r.n, r.vsum) for r in TelemetryRollup.objects.order_by("resolution", "bucket")]
        rollups.rollup_run()  # nothing new: the same rows
        assert [(r.bucket, r.n, r.vsum) for r in TelemetryRollup.objects.order_by("resolution", "bucket")] == first
    assert RollupState.objects.get(name="telemetry").watermark == T0 + dt.timedelta(minutes=10)
    # a late reading (device buffered it) for the first bucket, plus a new one
    put(dev, "fill_level", [(T0 + dt.timedelta(minutes=2), 90.0), (T0 + dt.timedelta(minutes=20), 30.0)])
    with time_machine.travel(T0 + dt.timedelta(minutes=30), tick=False):
        res = rollups.rollup_run()
    assert res.start == T0 + dt.timedelta(minutes=10) - rollups.late_grace()
    five = roll(dev, "fill_level", "5m")
    assert [(r.n, r.vmax, r.vlast) for r in five] == [(3, 90, 90), (1, 30, 30)]
    hour = roll(dev, "fill_level", "1h")[0]
    assert (hour.n, hour.vmin, hour.vmax, hour.vlast) == (4, 10, 90, 30)


def test_D6_rollup_rebuild_folds_in_a_backfill_older_than_the_grace(tree, settings):
    settings.LINLI_IOT_ROLLUP_LATE_S = 600
    dev, _ = device(tree.grid_a, "trash_bin")
    put(dev, "weight", [(T0, 5.0)])
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        rollups.rollup_run()
        put(dev, "weight", [(T0 + dt.timedelta(minutes=1), 7.0)])  # a day late: outside the grace
        rollups.rollup_run()
        assert roll(dev, "weight", "5m")[0].n == 1
        rollups.rollup_rebuild(start=T0 - dt.timedelta(hours=1))
    assert [(r.n, r.vlast) for r in roll(dev, "weight", "5m")] == [(2, 7)]
    assert roll(dev, "weight", "1d")[0].n == 2


def _old_history(dev, days_ago: list[int], now: dt.datetime) -> None:
    put(dev, "fill_level", [(now - dt.timedelta(days=d), float(d)) for d in days_ago])


def test_D6_retention_per_device_type_keeps_unaggregated_raw(tree):
    ensure_catalog()
    now = dt.datetime(2026, 11, 30, 4, tzinfo=dt.UTC)
    DeviceType.objects.filter(code="trash_bin").update(retention_raw_days=7, retention_5m_days=30, retention_1h_days=60, retention_1d_days=None)
    DeviceType.objects.filter(code="smoke_detector").update(retention_raw_days=30, retention_5m_days=30, retention_1h_days=60, retention_1d_days=90)
    bin_, _ = device(tree.grid_a, "trash_bin")
    smoke, _ = device(tree.grid_a, "smoke_detector")
    _old_history(bin_, [1, 10, 40, 100, 400], now)
    _old_history(smoke, [1, 10, 40, 100, 400], now)
    # before any rollup ran, raw data is never deleted (it is not aggregated yet)
    with time_machine.travel(now, tick=False):
        out = rollups.retention_run()
        assert out["raw"] == 0 and Telemetry.objects.count() == 10
        rollups.rollup_run()
        out = rollups.retention_run()
    assert sorted(Telemetry.objects.filter(device_id=bin_.pk).values_list("value", flat=True)) == [1]
    assert sorted(Telemetry.objects.filter(device_id=smoke.pk).values_list("value", flat=True)) == [1, 10]
    assert len(roll(bin_, "fill_level", "5m")) == 2 and len(roll(bin_, "fill_level", "1h")) == 3
    assert len(roll(bin_, "fill_level", "1d")) == 5  # forever
    assert len(roll(smoke, "fill_level", "1d")) == 3  # 90 days
    assert len(roll(smoke, "fill_level", "5m")) == 2 and len(roll(smoke, "fill_level", "1h")) == 3
    assert out["raw"] == 7
    with time_machine.travel(now, tick=False):
        again = rollups.retention_run()
    assert again["raw"] == 0 and again["1d"] == 0  # idempotent


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only")
def test_D6_retention_drops_whole_partitions_on_postgresql(tree):
    ensure_catalog()
    now = dt.datetime(2026, 11, 30, 4, tzinfo=dt.UTC)
    DeviceType.objects.update(retention_raw_days=40)
    DeviceType.objects.filter(code="trash_bin").update(retention_raw_days=20)
    old_month = dt.date(2026, 8, 1)
    partitions.ensure_partitions(today=old_month, back=0, ahead=0)
    partitions.ensure_partitions(today=now.date(), back=2, ahead=0)
    dev, _ = device(tree.grid_a, "trash_bin")
    _old_history(dev, [1, 25, 50, 110], now)  # 110 days ago: August
    with time_machine.travel(now, tick=False):
        rollups.rollup_run()
        out = rollups.retention_run()
    assert partitions.partition_name(old_month) in out["dropped_partitions"]
    assert partitions.partition_name(dt.date(2026, 10, 1)) not in out["dropped_partitions"]
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_class WHERE relname = %s", [partitions.partition_name(old_month)])
        assert cur.fetchone() is None
    assert sorted(Telemetry.objects.filter(device_id=dev.pk).values_list("value", flat=True)) == [1]
    assert len(roll(dev, "fill_level", "1d")) == 4


# ---- series API ----------------------------------------------------------------------------------
def viewer(region):
    ensure_catalog()
    return account(perms=[IotPerm.DEVICE_VIEW], scope=region)


def _iso(t: dt.datetime) -> str:
    return t.isoformat()


def test_D6_series_api_chooses_resolution_and_bounds_points(tree, api_as, django_assert_max_num_queries):
    dev, _ = device(tree.grid_a, "trash_bin")
    put(dev, "fill_level", [(T0 + dt.timedelta(minutes=m), float(m % 100)) for m in range(0, 3 * 24 * 60, 10)])
    now = T0 + dt.timedelta(days=3)
    with time_machine.travel(now, tick=False):
        rollups.rollup_run()
    api = api_as(viewer(tree.community_a))
    url = f"iot/devices/{dev.pk}/series"
    with django_assert_max_num_queries(6):
        r = api.get(url, {"key": "fill_level", "from": _iso(now - dt.timedelta(hours=24)), "to": _iso(now)})
    body = r.json()
    assert r.status_code == 200, body
    assert body["resolution"] == "5m" and body["unit"] == "%" and len(body["points"]) == 144
    p = body["points"][0]
    assert set(p) >= {"ts", "value", "min", "max", "count", "last"} and p["count"] == 1
    assert api.get(url, {"key": "fill_level", "from": _iso(now - dt.timedelta(days=7)), "to": _iso(now)}).json()["resolution"] == "1h"
    d90 = api.get(url, {"key": "fill_level", "from": _iso(now - dt.timedelta(days=90)), "to": _iso(now)}).json()
    assert d90["resolution"] == "1d" and sum(p["count"] for p in d90["points"]) == 3 * 24 * 6
    raw = api.get(url, {"key": "fill_level", "from": _iso(now - dt.timedelta(hours=2)), "to": _iso(now), "resolution": "raw"}).json()
    assert raw["resolution"] == "raw" and len(raw["points"]) == 12 and raw["points"][0]["count"] is None
    assert raw["truncated"] is False


@pytest.mark.parametrize(("params", "code"), [
    ({"key": "fill_level", "resolution": "10m"}, "series.bad_resolution"),
    ({"key": "fill_level", "from": "2026-11-20T00:00:00+00:00", "to": "2026-11-19T00:00:00+00:00"}, "series.bad_range"),
    ({"key": "fill_level", "from": "2026-01-01T00:00:00+00:00", "to": "2026-11-19T00:00:00+00:00", "resolution": "5m"}, "series.too_many_points"),
    ({"key": "fill_level", "from": "2026-10-01T00:00:00+00:00", "to": "2026-11-19T00:00:00+00:00", "resolution": "raw"}, "series.raw_range_too_long"),
    ({"key": "fill_level", "from": "2026-10-01T00:00:00", "to": "2026-11-19T00:00:00+00:00"}, "series.naive_time"),
    ({"key": "x" * 65}, "series.bad_key"),
])
def test_D6_series_api_rejects_bad_input_with_4xx(tree, api_as, params, code):
    dev, _ = device(tree.grid_a, "trash_bin")
    r = api_as(viewer(tree.community_a)).get(f"iot/devices/{dev.pk}/series", params)
    assert 400 <= r.status_code < 500 and r.json()["code"] == code, r.json()


def test_D6_series_api_scope_and_permission(tree, api_as):
    other, _ = device(tree.grid_b, "trash_bin")
    mine, _ = device(tree.grid_a, "trash_bin")
    assert api_as(viewer(tree.community_a)).get(f"iot/devices/{other.pk}/series", {"key": "fill_level"}).status_code == 404
    nobody = account(perms=[IotPerm.ALARM_VIEW], scope=tree.community_a)
    assert api_as(nobody).get(f"iot/devices/{mine.pk}/series", {"key": "fill_level"}).status_code in (403, 404)
    assert api_as(viewer(tree.community_a)).get(f"iot/devices/{mine.pk}/series", {}).status_code in (400, 422)


def test_D6_retention_policy_is_data_on_the_device_type_editable_by_city_admins(tree, api_as):
    ensure_catalog()
    dtype = DeviceType.objects.get(code="trash_bin")
    assert (dtype.retention_raw_days, dtype.retention_5m_days, dtype.retention_1h_days, dtype.retention_1d_days) == (90, 400, 1100, None)
    city = api_as(account(perms=[IotPerm.DEVICE_VIEW, IotPerm.DEVICE_EDIT], scope=tree.city))
    r = city.patch(f"iot/device-types/{dtype.pk}", {"retention_raw_days": 30, "retention_1d_days": 3650})
    assert r.status_code == 200 and r.json()["retention_raw_days"] == 30 and r.json()["retention_1d_days"] == 3650
    assert city.patch(f"iot/device-types/{dtype.pk}", {"retention_raw_days": 0}).status_code == 422
    assert DeviceType.objects.get(pk=dtype.pk).retention_raw_days == 30
    local = api_as(account(perms=[IotPerm.DEVICE_VIEW, IotPerm.DEVICE_EDIT], scope=tree.community_a))
    assert local.patch(f"iot/device-types/{dtype.pk}", {"retention_raw_days": 5}).status_code == 403
