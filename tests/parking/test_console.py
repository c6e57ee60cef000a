"""Console parking section (K1–K5 surfaces): lots, per-lot dashboard with charts and live feed,
sessions (booth pay, close by hand), passes, spaces, decision log, rules editor, flags and alarms,
guidance screens with revocable wall URLs; scope (out of scope ⇒ 404), permissions (⇒ 403), query pins."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.parking import services as svc
from linli.parking.models import (
    BillingRule,
    GuidanceDisplay,
    ParkingAlarm,
    ParkingLot,
    ParkingPass,
    ParkingSession,
    PlateFlag,
    Zone,
)
from linli.parking.perms import ParkingPerm as P
from tests import factories as f

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def client_for(account) -> Client:
    c = Client()
    c.force_login(account)
    return c


def _busy(s, n: int = 5) -> None:
    now = timezone.now()
    for i in range(n):
        svc.plate_entry(lot=s.lot, plate=f"鲁A1000{i}", at=now - (i + 1) * H)
    svc.plate_exit(lot=s.lot, plate="鲁A10000", at=now)
    svc.flag_add(actor=s.manager, region=s.tree.community_a, plate="鲁B99999", kind="stolen", reason="报案")
    svc.plate_entry(lot=s.lot, plate="鲁B99999", at=now)


def test_K3_home_lists_only_lots_in_scope_with_figures(lot_site, django_assert_max_num_queries):
    s = lot_site
    _busy(s)
    c = client_for(s.manager)
    for i in range(3):
        svc.lot_create(actor=s.manager, code=f"P-X{i}", name=f"地面{i}", capacity=20, estate=s.est)
    with django_assert_max_num_queries(12):
        r = c.get(reverse("console:parking_home"))
    page = r.content.decode()
    assert r.status_code == 200 and "甲小区地库" in page and "乙小区地库" not in page and "地面2" in page
    assert "有 1 条停车告警待确认" in page
    nav = c.get(reverse("console:home")).content.decode()
    assert reverse("console:parking_home") in nav


def test_K3_lot_dashboard_has_charts_feed_and_text_alternative(lot_site, django_assert_max_num_queries):
    s = lot_site
    _busy(s)
    c = client_for(s.manager)
    with django_assert_max_num_queries(16):
        r = c.get(reverse("console:parking_lot", args=[s.lot.pk]))
    page = r.content.decode()
    assert r.status_code == 200
    assert 'data-pkchart="pk-occupancy"' in page and 'data-pkchart="pk-flows"' in page and 'data-pkchart="pk-zones"' in page
    assert "今日逐小时在场车辆：" in page and "echarts" in page  # chart_summary text alternative
    assert 'hx-trigger="every 3s' in page and "鲁B99999" in page and "被盗车辆" in page


def test_K3_live_feed_partial_shows_entries_exits_denials_alarms(lot_site, django_assert_max_num_queries):
    s = lot_site
    _busy(s)
    c = client_for(s.manager)
    with django_assert_max_num_queries(8):
        r = c.get(reverse("console:parking_feed", args=[s.lot.pk]), headers={"HX-Request": "true"})
    page = r.content.decode()
    assert r.status_code == 200 and "<html" not in page
    assert "入场" in page and "出场" in page and "拒绝" in page and "告警" in page and "鲁A10001" in page
    viewer = f.account(perms=[P.VIEW], scope=s.tree.community_a)
    only_view = client_for(viewer).get(reverse("console:parking_feed", args=[s.lot.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "鲁A10001" in only_view and 'badge alarm' not in only_view  # alarms need parking.flag
    assert c.get(reverse("console:parking_feed", args=[s.lot.pk])).status_code == 302  # not htmx → the page


def test_K1_out_of_scope_lot_is_404_and_no_permission_is_403(lot_site):
    s = lot_site
    c = client_for(s.manager)
    for name in ("parking_lot", "parking_sessions", "parking_passes", "parking_spaces", "parking_events", "parking_guidance"):
        assert c.get(reverse(f"console:{name}", args=[s.lot_b.pk])).status_code == 404, name
        assert c.get(reverse(f"console:{name}", args=[s.lot.pk])).status_code == 200, name
    nobody = client_for(f.account(perms=["place.view"], scope=s.tree.community_a))
    assert nobody.get(reverse("console:parking_home")).status_code == 403
    assert nobody.get(reverse("console:parking_lot", args=[s.lot.pk])).status_code in (403, 404)
    assert nobody.get(reverse("console:parking_flags")).status_code == 403
    resident = client_for(f.account(person=f.person(s.tree.grid_a), kind="resident"))
    assert resident.get(reverse("console:parking_home")).status_code == 302  # not a console user


def test_K2_booth_pays_then_exit_is_allowed_and_close_by_hand(lot_site):
    s = lot_site
    now = timezone.now()
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=now - 110 * dt.timedelta(minutes=1))  # 1 h 50 min: 5 + 2 yuan
    sess = ParkingSession.objects.get(plate="鲁A12345")
    booth = f.account(perms=[P.VIEW, P.OPERATE], scope=s.tree.community_a)
    c = client_for(booth)
    page = c.get(reverse("console:parking_sessions", args=[s.lot.pk]), {"plate": "鲁a 12345"}).content.decode()
    assert "岗亭收费 7.00 元" in page
    bad = c.post(reverse("console:parking_session_act", args=[sess.pk, "pay"]), {"amount_fen": "1"}, follow=True)
    assert "缴费金额应为700分" in bad.content.decode()
    c.post(reverse("console:parking_session_act", args=[sess.pk, "pay"]), {"amount_fen": "700"})
    sess.refresh_from_db()
    assert sess.paid_fen == 700 and sess.status == "paid"
    assert svc.plate_exit(lot=s.lot, plate="鲁A12345").reason == "paid"
    svc.plate_entry(lot=s.lot, plate="鲁A54321", at=now - H)
    other = ParkingSession.objects.get(plate="鲁A54321")
    r = c.post(reverse("console:parking_session_act", args=[other.pk, "close"]), {"note": ""}, follow=True)
    assert "请填写手工关闭的原因" in r.content.decode()
    c.post(reverse("console:parking_session_act", args=[other.pk, "close"]), {"note": "车牌误识别"})
    other.refresh_from_db()
    assert other.status == "exited" and AuditEntry.objects.filter(action="parking.session_close").exists()
    viewer = client_for(f.account(perms=[P.VIEW], scope=s.tree.community_a))
    svc.plate_entry(lot=s.lot, plate="鲁A77777", at=now - H)
    third = ParkingSession.objects.get(plate="鲁A77777")
    assert viewer.post(reverse("console:parking_session_act", args=[third.pk, "close"]), {"note": "x"}).status_code == 403
    outsider = client_for(s.other)
    assert outsider.post(reverse("console:parking_session_act", args=[third.pk, "close"]), {"note": "x"}).status_code == 404


def test_K1_passes_create_with_validation_and_cancel(lot_site, django_assert_max_num_queries):
    s = lot_site
    c = client_for(s.manager)
    url = reverse("console:parking_passes", args=[s.lot.pk])
    today = timezone.localdate()
    bad = c.post(url, {"person_id": s.owner.pk, "kind": "monthly", "plates": "鲁A1234", "valid_from": today, "valid_until": today,
                       "max_inside": 1})
    assert bad.status_code == 422 and "车牌号不符合GA 36规范" in bad.content.decode()
    r = c.post(url, {"person_id": s.owner.pk, "kind": "monthly", "plates": "鲁A12345，鲁A23456", "valid_from": today,
                     "valid_until": today + dt.timedelta(days=30), "max_inside": 1})
    assert r.status_code == 302
    pp = ParkingPass.objects.get(lot=s.lot)
    assert pp.plates == ["鲁A12345", "鲁A23456"]
    for i in range(3):
        svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="annual", plates_=[f"鲁A3000{i}"], valid_from=timezone.now(),
                        valid_until=timezone.now() + dt.timedelta(days=365))
    with django_assert_max_num_queries(12):
        page = c.get(url).content.decode()
    assert "鲁A12345，鲁A23456" in page and "鲁A30002" in page
    viewer = client_for(f.account(perms=[P.VIEW], scope=s.tree.community_a))
    assert "办理月卡" not in viewer.get(url).content.decode()
    assert viewer.post(reverse("console:parking_pass_cancel", args=[pp.pk])).status_code == 403
    c.post(reverse("console:parking_pass_cancel", args=[pp.pk]))
    pp.refresh_from_db()
    assert pp.status == "cancelled"
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345").reason == "visitor"  # cancellation took effect at once


def test_K1_zones_and_spaces_editor(lot_site):
    s = lot_site
    c = client_for(s.manager)
    url = reverse("console:parking_spaces", args=[s.lot.pk])
    assert c.post(url, {"form": "zone", "z-code": "B2", "z-name": "负二层", "z-capacity": "40"}).status_code == 302
    dup = c.post(url, {"form": "zone", "z-code": "B2", "z-name": "又一个", "z-capacity": "1"})
    assert dup.status_code == 409 and "区域编码已存在" in dup.content.decode()
    zone = Zone.objects.get(lot=s.lot, code="B2")
    owned = c.post(url, {"form": "space", "s-number": "B2-001", "s-zone": zone.pk, "s-kind": "owned"})
    assert owned.status_code == 422 and "产权/租赁车位须指定业主或承租人" in owned.content.decode()
    assert c.post(url, {"form": "space", "s-number": "B2-001", "s-zone": zone.pk, "s-kind": "public"}).status_code == 302
    assert "B2-001" in c.get(url).content.decode()


def test_K2_rule_editor_validates_and_applies(lot_site):
    s = lot_site
    c = client_for(s.manager)
    url = reverse("console:parking_rule_edit", args=[s.rule.pk])
    form = {"name": "标准", "free_minutes": 30, "first_minutes": 60, "first_yuan": "6", "step_minutes": 60, "step_yuan": "2",
            "daily_cap_yuan": "", "night_start": "22:00", "night_end": "", "night_yuan": "0", "pass_holders_free": "on"}
    bad = c.post(url, form)
    assert bad.status_code == 422 and "夜间时段须同时填写开始与结束" in bad.content.decode()
    form["night_end"] = "07:00"
    form["night_yuan"] = "3"
    assert c.post(url, form).status_code == 302
    rule = BillingRule.objects.get(pk=s.rule.pk)
    assert (rule.free_minutes, rule.first_fen, rule.night_start_minute, rule.night_end_minute, rule.night_fen, rule.daily_cap_fen) == (
        30, 600, 1320, 420, 300, None)
    page = c.get(reverse("console:parking_rules")).content.decode()
    assert "22:00–07:00" in page
    assert client_for(s.other).get(url).status_code == 404
    new = c.post(reverse("console:parking_rule_new"), {**form, "region": s.tree.community_a.pk, "name": "夜间优惠"})
    assert new.status_code == 302 and BillingRule.objects.filter(name="夜间优惠").exists()


def test_K2_flags_and_alarms_with_acknowledge(lot_site):
    s = lot_site
    c = client_for(s.manager)
    bad = c.post(reverse("console:parking_flags"), {"region": s.tree.community_a.pk, "plate": "鲁1234", "kind": "stolen", "reason": "x"})
    assert bad.status_code == 422 and "GA 36" in bad.content.decode()
    assert c.post(reverse("console:parking_flags"), {"region": s.tree.community_a.pk, "plate": "鲁B99999", "kind": "blocked",
                                                     "reason": "欠费"}).status_code == 302
    d = svc.plate_entry(lot=s.lot, plate="鲁B99999")
    assert not d.allowed and d.reason == "plate_blocked"
    alarm = ParkingAlarm.objects.get(plate="鲁B99999")
    page = c.get(reverse("console:parking_alarms")).content.decode()
    assert "鲁B99999" in page and "禁止入场" in page
    r = c.post(reverse("console:parking_alarm_ack", args=[alarm.pk]), headers={"HX-Request": "true"})
    assert r.status_code == 200 and "已确认" in r.content.decode()
    alarm.refresh_from_db()
    assert alarm.acknowledged_at is not None
    flag = PlateFlag.objects.get(plate="鲁B99999")
    c.post(reverse("console:parking_flag_remove", args=[flag.pk]))
    assert svc.plate_entry(lot=s.lot, plate="鲁B99999").allowed
    assert client_for(s.other).post(reverse("console:parking_alarm_ack", args=[alarm.pk])).status_code == 404
    viewer = client_for(f.account(perms=[P.VIEW], scope=s.tree.community_a))
    assert viewer.get(reverse("console:parking_alarms")).status_code == 403


def test_K3_one_pass_two_cars_alarm_is_listed(lot_site):
    s = lot_site
    now = timezone.now()
    svc.pass_create(actor=s.manager, lot=s.lot, person=s.owner, kind="monthly", plates_=["鲁A12345", "鲁A23456"],
                    valid_from=now - dt.timedelta(days=1), valid_until=now + dt.timedelta(days=30))
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345", at=now).reason == "pass"
    assert svc.plate_entry(lot=s.lot, plate="鲁A23456", at=now).reason == "pass_overuse_visitor"
    page = client_for(s.manager).get(reverse("console:parking_alarms")).content.decode()
    assert "一卡多车" in page and "鲁A23456" in page


def test_K3_decision_log_page_filters_and_pins_queries(lot_site, django_assert_max_num_queries):
    s = lot_site
    _busy(s)
    c = client_for(s.manager)
    url = reverse("console:parking_events", args=[s.lot.pk])
    with django_assert_max_num_queries(10):
        page = c.get(url).content.decode()
    assert "鲁A10003" in page and "被盗车辆" in page
    denied = c.get(url, {"allowed": "no"}).content.decode()
    assert "鲁B99999" in denied and "鲁A10003" not in denied
    exits = c.get(url, {"direction": "exit"}).content.decode()
    assert "鲁A10000" in exits and "鲁A10003" not in exits


def test_K4_guidance_screen_for_staff_and_wall_token_revoked_is_404(lot_site):
    s = lot_site
    now = timezone.now()
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=now)
    svc.locate(lot=svc._lot_row(s.lot), plate="鲁A12345", zone_code="B1")
    c = client_for(s.manager)
    page = c.get(reverse("console:parking_guidance", args=[s.lot.pk])).content.decode()
    assert "全场空余车位" in page and 'data-zone="B1"' in page and 'hx-trigger="every 5s"' in page
    r = c.post(reverse("console:parking_display_create", args=[s.lot.pk]), {"name": "地库入口"})
    body = r.content.decode()
    assert r.status_code == 200 and "/console/parking/wall/gd_" in body
    token = body.split("/console/parking/wall/")[1].split("/")[0]
    anon = Client()
    wall = anon.get(reverse("console:parking_wall", args=[token]))
    assert wall.status_code == 200 and "负一层" in wall.content.decode() and "返回控制台" not in wall.content.decode()
    part = anon.get(reverse("console:parking_wall", args=[token]), headers={"HX-Request": "true"})
    assert part.status_code == 200 and ">2</div>" in part.content.decode()  # 3 bays in B1, one car inside
    display = GuidanceDisplay.objects.get()
    assert display.token_hash != token and token not in str(list(AuditEntry.objects.values_list("after", "detail")))
    assert client_for(f.account(perms=[P.VIEW], scope=s.tree.community_a)).post(
        reverse("console:parking_display_revoke", args=[display.pk])).status_code == 403
    c.post(reverse("console:parking_display_revoke", args=[display.pk]))
    assert anon.get(reverse("console:parking_wall", args=[token])).status_code == 404
    assert anon.get(reverse("console:parking_wall", args=["gd_nonsense"])).status_code == 404


def test_K1_vehicles_page_searches_by_plate(lot_site):
    s = lot_site
    svc.vehicle_register(actor=s.resident, owner=s.owner, plate="鲁A12345")
    c = client_for(s.manager)
    page = c.get(reverse("console:parking_vehicles"), {"plate": "鲁a1"}).content.decode()
    assert "鲁A12345" in page
    assert "鲁A12345" not in client_for(s.other).get(reverse("console:parking_vehicles")).content.decode()


def test_K1_lot_create_shows_camera_token_once_and_settings_apply(lot_site):
    s = lot_site
    c = client_for(s.manager)
    form = {"code": "P-NEW", "name": "新地库", "estate": s.est.pk, "capacity": "80", "rule": s.rule.pk, "overuse_policy": "deny",
            "exit_grace_minutes": "20"}
    dup = c.post(reverse("console:parking_lot_new"), {**form, "code": "P-A"})
    assert dup.status_code == 409 and "停车场编码已存在" in dup.content.decode()
    r = c.post(reverse("console:parking_lot_new"), form)
    body = r.content.decode()
    assert r.status_code == 200 and 'id="camera-token">pk_' in body
    token = body.split('id="camera-token">')[1].split("<")[0]
    lot = ParkingLot.objects.get(code="P-NEW")
    assert lot.token_hash != token and lot.overuse_policy == "deny" and lot.exit_grace_minutes == 20
    other_estate = f.estate(s.tree.community_b)
    assert c.post(reverse("console:parking_lot_new"), {**form, "code": "P-NEW2", "estate": other_estate.pk}).status_code == 422
    url = reverse("console:parking_lot_settings", args=[s.lot.pk])
    assert c.post(url, {"name": "甲小区地库", "capacity": "0", "rule": "", "overuse_policy": "visitor", "exit_grace_minutes": "15"}
                  ).status_code == 422
    assert c.post(url, {"name": "甲小区地库", "capacity": "12", "rule": "", "overuse_policy": "deny", "exit_grace_minutes": "10"}
                  ).status_code == 302
    s.lot.refresh_from_db()
    assert (s.lot.capacity, s.lot.rule_id, s.lot.overuse_policy, s.lot.is_active) == (12, None, "deny", False)  # unticked: inactive
    assert svc.plate_entry(lot=s.lot, plate="鲁A12345").reason == "lot_inactive"
    viewer = client_for(f.account(perms=[P.VIEW], scope=s.tree.community_a))
    assert viewer.get(url).status_code == 403 and viewer.get(reverse("console:parking_lot_new")).status_code == 403
    assert client_for(s.other).get(url).status_code == 404
