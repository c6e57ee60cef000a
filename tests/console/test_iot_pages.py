"""Console IoT section (D1 D3 D4 D6 surfaces): device list/map/detail, alarm console, rule editor;
scoping across communities (O2), permissions, audited actions (O3), query-count pins."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.iot.models import Alarm, Rule
from linli.iot.perms import IotPerm
from linli.iot.services import mosquitto_check
from tests import factories as f
from tests.iot.helpers import device, send

pytestmark = pytest.mark.django_db

IOT_PERMS = [IotPerm.DEVICE_VIEW, IotPerm.ALARM_VIEW, IotPerm.ALARM_ACK, "place.view"]


class World:
    """A gas detector in each community; each has an open critical alarm; a worker scoped to community A."""

    def __init__(self, tree) -> None:
        self.tree = tree
        self.dev_a, _ = device(tree.grid_a, "gas_detector", serial="GAS-A-1", name="甲一燃气", lat=36.651, lng=117.001)
        self.dev_b, _ = device(tree.grid_b, "gas_detector", serial="GAS-B-1", name="乙一燃气", lat=36.651, lng=117.011)
        send(self.dev_a, {"gas_lel": 5})
        send(self.dev_a, [{"gas_lel": 30}])
        send(self.dev_b, {"gas_lel": 40})
        self.alarm_a = Alarm.objects.get(device=self.dev_a)
        self.alarm_b = Alarm.objects.get(device=self.dev_b)
        self.worker = f.account("iot_worker_a", perms=IOT_PERMS, scope=tree.community_a)


@pytest.fixture
def world(tree):
    return World(tree)


def client_for(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def test_D1_pages_render_for_a_scoped_worker(world):
    c = client_for(world.worker)
    assert c.get(reverse("console:iot_home"))["Location"] == reverse("console:iot_devices")
    for name, args in [("iot_devices", []), ("iot_map", []), ("iot_device", [world.dev_a.pk]), ("iot_alarms", []), ("iot_rules", [])]:
        r = c.get(reverse(f"console:{name}", args=args))
        assert r.status_code == 200, name
    page = c.get(reverse("console:iot_devices")).content.decode()
    assert "甲一燃气" in page and "乙一燃气" not in page and "在线" in page and "紧急" in page
    detail = c.get(reverse("console:iot_device", args=[world.dev_a.pk]), {"range": "1h"}).content.decode()
    assert "可燃气体浓度" in detail and 'data-tchart="tchart-0"' in detail and "echarts" in detail
    assert "重置设备凭据" not in detail  # no device.edit
    nav = c.get(reverse("console:home")).content.decode()
    assert reverse("console:iot_home") in nav


def test_D6_telemetry_chart_reads_a_bounded_range(world):
    from linli.iot.rollups import rollup_run

    c = client_for(world.worker)
    page = c.get(reverse("console:iot_device", args=[world.dev_a.pk]), {"range": "6h"}).content.decode()
    assert '"points": [["' in page and "2 个点" in page and "原始读数" in page
    rollup_run(now=timezone.now() + dt.timedelta(minutes=1))
    day = c.get(reverse("console:iot_device", args=[world.dev_a.pk]), {"range": "24h"}).content.decode()
    assert "5分钟均值" in day and '"band": [["' in day and "1 个点" in day
    year = c.get(reverse("console:iot_device", args=[world.dev_a.pk]), {"range": "365d"}).content.decode()
    assert "日均值" in year
    unknown = c.get(reverse("console:iot_device", args=[world.dev_a.pk]), {"range": "forever"})
    assert unknown.status_code == 200  # falls back to the default range


def test_O2_other_community_is_404_and_absent_from_lists(world):
    c = client_for(world.worker)
    for url in [
        reverse("console:iot_device", args=[world.dev_b.pk]),
        reverse("console:iot_devices") + f"?region={world.tree.community_b.pk}",
    ]:
        r = c.get(url)
        assert r.status_code in (200, 404)
        assert "乙一燃气" not in r.content.decode()
    assert c.get(reverse("console:iot_device", args=[world.dev_b.pk])).status_code == 404
    for action in ("ack", "clear"):
        r = c.post(reverse("console:iot_alarm_action", args=[world.alarm_b.pk, action]), headers={"HX-Request": "true"})
        assert r.status_code == 404
    world.alarm_b.refresh_from_db()
    assert world.alarm_b.status == "active"
    alarms = c.get(reverse("console:iot_alarms")).content.decode()
    assert f'id="alarm-{world.alarm_a.pk}"' in alarms and f'id="alarm-{world.alarm_b.pk}"' not in alarms
    data = c.get(reverse("console:iot_map_data")).json()
    assert [d["serial"] for d in data["devices"]] == ["GAS-A-1"] and data["devices"][0]["severity"] == "critical"
    assert {feat["properties"]["name"] for feat in data["boundaries"]["features"]} == {"甲社区"}
    assert c.post(reverse("console:iot_rule_create"), {"device": world.dev_b.pk}).status_code in (403, 404)


def test_O2_without_device_view_the_section_is_forbidden(world):
    c = client_for(f.account("places_only", perms=["place.view"], scope=world.tree.community_a))
    for name in ("iot_home", "iot_devices", "iot_map", "iot_map_data", "iot_alarms", "iot_rules"):
        assert c.get(reverse(f"console:{name}")).status_code == 403, name
    assert c.get(reverse("console:iot_device", args=[world.dev_a.pk])).status_code == 404
    assert reverse("console:iot_home") not in c.get(reverse("console:home")).content.decode()
    assert Client().get(reverse("console:iot_alarms")).status_code == 302  # anonymous → login


def test_D4_acknowledge_and_clear_via_the_console_are_audited(world):
    c = client_for(world.worker)
    r = c.post(reverse("console:iot_alarm_action", args=[world.alarm_a.pk, "ack"]), headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'data-status="acknowledged"' in r.content.decode() and "<html" not in r.content.decode()
    world.alarm_a.refresh_from_db()
    assert world.alarm_a.status == "acknowledged" and world.alarm_a.acknowledged_by == world.worker
    again = c.post(reverse("console:iot_alarm_action", args=[world.alarm_a.pk, "ack"]), headers={"HX-Request": "true"})
    assert again.status_code == 409 and "不能执行此操作" in again.content.decode()
    r = c.post(reverse("console:iot_alarm_action", args=[world.alarm_a.pk, "clear"]), {"back": "/console/iot/alarms/"})
    assert r.status_code == 302 and r["Location"] == "/console/iot/alarms/"
    world.alarm_a.refresh_from_db()
    assert world.alarm_a.status == "cleared" and world.alarm_a.cleared_by == world.worker
    actions = set(AuditEntry.objects.filter(actor_id=world.worker.pk).values_list("action", flat=True))
    assert {"iot.alarm_acknowledge", "iot.alarm_clear"} <= actions
    viewer = client_for(f.account("viewer_a", perms=[IotPerm.ALARM_VIEW], scope=world.tree.community_a))
    assert "确认告警" not in viewer.get(reverse("console:iot_alarms")).content.decode()


def test_D4_alarm_feed_is_an_htmx_polled_partial(world):
    c = client_for(world.worker)
    page = c.get(reverse("console:iot_alarms")).content.decode()
    assert 'hx-trigger="every 5s' in page and reverse("console:iot_alarm_feed") in page
    feed = c.get(reverse("console:iot_alarm_feed"), {"severity": "critical"}, headers={"HX-Request": "true"})
    body = feed.content.decode()
    assert feed.status_code == 200 and "<html" not in body and f'id="alarm-{world.alarm_a.pk}"' in body
    assert "乙一燃气" not in body
    assert "没有符合条件" in c.get(reverse("console:iot_alarm_feed"), {"status": "cleared"}, headers={"HX-Request": "true"}).content.decode()
    assert c.get(reverse("console:iot_alarm_feed"))["Location"].startswith(reverse("console:iot_alarms"))


def test_D1_credentials_reset_shows_the_new_secret_once(world):
    editor = f.account("editor_a", perms=[IotPerm.DEVICE_VIEW, IotPerm.DEVICE_EDIT], scope=world.tree.community_a)
    c = client_for(editor)
    url = reverse("console:iot_device_credentials", args=[world.dev_a.pk])
    assert url in c.get(reverse("console:iot_device", args=[world.dev_a.pk])).content.decode()
    r = c.post(url, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    body = r.content.decode()
    token = body.split('<span class="secret">')[1].split("</span>")[0]
    password = body.split('<span class="secret">')[3].split("</span>")[0]
    world.dev_a.refresh_from_db()
    assert token.startswith("dt_") and world.dev_a.token_prefix == token[:10]
    assert mosquitto_check(password, world.dev_a.mqtt_password_hash)
    assert token not in c.get(reverse("console:iot_device", args=[world.dev_a.pk])).content.decode()
    assert AuditEntry.objects.filter(actor_id=editor.pk, action="iot.device_reset_credentials").exists()
    assert client_for(world.worker).post(url).status_code == 403  # device.view only
    assert c.post(reverse("console:iot_device_credentials", args=[world.dev_b.pk])).status_code == 404


def test_D3_rule_create_with_a_validation_error_then_success(world):
    editor = f.account("rules_a", perms=[IotPerm.DEVICE_VIEW, IotPerm.RULE_EDIT], scope=world.tree.community_a)
    c = client_for(editor)
    url = reverse("console:iot_rule_create")
    assert c.get(url, {"device": world.dev_a.pk}).status_code == 200
    form = {"device": world.dev_a.pk, "code": "gas_leak", "name": "燃气泄漏(本户)", "key": "gas_lel", "op": ">", "value": "20",
            "clear": "30", "duration_s": "0", "severity": "critical", "create_case": "on", "enabled": "on"}
    bad = c.post(url, form)
    assert bad.status_code == 422
    assert "规则条件有误" in bad.content.decode() and not Rule.objects.filter(device=world.dev_a).exists()
    missing = c.post(url, {**form, "value": ""})
    assert missing.status_code == 400 and "这个字段是必填项" in missing.content.decode()
    ok = c.post(url, {**form, "clear": "8"})
    assert ok.status_code == 302 and "type=gas_detector" in ok["Location"]
    rule = Rule.objects.get(device=world.dev_a, code="gas_leak")
    assert rule.conditions == [{"type": "threshold", "key": "gas_lel", "op": ">", "value": 20.0, "clear": 8.0}] and rule.create_case
    listing = c.get(reverse("console:iot_rules"), {"type": "gas_detector"}).content.decode()
    assert "燃气泄漏(本户)" in listing and "gas_lel &gt; 20.0" in listing
    edit = c.post(reverse("console:iot_rule_edit", args=[rule.pk]), {**form, "value": "22", "clear": "8", "severity": "major"})
    assert edit.status_code == 302
    rule.refresh_from_db()
    assert rule.severity == "major" and rule.conditions[0]["value"] == 22.0 and rule.code == "gas_leak"
    assert {"iot.rule_create", "iot.rule_update"} <= set(AuditEntry.objects.filter(actor_id=editor.pk).values_list("action", flat=True))
    type_rule = Rule.objects.get(device_type__code="gas_detector", code="gas_leak")
    assert c.post(reverse("console:iot_rule_edit", args=[type_rule.pk]), {**form, "clear": "8"}).status_code == 403
    assert c.post(url, {**form, "device": "", "device_type": type_rule.device_type_id, "code": "x1", "clear": "8"}).status_code == 403


def test_O2_list_query_counts_are_pinned(world, django_assert_max_num_queries):
    for i in range(12):
        d, _ = device(world.tree.grid_a, "gas_detector", serial=f"GAS-A-X{i}", lat=36.652, lng=117.002)
        send(d, {"gas_lel": 50})
    c = client_for(world.worker)
    c.get(reverse("console:iot_devices"))  # warm the per-request caches' code paths
    with django_assert_max_num_queries(10):
        assert c.get(reverse("console:iot_devices")).status_code == 200
    with django_assert_max_num_queries(6):
        assert c.get(reverse("console:iot_alarms")).status_code == 200
    with django_assert_max_num_queries(5):
        r = c.get(reverse("console:iot_alarm_feed"), headers={"HX-Request": "true"})
        assert r.content.decode().count("<tr ") == 13
    with django_assert_max_num_queries(6):
        assert len(c.get(reverse("console:iot_map_data")).json()["devices"]) == 13
    with django_assert_max_num_queries(10):
        assert c.get(reverse("console:iot_devices"), {"online": "online", "type": "gas_detector"}).status_code == 200


def test_D3_city_admin_edits_type_defaults_and_compound_rules_keep_their_conditions(world):
    c = client_for(f.account("city_admin", perms=[IotPerm.DEVICE_VIEW, IotPerm.RULE_EDIT], scope=world.tree.city))
    page = c.get(reverse("console:iot_rules"), {"type": "wearable"}).content.decode()
    assert "新增默认规则" in page and "heart_rate &gt; 130，恢复 120" in page
    compound = Rule.objects.get(device_type__code="wearable", code="heart_rate")
    form = c.get(reverse("console:iot_rule_edit", args=[compound.pk])).content.decode()
    assert "复合" in form
    r = c.post(reverse("console:iot_rule_edit", args=[compound.pk]),
               {"name": "心率异常", "duration_s": "90", "severity": "critical", "message": "心率异常", "enabled": "on"})
    assert r.status_code == 302
    compound.refresh_from_db()
    assert compound.duration_s == 90 and compound.severity == "critical" and len(compound.conditions) == 2
    url = reverse("console:iot_rule_create")
    gas = Rule.objects.get(device_type__code="gas_detector", code="gas_leak").device_type
    r = c.post(url, {"device_type": gas.pk, "code": "gas_high", "name": "燃气偏高", "key": "gas_lel", "op": ">=", "value": "15",
                     "duration_s": "30", "severity": "warning", "enabled": "on"})
    assert r.status_code == 302
    assert Rule.objects.get(device_type=gas, code="gas_high").conditions == [{"type": "threshold", "key": "gas_lel", "op": ">=", "value": 15.0}]
    dup = c.post(url, {"device_type": gas.pk, "code": "gas_high", "name": "重复", "key": "gas_lel", "op": ">", "value": "1",
                       "duration_s": "0", "severity": "warning"})
    assert dup.status_code == 409 and "规则代码已存在" in dup.content.decode()


def test_D5_command_buttons_send_through_the_service(world):
    from linli.iot.models import DeviceCommand

    lamp, _ = device(world.tree.grid_a, "streetlight", serial="LAMP-A-1", name="甲一路灯")
    operator = f.account("lamp_op", perms=[IotPerm.DEVICE_VIEW, IotPerm.COMMAND_SEND], scope=world.tree.community_a)
    c = client_for(operator)
    page = c.get(reverse("console:iot_device", args=[lamp.pk])).content.decode()
    url = reverse("console:iot_device_command", args=[lamp.pk])
    assert url in page and "开灯" in page and "调光" in page
    r = c.post(url, {"command": "setPower:on"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "已提交" in r.content.decode() and "<html" not in r.content.decode()
    cmd = DeviceCommand.objects.get(device=lamp)
    assert cmd.method == "setPower" and cmd.params == {"on": True} and cmd.created_by_id == operator.pk
    assert AuditEntry.objects.filter(actor_id=operator.pk, action="iot.command_send").exists()
    bad = c.post(url, {"command": "setDim", "level": "150"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "指令参数有误" in bad.content.decode()
    assert c.post(url, {"command": "reboot"}).status_code == 302
    assert DeviceCommand.objects.filter(device=lamp).count() == 2
    assert "开灯" not in client_for(world.worker).get(reverse("console:iot_device", args=[lamp.pk])).content.decode()
    assert client_for(world.worker).post(url, {"command": "reboot"}).status_code == 403
    assert c.post(reverse("console:iot_device_command", args=[world.dev_b.pk]), {"command": "reboot"}).status_code == 404
