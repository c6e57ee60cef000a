"""Portal parking (K1 K2 K5): register my car with GA 36 errors, my passes, where is my car, pay before
leaving then the exit camera lets the car out; visitors paid by their host; nobody else's car."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from linli.audit.models import AuditEntry
from linli.parking import services as svc
from linli.parking.models import ParkingEvent, ParkingSession, Vehicle
from tests import factories as f

pytestmark = pytest.mark.django_db
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def me(lot_site):
    person = f.person(lot_site.tree.grid_a, name="王芳")
    acc = f.account(person=person, kind="resident")
    c = Client()
    c.force_login(acc)
    return type("Me", (), {"person": person, "acc": acc, "c": c})


def test_K1_register_plate_with_GA36_errors(lot_site, me):
    url = reverse("portal:parking_home")
    r = me.c.post(url, {"plate": "鲁A1234I", "energy": "", "note": ""})
    page = r.content.decode()
    assert r.status_code == 422 and "不是有效的车牌号" in page and "鲁A12345" in page  # says what a valid plate looks like
    assert me.c.post(url, {"plate": "鲁ad 12345", "energy": "", "note": "白色"}).status_code == 302
    v = Vehicle.objects.get(owner=me.person)
    assert v.plate == "鲁AD12345" and v.energy == "electric"
    taken = me.c.post(url, {"plate": "鲁AD12345", "energy": "", "note": ""})
    assert taken.status_code == 409 and "该车牌已登记" in taken.content.decode()
    page = me.c.get(url).content.decode()
    assert "鲁AD12345" in page and "纯电动" in page


def test_K1_home_shows_only_my_cars_and_passes(lot_site, me, django_assert_max_num_queries):
    s = lot_site
    now = timezone.now()
    svc.vehicle_register(actor=me.acc, owner=me.person, plate="鲁A12345")
    svc.vehicle_register(actor=s.resident, owner=s.owner, plate="鲁A99999")
    svc.pass_create(actor=s.manager, lot=s.lot, person=me.person, kind="monthly", plates_=["鲁A12345"], valid_from=now - 2 * 1440 * MIN,
                    valid_until=now + 30 * 1440 * MIN)
    svc.plate_entry(lot=s.lot, plate="鲁A12345", at=now - 30 * MIN)
    svc.plate_entry(lot=s.lot, plate="鲁A99999", at=now - 30 * MIN)
    with django_assert_max_num_queries(12):
        page = me.c.get(reverse("portal:parking_home")).content.decode()
    assert "鲁A12345" in page and "鲁A99999" not in page and "月卡" in page and "当前无需缴费" in page


def test_K5_where_is_my_car(lot_site, me):
    s = lot_site
    svc.vehicle_register(actor=me.acc, owner=me.person, plate="鲁A12345")
    svc.vehicle_register(actor=s.resident, owner=s.owner, plate="鲁A99999")
    svc.plate_entry(lot=s.lot, plate="鲁A12345")
    svc.plate_entry(lot=s.lot, plate="鲁A99999")
    from linli.parking import decision

    svc.locate(lot=decision.get_index().lots[s.lot.pk], plate="鲁A12345", zone_code="B1", space_number="B1-001")
    page = me.c.get(reverse("portal:parking_find"), {"plate": "鲁A12345"}).content.decode()
    assert "甲小区地库" in page and "负一层" in page and "B1-001 号车位" in page
    other = me.c.get(reverse("portal:parking_find"), {"plate": "鲁A99999"}).content.decode()
    assert "只能查找本人登记的车辆" in other and "甲小区地库" not in other
    svc.plate_exit(lot=s.lot, plate="鲁A12345")
    gone = me.c.get(reverse("portal:parking_find"), {"plate": "鲁A12345"}).content.decode()
    assert "目前不在任何停车场内" in gone


def test_K2_pay_in_portal_then_exit_is_allowed_without_stopping(lot_site, me):
    s = lot_site
    svc.vehicle_register(actor=me.acc, owner=me.person, plate="鲁A12345")
    d = svc.plate_entry(lot=s.lot, plate="鲁A12345", at=timezone.now() - 110 * MIN)  # 5 + 2 yuan
    assert svc.plate_exit(lot=s.lot, plate="鲁A12345").reason == "payment_due"
    home = me.c.get(reverse("portal:parking_home")).content.decode()
    assert "缴费 7.00 元" in home
    url = reverse("portal:parking_pay", args=[d.session_id])
    assert "7.00" in me.c.get(url).content.decode()
    wrong = me.c.post(url, {"amount_fen": "1", "method": "wechat"})
    assert wrong.status_code == 422 and "缴费金额应为700分" in wrong.content.decode()
    r = me.c.post(url, {"amount_fen": "700", "method": "alipay"})
    assert r.status_code == 200 and "您可以驾车离场了" in r.content.decode()
    sess = ParkingSession.objects.get(pk=d.session_id)
    assert sess.paid_fen == 700 and sess.status == "paid" and sess.paid_at is not None
    entry = AuditEntry.objects.get(action="parking.pay", object_id=str(sess.pk))
    assert entry.detail["method"] == "alipay"
    out = svc.plate_exit(lot=s.lot, plate="鲁A12345")
    assert out.allowed and out.reason == "paid"
    assert ParkingEvent.objects.filter(session_id=sess.pk, direction="exit", allowed=True, reason="paid").exists()
    assert me.c.get(url).status_code == 404  # the stay is over


def test_K2_cannot_pay_for_someone_elses_car(lot_site, me):
    s = lot_site
    svc.vehicle_register(actor=s.resident, owner=s.owner, plate="鲁A99999")
    d = svc.plate_entry(lot=s.lot, plate="鲁A99999", at=timezone.now() - 110 * MIN)
    url = reverse("portal:parking_pay", args=[d.session_id])
    assert me.c.get(url).status_code == 404
    assert me.c.post(url, {"amount_fen": "700", "method": "wechat"}).status_code == 404
    assert ParkingSession.objects.get(pk=d.session_id).paid_fen == 0


def test_K2_visitor_parking_paid_by_host(lot_site, me):
    from linli.access.models import VisitorInvite

    s = lot_site
    now = timezone.now()
    svc.lot_update(actor=s.manager, lot=s.lot, rule=svc.rule_create(actor=s.manager, region=s.tree.community_a, name="访客记账",
                                                                    visitor_paid_by_host=True))
    h = f.house(s.tree.grid_a, est=s.est)
    VisitorInvite.objects.create(host_person=me.person, house=h, region=s.tree.grid_a, visitor_name="李四", plate="鲁A77777",
                                 valid_from=now - 300 * MIN, valid_until=now + 300 * MIN, status="confirmed")
    d = svc.plate_entry(lot=s.lot, plate="鲁A77777", at=now - 110 * MIN)
    assert d.reason == "visitor_host_pays"
    page = me.c.get(reverse("portal:parking_home")).content.decode()
    assert "鲁A77777" in page and "我邀请的访客" in page
    out = svc.plate_exit(lot=s.lot, plate="鲁A77777")
    assert out.allowed and out.reason == "host_billed"
    page = me.c.get(reverse("portal:parking_home")).content.decode()
    assert "由我支付的访客停车" in page and "鲁A77777" in page


def test_K1_portal_home_tile_and_staff_redirect(lot_site, me):
    assert reverse("portal:parking_home") in me.c.get(reverse("portal:home")).content.decode()
    staff = Client()
    staff.force_login(lot_site.manager)
    assert staff.get(reverse("portal:parking_home")).status_code == 302
