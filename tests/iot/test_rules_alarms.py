"""Rules (D3) and alarms (D4) on the ingest path, with time-machine for durations."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from linli.iot import services
from linli.iot.ingest import InMessage, ingest_batch
from linli.iot.models import (
    Alarm,
    AlarmNotification,
    AlarmOutbox,
    DeviceType,
    IngestCounter,
    Rule,
    RuleState,
    Telemetry,
)
from linli.iot.perms import IotPerm
from tests.factories import account
from tests.iot.helpers import admin, device, send

T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> time_machine.travel:
    return time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False)


def device_rule(dev, **kw):
    return services.rule_create(actor=admin(), device=dev, **kw)


def open_alarms(dev):
    return Alarm.objects.filter(device=dev).exclude(status="cleared")


def test_D3_threshold_hysteresis_triggers_at_x_clears_at_y(tree):
    dev, _ = device(tree.grid_a, "gas_detector")  # gas_leak: > 25, clears at ≤ 10
    for s, v, open_ in [(0, 5, 0), (1, 30, 1), (2, 20, 1), (3, 11, 1), (4, 10, 0), (5, 26, 1)]:
        with at(s):
            send(dev, {"gas_lel": v})
        assert open_alarms(dev).count() == open_, (s, v)
    assert Alarm.objects.filter(device=dev).count() == 2
    cleared = Alarm.objects.filter(device=dev, status="cleared").get()
    assert cleared.cleared_by is None and cleared.cleared_at == T0 + dt.timedelta(seconds=4)


def test_D3_min_duration_must_hold(tree):
    dev, _ = device(tree.grid_a, "manhole_cover")  # cover_tilt: > 15 for 10 s
    with at(0):
        send(dev, {"tilt": 20})
    with at(5):
        send(dev, {"tilt": 20})
    assert not open_alarms(dev).exists()
    with at(6):
        send(dev, {"tilt": 3})  # condition broke: timer restarts
    with at(7):
        send(dev, {"tilt": 20})
    with at(16):
        send(dev, {"tilt": 20})
    assert not open_alarms(dev).exists()
    with at(17):
        send(dev, {"tilt": 21})
    a = open_alarms(dev).get()
    assert a.severity == "critical" and a.value == 21
    assert AlarmOutbox.objects.filter(alarm=a, kind="open_case", processed_at__isnull=True).exists()


def test_D3_pending_duration_promoted_by_sweep(tree):
    dev, _ = device(tree.grid_a, "manhole_cover")
    with at(0):
        send(dev, {"tilt": 40})
    assert RuleState.objects.filter(device=dev, pending_since__isnull=False).exists()
    with at(5):
        assert services.offline_sweep()["promoted"] == 0
    with at(11):
        assert services.offline_sweep()["promoted"] == 1
    assert open_alarms(dev).get().rule.code == "cover_tilt"


def test_D3_rate_of_change(tree):
    dev, _ = device(tree.grid_a, "hydrant")  # pressure_drop: < -0.1 MPa per 60 s
    with at(0):
        send(dev, {"pressure": 0.40})
    with at(60):
        send(dev, {"pressure": 0.35})  # -0.05/min
    assert not Alarm.objects.filter(device=dev, rule__code="pressure_drop").exists()
    with at(90):
        send(dev, {"pressure": 0.25})  # -0.2/min
    assert Alarm.objects.filter(device=dev, rule__code="pressure_drop").count() == 1


def test_D3_event_rule_momentary_counts_occurrences(tree):
    dev, _ = device(tree.grid_a, "wearable")
    with at(0):
        send(dev, {"event": "walk"})
    assert not Alarm.objects.exists()
    with at(1):
        send(dev, {"event": "fall"})
    with at(2):
        send(dev, {"event": "fall"})
    with at(3):
        send(dev, {"heart_rate": 80})
    a = Alarm.objects.get(device=dev)
    assert (a.rule.code, a.status, a.occurrences, a.severity) == ("fall_sos", "active", 2, "critical")


def test_D3_combination_any_and_device_override(tree):
    dev, _ = device(tree.grid_a, "wearable")
    # device override disables the default heart-rate rule and adds an "all" combination
    device_rule(dev, code="heart_rate", name="off", kind="condition", conditions=[{"type": "threshold", "key": "heart_rate", "op": ">", "value": 1}], enabled=False)
    device_rule(dev, code="hr_spo2", name="心率快且血氧低", conditions=[{"type": "threshold", "key": "heart_rate", "op": ">", "value": 110},
                                                                  {"type": "threshold", "key": "spo2", "op": "<", "value": 92}], match="all")
    with at(0):
        send(dev, {"heart_rate": 150, "spo2": 97})
    with at(100):
        send(dev, {"heart_rate": 150})
    assert not open_alarms(dev).exists()
    with at(101):
        send(dev, {"spo2": 90})  # uses the latest heart rate
    assert list(open_alarms(dev).values_list("rule__code", flat=True)) == ["hr_spo2"]


def test_D3_offline_sweep_and_clear_on_data(tree):
    with at(0):
        dev, _ = device(tree.grid_a, "streetlight")  # offline after 30 min
        send(dev, {"power": 80})
    with at(29 * 60):
        assert services.offline_sweep()["offline"] == 0
    with at(31 * 60):
        assert services.offline_sweep()["offline"] == 1
        assert services.offline_sweep()["offline"] == 0  # idempotent
    assert open_alarms(dev).get().rule.code == "offline"
    with at(32 * 60):
        send(dev, {"power": 80})
    assert not open_alarms(dev).exists()


def test_D4_one_open_alarm_per_rule_db_constraint(tree):
    dev, _ = device(tree.grid_a, "gas_detector")
    with at(0):
        send(dev, {"gas_lel": 50})
    a = Alarm.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Alarm.objects.create(device=dev, rule=a.rule, region=a.region, severity="major", started_at=a.started_at, last_at=a.started_at, message="x")


def test_D4_ack_clear_audited_notified_and_scoped(tree, api_as):
    dev, _ = device(tree.grid_a, "gas_detector")
    watcher_a = account(perms=[IotPerm.ALARM_VIEW, IotPerm.ALARM_ACK, IotPerm.DEVICE_VIEW], scope=tree.community_a)
    watcher_b = account(perms=[IotPerm.ALARM_VIEW, IotPerm.ALARM_ACK, IotPerm.DEVICE_VIEW], scope=tree.community_b)
    with at(0):
        send(dev, {"gas_lel": 50})
    alarm = Alarm.objects.get()
    assert set(AlarmNotification.objects.values_list("account_id", flat=True)) == {watcher_a.pk}
    b = api_as(watcher_b)
    assert b.get(f"iot/alarms/{alarm.pk}").status_code == 404
    assert b.post(f"iot/alarms/{alarm.pk}/ack", {}).status_code == 404
    assert b.get("iot/alarms").json()["items"] == []
    assert b.get(f"iot/devices/{dev.pk}").status_code == 404
    a = api_as(watcher_a)
    r = a.post(f"iot/alarms/{alarm.pk}/ack", {"note": "已派人"})
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert a.post(f"iot/alarms/{alarm.pk}/ack", {}).json()["code"] == "alarm.invalid_transition"
    assert a.post(f"iot/alarms/{alarm.pk}/clear", {}).json()["status"] == "cleared"
    from linli.audit.models import AuditEntry

    assert set(AuditEntry.objects.filter(object_type="iot.alarm").values_list("action", flat=True)) == {
        "iot.alarm_raise", "iot.alarm_acknowledge", "iot.alarm_clear"}


def test_D2_malformed_payloads_rejected_and_counted(tree):
    dev, _ = device(tree.grid_a)
    bad = [b"not json", b"[]", b"42", b'{"ts": "x", "values": {"a": 1}}', b'{"ts": 1, "values": {"a": 1}}', b'{"values": {}}',
           b'{"a": null}', "{\"" + "k" * 80 + "\": 1}", b'{"a": "' + b"x" * 3000 + b'"}', b'{"ts": 99999999999999, "values": {"a": 1}}']
    msgs = [InMessage(dev.mqtt_username, "telemetry", p) for p in bad]
    msgs += [InMessage("nobody", "telemetry", b'{"a": 1}'), InMessage(dev.mqtt_username, "gateway", b'{"X": {"a": 1}}'),
             InMessage(dev.mqtt_username, "telemetry", b'{"smoke": 0.01}')]
    r = ingest_batch(msgs, channel="mqtt")
    assert (r.messages, r.rejected, r.stored) == (13, 12, 1)
    codes = {c for _, c in r.errors}
    assert {"payload.not_json", "payload.empty", "payload.bad_shape", "payload.bad_ts", "payload.ts_out_of_range",
            "payload.bad_value", "payload.bad_key", "payload.value_too_long", "device.unknown", "device.not_gateway"} <= codes
    assert sum(IngestCounter.objects.filter(channel="mqtt").values_list("rejected", flat=True)) == 12


def test_D2_counters_are_sharded_per_worker_and_summed_by_the_stats_api(tree, api_as, monkeypatch):
    """Two workers never update one hot counter row (each adds to its own shard); the API sums them."""
    from linli.iot import ingest

    dev, _ = device(tree.grid_a)
    monkeypatch.setattr(ingest, "_shard", lambda: 3)
    ingest_batch([InMessage(dev.mqtt_username, "telemetry", b'{"ts": 1763900000000, "values": {"smoke": 0.01}}')], channel="mqtt")
    monkeypatch.setattr(ingest, "_shard", lambda: 7)
    ingest_batch([InMessage(dev.mqtt_username, "telemetry", b'{"ts": 1763900001000, "values": {"smoke": 0.01}}'),
                  InMessage(dev.mqtt_username, "telemetry", b'{"ts": 1763900000000, "values": {"smoke": 0.01}}'),
                  InMessage("nobody", "telemetry", b'{"a": 1}')], channel="mqtt")
    assert sorted(IngestCounter.objects.values_list("shard", "messages")) == [(3, 1), (7, 3)]
    day = IngestCounter.objects.first().day
    rows = api_as(admin()).get(f"iot/ingest/stats?day_from={day}&day_to={day}").json()
    assert rows == [{"day": day.isoformat(), "channel": "mqtt", "messages": 4, "stored": 2, "duplicates": 1, "rejected": 1}]
    bad = api_as(admin()).get(f"iot/ingest/stats?day_from={day}&day_to={day - dt.timedelta(days=1)}")
    assert bad.status_code == 422 and bad.json()["code"] == "iot.stats_range"
    viewer = account(perms=[IotPerm.DEVICE_VIEW, IotPerm.ALARM_VIEW], scope=tree.community_a)
    assert api_as(viewer).get("iot/ingest/stats").status_code == 403  # platform-wide figures: device managers only


def test_D2_duplicate_delivery_stored_once_and_no_second_alarm(tree):
    dev, _ = device(tree.grid_a, "gas_detector")
    msg = b'[{"ts": 1763900000000, "values": {"gas_lel": 5}}, {"ts": 1763900001000, "values": {"gas_lel": 60}}]'
    first = send(dev, msg, channel="mqtt")
    again = send(dev, msg, channel="mqtt")
    assert (first.stored, first.duplicates, first.alarms_raised) == (2, 0, 1)
    assert (again.stored, again.duplicates, again.alarms_raised) == (0, 2, 0)
    assert Telemetry.objects.count() == 2 and Alarm.objects.get().occurrences == 1


def test_D2_gateway_payload_for_child_devices(tree):
    gw, _ = device(tree.grid_a, "gateway", serial="GW-1")
    child, _ = device(tree.grid_a, "trash_bin", serial="BIN-1", gateway=gw)
    device(tree.grid_a, "trash_bin", serial="BIN-2")  # not behind this gateway
    ok = send(gw, {"BIN-1": [{"ts": 1763900000000, "values": {"fill_level": 97}}]}, kind="gateway")
    assert (ok.stored, ok.rejected) == (1, 0)
    assert Alarm.objects.filter(device=child).count() == 2  # full + overflow
    bad = send(gw, {"BIN-2": {"fill_level": 1}}, kind="gateway")
    assert bad.errors[0][1] == "device.unknown_child"


def test_D2_maintenance_stores_without_alarms_inactive_rejected(tree):
    dev, _ = device(tree.grid_a, "gas_detector")
    services.device_update(actor=admin(), device=dev, changes={"status": "maintenance"})
    assert send(dev, {"gas_lel": 90}).stored == 1 and not Alarm.objects.exists()
    services.device_update(actor=admin(), device=dev, changes={"status": "inactive"})
    assert send(dev, {"gas_lel": 90}).errors[0][1] == "device.inactive"


def test_D1_seeded_types_have_rules(db):
    assert {"smoke_detector", "gas_detector", "water_leak", "trash_bin", "manhole_cover", "streetlight", "hydrant", "camera_ai",
            "wearable"} <= set(DeviceType.objects.values_list("code", flat=True))
    assert Rule.objects.filter(device_type__code="camera_ai", code="thrown_object", create_case=True).exists()
