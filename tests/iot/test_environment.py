"""Environment (V1 trash bins, V2 transfer-station emissions): alarms from the type's default rules,
the collection list (full or predicted full by the next round, by route and fill), collecting,
routes, and the emission stations with limits and exceedance hours per day."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from linli.audit.models import AuditEntry
from linli.iot import environment, rollups
from linli.iot.models import Alarm, BinCollection, Rule, Telemetry
from linli.iot.perms import IotPerm
from tests.factories import account
from tests.iot.helpers import device, ensure_catalog, send

NOW = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)  # 09:00 Beijing; routes at 07:00,16:00 ⇒ next round in 7 h


def ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def crew(region, *extra):
    ensure_catalog()
    return account(perms=[IotPerm.DEVICE_VIEW, IotPerm.BIN_COLLECT, *extra], scope=region)


def history(dev, points: list[tuple[float, float]]) -> None:
    """(hours before NOW, fill %) readings, then rollups up to NOW."""
    Telemetry.objects.bulk_create([Telemetry(device_id=dev.pk, key="fill_level", ts=NOW - dt.timedelta(hours=h), value=v) for h, v in points])
    send(dev, {"ts": ms(NOW - dt.timedelta(minutes=1)), "values": {"fill_level": points[-1][1], "weight": 12.5}})


def test_V1_bin_full_and_overflow_alarms_from_type_defaults(tree):
    b, _ = device(tree.grid_a, "trash_bin")
    send(b, {"fill_level": 85})
    assert set(Alarm.objects.filter(device=b).values_list("rule__code", flat=True)) == {"bin_full"}
    send(b, {"fill_level": 97})
    assert set(Alarm.objects.filter(device=b).exclude(status="cleared").values_list("rule__code", flat=True)) == {"bin_full", "bin_overflow"}
    assert Alarm.objects.get(device=b, rule__code="bin_overflow").severity == "major"


def test_V1_collection_list_full_predicted_grouped_by_route(tree, api_as, django_assert_max_num_queries):
    full, _ = device(tree.grid_a, "trash_bin", name="1号楼东")
    rising, _ = device(tree.grid_a, "trash_bin", name="2号楼")
    calm, _ = device(tree.grid_a, "trash_bin", name="3号楼")
    loose, _ = device(tree.grid_a, "trash_bin", name="菜市场")
    away, _ = device(tree.grid_b, "trash_bin", name="乙网格")
    history(full, [(5, 70), (3, 80), (0.1, 90)])
    history(rising, [(10, 20), (6, 35), (2, 50), (0.1, 58)])  # ≈ +4 %/h ⇒ ≈ 86 % by 16:00
    history(calm, [(10, 30), (5, 31), (0.1, 32)])
    history(loose, [(4, 60), (0.1, 84)])
    history(away, [(1, 99), (0.1, 99)])
    with time_machine.travel(NOW, tick=False):
        rollups.rollup_run()
        actor = crew(tree.community_a, IotPerm.DEVICE_EDIT)
        api = api_as(actor)
        r = api.post("iot/collection-routes", {"region_id": tree.grid_a.pk, "name": "甲一早晚线", "round_times": "16:00, 07:00",
                                               "device_ids": [rising.pk, calm.pk, full.pk]})
        assert r.status_code == 201, r.json()
        assert r.json()["round_times"] == "07:00,16:00" and r.json()["device_ids"] == [rising.pk, calm.pk, full.pk]
        with django_assert_max_num_queries(9):
            body = api.get("iot/bins/collection-list").json()
        by_fill = api.get("iot/bins/collection-list", {"order": "fill"}).json()["routes"][0]["bins"]
        everything = api.get("iot/bins/collection-list", {"all": True}).json()["routes"][0]["bins"]
    routes = body["routes"]
    assert [g["name"] for g in routes] == ["甲一早晚线", "未编入路线"]
    on_route = routes[0]["bins"]
    assert [b["device_id"] for b in on_route] == [rising.pk, full.pk]  # stop order; calm is not due; away out of scope
    assert on_route[0]["reason"] == "predicted" and 3 < on_route[0]["fill_rate_per_hour"] < 5 and on_route[0]["predicted_fill"] >= 80
    assert on_route[1]["reason"] == "full" and on_route[1]["weight"] == 12.5 and on_route[1]["position"] == 3
    assert dt.datetime.fromisoformat(routes[0]["next_round_at"]) == dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)  # 16:00 local
    assert [b["device_id"] for b in routes[1]["bins"]] == [loose.pk]
    assert [b["device_id"] for b in by_fill] == [full.pk, rising.pk]
    assert {b["device_id"] for b in everything} == {rising.pk, calm.pk, full.pk}


def test_V1_collect_records_event_and_bin_leaves_list_until_next_reading(tree, api_as):
    b, _ = device(tree.grid_a, "trash_bin")
    history(b, [(2, 80), (0.1, 92)])
    api = api_as(crew(tree.community_a))
    with time_machine.travel(NOW, tick=False):
        r = api.post(f"iot/bins/{b.pk}/collect", {"note": "已清运"})
        assert r.status_code == 201 and r.json()["fill_before"] == 92 and r.json()["weight_before"] == 12.5
        assert AuditEntry.objects.filter(action="iot.bin_collect").exists()
        assert api.get("iot/bins/collection-list").json()["routes"] == []
        listed = api.get("iot/bins/collection-list", {"all": True}).json()["routes"][0]["bins"][0]
        assert listed["fill_level"] is None and listed["last_collected_at"]
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        send(b, {"fill_level": 3})
        row = api.get("iot/bins/collection-list", {"all": True}).json()["routes"][0]["bins"][0]
        assert row["fill_level"] == 3 and row["reason"] == ""
    assert len(api.get(f"iot/bins/{b.pk}/collections").json()) == 1


def test_V1_collect_and_routes_scope_permission_and_validation(tree, api_as, django_assert_max_num_queries):
    mine, _ = device(tree.grid_a, "trash_bin")
    other, _ = device(tree.grid_b, "trash_bin")
    smoke, _ = device(tree.grid_a, "smoke_detector")
    api = api_as(crew(tree.community_a))
    assert api.post(f"iot/bins/{other.pk}/collect", {}).status_code == 404
    r = api.post(f"iot/bins/{smoke.pk}/collect", {})
    assert r.status_code == 422 and r.json()["code"] == "bins.not_a_bin"
    viewer = api_as(account(perms=[IotPerm.DEVICE_VIEW], scope=tree.community_a))
    assert viewer.post(f"iot/bins/{mine.pk}/collect", {}).status_code == 403
    assert not BinCollection.objects.exists()
    bad = [
        ({"round_times": "7点"}, "route.bad_round_times"),
        ({"device_ids": [other.pk]}, "route.bad_stop"),
        ({"device_ids": [smoke.pk]}, "route.bad_stop"),
        ({"device_ids": [mine.pk, mine.pk]}, "route.duplicate_stop"),
    ]
    for extra, code in bad:
        r = api.post("iot/collection-routes", {"region_id": tree.grid_a.pk, "name": "线路", **extra})
        assert r.status_code == 422 and r.json()["code"] == code, (extra, r.json())
    assert api.post("iot/collection-routes", {"region_id": tree.grid_b.pk, "name": "越界"}).status_code == 404
    ok = api.post("iot/collection-routes", {"region_id": tree.grid_a.pk, "name": "线路", "device_ids": [mine.pk]}).json()
    # moving the bin to a second route takes it off the first
    second = api.post("iot/collection-routes", {"region_id": tree.grid_a.pk, "name": "线路二", "device_ids": [mine.pk]}).json()
    with django_assert_max_num_queries(5):
        routes = {r["id"]: r["device_ids"] for r in api.get("iot/collection-routes").json()}
    assert routes == {ok["id"]: [], second["id"]: [mine.pk]}
    assert api.post("iot/collection-routes", {"region_id": tree.grid_a.pk, "name": "线路"}).json()["code"] == "route.duplicate_name"
    r = api.put(f"iot/collection-routes/{ok['id']}", {"region_id": tree.grid_a.pk, "name": "线路一", "round_times": "06:30"})
    assert r.status_code == 200 and r.json()["name"] == "线路一"
    assert api.get("iot/bins/collection-list", {"threshold": 0}).json()["code"] == "bins.bad_threshold"


def test_V1_fill_rate_and_next_round_helpers():
    t = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert environment.fill_rate([(t, 10), (t + dt.timedelta(hours=2), 20)]) == pytest.approx(5)
    assert environment.fill_rate([(t, 10)]) is None
    times = environment.parse_round_times("16:00,07:00")
    nxt = environment.next_round(times, dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC))  # 17:00 local ⇒ tomorrow 07:00
    assert nxt.isoformat() == "2026-11-21T07:00:00+08:00"


def test_V2_emission_limits_alarm_and_station_exceedance_hours(tree, api_as, django_assert_max_num_queries):
    st, _ = device(tree.grid_a, "emission_monitor", name="甲社区垃圾转运站")
    other, _ = device(tree.grid_b, "emission_monitor", name="乙转运站")
    assert {r.code for r in Rule.objects.filter(device_type__code="emission_monitor")} >= {"h2s_limit", "nh3_limit", "odour_limit", "pm10_limit"}
    day1 = dt.datetime(2026, 11, 19, 2, tzinfo=dt.UTC)  # 10:00 local, 19th
    rows = []
    for h in range(3):  # three hours with H2S over 0.06 on the 19th
        rows.append(Telemetry(device_id=st.pk, key="h2s", ts=day1 + dt.timedelta(hours=h, minutes=10), value=0.09))
    rows.append(Telemetry(device_id=st.pk, key="nh3", ts=day1, value=0.5))
    Telemetry.objects.bulk_create(rows)
    # a per-device override tightens NH3 for this station
    Rule.objects.create(device=st, code="nh3_limit", name="氨超标(本站)", conditions=[{"type": "threshold", "key": "nh3", "op": ">", "value": 0.4}])
    with time_machine.travel(NOW, tick=False):
        send(st, {"h2s": 0.07, "nh3": 0.3, "odour": 12, "pm10": 80})
        send(other, {"h2s": 0.01})
        rollups.rollup_run(now=NOW + dt.timedelta(minutes=1))
        api = api_as(account(perms=[IotPerm.DEVICE_VIEW], scope=tree.community_a))
        with django_assert_max_num_queries(8):
            body = api.get("iot/emission-stations", {"days": 3}).json()
    assert [s["device_id"] for s in body] == [st.pk]
    s = body[0]
    readings = {r["key"]: r for r in s["readings"]}
    assert readings["h2s"]["limit"] == 0.06 and readings["h2s"]["exceeded"] and readings["h2s"]["unit"] == "mg/m³"
    assert readings["nh3"]["limit"] == 0.4 and not readings["nh3"]["exceeded"]
    assert s["exceeded_now"] is True
    days = {d["date"]: d for d in s["days"]}
    assert list(days) == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert days["2026-11-19"]["hours"] == {"h2s": 3, "nh3": 1} and days["2026-11-19"]["total"] == 4
    assert days["2026-11-20"]["hours"] == {"h2s": 1}
    assert api.get("iot/emission-stations", {"days": 99}).json()["code"] == "emissions.bad_days"


def test_V2_emission_limit_alarm_after_duration(tree):
    st, _ = device(tree.grid_a, "emission_monitor")
    t = NOW
    send(st, {"ts": ms(t), "values": {"h2s": 0.2}})
    assert not Alarm.objects.filter(device=st).exists()  # must persist five minutes
    send(st, {"ts": ms(t + dt.timedelta(minutes=6)), "values": {"h2s": 0.2}})
    assert Alarm.objects.get(device=st).rule.code == "h2s_limit"


def test_V1_V2_D6_demo_builds_bins_route_station_and_history(tree):
    from linli.iot import demo
    from linli.iot.models import CollectionRoute, Device, LatestValue, TelemetryRollup

    ensure_catalog()
    admin = account("demo_iot_admin", superuser=True)
    out = demo.build(actor=admin, region=tree.grid_a, community_name="甲社区", now=NOW)
    assert out["iot_devices"] == 9 and out["telemetry_rows"] > 10_000
    assert Device.objects.filter(device_type__code="trash_bin").count() == 8
    assert CollectionRoute.objects.get().stops.count() == 6
    assert LatestValue.objects.filter(key="fill_level").count() == 8
    assert {r for r in TelemetryRollup.objects.values_list("resolution", flat=True).distinct()} == {"5m", "1h", "1d"}
    with time_machine.travel(NOW, tick=False):
        groups = environment.collection_list(actor=admin, show_all=True)
        stations = environment.emission_stations(actor=admin)["stations"]
    assert sum(len(g.bins) for g in groups) == 8 and any(b.rate for g in groups for b in g.bins)
    assert len(stations) == 1 and all(r["value"] is not None for r in stations[0]["readings"])
